#include "actors/reconciler/reconciler_actor.hpp"

#include "actors/controlapi/object_id.hpp"
#include "actors/logging/log.hpp"
#include "actors/reconciler/reconcile.hpp"
#include "actors/scheduler/constraints.hpp"

#include <chrono>
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
  /// The wall clock at start and the actor clock then: now() follows the
  /// actor clock (virtual time in tests) from the wall clock's start.
  int64_t wall_at_start = 0;
  caf::actor_clock::time_point clock_at_start;
  static inline const char* name = "reconciler";
};

using self_ptr = caf::stateful_actor<reconciler_state>*;

struct decided {
  plan what;
  bool finished = false; ///< no service and no task left
  std::string service_name;
};

/// Unix nanoseconds, moving with the actor's clock.
int64_t now_nanos(self_ptr self) {
  auto& st = self->state;
  return st.wall_at_start
         + duration_cast<nanoseconds>(self->clock().now() - st.clock_at_start)
             .count();
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
  return out;
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
  std::set<std::string> waits;
  for (const auto& why : d.what.decisions) {
    auto line = fmt::format(
      "service {}: {} task {} slot {}{}{}: {}",
      d.service_name.empty() ? st.service_id : d.service_name, why.action,
      why.task_id, why.slot, why.node_id.empty() ? "" : " on node ",
      why.node_id, why.reason);
    bool acts = why.action == "create" || why.action == "shutdown"
                || why.action == "remove";
    if (acts)
      log::info("reconciler", "{}", line);
    else if (waits.insert(line).second && st.waits.count(line) == 0)
      log::info("reconciler", "{}", line);
  }
  st.waits = std::move(waits);
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
  controlapi::write_request req{std::move(d.what.actions), "reconciler"};
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
        if (++st.writes_in_a_row > 100) {
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

caf::behavior reconciler(self_ptr self, controlapi::leader_link link,
                         std::string service_id, caf::actor orchestrator) {
  auto& st = self->state;
  st.link = std::move(link);
  st.service_id = std::move(service_id);
  st.orchestrator = std::move(orchestrator);
  st.wall_at_start = controlapi::unix_nanos();
  st.clock_at_start = self->clock().now();
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
