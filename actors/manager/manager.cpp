#include "actors/manager/manager.hpp"

#include "actors/controlapi/console_routes.hpp"
#include "actors/controlapi/nodes.hpp"
#include "actors/controlapi/services.hpp"
#include "actors/dispatcher/dispatcher.hpp"
#include "actors/dispatcher/heartbeats.hpp"
#include "actors/events/store_events.hpp"
#include "actors/logging/failed_requests.hpp"
#include "actors/logging/log.hpp"
#include "actors/orchestrator/orchestrator.hpp"
#include "actors/raft/raft_bridge.hpp"
#include "actors/raft/raft_wire.hpp"
#include "actors/scheduler/scheduler_actor.hpp"
#include "actors/store/cluster_settings.hpp"
#include "actors/store/codec.hpp"
#include "actors/store/leader_link.hpp"
#include "actors/store/object_id.hpp"
#include "actors/store/store.hpp"
#include "actors/transport/tcp.hpp"
#include "actors/transport/transport_actor.hpp"
#include "messages/console.capnp.h"
#include "messages/dispatcher.capnp.h"
#include "messages/events.capnp.h"

#include <algorithm>
#include <malloc.h>
#include <map>
#include <random>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <fmt/format.h>

namespace skep::controlapi {

namespace {

using namespace std::chrono;
using kind = schema::Envelope::Kind;
using request_which = schema::control::Request::Which;
constexpr std::string_view who = "manager";

/// Applying this many bytes of entries frees about as much again (decoded
/// batches, old object versions, placements): then freed memory goes back to
/// the OS, or RSS would keep every batch's high-water mark.
constexpr uint64_t trim_every_bytes = 4 << 20;

/// How long a forwarded request or a proposal may take.
constexpr auto write_timeout = seconds{10};

int64_t now_nanos() {
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch())
    .count();
}

control_reply error_reply(errc code, std::string message) {
  return make_error_reply(failure{code, std::move(message)});
}

control_reply done_reply() {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Reply>().setDone();
  return control_reply::from(b);
}

std::string text_of(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

struct manager_state {
  manager_config cfg;
  /// The replica, shared with the leader-only actors (read lock); this
  /// actor is its only writer.
  std::shared_ptr<store::shared_store> shared
    = std::make_shared<store::shared_store>();
  const store::store& db() const { return shared->writer_view(); }
  /// Leader-only actors, running while this manager leads.
  caf::actor orchestrator;
  caf::actor scheduler;
  caf::actor dispatcher;
  raft::raft_actor member;
  caf::actor bridge;
  raft::node_id self_member = 0;
  raft::node_id leader_member = 0;
  uint64_t term = 0;
  uint64_t commit = 0;
  bool leading = false;
  bool init_proposed = false;
  /// Results of recently applied entries, for proposers waiting on them.
  std::map<uint64_t, result<void>> applied;
  /// Proposers whose entry committed but is not applied here yet.
  std::multimap<uint64_t, std::function<void(result<void>)>> waiters;
  /// Dispatcher (leader only): when each node was last heard from.
  /// Managers this node has told the transport and bridge about.
  std::set<std::string> known_managers;
  /// Learners this leader is trying to promote.
  std::set<raft::node_id> learners;
  raft::configuration config;
  /// Requests to send to the leader once leadership moved, and until when
  /// to wait for a new leader to be known.
  struct pending_forward {
    control_request request;
    std::function<void(const control_reply&)> done;
    std::chrono::steady_clock::time_point until;
    bool catch_up = true; ///< see forward()
  };
  std::vector<pending_forward> pending_forwards;
  /// The index of the store snapshot Raft holds (the log is compacted up
  /// to it, keeping a tail), and whether one is being taken.
  uint64_t last_snapshot = 0;
  bool snapshotting = false;
  /// Bytes of entries applied, and how many had been when freed memory was
  /// last handed back to the OS.
  uint64_t applied_bytes = 0;
  uint64_t trimmed_at = 0;
  /// applied_bytes when the last snapshot was taken.
  uint64_t bytes_at_snapshot = 0;
  /// Ticks since an entry was last applied.
  int quiet_ticks = 0;
  /// A status request to the raft member is on its way.
  bool asking_status = false;
  /// --force-new-cluster: the other managers were made workers.
  bool forced_done = false;
  /// Nodes removed from the swarm: their certificates no longer count.
  std::set<std::string> removed;
  std::mt19937_64 rng{std::random_device{}()};
  /// Leader: what changed and what its actors decided, for `skep events`.
  std::unique_ptr<event_log> events;
  /// `events` requests waiting for a first matching event.
  struct event_waiter {
    uint64_t id = 0;
    query q;
    size_t limit = 0;
    caf::typed_response_promise<control_reply> rp;
  };
  std::vector<event_waiter> event_waiters;
  uint64_t next_waiter = 1;
  /// Replies from the leader held until this replica has applied what the
  /// leader had applied when it answered: a client reads its own writes,
  /// whichever manager it talks to.
  struct held_reply {
    uint64_t index = 0;
    control_reply reply;
    std::function<void(const control_reply&)> done;
  };
  std::map<uint64_t, held_reply> held_replies;
  uint64_t next_held = 1;

  static inline const char* name = "manager";

  void stop_leader_actors() {
    for (auto* a : {&orchestrator, &scheduler, &dispatcher})
      if (*a) {
        caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
        *a = nullptr;
      }
  }

  ~manager_state() { stop_leader_actors(); }
};

using self_ptr = caf::stateful_actor<manager_state>*;

// ---- the store and the CA -------------------------------------------------

/// Keeps the transport's CA (tokens, key, id bindings) in step with the
/// replicated cluster object.
void refresh_authority(self_ptr self) {
  auto& st = self->state;
  const auto* cluster = st.db().cluster();
  if (cluster == nullptr || !st.cfg.ca)
    return;
  auto key = ca::keypair::from_secret(cluster->ca_secret_key.data(),
                                      cluster->ca_secret_key.size());
  auto worker = ca::parse_join_token(cluster->worker_token);
  auto manager = ca::parse_join_token(cluster->manager_token);
  if (!key || !worker || !manager) {
    log::error(who, "the cluster's CA key or tokens are unreadable");
    return;
  }
  auto built = ca::authority::from_parts(
    *key, *worker, *manager, duration_cast<seconds>(cluster->spec.cert_expiry));
  if (!built) {
    log::error(who, "the cluster's CA is inconsistent: {}",
               built.error().message);
    return;
  }
  for (const auto* n : st.db().nodes())
    built->bind(n->id, n->public_key);
  for (const auto& id : st.removed)
    built->revoke(id);
  st.cfg.ca->with([&](ca::authority& a) {
    a = std::move(*built);
    return 0;
  });
}

/// Tells the transport and the bridge about every manager in the store.
void refresh_managers(self_ptr self) {
  auto& st = self->state;
  for (const auto* n : st.db().nodes()) {
    if (n->role != ca::node_role::manager || n->id == st.cfg.node_id)
      continue;
    self->send(st.bridge, atom::peer_v, n->id);
    if (st.known_managers.insert(n->id + "@" + n->addr).second) {
      auto addr = transport::parse_host_port(n->addr);
      if (addr)
        self->send(st.cfg.transport, atom::peer_v, n->id, addr->first,
                   addr->second);
      else
        log::warn(who, "manager {} has an unusable address: {}", n->id,
                  addr.error().message);
    }
  }
}

uint64_t cluster_interval(const store::cluster_object* cluster) {
  return cluster ? cluster->spec.snapshot_interval : 10000;
}

/// Every snapshot_interval applied entries, Raft keeps a snapshot of the
/// store and compacts its log; a restart restores the snapshot and replays
/// only the entries after it. Every manager snapshots its own replica.
void maybe_snapshot(self_ptr self) {
  auto& st = self->state;
  const auto* cluster = st.db().cluster();
  auto index = st.db().applied_index();
  // Every snapshot_interval entries, or sooner when the entries since the
  // last snapshot are large (a service of a million tasks): the log is
  // compacted and its space returned either way.
  constexpr uint64_t snapshot_bytes = 256 << 20;
  bool many = index >= st.last_snapshot + cluster_interval(cluster);
  bool large = st.applied_bytes >= st.bytes_at_snapshot + snapshot_bytes;
  if (cluster == nullptr || st.snapshotting || index <= st.last_snapshot
      || (!many && !large))
    return;
  st.snapshotting = true;
  st.bytes_at_snapshot = st.applied_bytes;
  auto data = st.db().snapshot();
  self
    ->request(st.member, write_timeout, atom::snapshot_v, raft::index_t{index},
              raft::bytes{std::move(data)})
    .then(
      [=](const raft::outcome& out) {
        auto& st = self->state;
        st.snapshotting = false;
        if (out.ok) {
          st.last_snapshot = index;
          log::info(who, "store snapshot at index {}; the log is compacted",
                    index);
        } else {
          log::warn(who, "no store snapshot at index {}: {}", index, out.error);
        }
      },
      [=](caf::error& err) {
        self->state.snapshotting = false;
        log::warn(who, "no store snapshot: {}", caf::to_string(err));
      });
}

/// Tells the leader-only actors what changed.
void publish(self_ptr self, store::changes_ptr ch) {
  auto& st = self->state;
  for (auto* a : {&st.orchestrator, &st.scheduler, &st.dispatcher})
    if (*a)
      self->send(*a, atom::changed_v, ch);
}

void serve_event_waiters(self_ptr self);

/// Hands on the held replies whose index this replica has applied.
void release_held_replies(self_ptr self) {
  auto& st = self->state;
  auto applied = st.db().applied_index();
  for (auto it = st.held_replies.begin(); it != st.held_replies.end();) {
    if (it->second.index > applied) {
      ++it;
      continue;
    }
    auto held = std::move(it->second);
    it = st.held_replies.erase(it);
    held.done(held.reply);
  }
}

void apply_entries(self_ptr self, const std::vector<raft::entry>& entries) {
  auto& st = self->state;
  bool changed = false; // the cluster or a node: the CA and peers follow
  auto published = std::make_shared<store::changes>();
  for (const auto& e : entries) {
    if (e.type == raft::entry_type::configuration) {
      raft::decode_configuration(e.payload, st.config);
      continue;
    }
    if (e.type != raft::entry_type::normal)
      continue;
    st.applied_bytes += e.payload.size();
    st.quiet_ticks = 0;
    auto outcome = st.shared->write([&](store::store& db) {
      return db.apply(e.index, e.payload.data(), e.payload.size());
    });
    if (!outcome) {
      log::warn(who, "entry {} refused by the store: {}", e.index,
                outcome.error().message);
      st.applied.emplace(e.index, outcome.error());
    } else {
      st.applied.emplace(e.index, result<void>{});
      if (st.events)
        for (auto& ev : events_of(st.db(), *outcome, e.index, now_nanos()))
          st.events->record(std::move(ev));
      for (auto& c : *outcome) {
        published->items.push_back(c);
        switch (c.what) {
        case store::change::kind::cluster:
        case store::change::kind::node_created:
        case store::change::kind::node_updated:
        case store::change::kind::node_removed:
          changed = true;
          break;
        default:
          break;
        }
        if (c.what == store::change::kind::node_removed) {
          st.removed.insert(c.id);
          self->send(st.cfg.transport, atom::revoke_v, c.id);
          log::info(who, "node {} was removed from the swarm", c.id);
        }
      }
    }
  }
  maybe_snapshot(self);
  serve_event_waiters(self);
  release_held_replies(self);
  published->index = st.db().applied_index();
  if (!published->items.empty())
    publish(self, std::move(published));
  while (st.applied.size() > 1024)
    st.applied.erase(st.applied.begin());
  // Proposers waiting for these entries.
  auto last = st.db().applied_index();
  while (!st.waiters.empty() && st.waiters.begin()->first <= last) {
    auto node = st.waiters.extract(st.waiters.begin());
    auto it = st.applied.find(node.key());
    node.mapped()(it == st.applied.end() ? result<void>{failure{
                    errc::internal, "the entry was applied too long "
                                    "ago to tell its outcome"}}
                                         : it->second);
  }
  if (changed) {
    refresh_authority(self);
    refresh_managers(self);
  }
}

// ---- proposals ------------------------------------------------------------

/// Proposes `batch` (this member must lead) and runs `then` with the
/// store's verdict once the entry is applied here.
void propose_at(self_ptr self, std::vector<uint8_t> batch,
                std::function<void(result<void>, uint64_t index)> then) {
  self->request(self->state.member, write_timeout, atom::propose_v, batch)
    .then(
      [=](const raft::outcome& out) {
        if (!out.ok) {
          then(
            failure{errc::unavailable,
                    fmt::format("the change was not committed: {}", out.error)},
            0);
          return;
        }
        auto& st = self->state;
        auto index = out.index;
        auto it = st.applied.find(index);
        if (it != st.applied.end())
          then(it->second, index);
        else if (index > st.db().applied_index())
          st.waiters.emplace(index, [then, index](result<void> r) {
            then(std::move(r), index);
          }); // applied soon
        else
          then(failure{errc::internal, "the committed change was not applied"},
               index);
      },
      [=](caf::error& err) {
        then(failure{errc::unavailable, caf::to_string(err)}, 0);
      });
}

void propose(self_ptr self, std::vector<uint8_t> batch,
             std::function<void(result<void>)> then) {
  propose_at(self, std::move(batch),
             [then](result<void> r, uint64_t) { then(std::move(r)); });
}

// ---- events ---------------------------------------------------------------

control_reply events_reply(const event_log& log, const query& q, size_t limit) {
  capnp::MallocMessageBuilder b;
  write_batch(log, q, limit, b.initRoot<schema::control::Reply>().initEvents());
  return control_reply::from(b);
}

/// Answers the `events` requests that now have something to read.
void serve_event_waiters(self_ptr self) {
  auto& st = self->state;
  if (!st.events || st.event_waiters.empty())
    return;
  auto& waiters = st.event_waiters;
  for (auto it = waiters.begin(); it != waiters.end();) {
    if (st.events->read(it->q, 1).empty()) {
      ++it;
      continue;
    }
    it->rp.deliver(events_reply(*st.events, it->q, it->limit));
    it = waiters.erase(it);
  }
}

void record_event(self_ptr self, event e) {
  auto& st = self->state;
  if (!st.events)
    return;
  if (e.time_nanos == 0)
    e.time_nanos = now_nanos();
  st.events->record(std::move(e));
  serve_event_waiters(self);
}

/// Leader: `skep events` and the console's watch. Waits up to waitMillis
/// for a first matching event.
caf::result<control_reply>
read_events(self_ptr self, schema::events::EventsRequest::Reader r) {
  auto& st = self->state;
  auto q = query_from_schema(r);
  if (!q)
    return make_error_reply(q.error());
  size_t limit
    = std::min<size_t>(r.getLimit() == 0 ? 1000 : r.getLimit(), 1000);
  if (!st.events)
    return error_reply(errc::unavailable,
                       "this manager does not lead (yet); try again");
  auto wait
    = std::min<uint32_t>(r.getWaitMillis(), 5000); // < forwarding's timeout
  if (wait == 0 || !st.events->read(*q, 1).empty())
    return events_reply(*st.events, *q, limit);
  auto rp = self->make_response_promise<control_reply>();
  auto id = st.next_waiter++;
  st.event_waiters.push_back({id, std::move(*q), limit, rp});
  self->delayed_send(self, milliseconds{wait}, atom::deadline_v, id);
  return rp;
}

/// A waiting `events` request whose time is up: answered with what there
/// is (nothing), so the client asks again.
void event_wait_over(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto& waiters = st.event_waiters;
  auto it = std::find_if(waiters.begin(), waiters.end(),
                         [&](const auto& w) { return w.id == id; });
  if (it == waiters.end())
    return;
  if (st.events)
    it->rp.deliver(events_reply(*st.events, it->q, it->limit));
  else
    it->rp.deliver(error_reply(errc::unavailable,
                               "this manager no longer leads; ask again"));
  waiters.erase(it);
}

std::string leader_node(self_ptr self) {
  auto& st = self->state;
  for (const auto* n : st.db().nodes())
    if (raft::member_id_of(n->id) == st.leader_member)
      return n->id;
  return {};
}

/// What receives the answer to a write or a forwarded request.
using reply_handler = std::function<void(const control_reply&)>;

reply_handler deliver_to(caf::typed_response_promise<control_reply> rp) {
  return [rp](const control_reply& reply) mutable { rp.deliver(reply); };
}

/// How long a request waits for a leader to be known (an election takes
/// about one election timeout) before it fails with "no leader".
constexpr auto leader_wait = seconds{3};

/// Keeps `request` until a leader other than this manager is known or
/// `until` passes; the manager checks every 100 ms (atom::transfer).
void forward_later(self_ptr self, const control_request& request,
                   reply_handler done, steady_clock::time_point until,
                   bool catch_up = true) {
  auto& pending = self->state.pending_forwards;
  if (pending.empty())
    self->delayed_send(self, milliseconds{100}, atom::transfer_v);
  pending.push_back({request, std::move(done), until, catch_up});
}

/// How long a follower holds the leader's reply to let its replica catch up.
constexpr auto catch_up_wait = seconds{5};

/// Sends `request` to the leader's control API and hands its reply (or why
/// there is none) to `done`; with `catch_up`, once this replica has applied
/// as much as the leader had when it answered. While no leader is known it
/// waits up to leader_wait for one, unless `may_wait` is false.
void forward(self_ptr self, const control_request& request, reply_handler done,
             bool may_wait = true, bool catch_up = true) {
  auto leader = leader_node(self);
  if (leader.empty() || leader == self->state.cfg.node_id) {
    if (may_wait) {
      forward_later(self, request, std::move(done),
                    steady_clock::now() + leader_wait, catch_up);
      return;
    }
    done(error_reply(errc::unavailable,
                     "the swarm has no leader right now (no quorum?); "
                     "try again"));
    return;
  }
  auto env = make_control_request_envelope(0, {"", "controlapi"},
                                           {leader, "controlapi"}, request);
  self
    ->request(self->state.cfg.transport, caf::infinite, atom::call_v, env,
              caf::timespan{write_timeout})
    .then([=](const envelope& answer) {
      auto got = transport::reply_or_failure(answer);
      if (!got) {
        done(make_error_reply(got.error()));
        return;
      }
      auto body = got->root().getBody();
      if (body.which() != schema::Envelope::Body::CONTROL_REPLY) {
        done(error_reply(errc::internal,
                         "the leader answered with something else"));
        return;
      }
      auto reply = control_reply::from(body.getControlReply());
      auto& st = self->state;
      auto index = got->root().getAppliedIndex();
      if (!catch_up || index <= st.db().applied_index()) {
        done(reply);
        return;
      }
      // Read your writes: answer once this replica has caught up, or after
      // catch_up_wait anyway (the change was made; only this replica lags).
      auto id = st.next_held++;
      st.held_replies.emplace(id,
                              manager_state::held_reply{index, reply, done});
      self->delayed_send(self, catch_up_wait, atom::caught_up_v, id);
    });
}

/// Runs a write: proposes `batch` on the leader (forwarding a `propose`
/// request from a follower) and hands `done` the reply: `done` or the
/// failure.
void write(self_ptr self, std::vector<uint8_t> batch, reply_handler done) {
  if (self->state.leading) {
    propose(self, std::move(batch), [=](result<void> r) {
      done(r ? done_reply() : make_error_reply(r.error()));
    });
    return;
  }
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Request>().setPropose(
    kj::arrayPtr(batch.data(), batch.size()));
  forward(self, control_request::from(b), done);
}

// ---- control requests -----------------------------------------------------

void fill_view(self_ptr self, const store::node_object& n,
               schema::control::NodeView::Builder out) {
  auto& st = self->state;
  out.setId(n.id);
  out.setHostname(n.hostname);
  out.setRole(ca::to_string(n.role));
  out.setStatus(store::to_string(n.status));
  out.setAvailability(store::to_string(n.avail));
  if (n.role == ca::node_role::manager) {
    if (raft::member_id_of(n.id) == st.leader_member)
      out.setManagerStatus("leader");
    else if (n.status == store::node_status::ready)
      out.setManagerStatus("reachable");
    else
      out.setManagerStatus("unreachable");
  }
  out.setEngineVersion(n.engine_version);
  out.setAddr(n.addr);
  auto labels = out.initLabels(static_cast<unsigned>(n.labels.size()));
  unsigned i = 0;
  for (auto& [k, v] : n.labels) {
    labels[i].setKey(k);
    labels[i].setValue(v);
    ++i;
  }
  out.setCreatedAtNanos(n.created_at_nanos);
  out.setUpdatedAtNanos(n.updated_at_nanos);
  out.setSelf(n.id == st.cfg.node_id);
  out.setStatusMessage(n.status_message);
  out.setVersion(n.version);
}

control_reply list_nodes(self_ptr self,
                         const std::vector<const store::node_object*>& nodes) {
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initNodes(
    static_cast<unsigned>(nodes.size()));
  for (unsigned i = 0; i < nodes.size(); ++i)
    fill_view(self, *nodes[i], list[i]);
  return control_reply::from(b);
}

caf::result<control_reply> handle(self_ptr self, const control_request& req);

/// Leader: demotes a manager. Refused for the last manager and when the
/// managers left could not form a quorum; the leader itself hands its
/// leadership over first, then the new leader does the demotion.
void demote(self_ptr self, const control_request& req, store::node_object node,
            uint64_t version, caf::typed_response_promise<control_reply> rp) {
  auto& st = self->state;
  auto target = raft::member_id_of(node.id);
  size_t managers = 0, ready_others = 0;
  for (const auto* n : st.db().nodes()) {
    if (n->role != ca::node_role::manager)
      continue;
    ++managers;
    if (n->id != node.id && n->status == store::node_status::ready)
      ++ready_others;
  }
  if (managers <= 1) {
    rp.deliver(error_reply(errc::invalid_argument,
                           "cannot demote the last manager of the swarm"));
    return;
  }
  auto voters_after
    = st.config.voters.size() - (st.config.is_voter(target) ? 1 : 0);
  if (ready_others < voters_after / 2 + 1) {
    rp.deliver(error_reply(
      errc::unavailable,
      fmt::format("demoting {} would leave {} reachable managers of {}: the "
                  "swarm would lose its quorum",
                  node.hostname, ready_others, voters_after)));
    return;
  }
  if (target == st.self_member) {
    // Hand leadership to a ready voter, then let the new leader demote.
    raft::node_id successor = 0;
    for (const auto* n : st.db().nodes())
      if (n->role == ca::node_role::manager && n->id != node.id
          && n->status == store::node_status::ready
          && st.config.is_voter(raft::member_id_of(n->id)))
        successor = raft::member_id_of(n->id);
    if (successor == 0) {
      rp.deliver(error_reply(errc::unavailable,
                             "no other manager can take over the leadership"));
      return;
    }
    self->request(st.member, write_timeout, atom::transfer_v, successor)
      .then([=](const raft::outcome& out) mutable {
        if (!out.ok) {
          rp.deliver(
            error_reply(errc::unavailable, fmt::format("cannot hand over the "
                                                       "leadership: {}",
                                                       out.error)));
          return;
        }
        // The successor leads shortly: send it the request once this
        // member knows it leads (an election may be needed if the transfer
        // times out). Its answer comes at once: this member leaves Raft and
        // will not apply what the new leader writes.
        forward_later(self, req, deliver_to(rp),
                      steady_clock::now() + write_timeout, false);
      });
    return;
  }
  auto finish = [=]() mutable {
    write(self, store::encode_batch({store::put_node{node, version}}),
          deliver_to(rp));
  };
  if (!st.config.is_member(target)) {
    finish();
    return;
  }
  self->request(st.member, write_timeout, atom::remove_v, target)
    .then([=](const raft::outcome& out) mutable {
      if (!out.ok) {
        rp.deliver(error_reply(errc::unavailable,
                               fmt::format("cannot remove {} from Raft: {}",
                                           node.hostname, out.error)));
        return;
      }
      finish();
    });
}

// ---- service logs -----------------------------------------------------------

/// One task's output in a `logs` reply.
struct task_output {
  std::string task_id, service_name, node_id, hostname, output, error;
  uint64_t slot = 0;
  uint64_t end = 0;
};

control_reply logs_reply(const std::vector<task_output>& outputs) {
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initLogs(
    static_cast<unsigned>(outputs.size()));
  for (unsigned i = 0; i < outputs.size(); ++i) {
    const auto& o = outputs[i];
    list[i].setTaskId(o.task_id);
    list[i].setServiceName(o.service_name);
    list[i].setSlot(o.slot);
    list[i].setNodeId(o.node_id);
    list[i].setNodeHostname(o.hostname);
    list[i].setOutput(kj::arrayPtr(
      reinterpret_cast<const capnp::byte*>(o.output.data()), o.output.size()));
    list[i].setEndOffset(o.end);
    list[i].setError(o.error);
  }
  return control_reply::from(b);
}

/// `service logs`: asks each node that ran a task of the service (or the
/// one task) for its output, and answers once every node answered or
/// failed.
caf::result<control_reply>
collect_logs(self_ptr self, schema::control::LogsRequest::Reader r) {
  const auto& db = self->state.db();
  auto name = text_of(r.getName());
  std::vector<const store::task_object*> tasks;
  if (auto s = db.find_service(name)) {
    tasks = db.tasks_of_service((*s)->id);
  } else if (auto t = db.find_task(name)) {
    tasks.push_back(*t);
  } else {
    return error_reply(errc::not_found,
                       fmt::format("no such service or task: {}", name));
  }
  std::map<std::string, uint64_t> cursors;
  for (auto c : r.getFollow())
    cursors[text_of(c.getTaskId())] = c.getOffset();
  auto outputs = std::make_shared<std::vector<task_output>>();
  std::map<std::string, std::vector<size_t>> by_node;
  for (const auto* t : tasks) {
    if (t->node_id.empty())
      continue; // never ran
    task_output o;
    o.task_id = t->id;
    o.slot = t->slot;
    o.node_id = t->node_id;
    if (const auto* s = db.service(t->service_id))
      o.service_name = s->spec.name;
    if (const auto* n = db.node(t->node_id))
      o.hostname = n->hostname;
    by_node[t->node_id].push_back(outputs->size());
    outputs->push_back(std::move(o));
  }
  auto rp = self->make_response_promise<control_reply>();
  if (by_node.empty()) {
    rp.deliver(logs_reply(*outputs));
    return rp;
  }
  auto left = std::make_shared<size_t>(by_node.size());
  auto tail = r.getTailLines();
  bool follow = r.getFollow().size() > 0;
  for (auto& [node, indexes] : by_node) {
    auto env = make_envelope(
      kind::REQUEST, 0, {"", "controlapi"}, {node, "agent"}, [&](auto body) {
        auto q = body.initTaskLogs();
        auto ids = q.initTaskIds(static_cast<unsigned>(indexes.size()));
        q.setTailLines(follow ? -1 : tail);
        if (follow) {
          auto from = q.initFromOffsets(static_cast<unsigned>(indexes.size()));
          for (unsigned i = 0; i < indexes.size(); ++i) {
            auto it = cursors.find((*outputs)[indexes[i]].task_id);
            from.set(i, it == cursors.end() ? 0 : it->second);
          }
        }
        for (unsigned i = 0; i < indexes.size(); ++i)
          ids.set(i, (*outputs)[indexes[i]].task_id);
      });
    auto mine = indexes;
    self
      ->request(self->state.cfg.transport, caf::infinite, atom::call_v, env,
                caf::timespan{seconds{5}})
      .then([=](const envelope& reply) mutable {
        auto body = reply.root().getBody();
        if (body.which() == schema::Envelope::Body::TASK_LOGS_REPLY
            && body.getTaskLogsReply().getLogs().size() == mine.size()) {
          auto logs = body.getTaskLogsReply().getLogs();
          for (unsigned i = 0; i < mine.size(); ++i) {
            auto& o = (*outputs)[mine[i]];
            auto data = logs[i].getOutput();
            o.output.assign(reinterpret_cast<const char*>(data.begin()),
                            data.size());
            o.end = logs[i].getEndOffset();
            o.error = text_of(logs[i].getError());
          }
        } else {
          auto why = transport::reply_or_failure(reply);
          for (auto i : mine)
            (*outputs)[i].error = fmt::format(
              "node {} did not send the output: {}", (*outputs)[i].hostname,
              why ? "unexpected reply" : why.error().message);
        }
        if (--*left == 0)
          rp.deliver(logs_reply(*outputs));
      });
  }
  return rp;
}

// ---- the console ----------------------------------------------------------

control_reply delivered_reply(const envelope& reply) {
  capnp::MallocMessageBuilder b;
  auto bytes = reply.encode();
  b.initRoot<schema::control::Reply>().setDelivered(
    kj::arrayPtr(bytes.data(), bytes.size()));
  return control_reply::from(b);
}

/// Leader: which actors the console can address, and where they run.
control_reply list_actors(self_ptr self) {
  auto& st = self->state;
  struct row {
    std::string name, node_id, hostname, status;
  };
  std::vector<row> rows;
  auto leader = leader_node(self);
  const auto* lead = st.db().node(leader);
  auto leader_host = lead ? lead->hostname : leader;
  for (const char* name : {"leader/controlapi", "dispatcher", "scheduler"})
    rows.push_back({name, leader, leader_host, "running"});
  for (const auto* s : st.db().services())
    rows.push_back(
      {"reconciler/" + s->spec.name, leader, leader_host, "running"});
  for (const auto* n : st.db().nodes()) {
    auto status = n->status == store::node_status::ready
                    ? std::string("running")
                    : fmt::format("node {}", store::to_string(n->status));
    for (const char* actor : {"agent", "transport"})
      rows.push_back({fmt::format("node/{}/{}", n->hostname, actor), n->id,
                      n->hostname, status});
  }
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initActors(
    static_cast<unsigned>(rows.size()));
  for (unsigned i = 0; i < rows.size(); ++i) {
    list[i].setName(rows[i].name);
    list[i].setNodeId(rows[i].node_id);
    list[i].setHostname(rows[i].hostname);
    list[i].setStatus(rows[i].status);
  }
  return control_reply::from(b);
}

/// A fault's peers as node ids (the console may name them by hostname).
result<envelope> resolve_fault_peers(self_ptr self, const envelope& inner) {
  auto f = inner.root().getBody().getFault();
  std::vector<std::string> ids;
  for (auto name : f.getPeers()) {
    auto n = self->state.db().find_node(text_of(name));
    if (!n)
      return n.error();
    ids.push_back((*n)->id);
  }
  return make_envelope(kind::REQUEST, 0, {}, {}, [&](auto body) {
    auto out = body.initFault();
    out.setDrop(f.getDrop());
    out.setDelayNanos(f.getDelayNanos());
    out.setPartitioned(f.getPartitioned());
    out.setHeal(f.getHeal());
    auto peers = out.initPeers(static_cast<unsigned>(ids.size()));
    for (unsigned i = 0; i < ids.size(); ++i)
      peers.set(i, ids[i]);
  });
}

/// A console message for an actor: checked, addressed, sent; the reply
/// envelope comes back serialized (or `done` for a one-way message).
caf::result<control_reply> deliver(self_ptr self, const control_request& req) {
  auto& st = self->state;
  auto d = req.root().getDeliver();
  auto target = parse_console_target(text_of(d.getActor()));
  if (!target)
    return make_error_reply(target.error());
  auto bytes = d.getEnvelope();
  auto inner = envelope::decode(bytes.begin(), bytes.size(),
                                read_limits_for_frames(4 << 20));
  if (!inner)
    return error_reply(errc::malformed_message,
                       fmt::format("the console message is not an envelope: {}",
                                   inner.error().message));
  bool one_way = d.getOneWay();
  auto body = inner->root().getBody();
  if (auto ok = check_console_body(*target, body.which(), one_way); !ok)
    return make_error_reply(ok.error());
  if (runs_on_leader(*target) && !st.leading) {
    auto rp = self->make_response_promise<control_reply>();
    forward(self, req, deliver_to(rp));
    return rp;
  }
  auto timeout = milliseconds{std::clamp<uint32_t>(
    d.getTimeoutMillis() == 0 ? 10000 : d.getTimeoutMillis(), 100, 60000)};
  // From here on the promise answers: a value returned would be dropped
  // and the client would wait for its timeout.
  auto rp = self->make_response_promise<control_reply>();
  auto refuse = [&](const failure& why) {
    rp.deliver(make_error_reply(why));
    return rp;
  };
  auto answer = [rp, one_way](const envelope& reply) mutable {
    rp.deliver(one_way ? done_reply() : delivered_reply(reply));
  };
  auto failed = [rp](const caf::error& err) mutable {
    rp.deliver(error_reply(errc::unavailable, caf::to_string(err)));
  };
  // Through the transport: to another node, or locally to this one.
  auto via_transport = [&](const std::string& node, const std::string& route,
                           const envelope& what) {
    auto env = restamp(what, one_way ? kind::ONE_WAY : kind::REQUEST, 0,
                       {st.cfg.node_id, "console"}, {node, route});
    if (one_way) {
      self->send(st.cfg.transport, atom::send_v, env);
      rp.deliver(done_reply());
      return;
    }
    self
      ->request(st.cfg.transport, caf::infinite, atom::call_v, env,
                caf::timespan{timeout})
      .then([=](const envelope& reply) mutable { answer(reply); });
  };
  switch (target->kind) {
  case console_target_kind::controlapi: {
    // One level only: a delivery inside a delivery would recurse.
    if (body.getControlRequest().which() == request_which::DELIVER)
      return refuse({errc::invalid_argument,
                     "a console message to leader/controlapi cannot carry "
                     "another deliver"});
    auto request = control_request::from(body.getControlRequest());
    self->request(caf::actor_cast<caf::actor>(self), timeout, request)
      .then(
        [=](const control_reply& reply) mutable {
          answer(make_envelope(kind::REPLY, 0, {}, {}, [&](auto b) {
            b.setControlReply(reply.root());
          }));
        },
        failed);
    return rp;
  }
  case console_target_kind::node_actor: {
    auto node = st.db().find_node(target->node);
    if (!node)
      return refuse(node.error());
    auto what = *inner;
    if (body.which() == schema::Envelope::Body::FAULT) {
      auto resolved = resolve_fault_peers(self, *inner);
      if (!resolved)
        return refuse(resolved.error());
      what = *resolved;
    }
    via_transport((*node)->id, target->route, what);
    return rp;
  }
  case console_target_kind::dispatcher:
    if (body.which() != schema::Envelope::Body::INSPECT) {
      via_transport(st.cfg.node_id, "dispatcher", *inner);
      return rp;
    }
    if (!st.dispatcher)
      return refuse({errc::unavailable, "the dispatcher is not running"});
    self->request(st.dispatcher, timeout, atom::describe_v)
      .then([=](const envelope& reply) mutable { answer(reply); }, failed);
    return rp;
  case console_target_kind::scheduler:
    if (!st.scheduler)
      return refuse({errc::unavailable, "the scheduler is not running"});
    self->request(st.scheduler, timeout, atom::describe_v)
      .then([=](const envelope& reply) mutable { answer(reply); }, failed);
    return rp;
  case console_target_kind::reconciler: {
    auto service = st.db().find_service(target->service);
    if (!service)
      return refuse(service.error());
    if (!st.orchestrator)
      return refuse({errc::unavailable, "the orchestrator is not running"});
    auto id = (*service)->id;
    if (body.which() == schema::Envelope::Body::RECONCILE) {
      self->send(st.orchestrator, atom::poke_v, id);
      rp.deliver(
        one_way ? done_reply()
                : delivered_reply(make_envelope(
                  kind::REPLY, 0, {}, {}, [](auto b) { b.initReconcile(); })));
      return rp;
    }
    self->request(st.orchestrator, timeout, atom::describe_v, id)
      .then([=](const envelope& reply) mutable { answer(reply); }, failed);
    return rp;
  }
  }
  return refuse({errc::internal, "unknown console target"});
}

caf::result<control_reply> handle(self_ptr self, const control_request& req) {
  auto& st = self->state;
  auto root = req.root();
  const auto* cluster = st.db().cluster();
  if (cluster == nullptr)
    return error_reply(errc::unavailable,
                       "the swarm is still being set up; try again");
  if (is_service_request(root.which())) {
    auto a = handle_service_request(st.db(), root, now_nanos(), new_object_id);
    if (a.reply)
      return std::move(*a.reply);
    auto rp = self->make_response_promise<control_reply>();
    auto on_commit = std::move(a.on_commit);
    write(self, store::encode_batch(a.actions),
          [rp, on_commit](const control_reply& r) mutable {
            bool done = r.root().which() == schema::control::Reply::DONE;
            rp.deliver(done ? on_commit : r);
          });
    return rp;
  }
  switch (root.which()) {
  case request_which::DELIVER:
    return deliver(self, req);
  case request_which::EVENTS:
  case request_which::ACTORS:
    if (!st.leading) {
      auto rp = self->make_response_promise<control_reply>();
      forward(self, req, deliver_to(rp));
      return rp;
    }
    if (root.which() == request_which::ACTORS)
      return list_actors(self);
    return read_events(self, root.getEvents());
  case request_which::SERVICE_LOGS:
    return collect_logs(self, root.getServiceLogs());
  case request_which::NODE_LIST:
    return list_nodes(self, st.db().nodes());
  case request_which::NODE_INSPECT: {
    std::vector<const store::node_object*> found;
    for (auto name : root.getNodeInspect().getNames()) {
      auto n = st.db().find_node(text_of(name));
      if (!n)
        return make_error_reply(n.error());
      found.push_back(*n);
    }
    return list_nodes(self, found);
  }
  case request_which::JOIN_TOKEN: {
    auto r = root.getJoinToken();
    auto role = text_of(r.getRole());
    if (role != "worker" && role != "manager")
      return error_reply(errc::invalid_argument,
                         fmt::format("unknown role '{}': use worker or "
                                     "manager",
                                     role));
    auto answer = [self, role]() {
      const auto* c = self->state.db().cluster();
      capnp::MallocMessageBuilder b;
      auto t = b.initRoot<schema::control::Reply>().initToken();
      t.setRole(role);
      t.setToken(role == "manager" ? c->manager_token : c->worker_token);
      t.setManagerAddr(self->state.cfg.advertise_addr);
      return control_reply::from(b);
    };
    if (!r.getRotate())
      return answer();
    auto rp = self->make_response_promise<control_reply>();
    if (!st.leading) {
      forward(self, req, deliver_to(rp)); // the leader rotates and answers
      return rp;
    }
    auto updated = *cluster;
    auto digest = ca::parse_join_token(cluster->worker_token);
    if (!digest) {
      rp.deliver(make_error_reply(digest.error()));
      return rp;
    }
    auto fresh = ca::make_join_token(digest->ca_digest).to_string();
    (role == "manager" ? updated.manager_token : updated.worker_token) = fresh;
    propose(
      self,
      store::encode_batch({store::update_cluster{updated, cluster->version}}),
      [=](result<void> r) mutable {
        rp.deliver(r ? answer() : make_error_reply(r.error()));
      });
    return rp;
  }
  case request_which::NODE_UPDATE: {
    auto u = root.getNodeUpdate();
    auto n = st.db().find_node(text_of(u.getName()));
    if (!n)
      return make_error_reply(n.error());
    auto changed = **n;
    auto avail = text_of(u.getAvailability());
    if (avail == "active")
      changed.avail = store::availability::active;
    else if (avail == "pause")
      changed.avail = store::availability::pause;
    else if (avail == "drain")
      changed.avail = store::availability::drain;
    else if (!avail.empty())
      return error_reply(errc::invalid_argument,
                         fmt::format("invalid availability '{}': use active, "
                                     "pause or drain",
                                     avail));
    for (auto l : u.getLabelAdd())
      changed.labels[text_of(l.getKey())] = text_of(l.getValue());
    // A label that is not there is not there: ignored, as --env-rm,
    // --publish-rm and --constraint-rm ignore theirs.
    for (auto k : u.getLabelRm())
      changed.labels.erase(text_of(k));
    if (auto ok = check_node_labels(changed.labels); !ok)
      return make_error_reply(ok.error());
    auto role = text_of(u.getRole());
    if (!role.empty() && role != "worker" && role != "manager")
      return error_reply(errc::invalid_argument,
                         fmt::format("invalid role '{}': use worker or "
                                     "manager",
                                     role));
    changed.updated_at_nanos = now_nanos();
    auto rp = self->make_response_promise<control_reply>();
    if (role == "worker" && changed.role == ca::node_role::manager) {
      // Demotion changes Raft's membership: only the leader does it.
      if (!st.leading) {
        forward(self, req, deliver_to(rp));
        return rp;
      }
      changed.role = ca::node_role::worker;
      demote(self, req, changed, (*n)->version, rp);
      return rp;
    }
    if (role == "manager")
      changed.role = ca::node_role::manager; // joins Raft as a learner
    write(self, store::encode_batch({store::put_node{changed, (*n)->version}}),
          deliver_to(rp));
    return rp;
  }
  case request_which::NODE_REMOVE: {
    auto rm = root.getNodeRemove();
    std::vector<store::action> actions;
    for (auto name : rm.getNames()) {
      auto n = st.db().find_node(text_of(name));
      if (!n)
        return make_error_reply(n.error());
      if ((*n)->role == ca::node_role::manager)
        return error_reply(errc::invalid_argument,
                           fmt::format("node {} is a manager and cannot be "
                                       "removed; demote it first with \"skep "
                                       "node demote {}\"",
                                       (*n)->hostname, (*n)->hostname));
      if ((*n)->status != store::node_status::down && !rm.getForce())
        return error_reply(errc::invalid_argument,
                           fmt::format("node {} is not down and can't be "
                                       "removed; stop it first, or use "
                                       "--force",
                                       (*n)->hostname));
      actions.push_back(store::remove_node{(*n)->id, (*n)->version});
    }
    auto rp = self->make_response_promise<control_reply>();
    write(self, store::encode_batch(actions), deliver_to(rp));
    return rp;
  }
  case request_which::SWARM_UPDATE: {
    auto u = root.getSwarmUpdate();
    auto updated = *cluster;
    auto spec = store::apply_settings(
      cluster->spec, store::cluster_settings{
                       u.getTaskHistoryLimit(), u.getDispatcherHeartbeatNanos(),
                       u.getCertExpiryNanos(), u.getSnapshotInterval()});
    if (!spec)
      return make_error_reply(spec.error());
    updated.spec = *spec;
    auto rp = self->make_response_promise<control_reply>();
    write(
      self,
      store::encode_batch({store::update_cluster{updated, cluster->version}}),
      deliver_to(rp));
    return rp;
  }
  case request_which::PROPOSE:
    // A raw store batch skips every check above: only another manager's
    // forwarded write may carry one (see peer_propose).
    return error_reply(errc::permission_denied,
                       "a raw store proposal is accepted only from another "
                       "manager; use the control requests (serviceCreate, "
                       "nodeUpdate, ...)");
  default:
    return error_reply(errc::unsupported,
                       "this request is not supported by this manager yet");
  }
}

/// A follower's write, forwarded over the transport from another manager
/// (the transport lets only managers send control requests): proposed here
/// if this manager leads.
caf::result<control_reply> peer_propose(self_ptr self,
                                        const control_request& req) {
  if (!self->state.leading)
    return error_reply(errc::unavailable,
                       "this manager no longer leads; try again");
  auto data = req.root().getPropose();
  auto rp = self->make_response_promise<control_reply>();
  write(self, std::vector<uint8_t>(data.begin(), data.end()), deliver_to(rp));
  return rp;
}

// ---- the CA: certificates for joining and renewing nodes ------------------

envelope reply_body(const failure& why) {
  return make_envelope(kind::REPLY, 0, {}, {},
                       [&](auto body) { to_schema(why, body.initError()); });
}

void issue_certificate(self_ptr self, const transport::inbound& in,
                       caf::typed_response_promise<envelope> rp) {
  auto& st = self->state;
  auto now = system_clock::now();
  auto cert = st.cfg.ca->with([&](ca::authority& a) {
    return a.issue(in.from.node_id, in.from.role, in.from.node_key, now);
  });
  if (!cert) {
    rp.deliver(reply_body(cert.error()));
    return;
  }
  auto ca_key
    = st.cfg.ca->with([](ca::authority& a) { return a.public_part(); });
  log::info(who, "certificate for {} node {}", ca::to_string(in.from.role),
            in.from.node_id);
  rp.deliver(make_envelope(kind::REPLY, 0, {}, {}, [&](auto body) {
    auto reply = body.initCertificateReply();
    reply.setCertificate(kj::arrayPtr(cert->data(), cert->size()));
    reply.setCaPublicKey(kj::arrayPtr(ca_key.data(), ca_key.size()));
    if (const auto* c = st.db().cluster())
      reply.setClusterId(c->id);
  }));
}

caf::result<envelope> on_certificate_request(self_ptr self,
                                             const transport::inbound& in) {
  auto& st = self->state;
  auto rp = self->make_response_promise<envelope>();
  const auto* known = st.db().node(in.from.node_id);
  if (known != nullptr) {
    // Renewal (or a node re-joining with its own key): no change to record.
    if (known->public_key != in.from.node_key) {
      rp.deliver(reply_body(failure{
        errc::already_exists,
        fmt::format("node id {} belongs to another node", in.from.node_id)}));
      return rp;
    }
    auto renewed = in;
    renewed.from.role = known->role;
    issue_certificate(self, renewed, rp);
    return rp;
  }
  if (!in.from.joining) {
    rp.deliver(reply_body(
      failure{errc::not_found, fmt::format("node {} is not part of the "
                                           "swarm",
                                           in.from.node_id)}));
    return rp;
  }
  auto request = in.env.root().getBody().getCertificateRequest();
  store::node_object node;
  node.id = in.from.node_id;
  node.hostname = text_of(request.getHostname());
  node.role = in.from.role;
  node.addr = text_of(request.getAdvertiseAddr());
  // Other nodes will dial this address: refuse what they could not parse.
  if (auto addr = transport::parse_host_port(node.addr); !addr) {
    rp.deliver(reply_body(addr.error()));
    return rp;
  }
  node.engine_version = text_of(request.getEngineVersion());
  node.capacity.nano_cpus = std::max<int64_t>(request.getNanoCpus(), 0);
  node.capacity.memory_bytes = std::max<int64_t>(request.getMemoryBytes(), 0);
  node.public_key = in.from.node_key;
  node.created_at_nanos = node.updated_at_nanos = now_nanos();
  node.status = store::node_status::unknown;
  // Record the node first (through the leader), then certify it.
  write(self, store::encode_batch({store::put_node{node, 0}}),
        [=](const control_reply& reply) mutable {
          if (reply.root().which() == schema::control::Reply::ERROR)
            rp.deliver(reply_body(skep::from_schema(reply.root().getError())));
          else
            issue_certificate(self, in, rp);
        });
  return rp;
}

// ---- the dispatcher -------------------------------------------------------

/// Hands what a node sent the dispatcher to the leader's dispatcher and
/// passes its answer on.
caf::result<envelope> ask_dispatcher(self_ptr self,
                                     const transport::inbound& in) {
  auto rp = self->make_response_promise<envelope>();
  self->request(self->state.dispatcher, seconds{20}, in)
    .then(
      [=](envelope& reply) mutable { rp.deliver(reply); },
      [=](caf::error& err) mutable {
        rp.deliver(reply_body(failure{errc::unavailable, caf::to_string(err)}));
      });
  return rp;
}

// ---- leadership -----------------------------------------------------------

/// The orchestrator, scheduler and dispatcher run where the leader runs.
void start_leader_actors(self_ptr self) {
  auto& st = self->state;
  controlapi::leader_link link{st.shared, caf::actor_cast<caf::actor>(self)};
  auto& sys = self->system();
  st.orchestrator = orchestrator::spawn_orchestrator(sys, link);
  st.scheduler = scheduler::spawn_scheduler(sys, link);
  st.dispatcher
    = dispatcher::spawn_dispatcher(sys, link, st.cfg.transport, st.cfg.node_id);
}

/// A plan being written: its actions go out in parts, one entry at a time.
struct write_progress {
  std::vector<store::action> actions;
  size_t next = 0;
  write_verdict outcome;
  std::optional<event> decision;
  caf::typed_response_promise<write_verdict> rp;
};

/// Proposes the next part of `p`; once applied, proposes the one after it or
/// answers the writer. Only the pending proposal holds `p`, so a proposal
/// dropped at shutdown frees it.
void propose_next_part(self_ptr self, std::shared_ptr<write_progress> p) {
  constexpr size_t max_actions_per_entry = 2000;
  auto begin = p->next;
  auto end = std::min(p->actions.size(), begin + max_actions_per_entry);
  p->next = end;
  std::vector<store::action> part(
    std::make_move_iterator(p->actions.begin() + static_cast<ptrdiff_t>(begin)),
    std::make_move_iterator(p->actions.begin() + static_cast<ptrdiff_t>(end)));
  propose_at(
    self, store::encode_batch(part), [self, p](result<void> r, uint64_t index) {
      if (!r && p->outcome.ok)
        p->outcome = write_verdict{false, r.error().message};
      p->outcome.index = std::max(p->outcome.index, index);
      if (p->outcome.ok && p->next < p->actions.size() && self->state.leading) {
        propose_next_part(self, p);
        return;
      }
      if (p->outcome.ok && p->next < p->actions.size())
        p->outcome = write_verdict{false, "this manager no longer "
                                          "leads"};
      if (p->outcome.ok && p->decision) {
        p->decision->raft_index = p->outcome.index;
        record_event(self, std::move(*p->decision));
      }
      p->rp.deliver(p->outcome);
    });
}

/// A leader-only actor's batch: proposed here, answered once applied.
caf::result<write_verdict> on_write(self_ptr self, write_request& req) {
  if (!self->state.leading)
    return write_verdict{false, "this manager no longer leads"};
  if (req.actions.empty())
    return write_verdict{};
  // Large plans (a service of 100,000 replicas) go out in several entries,
  // each well below store::max_batch_bytes, one after the other: Raft and
  // the apply loop never hold more than one of them at a time. The writers'
  // decisions are idempotent, so a part that fails is decided again.
  auto p = std::make_shared<write_progress>();
  p->actions = std::move(req.actions);
  p->decision = std::move(req.decision);
  p->rp = self->make_response_promise<write_verdict>();
  propose_next_part(self, p);
  return p->rp;
}

void on_status(self_ptr self, const raft::status& s) {
  auto& st = self->state;
  bool was_leading = st.leading;
  st.leading = s.role == raft::role::leader;
  st.leader_member = s.leader;
  st.term = s.term;
  st.commit = s.commit;
  st.config = s.config;
  if (st.leading && !was_leading) {
    log::info(who, "this manager leads the swarm (term {})", s.term);
    st.events = std::make_unique<event_log>(
      fmt::format("{}:{}", st.cfg.node_id, now_nanos()));
    start_leader_actors(self);
  } else if (!st.leading && was_leading) {
    log::info(who, "this manager no longer leads the swarm");
    st.stop_leader_actors();
    for (auto& w : st.event_waiters)
      w.rp.deliver(error_reply(errc::unavailable,
                               "this manager no longer leads; ask again"));
    st.event_waiters.clear();
    st.events.reset();
  }
  if (st.leading && !st.init_proposed && !st.cfg.init_batch.empty()
      && st.db().cluster() == nullptr) {
    st.init_proposed = true;
    propose(self, st.cfg.init_batch, [](result<void> r) {
      if (!r)
        log::error(who, "cannot create the swarm: {}", r.error().message);
    });
  }
  if (!st.leading)
    return;
  if (st.cfg.force_new_cluster && !st.forced_done && st.db().cluster()) {
    // The quorum was lost: this manager goes on alone, the others become
    // workers (they get a worker certificate when they come back).
    st.forced_done = true;
    std::vector<store::action> demotions;
    for (const auto* n : st.db().nodes())
      if (n->role == ca::node_role::manager && n->id != st.cfg.node_id) {
        auto worker = *n;
        worker.role = ca::node_role::worker;
        worker.updated_at_nanos = now_nanos();
        demotions.push_back(store::put_node{worker, n->version});
      }
    if (!demotions.empty())
      propose(self, store::encode_batch(demotions),
              [n = demotions.size()](result<void> r) {
                if (r)
                  log::info(who,
                            "new cluster forced: {} other managers are "
                            "workers now",
                            n);
                else
                  log::error(who, "cannot demote the other managers: {}",
                             r.error().message);
              });
    return; // membership settles before learners are added
  }
  // Managers in the store join Raft as learners, then become voters.
  for (const auto* n : st.db().nodes()) {
    if (n->role != ca::node_role::manager)
      continue;
    auto id = raft::member_id_of(n->id);
    if (!s.config.is_member(id)) {
      self->request(st.member, write_timeout, atom::add_learner_v, id)
        .then([](const raft::outcome&) {});
    } else if (s.config.is_learner(id)) {
      self->request(st.member, write_timeout, atom::promote_v, id)
        .then([](const raft::outcome&) {});
    }
  }
}

caf::behavior manager(self_ptr self, manager_config cfg,
                      std::shared_ptr<std::unique_ptr<raft::log_storage>> db) {
  log::log_failed_requests(self, "manager");
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.self_member = raft::member_id_of(st.cfg.node_id);
  st.bridge
    = raft::spawn_raft_bridge(self->system(), st.cfg.transport, st.cfg.node_id);
  auto raft_cfg = st.cfg.raft;
  raft_cfg.core.id = st.self_member;
  st.member = raft::spawn_raft(
    self->system(), raft_cfg, std::move(*db),
    caf::actor_cast<raft::raft_outbox>(st.bridge),
    caf::actor_cast<raft::apply_sink>(caf::actor_cast<caf::actor>(self)));
  self->link_to(st.member);
  self->link_to(st.bridge);
  self->send(st.bridge, atom::apply_v, caf::actor_cast<caf::actor>(st.member));
  auto me = caf::actor_cast<caf::actor>(self);
  self->send(st.cfg.transport, atom::route_v, std::string{"raft"}, st.bridge);
  for (auto name : {"controlapi", "ca", "dispatcher"})
    self->send(st.cfg.transport, atom::route_v, std::string{name}, me);
  self->send(self, atom::tick_v);
  return {
    [=](atom::apply, const std::vector<raft::entry>& entries) {
      apply_entries(self, entries);
    },
    [=](atom::restore, const raft::snapshot& snap) {
      if (auto ok = self->state.shared->write([&](store::store& db) {
            return db.restore(snap.data.data(), snap.data.size());
          });
          !ok)
        log::error(who, "cannot restore the store: {}", ok.error().message);
      // Configuration entries up to the snapshot are not replayed.
      self->state.config = snap.meta.config;
      self->state.last_snapshot = snap.meta.index;
      refresh_managers(self);
      auto restored = std::make_shared<store::changes>();
      restored->restored = true;
      restored->index = self->state.db().applied_index();
      publish(self, std::move(restored));
      refresh_authority(self);
      refresh_managers(self);
      release_held_replies(self);
    },
    [=](atom::write, write_request& req) { return on_write(self, req); },
    [=](atom::caught_up, uint64_t id) {
      auto& st = self->state;
      auto it = st.held_replies.find(id);
      if (it == st.held_replies.end())
        return;
      log::warn(who,
                "this replica has not applied index {} within {} s; "
                "answering anyway (at {})",
                it->second.index, catch_up_wait.count(),
                st.db().applied_index());
      auto held = std::move(it->second);
      st.held_replies.erase(it);
      held.done(held.reply);
    },
    [=](atom::event, event& e) { record_event(self, std::move(e)); },
    [=](atom::deadline, uint64_t waiter) { event_wait_over(self, waiter); },
    [=](atom::transfer) {
      auto& st = self->state;
      auto leader = leader_node(self);
      bool known = !leader.empty() && leader != st.cfg.node_id;
      auto now = std::chrono::steady_clock::now();
      auto pending = std::move(st.pending_forwards);
      st.pending_forwards.clear();
      for (auto& p : pending) {
        if (st.leading) {
          // This manager took the lead meanwhile (a request forwarded to
          // it as it was elected): it answers the request itself.
          auto done = std::move(p.done);
          self
            ->request(caf::actor_cast<caf::actor>(self), write_timeout,
                      p.request)
            .then([done](const control_reply& r) { done(r); },
                  [done](caf::error& err) {
                    done(error_reply(errc::internal, caf::to_string(err)));
                  });
        } else if (known || now >= p.until) {
          forward(self, p.request, std::move(p.done), false, p.catch_up);
        } else {
          st.pending_forwards.push_back(std::move(p));
        }
      }
      if (!st.pending_forwards.empty())
        self->delayed_send(self, milliseconds{100}, atom::transfer_v);
    },
    [=](atom::tick) {
      auto& st = self->state; // see trim_every_bytes
      // Trim after every trim_every_bytes applied, and once things quieted
      // down after any change (the end of a burst).
      bool quiet = ++st.quiet_ticks >= 10 && st.applied_bytes != st.trimmed_at;
      if (quiet || st.applied_bytes >= st.trimmed_at + trim_every_bytes) {
        st.trimmed_at = st.applied_bytes;
        malloc_trim(0);
      }
      // One status request at a time: a member busy for seconds (saving a
      // large snapshot) is not asked fifty times over.
      if (!st.asking_status) {
        st.asking_status = true;
        self->request(self->state.member, seconds{5}, atom::status_v)
          .then(
            [=](const raft::status& s) {
              self->state.asking_status = false;
              on_status(self, s);
            },
            [=](caf::error& err) {
              self->state.asking_status = false;
              log::warn(who, "the raft member did not tell its status: {}",
                        caf::to_string(err));
            });
      }
      self->delayed_send(self, milliseconds{100}, atom::tick_v);
    },
    [=](const control_request& req) { return handle(self, req); },
    [=](atom::propose, const control_request& req) {
      return peer_propose(self, req);
    },
    [=](const transport::inbound& in) -> caf::result<envelope> {
      auto body = in.env.root().getBody();
      switch (body.which()) {
      case schema::Envelope::Body::CERTIFICATE_REQUEST:
        return on_certificate_request(self, in);
      case schema::Envelope::Body::HEARTBEAT:
        // The leader's dispatcher keeps the heartbeats; a follower sends the
        // node to the leader.
        if (!self->state.leading || !self->state.dispatcher)
          return dispatcher::heartbeat_reply(
            self->state.db(), false, leader_node(self), in.from.node_id);
        return ask_dispatcher(self, in);
      case schema::Envelope::Body::TASK_STATUS:
        if (!self->state.leading || !self->state.dispatcher)
          return make_envelope(kind::REPLY, 0, {}, {}, [&](auto b) {
            auto r = b.initTaskStatusReply();
            r.setAccepted(false);
            r.setLeader(leader_node(self));
          });
        return ask_dispatcher(self, in);
      case schema::Envelope::Body::CONTROL_REQUEST: {
        auto rp = self->make_response_promise<envelope>();
        auto request = control_request::from(body.getControlRequest());
        auto answer = [=](const control_reply& reply) mutable {
          // What this manager has applied by now, so that the manager that
          // forwarded the request can answer after catching up.
          auto env = make_envelope(kind::REPLY, 0, {}, {}, [&](auto b) {
            b.setControlReply(reply.root());
          });
          capnp::MallocMessageBuilder stamped;
          stamped.setRoot(env.root());
          stamped.getRoot<schema::Envelope>().setAppliedIndex(
            self->state.db().applied_index());
          rp.deliver(envelope::from(stamped));
        };
        auto failed = [=](caf::error& err) mutable {
          rp.deliver(reply_body(failure{errc::internal, caf::to_string(err)}));
        };
        auto me = caf::actor_cast<caf::actor>(self);
        // A raw store batch is a manager's forwarded write: only here.
        if (request.root().which() == request_which::PROPOSE)
          self->request(me, write_timeout, atom::propose_v, request)
            .then(answer, failed);
        else
          self->request(me, write_timeout, request).then(answer, failed);
        return rp;
      }
      default:
        return reply_body(
          failure{errc::unsupported, "the manager does not handle this"});
      }
    },
    [=](atom::status) {
      auto& st = self->state;
      manager_info info;
      if (const auto* c = st.db().cluster()) {
        info.cluster_id = c->id;
        info.heartbeat_nanos = c->spec.dispatcher_heartbeat.count();
        info.cert_expiry_nanos = c->spec.cert_expiry.count();
        info.task_history_limit = c->spec.task_history_limit;
        info.snapshot_interval = c->spec.snapshot_interval;
        info.election_ticks = c->spec.election_ticks;
        info.heartbeat_ticks = c->spec.heartbeat_ticks;
      }
      info.leader = leader_node(self);
      info.voters = static_cast<uint32_t>(st.config.voters.size());
      info.learners = static_cast<uint32_t>(st.config.learners.size());
      info.term = st.term;
      info.commit = st.commit;
      for (const auto* n : st.db().nodes()) {
        ++info.nodes;
        if (n->role == ca::node_role::manager) {
          ++info.managers;
          info.manager_addrs.push_back(n->addr);
        }
      }
      return info;
    },
  };
}

} // namespace

caf::actor spawn_manager(caf::actor_system& sys, manager_config cfg,
                         std::unique_ptr<raft::log_storage> storage) {
  auto holder
    = std::make_shared<std::unique_ptr<raft::log_storage>>(std::move(storage));
  return sys.spawn(manager, std::move(cfg), holder);
}

} // namespace skep::controlapi
