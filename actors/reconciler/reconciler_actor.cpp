#include "actors/reconciler/reconciler_actor.hpp"

#include "actors/events/event_log.hpp"
#include "actors/events/store_events.hpp"
#include "actors/logging/clock.hpp"
#include "actors/logging/failed_requests.hpp"
#include "actors/logging/log.hpp"
#include "actors/reconciler/reconcile.hpp"
#include "actors/store/constraints.hpp"
#include "actors/store/object_id.hpp"
#include "messages/envelope.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <fmt/format.h>

namespace skep::reconciler {

namespace {

using namespace std::chrono;

struct reconciler_state {
  controlapi::leader_link link;
  std::string service_id;
  caf::actor orchestrator;
  bool writing = false;        ///< a batch is in flight
  bool again = false;          ///< poked while it was
  int64_t wake_at = 0;         ///< a wake-up already asked for, unix nanos
  bool queued = false;         ///< a run is in the mailbox: later pokes join it
  int writes_in_a_row = 0;     ///< batches written since the plan was empty
  std::set<std::string> waits; ///< reasons not to act, as last logged
  std::vector<decision> waiting; ///< the same, for the console's inspect
  uint64_t writes = 0;           ///< batches proposed since it started
  static inline const char* name = "reconciler";
};

using self_ptr = caf::stateful_actor<reconciler_state>*;

struct decided {
  plan what;
  bool finished = false; ///< no service and no task left
  std::string service_name;
  /// What the decision saw, for its event.
  uint64_t spec_version = 0;
  std::string desired;
  std::vector<std::pair<std::string, uint32_t>> observed;
};

/// Unix nanoseconds, moving with the actor's clock.
int64_t now_nanos(self_ptr self) {
  return clock::unix_nanos(self);
}

decided decide(const store::store& db, const std::string& service_id,
               int64_t now) {
  decided out;
  const auto* service = db.service(service_id);
  inputs in;
  in.service = service;
  in.tasks = db.tasks_of_service(service_id);
  in.nodes = db.nodes();
  if (const auto* c = db.cluster())
    in.task_history_limit = c->spec.task_history_limit;
  in.now_nanos = now;
  in.new_task_id = [] { return controlapi::new_object_id(); };
  std::optional<std::vector<scheduler::constraint>> constraints;
  if (service != nullptr) {
    out.service_name = service->spec.name;
    auto parsed = scheduler::parse_constraints(service->spec.constraints);
    if (parsed)
      constraints = std::move(*parsed);
    in.eligible = [constraints](const store::node_object& n) {
      return constraints && scheduler::matches(*constraints, n);
    };
  }
  out.what = reconcile(in);
  out.finished = service == nullptr && in.tasks.empty();
  out.spec_version = service ? service->spec_version : 0;
  out.desired = controlapi::desired_of(service);
  out.observed = controlapi::observed_states(in.tasks);
  return out;
}

bool acts(const decision& d) {
  return d.action == "create" || d.action == "shutdown" || d.action == "remove";
}

/// The event that records a run's decisions (the manager adds the Raft
/// index of the write that carries them out).
controlapi::event decision_event(self_ptr self, const decided& d,
                                 const std::vector<decision>& which) {
  controlapi::event e;
  e.time_nanos = clock::unix_nanos(self);
  e.type = "reconcile";
  std::set<std::string> actions;
  for (const auto& why : which)
    if (acts(why) || which.size() == 1)
      actions.insert(why.action);
  for (const auto& a : actions)
    e.action += (e.action.empty() ? "" : "+") + a;
  if (e.action.empty())
    e.action = "wait";
  e.id = self->state.service_id;
  e.service = d.service_name;
  e.name = d.service_name;
  e.spec_version = d.spec_version;
  e.observed = d.observed;
  e.desired = d.desired;
  e.attributes.emplace_back(controlapi::attr_service_id,
                            self->state.service_id);
  for (const auto& why : which)
    e.decisions.push_back(controlapi::decision_record{
      why.action, why.task_id, why.slot, why.node_id, why.reason, ""});
  return e;
}

void run(self_ptr self);

void schedule_wake(self_ptr self, int64_t at) {
  auto& st = self->state;
  auto now = now_nanos(self);
  if (st.wake_at != 0 && st.wake_at <= at && st.wake_at > now)
    return; // an earlier wake-up is already on its way
  st.wake_at = at;
  auto delay = nanoseconds{std::max<int64_t>(at - now, 0)} + milliseconds{1};
  self->delayed_send(self, delay, atom::deadline_v, at);
}

void run(self_ptr self) {
  auto& st = self->state;
  if (st.writing) {
    st.again = true;
    return;
  }
  auto d = st.link.db->read([&](const store::store& db) {
    return decide(db, st.service_id, now_nanos(self));
  });
  // Actions are logged each time; the reasons for not acting (waiting, a
  // paused update, a restart limit) only when they change, as they repeat
  // on every run until the service moves on.
  // A large plan logs its first actions and a count of the rest: a million
  // replicas must not write a million lines.
  constexpr size_t logged_actions = 10;
  std::set<std::string> waits;
  std::vector<decision> new_waits;
  std::map<std::string, size_t> unlogged;
  size_t acted = 0;
  st.waiting.clear();
  for (const auto& why : d.what.decisions) {
    auto line = fmt::format(
      "service {}: {} task {} slot {}{}{}: {}",
      d.service_name.empty() ? st.service_id : d.service_name, why.action,
      why.task_id, why.slot, why.node_id.empty() ? "" : " on node ",
      why.node_id, why.reason);
    if (acts(why)) {
      if (++acted <= logged_actions)
        log::info("reconciler", "{}", line);
      else
        ++unlogged[why.action];
    } else {
      st.waiting.push_back(why);
      if (waits.insert(line).second && st.waits.count(line) == 0) {
        log::info("reconciler", "{}", line);
        new_waits.push_back(why);
      }
    }
  }
  st.waits = std::move(waits);
  if (!unlogged.empty()) {
    std::string counts;
    for (const auto& [action, n] : unlogged)
      counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", action, n);
    log::info("reconciler",
              "service {}: and {} more actions in this batch ({})",
              d.service_name.empty() ? st.service_id : d.service_name,
              acted - logged_actions, counts);
  }
  // Waits that begin without anything written are events of their own.
  if (d.what.actions.empty() && !new_waits.empty())
    self->send(st.link.manager, atom::event_v,
               decision_event(self, d, new_waits));
  if (d.what.wake_at_nanos)
    schedule_wake(self, *d.what.wake_at_nanos);
  if (d.finished) {
    self->send(st.orchestrator, atom::done_v, st.service_id);
    self->quit();
    return;
  }
  if (d.what.actions.empty()) {
    st.writes_in_a_row = 0;
    return;
  }
  st.writing = true;
  ++st.writes;
  bool batch_of_more = d.what.more;
  controlapi::write_request req{std::move(d.what.actions), "reconciler",
                                decision_event(self, d, d.what.decisions)};
  self->request(st.link.manager, seconds{15}, atom::write_v, std::move(req))
    .then(
      [=](const controlapi::write_verdict& v) {
        auto& st = self->state;
        st.writing = false;
        if (!v.ok) {
          log::warn("reconciler", "service {}: the change was refused: {}",
                    st.service_id, v.error);
          // Read again a little later: the store may have moved on.
          self->delayed_send(self, milliseconds{200}, atom::poke_v);
          return;
        }
        // Look again: the batch may have finished the service (its last
        // tasks reaped), and what changed meanwhile needs a decision. A
        // plan that keeps writing without converging backs off.
        st.again = false;
        // A batch of a larger plan is progress, not a loop.
        if (!batch_of_more && ++st.writes_in_a_row > 100) {
          log::warn("reconciler",
                    "service {}: 100 batches in a row without converging; "
                    "looking again in 1 s",
                    st.service_id);
          st.writes_in_a_row = 0;
          self->delayed_send(self, seconds{1}, atom::poke_v);
          return;
        }
        run(self);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.writing = false;
        log::warn("reconciler", "service {}: cannot write: {}", st.service_id,
                  caf::to_string(err));
        self->delayed_send(self, milliseconds{500}, atom::poke_v);
      });
}

/// The console's `inspect`: the service as this reconciler sees it now.
envelope describe(self_ptr self) {
  auto& st = self->state;
  auto d = st.link.db->read([&](const store::store& db) {
    return decide(db, st.service_id, now_nanos(self));
  });
  return make_envelope(
    schema::Envelope::Kind::REPLY, 0, {}, {}, [&](auto body) {
      auto r = body.initReconcilerState();
      r.setService(d.service_name);
      r.setServiceId(st.service_id);
      r.setSpecVersion(d.spec_version);
      r.setDesired(d.desired);
      auto observed = r.initObserved(static_cast<unsigned>(d.observed.size()));
      for (unsigned i = 0; i < d.observed.size(); ++i) {
        observed[i].setState(d.observed[i].first);
        observed[i].setCount(d.observed[i].second);
      }
      auto waiting = r.initWaiting(static_cast<unsigned>(st.waiting.size()));
      for (unsigned i = 0; i < st.waiting.size(); ++i) {
        waiting[i].setAction(st.waiting[i].action);
        waiting[i].setTaskId(st.waiting[i].task_id);
        waiting[i].setSlot(st.waiting[i].slot);
        waiting[i].setNodeId(st.waiting[i].node_id);
        waiting[i].setReason(st.waiting[i].reason);
      }
      r.setWrites(st.writes);
      r.setWakeAtNanos(st.wake_at);
    });
}

caf::behavior reconciler(self_ptr self, controlapi::leader_link link,
                         std::string service_id, caf::actor orchestrator) {
  log::log_failed_requests(self, "reconciler");
  auto& st = self->state;
  st.link = std::move(link);
  st.service_id = std::move(service_id);
  st.orchestrator = std::move(orchestrator);
  self->send(self, atom::poke_v);
  return {
    [=](atom::poke) {
      // Pokes come in bursts (every task change of the service): one run
      // after the burst already in the mailbox.
      if (!self->state.queued) {
        self->state.queued = true;
        self->send(self, atom::flush_v);
      }
    },
    [=](atom::deadline, int64_t at) {
      if (self->state.wake_at == at)
        self->state.wake_at = 0; // this wake-up arrived: a new one may be set
      self->send(self, atom::poke_v);
    },
    [=](atom::flush) {
      self->state.queued = false;
      run(self);
    },
    [=](atom::describe) { return describe(self); },
  };
}

} // namespace

caf::actor spawn_reconciler(caf::actor_system& sys,
                            controlapi::leader_link link,
                            std::string service_id, caf::actor orchestrator) {
  return sys.spawn(reconciler, std::move(link), std::move(service_id),
                   std::move(orchestrator));
}

} // namespace skep::reconciler
