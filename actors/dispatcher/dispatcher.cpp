#include "actors/dispatcher/dispatcher.hpp"

#include "actors/dispatcher/heartbeats.hpp"
#include "actors/events/event_log.hpp"
#include "actors/logging/clock.hpp"
#include "actors/logging/failed_requests.hpp"
#include "actors/logging/log.hpp"
#include "actors/store/object_id.hpp"
#include "messages/dispatcher.capnp.h"

#include <chrono>
#include <map>
#include <set>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <fmt/format.h>
#include <sodium.h>

namespace skep::dispatcher {

namespace {

using namespace std::chrono;
using kind = schema::Envelope::Kind;
constexpr std::string_view who = "dispatcher";

/// How long status updates wait to share a proposal.
constexpr auto status_batch_window = milliseconds{10};

/// Updates accepted in one report.
constexpr unsigned max_updates_per_report = 10000;

/// What a node was last sent.
struct node_stream {
  uint64_t sequence = 0;
  std::map<std::string, uint64_t> sent; ///< task id -> version
  uint64_t behind_at = 0; ///< the node's last heartbeat said it was here
};

struct pending_report {
  caf::response_promise promise;
};

struct dispatcher_state {
  controlapi::leader_link link;
  transport::transport_actor transport;
  std::string node_id;
  uint64_t epoch = 0;
  std::map<std::string, node_stream> nodes;
  std::map<std::string, std::string> node_of_task; ///< sent tasks
  std::set<std::string> dirty;
  bool flush_queued = false;
  /// Status updates waiting for the next proposal.
  std::vector<store::action> statuses;
  std::vector<caf::response_promise> reporters;
  bool status_timer = false;
  /// For the console: when each node last beat (Unix nanos), and how many
  /// status proposals were made.
  std::map<std::string, int64_t> last_beat;
  uint64_t status_batches = 0;
  /// Heartbeats: when each node beat and what it was told; nodes whose
  /// status change is being written (one write at a time per node).
  heartbeat_table heartbeats;
  std::set<std::string> marking;
  static inline const char* name = "dispatcher";
};

/// How often silent nodes are looked for.
constexpr auto down_check_period = milliseconds{100};

using self_ptr = dispatcher_actor::stateful_pointer<dispatcher_state>;

std::string text_of(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

/// The tasks a node must know: assigned to it and not finished.
bool node_needs(const store::task_object& t) {
  return t.status.state >= store::task_state::assigned
         && !store::is_terminal(t.status.state);
}

/// Sends `node` what changed since its last message, or everything.
void push(self_ptr self, const std::string& node, bool full) {
  auto& st = self->state;
  auto& stream = st.nodes[node];
  std::vector<store::task_object> changed;
  std::vector<std::string> removed;
  std::map<std::string, std::string> service_names; // by service id
  uint64_t applied = 0;
  st.link.db->read([&](const store::store& db) {
    applied = db.applied_index();
    std::set<std::string> now;
    for (const auto* t : db.tasks_on_node(node)) {
      if (!node_needs(*t))
        continue;
      now.insert(t->id);
      auto it = stream.sent.find(t->id);
      if (full || it == stream.sent.end() || it->second != t->version) {
        changed.push_back(*t);
        if (const auto* s = db.service(t->service_id))
          service_names[t->service_id] = s->spec.name;
      }
    }
    for (auto& [id, version] : stream.sent)
      if (now.count(id) == 0)
        removed.push_back(id);
    return 0;
  });
  if (!full && changed.empty() && removed.empty())
    return;
  for (const auto& id : removed) {
    stream.sent.erase(id);
    st.node_of_task.erase(id);
  }
  if (full) {
    for (auto& [id, v] : stream.sent)
      st.node_of_task.erase(id);
    stream.sent.clear();
  }
  for (const auto& t : changed) {
    stream.sent[t.id] = t.version;
    st.node_of_task[t.id] = node;
  }
  auto seq = ++stream.sequence;
  auto env = make_envelope(
    kind::ONE_WAY, 0, actor_ref{st.node_id, "dispatcher"},
    actor_ref{node, "agent"}, [&](auto body) {
      auto a = body.initAssignments();
      a.setNodeId(node);
      a.setEpoch(st.epoch);
      a.setSequence(seq);
      a.setFull(full);
      auto list = a.initTasks(static_cast<unsigned>(changed.size()));
      for (unsigned i = 0; i < changed.size(); ++i)
        store::to_schema(changed[i], list[i]);
      auto gone = a.initRemoved(static_cast<unsigned>(removed.size()));
      for (unsigned i = 0; i < removed.size(); ++i)
        gone.set(i, removed[i]);
    });
  caf::anon_send(st.transport, atom::send_v, env);
  controlapi::event e;
  e.time_nanos = clock::unix_nanos(self);
  e.type = "dispatch";
  e.action = full ? "assignments-full" : "assignments";
  e.raft_index = applied; // the store state these assignments reflect
  e.attributes = {{std::string(controlapi::attr_node), node},
                  {"sequence", std::to_string(seq)},
                  {"sent", std::to_string(changed.size())},
                  {"removed", std::to_string(removed.size())}};
  constexpr size_t listed = 100; // the rest are counted above
  for (size_t i = 0; i < changed.size() && i < listed; ++i)
    e.decisions.push_back(controlapi::decision_record{
      "send", changed[i].id, changed[i].slot, node,
      fmt::format("desired {}", store::to_string(changed[i].desired_state)),
      service_names[changed[i].service_id]});
  for (size_t i = 0; i < removed.size() && e.decisions.size() < listed; ++i)
    e.decisions.push_back(controlapi::decision_record{
      "forget", removed[i], 0, node, "no longer assigned", ""});
  caf::anon_send(st.link.manager, atom::event_v, std::move(e));
  log::debug(who, "node {}: {} assignments {} (+{} -{}), sequence {}", node,
             full ? "full" : "incremental", changed.size() + removed.size(),
             changed.size(), removed.size(), seq);
}

void on_changes(self_ptr self, const store::changes& ch) {
  auto& st = self->state;
  st.link.db->read([&](const store::store& db) {
    if (ch.restored) {
      for (const auto* n : db.nodes())
        st.dirty.insert(n->id);
      return 0;
    }
    for (const auto& c : ch.items) {
      if (c.what == store::change::kind::task_created
          || c.what == store::change::kind::task_updated) {
        if (const auto* t = db.task(c.id); t && !t->node_id.empty())
          st.dirty.insert(t->node_id);
      }
      if (c.what == store::change::kind::task_updated
          || c.what == store::change::kind::task_removed) {
        if (auto it = st.node_of_task.find(c.id); it != st.node_of_task.end())
          st.dirty.insert(it->second);
      }
    }
    return 0;
  });
  if (!st.dirty.empty() && !st.flush_queued) {
    st.flush_queued = true;
    self->send(self, atom::flush_v);
  }
}

envelope status_reply(self_ptr self, bool accepted) {
  return make_envelope(kind::REPLY, 0, {}, {}, [&](auto body) {
    auto r = body.initTaskStatusReply();
    r.setAccepted(accepted);
    r.setLeader(accepted ? self->state.node_id : "");
  });
}

/// Takes a node's report: only its own tasks, states only forward (the
/// store skips the rest).
caf::result<envelope> on_report(self_ptr self, const transport::inbound& in) {
  auto& st = self->state;
  auto report = in.env.root().getBody().getTaskStatus();
  auto node = in.from.node_id;
  if (text_of(report.getNodeId()) != node)
    return make_error_envelope(
      0, failure{errc::permission_denied,
                 "a node may only report the tasks assigned to it"});
  if (report.getUpdates().size() > max_updates_per_report)
    return make_error_envelope(
      0, failure{errc::invalid_argument, "too many updates in one report"});
  size_t taken = 0;
  st.link.db->read([&](const store::store& db) {
    for (auto u : report.getUpdates()) {
      auto id = text_of(u.getTaskId());
      const auto* t = db.task(id);
      if (t == nullptr || t->node_id != node)
        continue; // reaped, or not this node's: nothing to record
      auto status = store::from_schema(u.getStatus());
      if (!status) {
        log::warn(who, "node {} sent a bad status for task {}: {}", node, id,
                  status.error().message);
        continue;
      }
      st.statuses.push_back(store::set_task_status{id, std::move(*status)});
      ++taken;
    }
    return 0;
  });
  auto rp = self->make_response_promise();
  st.reporters.push_back(rp);
  if (!st.status_timer) {
    st.status_timer = true;
    self->delayed_send(self, status_batch_window, atom::report_v);
  }
  return caf::delegated<envelope>{};
}

void propose_statuses(self_ptr self) {
  auto& st = self->state;
  st.status_timer = false;
  auto reporters = std::move(st.reporters);
  st.reporters.clear();
  if (st.statuses.empty()) {
    for (auto& rp : reporters)
      rp.deliver(status_reply(self, true));
    return;
  }
  controlapi::event e;
  e.time_nanos = clock::unix_nanos(self);
  e.type = "dispatch";
  e.action = "status";
  st.link.db->read([&](const store::store& db) {
    for (const auto& a : st.statuses) {
      const auto* s = std::get_if<store::set_task_status>(&a);
      if (s == nullptr || e.decisions.size() >= 1000)
        continue;
      controlapi::decision_record d{
        "status",
        s->id,
        0,
        "",
        s->status.err.empty()
          ? std::string(store::to_string(s->status.state))
          : fmt::format("{}: {}", store::to_string(s->status.state),
                        s->status.err),
        ""};
      if (const auto* t = db.task(s->id)) {
        d.slot = t->slot;
        d.node_id = t->node_id;
        if (const auto* svc = db.service(t->service_id))
          d.service = svc->spec.name;
      }
      e.decisions.push_back(std::move(d));
    }
    return 0;
  });
  controlapi::write_request req{std::move(st.statuses), "dispatcher",
                                std::move(e)};
  st.statuses.clear();
  ++st.status_batches;
  self->request(st.link.manager, seconds{15}, atom::write_v, std::move(req))
    .then(
      [=](const controlapi::write_verdict& v) mutable {
        if (!v.ok)
          log::warn(who, "task statuses refused: {}", v.error);
        for (auto& rp : reporters)
          rp.deliver(
            v.ok ? status_reply(self, true)
                 : make_error_envelope(0, failure{errc::unavailable, v.error}));
      },
      [=](caf::error& err) mutable {
        for (auto& rp : reporters)
          rp.deliver(make_error_envelope(
            0, failure{errc::unavailable, caf::to_string(err)}));
      });
}

/// The console's `inspect`: every node's stream and last heartbeat.
envelope describe(self_ptr self) {
  auto& st = self->state;
  return make_envelope(kind::REPLY, 0, {}, {}, [&](auto body) {
    auto d = body.initDispatcherState();
    d.setStatusBatches(st.status_batches);
    st.link.db->read([&](const store::store& db) {
      auto nodes = db.nodes();
      auto list = d.initSessions(static_cast<unsigned>(nodes.size()));
      unsigned i = 0;
      for (const auto* n : nodes) {
        auto s = list[i++];
        s.setNodeId(n->id);
        s.setHostname(n->hostname);
        if (auto b = st.last_beat.find(n->id); b != st.last_beat.end())
          s.setLastHeartbeatNanos(b->second);
        if (auto it = st.nodes.find(n->id); it != st.nodes.end()) {
          s.setEpoch(st.epoch);
          s.setSequence(it->second.sequence);
          s.setTasks(static_cast<uint32_t>(it->second.sent.size()));
        }
      }
      return 0;
    });
  });
}

/// Writes a node's status (Ready after a heartbeat, Down after silence or
/// its leave), one write per node at a time.
void mark(self_ptr self, const std::string& node, store::node_status status,
          std::string message) {
  auto& st = self->state;
  if (!st.marking.insert(node).second)
    return;
  controlapi::write_request req{
    {store::set_node_status{node, status, std::move(message),
                            clock::unix_nanos(self)}},
    "dispatcher"};
  self->request(st.link.manager, seconds{15}, atom::write_v, std::move(req))
    .then(
      [=](const controlapi::write_verdict& v) {
        self->state.marking.erase(node);
        if (!v.ok)
          log::warn(who, "cannot record the status of node {}: {}", node,
                    v.error);
      },
      [=](caf::error& err) {
        self->state.marking.erase(node);
        log::warn(who, "cannot record the status of node {}: {}", node,
                  caf::to_string(err));
      });
}

/// A node's assignments as its heartbeat says it applied them: a node of
/// another epoch, or behind twice at the same sequence, gets a full set.
void check_assignments(self_ptr self, const std::string& node, uint64_t epoch,
                       uint64_t sequence) {
  auto& st = self->state;
  auto it = st.nodes.find(node);
  if (epoch != st.epoch || it == st.nodes.end()) {
    push(self, node, true);
    return;
  }
  // Behind: a message may still be on its way; behind at the same sequence
  // twice in a row, it was lost.
  auto& stream = it->second;
  if (sequence == stream.sequence) {
    stream.behind_at = 0;
  } else if (stream.behind_at == sequence) {
    push(self, node, true);
    stream.behind_at = 0;
  } else {
    stream.behind_at = sequence;
  }
}

/// A heartbeat from `node` (the transport checked it speaks for itself).
envelope on_heartbeat(self_ptr self, const std::string& node,
                      schema::dispatcher::Heartbeat::Reader hb) {
  auto& st = self->state;
  auto status = st.link.db->read([&](const store::store& db) {
    const auto* n = db.node(node);
    return n ? std::optional<store::node_status>{n->status} : std::nullopt;
  });
  if (hb.getLeaving()) {
    st.heartbeats.forget(node);
    if (status && *status != store::node_status::down)
      mark(self, node, store::node_status::down, "the node left the swarm");
  } else {
    auto period = st.link.db->read(
      [&](const store::store& db) { return heartbeat_period(db); });
    st.heartbeats.beat(node, self->clock().now(), period);
    st.last_beat[node] = clock::unix_nanos(self);
    check_assignments(self, node, hb.getAssignmentsEpoch(),
                      hb.getAssignmentsSequence());
    if (status && *status != store::node_status::ready)
      mark(self, node, store::node_status::ready, "");
  }
  return st.link.db->read([&](const store::store& db) {
    return heartbeat_reply(db, true, st.node_id, node);
  });
}

/// Marks Down the nodes silent for three of the periods they were told.
void check_heartbeats(self_ptr self) {
  auto& st = self->state;
  auto silent = st.link.db->read([&](const store::store& db) {
    return st.heartbeats.silent(db, self->clock().now(), st.node_id);
  });
  for (const auto& node : silent)
    mark(self, node, store::node_status::down,
         "heartbeat failure: no heartbeat for 3 periods");
}

dispatcher_actor::behavior_type dispatcher(self_ptr self,
                                           controlapi::leader_link link,
                                           transport::transport_actor transport,
                                           std::string node_id) {
  log::log_failed_requests(self, "dispatcher");
  auto& st = self->state;
  st.link = std::move(link);
  st.transport = std::move(transport);
  st.node_id = std::move(node_id);
  // A new epoch per dispatcher: every node gets a full set first.
  randombytes_buf(&st.epoch, sizeof(st.epoch));
  st.epoch |= 1; // never 0, which means "none yet"
  self->send(self, atom::tick_v);
  return {
    [=](atom::changed, const store::changes_ptr& ch) {
      if (ch)
        on_changes(self, *ch);
    },
    [=](atom::flush) {
      auto& st = self->state;
      st.flush_queued = false;
      auto dirty = std::move(st.dirty);
      st.dirty.clear();
      for (const auto& node : dirty)
        if (st.nodes.count(node) != 0) // nodes not heard from get a full set
          push(self, node, false);
    },
    [=](atom::describe) { return describe(self); },
    [=](atom::tick) {
      check_heartbeats(self);
      self->delayed_send(self, down_check_period, atom::tick_v);
    },
    [=](const transport::inbound& in) -> caf::result<envelope> {
      auto body = in.env.root().getBody();
      switch (body.which()) {
      case schema::Envelope::Body::HEARTBEAT:
        return on_heartbeat(self, in.from.node_id, body.getHeartbeat());
      case schema::Envelope::Body::TASK_STATUS:
        return on_report(self, in);
      default:
        return make_error_envelope(
          0, failure{errc::unsupported, "the dispatcher does not handle this"});
      }
    },
    [=](atom::report) { propose_statuses(self); },
  };
}

} // namespace

dispatcher_actor spawn_dispatcher(caf::actor_system& sys,
                                  controlapi::leader_link link,
                                  transport::transport_actor transport,
                                  std::string node_id) {
  return sys.spawn(dispatcher, std::move(link), std::move(transport),
                   std::move(node_id));
}

} // namespace skep::dispatcher
