#include "actors/scheduler/scheduler_actor.hpp"

#include "actors/logging/clock.hpp"
#include "actors/logging/failed_requests.hpp"
#include "actors/logging/log.hpp"
#include "actors/scheduler/placement.hpp"
#include "actors/store/object_id.hpp"
#include "messages/envelope.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <fmt/format.h>

namespace skep::scheduler {

namespace {

using namespace std::chrono;
constexpr std::string_view who = "scheduler";

/// Actions per proposal: well below store::max_batch_bytes.
constexpr size_t max_batch_actions = 4096;

/// Pending tasks placed per pass: a million pending tasks are placed a
/// batch at a time, each written before the next is decided, so that the
/// manager applies (and Raft persists) bounded entries.
constexpr size_t max_pending_per_pass = 16384;

struct scheduler_state {
  controlapi::leader_link link;
  size_t in_flight = 0;    ///< batches proposed, not yet applied
  bool again = false;      ///< something changed while they were
  bool queued = false;     ///< a run is in the mailbox
  uint64_t placements = 0; ///< assignments proposed since it started
  uint64_t batches = 0;    ///< proposals made since it started
  static inline const char* name = "scheduler";
};

using self_ptr = scheduler_actor::stateful_pointer<scheduler_state>;

/// True when the change may let a pending task be placed (or need one).
bool matters(const store::changes& ch) {
  if (ch.restored)
    return true;
  for (const auto& c : ch.items)
    switch (c.what) {
    case store::change::kind::task_created:
    case store::change::kind::task_updated:
    case store::change::kind::task_removed:
    case store::change::kind::node_created:
    case store::change::kind::node_updated:
    case store::change::kind::node_removed:
    case store::change::kind::service_updated:
      return true;
    default:
      break;
    }
  return false;
}

/// One pass: every pending task placed or explained, and why, for events.
struct pass {
  std::vector<store::action> actions;
  std::vector<controlapi::decision_record> decisions;
  /// More tasks were pending than one pass places.
  bool more = false;
};

pass decide(const store::store& db, int64_t now) {
  placer p;
  for (const auto* n : db.nodes())
    p.set_node(*n, n->capacity);
  std::vector<const store::task_object*> pending;
  for (const auto* t : db.tasks()) {
    if (store::is_terminal(t->status.state))
      continue;
    if (t->status.state == store::task_state::pending
        && t->desired_state <= store::task_state::running)
      pending.push_back(t);
    else if (!t->node_id.empty())
      p.set_task(*t);
  }
  pass out;
  if (pending.size() > max_pending_per_pass) {
    // Tasks not tried yet first: those that found no node before must not
    // keep the others waiting.
    std::stable_partition(pending.begin(), pending.end(),
                          [](const auto* t) { return t->status.err.empty(); });
    pending.resize(max_pending_per_pass);
    out.more = true;
  }
  auto& actions = out.actions;
  if (pending.empty())
    return out;
  auto decided = p.place(pending, [&](const std::string& id) {
    const auto* s = db.service(id);
    return s ? &s->spec : nullptr;
  });
  auto service_of = [&](const store::task_object* t) {
    const auto* s = t ? db.service(t->service_id) : nullptr;
    return s ? s->spec.name : std::string{};
  };
  for (auto& placed : decided.placed) {
    const auto* t = db.task(placed.task_id);
    const auto* n = db.node(placed.node_id);
    out.decisions.push_back(controlapi::decision_record{
      "assign", placed.task_id, t ? t->slot : 0, placed.node_id,
      fmt::format("placed on {}", n ? n->hostname : placed.node_id),
      service_of(t)});
    actions.push_back(
      store::assign_task{placed.task_id, placed.node_id, now, "assigned"});
  }
  for (auto& why : decided.unplaced) {
    const auto* t = db.task(why.task_id);
    if (t == nullptr || t->status.err == why.reason)
      continue; // said already
    auto status = t->status;
    status.err = why.reason;
    status.message = "pending task scheduling";
    out.decisions.push_back(controlapi::decision_record{
      "pending", t->id, t->slot, "", why.reason, service_of(t)});
    actions.push_back(store::set_task_status{t->id, status});
  }
  return out;
}

/// The event of one batch: decisions [from, to) of the pass.
controlapi::event schedule_event(const pass& p, size_t from, size_t to,
                                 int64_t now) {
  controlapi::event e;
  e.time_nanos = now;
  e.type = "schedule";
  std::set<std::string> actions;
  std::set<std::string> services;
  for (size_t i = from; i < to && i < p.decisions.size(); ++i) {
    actions.insert(p.decisions[i].action);
    services.insert(p.decisions[i].service);
    e.decisions.push_back(p.decisions[i]);
  }
  for (const auto& a : actions)
    e.action += (e.action.empty() ? "" : "+") + a;
  // One service: the event says it; several: each decision does.
  if (services.size() == 1) {
    e.service = *services.begin();
    for (auto& d : e.decisions)
      d.service.clear();
  }
  return e;
}

void run(self_ptr self) {
  auto& st = self->state;
  if (st.in_flight > 0) {
    st.again = true;
    return;
  }
  auto start = clock::now(self);
  auto now = clock::unix_nanos(self);
  auto decided = st.link.db->read(
    [now](const store::store& db) { return decide(db, now); });
  auto& actions = decided.actions;
  if (actions.empty())
    return;
  if (decided.more)
    st.again = true; // the next batch, once this one is applied
  log::debug(who, "{} decisions in {} µs", actions.size(),
             duration_cast<microseconds>(clock::now(self) - start).count());
  for (size_t i = 0; i < actions.size(); i += max_batch_actions) {
    auto end = std::min(actions.size(), i + max_batch_actions);
    controlapi::write_request req{
      {std::make_move_iterator(actions.begin() + static_cast<ptrdiff_t>(i)),
       std::make_move_iterator(actions.begin() + static_cast<ptrdiff_t>(end))},
      "scheduler",
      schedule_event(decided, i, end, now)};
    ++st.in_flight;
    ++st.batches;
    for (const auto& a : req.actions)
      if (std::holds_alternative<store::assign_task>(a))
        ++st.placements;
    self->request(st.link.manager, seconds{15}, atom::write_v, std::move(req))
      .then(
        [=](const controlapi::write_verdict& v) {
          auto& st = self->state;
          --st.in_flight;
          if (!v.ok) {
            log::warn(who, "assignments refused: {}", v.error);
            st.again = true; // decide again, a little later
          }
          if (st.in_flight == 0 && st.again && !v.ok) {
            st.again = false;
            self->delayed_send(self, milliseconds{500}, atom::poke_v);
          } else if (st.in_flight == 0 && st.again) {
            st.again = false;
            self->send(self, atom::poke_v);
          }
        },
        [=](caf::error& err) {
          auto& st = self->state;
          --st.in_flight;
          log::warn(who, "cannot write assignments: {}", caf::to_string(err));
          if (st.in_flight == 0)
            self->delayed_send(self, milliseconds{500}, atom::poke_v);
        });
  }
}

/// The console's `inspect`: what waits for a node, and why.
envelope describe(self_ptr self) {
  auto& st = self->state;
  return make_envelope(
    schema::Envelope::Kind::REPLY, 0, {}, {}, [&](auto body) {
      auto d = body.initSchedulerState();
      d.setPlacements(st.placements);
      d.setBatches(st.batches);
      st.link.db->read([&](const store::store& db) {
        uint32_t ready = 0;
        for (const auto* n : db.nodes())
          if (n->status == store::node_status::ready
              && n->avail == store::availability::active)
            ++ready;
        d.setReadyNodes(ready);
        std::vector<const store::task_object*> pending;
        for (const auto* t : db.tasks())
          if (t->status.state == store::task_state::pending
              && t->desired_state <= store::task_state::running)
            pending.push_back(t);
        d.setPendingTasks(static_cast<uint32_t>(pending.size()));
        std::vector<const store::task_object*> stuck;
        for (const auto* t : pending)
          if (!t->status.err.empty() && stuck.size() < 100)
            stuck.push_back(t);
        auto list = d.initUnplaceable(static_cast<unsigned>(stuck.size()));
        for (unsigned i = 0; i < stuck.size(); ++i) {
          list[i].setAction("pending");
          list[i].setTaskId(stuck[i]->id);
          list[i].setSlot(stuck[i]->slot);
          list[i].setReason(stuck[i]->status.err);
        }
        return 0;
      });
    });
}

scheduler_actor::behavior_type scheduler(self_ptr self,
                                         controlapi::leader_link link) {
  log::log_failed_requests(self, "scheduler");
  self->state.link = std::move(link);
  self->send(self, atom::poke_v);
  return {
    [=](atom::changed, const store::changes_ptr& ch) {
      if (ch && matters(*ch))
        self->send(self, atom::poke_v);
    },
    [=](atom::poke) {
      if (!self->state.queued) {
        self->state.queued = true;
        self->send(self, atom::flush_v);
      }
    },
    [=](atom::flush) {
      self->state.queued = false;
      run(self);
    },
    [=](atom::describe) { return describe(self); },
  };
}

} // namespace

scheduler_actor spawn_scheduler(caf::actor_system& sys,
                                controlapi::leader_link link) {
  return sys.spawn(scheduler, std::move(link));
}

} // namespace skep::scheduler
