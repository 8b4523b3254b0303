#include "actors/agent/agent.hpp"

#include "actors/agent/task_runner.hpp"
#include "actors/logging/clock.hpp"
#include "actors/logging/failed_requests.hpp"
#include "actors/logging/log.hpp"
#include "actors/store/codec.hpp"
#include "actors/transport/tcp.hpp"
#include "actors/transport/transport_actor.hpp"
#include "messages/dispatcher.capnp.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace skep::agent {

namespace {

using namespace std::chrono;
constexpr std::string_view who = "agent";

/// Task starters per agent: two starts (a fork/exec each) can run at once,
/// and neither holds a thread of CAF's scheduler.
constexpr size_t task_starters = 2;

struct agent_state {
  agent_config cfg;
  size_t target = 0;      ///< index into cfg.managers
  std::string leader;     ///< the leader's node id, when known
  bool connected = false; ///< the last heartbeat was accepted
  bool left = false;      ///< the node leaves the swarm: no more heartbeats
  bool renewing = false;  ///< asking for a certificate in a new role
  std::mt19937_64 rng{std::random_device{}()};
  /// The dispatcher's assignments applied last.
  uint64_t epoch = 0;
  uint64_t sequence = 0;
  /// One runner per task assigned to this node.
  std::map<std::string, caf::actor> runners;
  /// Run the runtime's prepare and start for the runners, off CAF's
  /// scheduler; runners take them in turn.
  std::vector<caf::actor> starters;
  size_t next_starter = 0;
  /// Latest status per task, not yet accepted by the dispatcher.
  std::map<std::string, store::task_status> unreported;
  bool reporting = false;
  static inline const char* name = "agent";

  ~agent_state() {
    for (auto& [id, r] : runners)
      caf::anon_send(r, atom::done_v);
    // A starter finishes the call it is in (its runner then kills what it
    // started); calls still queued fail, and start nothing.
    for (auto& s : starters)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }
};

using self_ptr = agent_actor::stateful_pointer<agent_state>;

void dial_managers(self_ptr self) {
  for (auto& [id, addr] : self->state.cfg.managers) {
    if (id == self->state.cfg.node_id)
      continue;
    auto hp = transport::parse_host_port(addr);
    if (!hp) {
      log::warn(who, "manager {} has an unusable address: {}", id,
                hp.error().message);
      continue;
    }
    caf::anon_send(self->state.cfg.transport, atom::peer_v, id, hp->first,
                   hp->second);
  }
}

void schedule(self_ptr self, nanoseconds wait) {
  std::uniform_real_distribution<double> jitter(0.9, 1.1);
  auto delay
    = duration_cast<milliseconds>(wait * jitter(self->state.rng)) + 1ms;
  self->delayed_send(self, delay, atom::tick_v);
}

void renew(self_ptr self);

void on_reply(self_ptr self, const envelope& reply) {
  auto& st = self->state;
  auto body = reply.root().getBody();
  if (body.which() != schema::Envelope::Body::HEARTBEAT_REPLY) {
    auto why = transport::reply_or_failure(reply);
    log::debug(who, "heartbeat refused: {}",
               why ? "unexpected reply" : why.error().message);
    st.connected = false;
    st.leader.clear();
    st.target
      = st.cfg.managers.empty() ? 0 : (st.target + 1) % st.cfg.managers.size();
    schedule(self, st.cfg.period / 5);
    return;
  }
  auto r = body.getHeartbeatReply();
  if (r.getPeriodNanos() > 0)
    st.cfg.period = nanoseconds{r.getPeriodNanos()};
  manager_list managers;
  for (auto m : r.getManagers())
    managers.emplace_back(m.getNodeId().cStr(), m.getAddr().cStr());
  if (!managers.empty() && managers != st.cfg.managers) {
    st.cfg.managers = managers;
    dial_managers(self);
    if (st.cfg.managers_changed)
      st.cfg.managers_changed(managers);
  }
  st.leader = r.getLeader().cStr();
  if (!r.getAccepted()) {
    // A follower: go to the leader it names, at once. One that knows no
    // leader (a manager cut off from its quorum, perhaps this node's own)
    // may never learn one: try the next manager.
    st.connected = false;
    auto named = std::find_if(
      st.cfg.managers.begin(), st.cfg.managers.end(), [&](const auto& m) {
        return !st.leader.empty() && m.first == st.leader;
      });
    if (named != st.cfg.managers.end())
      st.target = static_cast<size_t>(named - st.cfg.managers.begin());
    else if (!st.cfg.managers.empty())
      st.target = (st.target + 1) % st.cfg.managers.size();
    schedule(self, st.cfg.period / 10);
    return;
  }
  if (!st.connected)
    log::info(who, "heartbeats accepted by the leader, node {}", st.leader);
  auto role = std::string(r.getRole().cStr());
  bool may_renew = !st.renewing && st.cfg.supervisor
                   && (st.leader != st.cfg.node_id || st.cfg.local_manager);
  if (may_renew && !role.empty() && role != st.cfg.role) {
    log::info(who, "the swarm made this node a {}; renewing its certificate",
              role);
    renew(self);
  } else if (may_renew
             && ca::needs_renewal(st.cfg.certificate, clock::wall(self))) {
    log::info(
      who,
      "the certificate expires at {}s since the epoch; "
      "renewing it",
      duration_cast<seconds>(st.cfg.certificate.expires_at.time_since_epoch())
        .count());
    renew(self);
  }
  st.connected = true;
  schedule(self, st.cfg.period);
}

/// Gets a fresh certificate from the leader's CA (it certifies the role the
/// store gives the node) and hands it to the supervisor, which restarts the
/// membership when the role changed, or just presents it from now on.
void renew(self_ptr self) {
  auto& st = self->state;
  st.renewing = true;
  auto env = make_envelope(schema::Envelope::Kind::REQUEST, 0,
                           {st.cfg.node_id, "agent"}, {st.leader, "ca"},
                           [&](auto body) { body.initCertificateRequest(); });
  auto on_certificate = [=](const envelope& reply) {
    auto& st = self->state;
    st.renewing = false;
    log::debug(who, "the CA answered the renewal");
    auto body = reply.root().getBody();
    if (body.which() != schema::Envelope::Body::CERTIFICATE_REPLY) {
      auto why = transport::reply_or_failure(reply);
      log::warn(who, "the CA did not renew the certificate: {}",
                why ? "unexpected reply" : why.error().message);
      return;
    }
    auto cert = body.getCertificateReply().getCertificate();
    std::vector<uint8_t> bytes(cert.begin(), cert.end());
    ca::certificate_policy policy;
    policy.ca_key = st.cfg.ca_key;
    policy.now = clock::wall(self);
    auto fields = ca::verify_certificate(bytes.data(), bytes.size(), policy);
    if (!fields || fields->node_id != st.cfg.node_id) {
      log::warn(who, "the CA sent a certificate that is not valid here");
      return;
    }
    st.cfg.certificate = *fields;
    caf::anon_send(st.cfg.supervisor, atom::certify_v, bytes);
  };
  if (st.leader == st.cfg.node_id) {
    // This node leads: its own manager is the CA to ask.
    transport::inbound in{
      env, transport::peer_info{st.cfg.node_id, st.cfg.certificate.role,
                                st.cfg.certificate.node_key, false}};
    self->request(st.cfg.local_manager, seconds{10}, std::move(in))
      .then(on_certificate, [=](caf::error& err) {
        self->state.renewing = false;
        log::warn(who, "the local CA did not answer: {}", caf::to_string(err));
      });
    return;
  }
  self
    ->request(st.cfg.transport, caf::infinite, atom::call_v, env,
              caf::timespan{seconds{10}})
    .then(on_certificate);
}

void beat(self_ptr self) {
  auto& st = self->state;
  if (st.left)
    return;
  if (st.cfg.managers.empty()) {
    schedule(self, st.cfg.period);
    return;
  }
  if (st.target >= st.cfg.managers.size())
    st.target = 0;
  auto target = st.cfg.managers[st.target].first;
  auto timeout = duration_cast<milliseconds>(st.cfg.period);
  // Through the transport even to this node's own manager: it delivers
  // locally.
  auto env = make_envelope(schema::Envelope::Kind::REQUEST, 0, {"", "agent"},
                           {target, "dispatcher"}, [&](auto body) {
                             auto hb = body.initHeartbeat();
                             hb.setNodeId(st.cfg.node_id);
                             hb.setAssignmentsEpoch(st.epoch);
                             hb.setAssignmentsSequence(st.sequence);
                           });
  self
    ->request(st.cfg.transport, caf::infinite, atom::call_v, env,
              caf::timespan{timeout})
    .then([=](const envelope& reply) { on_reply(self, reply); });
}

// ---- tasks ----------------------------------------------------------------

void flush_reports(self_ptr self);

/// Sends the dispatcher every status not accepted yet.
void flush_reports(self_ptr self) {
  auto& st = self->state;
  if (st.reporting || st.unreported.empty())
    return;
  if (st.leader.empty()) {
    self->delayed_send(self, milliseconds{200}, atom::flush_v);
    return;
  }
  st.reporting = true;
  auto sent = st.unreported;
  auto env = make_envelope(schema::Envelope::Kind::REQUEST, 0, {"", "agent"},
                           {st.leader, "dispatcher"}, [&](auto body) {
                             auto r = body.initTaskStatus();
                             r.setNodeId(st.cfg.node_id);
                             auto list = r.initUpdates(
                               static_cast<unsigned>(sent.size()));
                             unsigned i = 0;
                             for (auto& [id, status] : sent) {
                               list[i].setTaskId(id);
                               store::to_schema(status, list[i].initStatus());
                               ++i;
                             }
                           });
  self
    ->request(st.cfg.transport, caf::infinite, atom::call_v, env,
              caf::timespan{seconds{10}})
    .then([=](const envelope& reply) {
      auto& st = self->state;
      st.reporting = false;
      auto body = reply.root().getBody();
      bool ok = body.which() == schema::Envelope::Body::TASK_STATUS_REPLY
                && body.getTaskStatusReply().getAccepted();
      if (!ok) {
        auto why = transport::reply_or_failure(reply);
        log::debug(who, "task statuses not accepted: {}",
                   why ? "not the leader" : why.error().message);
        self->delayed_send(self, milliseconds{200}, atom::flush_v);
        return;
      }
      for (auto& [id, status] : sent)
        if (auto it = st.unreported.find(id);
            it != st.unreported.end() && it->second == status)
          st.unreported.erase(it);
      flush_reports(self); // what changed meanwhile
    });
}

/// Ends the runner of a task this node no longer has.
void forget_task(self_ptr self, const std::string& id) {
  auto& st = self->state;
  if (auto it = st.runners.find(id); it != st.runners.end()) {
    caf::anon_send(it->second, atom::done_v);
    st.runners.erase(it);
  }
  st.unreported.erase(id);
}

/// Applies the dispatcher's Assignments.
void on_assignments(self_ptr self, const transport::inbound& in) {
  auto& st = self->state;
  if (in.from.role != ca::node_role::manager)
    return; // the transport checks this too
  auto a = in.env.root().getBody().getAssignments();
  if (std::string_view(a.getNodeId().cStr()) != st.cfg.node_id)
    return;
  bool full = a.getFull();
  if (!full
      && (a.getEpoch() != st.epoch || a.getSequence() != st.sequence + 1)) {
    log::debug(who,
               "assignments {}:{} out of order (have {}:{}); asking for "
               "a full set",
               a.getEpoch(), a.getSequence(), st.epoch, st.sequence);
    st.epoch = 0; // the next heartbeat asks for everything
    st.sequence = 0;
    return;
  }
  std::set<std::string> listed;
  for (auto t : a.getTasks()) {
    auto task = store::from_schema(t);
    if (!task) {
      log::warn(who, "the dispatcher sent a task that is not valid: {}",
                task.error().message);
      continue;
    }
    listed.insert(task->id);
    auto it = st.runners.find(task->id);
    if (it != st.runners.end()) {
      caf::anon_send(it->second, atom::assign_v, *task);
      continue;
    }
    if (!st.cfg.runtime) {
      st.unreported[task->id] = task->status;
      st.unreported[task->id].state = store::task_state::rejected;
      st.unreported[task->id].err = "this node runs no tasks";
      continue;
    }
    auto id = task->id;
    auto& starter = st.starters[st.next_starter++ % st.starters.size()];
    st.runners.emplace(
      id, spawn_task_runner(self->system(), std::move(*task), st.cfg.runtime,
                            caf::actor_cast<caf::actor>(self), starter));
  }
  for (auto id : a.getRemoved())
    forget_task(self, id.cStr());
  if (full) {
    std::vector<std::string> gone;
    for (auto& [id, r] : st.runners)
      if (listed.count(id) == 0)
        gone.push_back(id);
    for (auto& id : gone)
      forget_task(self, id);
  }
  st.epoch = a.getEpoch();
  st.sequence = a.getSequence();
  flush_reports(self);
}

/// Hands exited processes to their runners.
void reap(self_ptr self) {
  auto& st = self->state;
  for (auto& [id, exit] : st.cfg.runtime->reap()) {
    if (auto it = st.runners.find(id); it != st.runners.end())
      caf::anon_send(it->second, atom::exited_v, exit);
    else
      (void)st.cfg.runtime->remove(id); // its runner is gone already
  }
  self->delayed_send(self, milliseconds{50}, atom::reap_v);
}

/// Most output sent for one task in one reply.
constexpr size_t max_log_bytes = 1 << 20;

struct log_read {
  std::string output;
  uint64_t end = 0;
  std::string error;
};

/// Reads a task's output file: the last `tail` lines (tail < 0: from
/// `from`), at most max_log_bytes.
log_read read_log(const std::filesystem::path& path, int64_t tail,
                  std::optional<uint64_t> from) {
  log_read out;
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    out.error = "no output kept for this task";
    return out;
  }
  std::ifstream in(path, std::ios::binary);
  uint64_t start = 0;
  if (from) {
    start = std::min<uint64_t>(*from, size);
  } else if (tail >= 0) {
    // Find where the last `tail` lines begin, within the last max_log_bytes.
    start = size > max_log_bytes ? size - max_log_bytes : 0;
    std::string window(size - start, '\0');
    in.seekg(static_cast<std::streamoff>(start));
    in.read(window.data(), static_cast<std::streamsize>(window.size()));
    // The suffix after the tail-th newline from the end (the last line's
    // own newline does not count).
    size_t scan = window.size();
    if (scan > 0 && window[scan - 1] == '\n')
      --scan;
    size_t pos = tail == 0 ? window.size() : 0;
    int64_t found = 0;
    for (; tail > 0 && scan > 0; --scan)
      if (window[scan - 1] == '\n' && ++found == tail) {
        pos = scan;
        break;
      }
    out.output = window.substr(pos);
    out.end = size;
    return out;
  } else if (size > max_log_bytes) {
    start = size - max_log_bytes;
  }
  auto count = std::min<uint64_t>(size - start, max_log_bytes);
  out.output.resize(count);
  in.seekg(static_cast<std::streamoff>(start));
  in.read(out.output.data(), static_cast<std::streamsize>(count));
  out.end = start + count;
  return out;
}

/// Answers a manager's TaskLogsRequest from the runtime's log files.
envelope on_task_logs(self_ptr self, const transport::inbound& in) {
  auto req = in.env.root().getBody().getTaskLogs();
  auto ids = req.getTaskIds();
  auto offsets = req.getFromOffsets();
  if (in.from.role != ca::node_role::manager || ids.size() > 1000)
    return make_error_envelope(
      0, failure{errc::permission_denied, "task logs: refused"});
  return make_envelope(
    schema::Envelope::Kind::REPLY, 0, {}, {}, [&](auto body) {
      auto logs = body.initTaskLogsReply().initLogs(ids.size());
      for (unsigned i = 0; i < ids.size(); ++i) {
        std::string id = ids[i].cStr();
        logs[i].setTaskId(id);
        if (!self->state.cfg.runtime || !runtime::is_valid_task_id(id)) {
          logs[i].setError("this node keeps no output for that task");
          continue;
        }
        std::optional<uint64_t> from;
        if (offsets.size() == ids.size())
          from = offsets[i];
        auto read = read_log(self->state.cfg.runtime->log_path(id),
                             req.getTailLines(), from);
        logs[i].setOutput(
          kj::arrayPtr(reinterpret_cast<const capnp::byte*>(read.output.data()),
                       read.output.size()));
        logs[i].setEndOffset(read.end);
        logs[i].setError(read.error);
      }
    });
}

/// `swarm leave`: tells the leader's dispatcher (one heartbeat with
/// `leaving`) so that the node shows Down at once instead of after three
/// missed heartbeats. Answers true once the leader accepted it, false when
/// it could not be told (the node leaves all the same).
caf::result<bool> say_leaving(self_ptr self) {
  auto& st = self->state;
  auto target = !st.leader.empty()        ? st.leader
                : st.cfg.managers.empty() ? std::string{}
                                          : st.cfg.managers[0].first;
  st.left = true; // no heartbeat after this one says Ready again
  if (target.empty())
    return false;
  auto env = make_envelope(schema::Envelope::Kind::REQUEST, 0, {"", "agent"},
                           {target, "dispatcher"}, [&](auto body) {
                             auto hb = body.initHeartbeat();
                             hb.setNodeId(st.cfg.node_id);
                             hb.setLeaving(true);
                           });
  auto rp = self->make_response_promise<bool>();
  self
    ->request(st.cfg.transport, caf::infinite, atom::call_v, env,
              caf::timespan{seconds{3}})
    .then([=](const envelope& reply) mutable {
      auto body = reply.root().getBody();
      rp.deliver(body.which() == schema::Envelope::Body::HEARTBEAT_REPLY
                 && body.getHeartbeatReply().getAccepted());
    });
  return rp;
}

/// Kills what a previous run of this node left running.
void clean_up_previous_run(self_ptr self) {
  auto& rt = *self->state.cfg.runtime;
  for (auto& t : rt.recover()) {
    if (auto killed = rt.kill_recovered(t.task_id); !killed)
      log::warn(who, "cannot clean up task {} of a previous run: {}", t.task_id,
                killed.error().message);
    else if (t.alive)
      log::info(who, "task {} of a previous run was still running: killed",
                t.task_id);
  }
}

agent_actor::behavior_type agent(self_ptr self, agent_config cfg) {
  log::log_failed_requests(self, "agent");
  self->state.cfg = std::move(cfg);
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      log::error(who, "stopping on an unexpected failure: {}", x.what());
    } catch (...) {
      log::error(who, "stopping on an unexpected failure");
    }
    return caf::make_error(caf::sec::runtime_error);
  });
  dial_managers(self);
  caf::anon_send(self->state.cfg.transport, atom::route_v, std::string{"agent"},
                 caf::actor_cast<caf::actor>(self));
  if (self->state.cfg.runtime) {
    for (size_t i = 0; i < task_starters; ++i)
      self->state.starters.push_back(
        spawn_task_starter(self->system(), self->state.cfg.runtime,
                           self->state.cfg.starters_on_scheduler));
    clean_up_previous_run(self);
    self->send(self, atom::reap_v);
  }
  self->send(self, atom::tick_v);
  return {
    [=](atom::tick) { beat(self); },
    [=](atom::leave) -> caf::result<bool> { return say_leaving(self); },
    [=](atom::reap) { reap(self); },
    [=](atom::flush) { flush_reports(self); },
    [=](atom::report, const std::string& id, const store::task_status& s) {
      self->state.unreported[id] = s;
      flush_reports(self);
    },
    [=](const transport::inbound& in) -> caf::result<envelope> {
      switch (in.env.root().getBody().which()) {
      case schema::Envelope::Body::ASSIGNMENTS:
        on_assignments(self, in);
        return caf::delegated<envelope>{}; // one-way: no reply
      case schema::Envelope::Body::TASK_LOGS:
        return on_task_logs(self, in);
      default:
        return make_error_envelope(
          0, failure{errc::unsupported, "the agent does not handle this"});
      }
    },
  };
}

} // namespace

agent_actor spawn_agent(caf::actor_system& sys, agent_config cfg) {
  return sys.spawn(agent, std::move(cfg));
}

} // namespace skep::agent
