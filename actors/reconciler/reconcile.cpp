#include "actors/reconciler/reconcile.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <tuple>
#include <utility>

#include <fmt/format.h>

namespace skep::reconciler {
namespace {

using store::task_object;
using store::task_state;

// -- what a task is doing -----------------------------------------------------

/// Wanted: its desired state is at most running. A group's occupants.
bool is_occupant(const task_object& t) {
  return t.desired_state <= task_state::running;
}

/// Wanted and not finished.
bool is_live(const task_object& t) {
  return is_occupant(t) && !store::is_terminal(t.status.state);
}

/// Never placed: the scheduler assigns only pending tasks that are wanted, so
/// one that is no longer wanted will never run.
bool never_ran(const task_object& t) {
  return t.status.state <= task_state::pending;
}

/// Ended on its own, not stopped by the orchestrator or lost with its node.
bool ended_by_itself(const task_object& t) {
  auto s = t.status.state;
  return s == task_state::complete || s == task_state::failed
         || s == task_state::rejected;
}

/// Anything but a clean exit, as restart condition on-failure sees it.
bool is_failure(const task_object& t) {
  return t.status.state != task_state::complete || t.status.exit_code != 0;
}

bool older(const task_object& x, const task_object& y) {
  return std::tie(x.created_at_nanos, x.id)
         < std::tie(y.created_at_nanos, y.id);
}

/// E.g. "5s", "0.25s".
std::string human(std::chrono::nanoseconds d) {
  return fmt::format("{}s", static_cast<double>(d.count()) / 1e9);
}

/// E.g. "task t1 failed (exit 1): no such file", "task t2 is complete".
std::string how_it_ended(const task_object& t) {
  auto state = t.status.state;
  auto verb = state == task_state::failed
                ? std::string{"failed"}
                : fmt::format("is {}", to_string(state));
  auto out = fmt::format("task {} {}", t.id, verb);
  if (t.status.exit_code != 0)
    out += fmt::format(" (exit {})", t.status.exit_code);
  if (!t.status.err.empty())
    out += ": " + t.status.err;
  return out;
}

// -- the service's tasks as decided so far ------------------------------------

struct entry {
  task_object task;
  bool removed = false;
};

/// Slot (replicated) or node id (global): one of them is always 0 or empty.
using group_key = std::pair<uint64_t, std::string>;

/// A group's tasks, oldest first.
using group = std::vector<entry*>;

/// The inputs plus what was decided so far: every step sees the effect of
/// the steps before it, so one call leaves nothing for the next.
struct world {
  explicit world(const inputs& given) : in(given), svc(given.service) {
    for (auto* t : given.tasks)
      tasks.push_back(entry{*t});
    std::sort(tasks.begin(), tasks.end(), [](const entry& x, const entry& y) {
      return older(x.task, y.task);
    });
    for (auto* n : given.nodes)
      nodes.emplace(n->id, n);
  }

  bool global() const { return svc->spec.mode == store::service_mode::global; }

  const inputs& in;
  const store::service_object* svc;
  std::deque<entry> tasks; // push_back keeps references valid
  std::map<std::string, const store::node_object*> nodes;
  plan out;
  /// What create_task returns once the plan is full: nothing is created.
  entry held_back;
};

std::map<group_key, group> groups_of(world& w) {
  std::map<group_key, group> out;
  for (auto& e : w.tasks) {
    if (e.removed)
      continue;
    auto key
      = w.global() ? group_key{0, e.task.node_id} : group_key{e.task.slot, ""};
    out[key].push_back(&e); // stays oldest first
  }
  return out;
}

entry* newest_occupant(const group& g) {
  for (auto i = g.rbegin(); i != g.rend(); ++i)
    if (is_occupant((*i)->task))
      return *i;
  return nullptr;
}

/// Why tasks must leave `node_id`, or nothing when they may stay there.
std::optional<std::string> node_problem(const world& w,
                                        const std::string& node_id) {
  auto i = w.nodes.find(node_id);
  if (i == w.nodes.end())
    return fmt::format("node {} was removed", node_id);
  if (i->second->status == store::node_status::down)
    return fmt::format("node {} is down", node_id);
  if (i->second->avail == store::availability::drain)
    return fmt::format("node {} is drained", node_id);
  return std::nullopt;
}

/// Global mode: why `node_id` must not run a task of the service.
std::optional<std::string> global_problem(const world& w,
                                          const std::string& node_id) {
  if (auto problem = node_problem(w, node_id))
    return problem;
  if (w.in.eligible && !w.in.eligible(*w.nodes.at(node_id)))
    return fmt::format("node {} does not satisfy the service's constraints",
                       node_id);
  return std::nullopt;
}

/// Will not run again: history. Ended, or not wanted and never placed or on
/// a node that left the swarm, so nothing will report its end.
bool is_finished(const world& w, const task_object& t) {
  return store::is_terminal(t.status.state)
         || (!is_occupant(t)
             && (never_ran(t) || w.nodes.count(t.node_id) == 0));
}

/// The group's tasks not wanted but still running on a node that will
/// report their end.
std::vector<const task_object*> stopping_in(const world& w, const group& g) {
  std::vector<const task_object*> out;
  for (auto* e : g) {
    auto& t = e->task;
    if (!is_occupant(t) && !is_finished(w, t) && !t.node_id.empty()
        && !node_problem(w, t.node_id))
      out.push_back(&t);
  }
  return out;
}

// -- decisions ----------------------------------------------------------------

void note(world& w, std::string action, const task_object* t,
          std::string reason) {
  decision d;
  d.action = std::move(action);
  if (t) {
    d.task_id = t->id;
    d.slot = t->slot;
    d.node_id = t->node_id;
  }
  d.reason = std::move(reason);
  w.out.decisions.push_back(std::move(d));
}

void wait_until(world& w, const task_object* t, std::string reason,
                int64_t at_nanos) {
  note(w, "wait", t, std::move(reason));
  if (!w.out.wake_at_nanos || at_nanos < *w.out.wake_at_nanos)
    w.out.wake_at_nanos = at_nanos;
}

/// Says that a free group waits for `t` to stop (stop-first).
void wait_for_stop(world& w, const task_object& t) {
  note(w, "wait", &t,
       fmt::format("a new task starts once task {} has stopped", t.id));
}

/// True once the plan holds inputs::max_actions actions: later actions wait
/// for the next call (and the plan says so).
bool full(world& w) {
  if (w.out.actions.size() < w.in.max_actions)
    return false;
  if (!w.out.more) {
    w.out.more = true;
    note(w, "wait", nullptr,
         fmt::format("batch of {} actions: the rest follows once it is "
                     "written",
                     w.in.max_actions));
  }
  return true;
}

entry& create_task(world& w, uint64_t slot, std::string node_id,
                   std::string reason) {
  if (full(w)) {
    w.held_back = entry{};
    return w.held_back;
  }
  auto& spec = w.svc->spec;
  task_object t;
  t.id = w.in.new_task_id();
  t.service_id = w.svc->id;
  t.slot = slot;
  t.node_id = std::move(node_id);
  t.spec_version = w.svc->spec_version;
  t.container = spec.container;
  t.reservations = spec.reservations;
  t.limits = spec.limits;
  t.ports = spec.ports;
  t.desired_state = task_state::running;
  t.status.state = task_state::pending;
  t.status.at_nanos = w.in.now_nanos;
  t.status.message = "pending task scheduling";
  t.created_at_nanos = w.in.now_nanos;
  note(w, "create", &t, std::move(reason));
  w.out.actions.emplace_back(store::put_task{t, 0});
  w.tasks.push_back(entry{std::move(t)});
  return w.tasks.back();
}

void remove_task(world& w, entry& e, std::string reason) {
  if (full(w))
    return;
  note(w, "remove", &e.task, std::move(reason));
  w.out.actions.emplace_back(store::remove_task{e.task.id});
  e.removed = true;
}

/// Stops a wanted task; one that never ran is removed instead, as nothing
/// would ever report its end. `desired` is shutdown when the task's group
/// gets a replacement, remove when the group is given up (scale down).
void shut_down(world& w, entry& e, const std::string& reason,
               task_state desired = task_state::shutdown) {
  if (!is_occupant(e.task) || full(w))
    return;
  if (never_ran(e.task)) {
    remove_task(w, e, reason + " (never ran)");
    return;
  }
  e.task.desired_state = desired;
  note(w, "shutdown", &e.task, reason);
  w.out.actions.emplace_back(store::set_task_desired_state{e.task.id, desired});
}

// -- service removed ----------------------------------------------------------

void retire_all(world& w) {
  for (auto& e : w.tasks) {
    if (is_finished(w, e.task))
      remove_task(w, e, "service removed");
    else if (is_occupant(e.task))
      shut_down(w, e, "service removed");
    // else stopping: removed once it reported its end
  }
}

// -- replicated: scale down, nodes that fail ----------------------------------

struct scale_candidate {
  uint64_t slot;
  entry* newest;
  int rank; // 0 never ran, 1 not running or on a failed node, 2 running
};

/// Picks `count` occupied slots to give up: tasks that never ran first, then
/// finished ones, then from the nodes with the most tasks of the service,
/// the highest slot first on a tie.
std::vector<uint64_t> slots_to_drop(const world& w,
                                    std::vector<scale_candidate> candidates,
                                    size_t count) {
  std::map<std::string, size_t> load;
  for (auto& c : candidates) {
    auto& t = c.newest->task;
    c.rank = never_ran(t)                                            ? 0
             : !is_live(t) || node_problem(w, t.node_id).has_value() ? 1
                                                                     : 2;
    if (c.rank == 2)
      ++load[t.node_id];
  }
  auto weight = [&](const scale_candidate& c) {
    auto node_load = c.rank == 2 ? load[c.newest->task.node_id] : 0;
    return std::make_tuple(-c.rank, node_load, c.slot);
  };
  std::vector<uint64_t> out;
  while (out.size() < count && !candidates.empty()) {
    auto best = std::max_element(
      candidates.begin(), candidates.end(),
      [&](const auto& x, const auto& y) { return weight(x) < weight(y); });
    out.push_back(best->slot);
    if (best->rank == 2)
      --load[best->newest->task.node_id];
    candidates.erase(best);
  }
  return out;
}

void scale_down(world& w) {
  auto replicas = w.svc->spec.replicas;
  auto groups = groups_of(w);
  std::vector<scale_candidate> occupied;
  for (auto& [key, g] : groups)
    if (auto* newest = newest_occupant(g))
      occupied.push_back({key.first, newest, 0});
  if (occupied.size() <= replicas)
    return;
  auto reason = fmt::format("scale down to {} replicas", replicas);
  for (auto slot : slots_to_drop(w, occupied, occupied.size() - replicas))
    for (auto* e : groups[{slot, ""}])
      shut_down(w, *e, reason, task_state::remove);
}

/// Live tasks on a removed, down or drained node stop; the slot's newest gets
/// a replacement at once (no delay, not a restart attempt).
void evacuate(world& w) {
  for (auto& [key, g] : groups_of(w)) {
    auto* newest = newest_occupant(g);
    for (auto* e : g) {
      if (!is_live(e->task) || e->task.node_id.empty())
        continue;
      auto problem = node_problem(w, e->task.node_id);
      if (!problem)
        continue;
      shut_down(w, *e, *problem);
      if (e == newest)
        create_task(w, key.first, "",
                    fmt::format("replaces task {}: {}", e->task.id, *problem));
    }
  }
}

// -- global: nodes that must not run the service ------------------------------

void leave_unwanted_nodes(world& w) {
  for (auto& [key, g] : groups_of(w)) {
    auto problem = global_problem(w, key.second);
    if (!problem)
      continue;
    for (auto* e : g)
      if (is_occupant(e->task))
        shut_down(w, *e, *problem);
  }
}

std::vector<const store::node_object*> target_nodes(const world& w) {
  std::vector<const store::node_object*> out;
  for (auto& [id, node] : w.nodes)
    if (!global_problem(w, id))
      out.push_back(node);
  return out;
}

// -- restart policy -----------------------------------------------------------

/// Replacements of tasks that ended by themselves, created within `window`
/// (0: ever) before `end_nanos`, as far as the history kept tells.
uint64_t restarts_before(const group& g, int64_t end_nanos,
                         std::chrono::nanoseconds window) {
  uint64_t n = 0;
  for (size_t i = 1; i < g.size(); ++i) {
    auto& prev = g[i - 1]->task;
    auto& next = g[i]->task;
    if (!ended_by_itself(prev) || prev.status.at_nanos > next.created_at_nanos
        || next.created_at_nanos > end_nanos)
      continue;
    if (window.count() > 0
        && next.created_at_nanos < end_nanos - window.count())
      continue;
    ++n;
  }
  return n;
}

void restart_group(world& w, const group_key& key, const group& g,
                   entry& ended) {
  auto& policy = w.svc->spec.restart;
  auto& t = ended.task;
  auto why = fmt::format("{}, restart policy {}", how_it_ended(t),
                         to_string(policy.condition));
  if (policy.condition == store::restart_condition::none
      || (policy.condition == store::restart_condition::on_failure
          && !is_failure(t))) {
    note(w, "no-restart", &t, why);
    return;
  }
  if (policy.max_attempts > 0) {
    auto used = restarts_before(g, t.status.at_nanos, policy.window);
    if (used >= policy.max_attempts) {
      auto within = policy.window.count() > 0
                      ? fmt::format(" within {}", human(policy.window))
                      : std::string{};
      note(w, "restart-limit", &t,
           fmt::format("{}: {} restarts{}, max attempts {}", why, used, within,
                       policy.max_attempts));
      return;
    }
  }
  auto due = t.status.at_nanos + policy.delay.count();
  if (due > w.in.now_nanos) {
    wait_until(w, &t,
               fmt::format("{}: restart delay {}", why, human(policy.delay)),
               due);
    return;
  }
  auto& fresh = create_task(w, key.first, key.second, "restart: " + why);
  shut_down(w, ended, fmt::format("replaced by task {}", fresh.task.id));
}

void restart(world& w) {
  for (auto& [key, g] : groups_of(w)) {
    auto* newest = newest_occupant(g);
    if (newest && store::is_terminal(newest->task.status.state))
      restart_group(w, key, g, *newest);
  }
}

/// Older wanted tasks of a group stop once its newest runs (start-first).
void retire_superseded(world& w) {
  for (auto& [key, g] : groups_of(w)) {
    auto* newest = newest_occupant(g);
    if (!newest || newest->task.status.state != task_state::running)
      continue;
    for (auto* e : g)
      if (e != newest && is_occupant(e->task))
        shut_down(
          w, *e, fmt::format("superseded by running task {}", newest->task.id));
  }
}

// -- rolling update -----------------------------------------------------------

bool is_current(const world& w, const task_object& t) {
  return t.spec_version >= w.svc->spec_version;
}

/// True (and says so) when too many updated tasks failed within the monitor
/// period of their creation and the failure action is not to proceed.
bool update_halted(world& w, const std::map<group_key, group>& groups) {
  auto& cfg = w.svc->spec.update;
  if (cfg.on_failure == store::failure_action::proceed)
    return false;
  size_t updated = 0;
  size_t failed = 0;
  for (auto& [key, g] : groups) {
    bool any = false;
    for (auto* e : g) {
      auto& t = e->task;
      if (!is_current(w, t))
        continue;
      any = true;
      if (ended_by_itself(t) && is_failure(t)
          && t.status.at_nanos - t.created_at_nanos <= cfg.monitor.count())
        ++failed;
    }
    updated += any ? 1 : 0;
  }
  if (failed == 0
      || static_cast<double>(failed) / static_cast<double>(updated)
           <= cfg.max_failure_ratio)
    return false;
  auto reason = fmt::format(
    "update to spec version {}: {} of {} updated tasks failed within {} "
    "(max failure ratio {})",
    w.svc->spec_version, failed, updated, human(cfg.monitor),
    cfg.max_failure_ratio);
  auto rollback = cfg.on_failure == store::failure_action::rollback;
  note(w, rollback ? "update-rollback" : "update-paused", nullptr, reason);
  return true;
}

/// Replacements not running yet: new tasks before running, free groups.
size_t in_flight(const world& w, const std::map<group_key, group>& groups) {
  size_t occupied = 0;
  size_t starting = 0;
  for (auto& [key, g] : groups) {
    occupied += newest_occupant(g) ? 1 : 0;
    for (auto* e : g)
      if (is_live(e->task) && is_current(w, e->task)
          && e->task.status.state < task_state::running)
        ++starting;
  }
  auto wanted = w.global() ? target_nodes(w).size() : w.svc->spec.replicas;
  return starting + (wanted > occupied ? wanted - occupied : 0);
}

/// True unless update.delay has not passed since a new task last started.
bool after_update_delay(world& w) {
  auto delay = w.svc->spec.update.delay;
  if (delay.count() <= 0)
    return true;
  const task_object* last = nullptr;
  for (auto& e : w.tasks)
    if (!e.removed && is_current(w, e.task)
        && e.task.status.state == task_state::running
        && (!last || e.task.status.at_nanos > last->status.at_nanos))
      last = &e.task;
  if (!last)
    return true;
  auto due = last->status.at_nanos + delay.count();
  if (due <= w.in.now_nanos)
    return true;
  wait_until(w, last,
             fmt::format("update delay {} after task {} started", human(delay),
                         last->id),
             due);
  return false;
}

void replace_outdated(world& w, const group_key& key, const group& g,
                      entry& outdated) {
  auto& cfg = w.svc->spec.update;
  auto reason = fmt::format("update to spec version {} ({})",
                            w.svc->spec_version, to_string(cfg.order));
  auto& t = outdated.task;
  if (cfg.order == store::update_order::start_first && is_live(t)
      && !never_ran(t)) {
    create_task(w, key.first, key.second,
                fmt::format("{}: replaces task {}", reason, t.id));
    return;
  }
  // Stop first: the group's new task comes once this one has stopped
  // (fill_slots gives it this slot first); when nothing is left to stop,
  // as for a task that never ran, it comes at once.
  auto replaced = t.id;
  for (auto* e : g)
    if (is_occupant(e->task))
      shut_down(w, *e, reason);
  if (!w.global() && stopping_in(w, g).empty())
    create_task(w, key.first, "",
                fmt::format("{}: replaces task {}", reason, replaced));
}

void roll_out(world& w) {
  auto groups = groups_of(w);
  std::vector<std::pair<const group_key*, entry*>> outdated;
  for (auto& [key, g] : groups) {
    auto* newest = newest_occupant(g);
    if (newest && !is_current(w, newest->task))
      outdated.emplace_back(&key, newest);
  }
  if (outdated.empty() || update_halted(w, groups))
    return;
  auto parallelism = w.svc->spec.update.parallelism;
  auto busy = in_flight(w, groups);
  if (parallelism > 0 && busy >= parallelism) {
    note(w, "wait", nullptr,
         fmt::format("update to spec version {}: {} replacement(s) not "
                     "running yet, parallelism {}",
                     w.svc->spec_version, busy, parallelism));
    return;
  }
  if (!after_update_delay(w))
    return;
  // Tasks that do not run first: replacing them costs nothing.
  std::stable_sort(
    outdated.begin(), outdated.end(), [](const auto& x, const auto& y) {
      return (x.second->task.status.state == task_state::running)
             < (y.second->task.status.state == task_state::running);
    });
  auto room = parallelism == 0 ? outdated.size() : parallelism - busy;
  for (size_t i = 0; i < outdated.size() && i < room; ++i) {
    auto& [key, newest] = outdated[i];
    replace_outdated(w, *key, groups[*key], *newest);
  }
}

// -- filling free groups ------------------------------------------------------

/// A free slot whose newest task was shut down to be replaced (a stop-first
/// update) rather than given up (desired state remove): it is filled first.
bool awaits_replacement(const group& g) {
  for (auto i = g.rbegin(); i != g.rend(); ++i)
    if (!(*i)->removed)
      return (*i)->task.desired_state == task_state::shutdown;
  return false;
}

/// The free slots in the order they are filled: those awaiting a
/// replacement, then the lowest others (never used, or given up).
std::vector<uint64_t> free_slots(std::map<group_key, group>& groups,
                                 size_t count) {
  std::vector<uint64_t> out;
  for (auto& [key, g] : groups)
    if (out.size() < count && !newest_occupant(g) && awaits_replacement(g))
      out.push_back(key.first);
  for (uint64_t slot = 1; out.size() < count; ++slot) {
    auto i = groups.find({slot, ""});
    bool occupied = i != groups.end() && newest_occupant(i->second);
    bool taken = std::find(out.begin(), out.end(), slot) != out.end();
    if (!occupied && !taken)
      out.push_back(slot);
  }
  return out;
}

/// Creates tasks in free slots (free_slots' order) until `replicas` are
/// occupied, counting tasks still stopping as taken (stop-first: never more
/// than `replicas` at once).
void fill_slots(world& w) {
  auto groups = groups_of(w);
  size_t occupied = 0;
  std::vector<const task_object*> stopping;
  for (auto& [key, g] : groups) {
    if (newest_occupant(g)) {
      ++occupied;
      continue;
    }
    auto more = stopping_in(w, g);
    stopping.insert(stopping.end(), more.begin(), more.end());
  }
  auto replicas = w.svc->spec.replicas;
  if (occupied >= replicas)
    return;
  auto missing = replicas - occupied;
  for (size_t i = 0; i < stopping.size() && i < missing; ++i)
    wait_for_stop(w, *stopping[i]);
  auto creatable = missing > stopping.size() ? missing - stopping.size() : 0;
  // No more than the batch holds: a million free slots are not listed.
  auto room = w.in.max_actions > w.out.actions.size()
                ? w.in.max_actions - w.out.actions.size()
                : 0;
  auto slots = free_slots(groups, std::min<size_t>(creatable, room + 1));
  for (size_t i = 0; i < slots.size(); ++i)
    create_task(w, slots[i], "",
                fmt::format("slot {} is free: {} of {} replicas", slots[i],
                            occupied + i, replicas));
}

/// Creates a task on each target node without one, once its old one stopped.
void fill_nodes(world& w) {
  auto groups = groups_of(w);
  for (auto* node : target_nodes(w)) {
    auto i = groups.find({0, node->id});
    if (i != groups.end() && newest_occupant(i->second))
      continue;
    auto stopping = i != groups.end() ? stopping_in(w, i->second)
                                      : std::vector<const task_object*>{};
    if (!stopping.empty()) {
      wait_for_stop(w, *stopping.back());
      continue;
    }
    create_task(w, 0, node->id,
                fmt::format("node {} has no task of the service", node->id));
  }
}

// -- task history -------------------------------------------------------------

/// Keeps at most task_history_limit finished tasks per group, removing the
/// oldest; a finished task that still holds its group (not restarted) stays.
/// A task given up by a scale down (desired state remove) is deleted once it
/// finished, as Docker 20.10 and later do.
void trim_history(world& w) {
  size_t limit = w.in.task_history_limit;
  for (auto& e : w.tasks)
    if (!e.removed && e.task.desired_state == task_state::remove
        && is_finished(w, e.task))
      remove_task(w, e, "scaled down, and stopped");
  for (auto& [key, g] : groups_of(w)) {
    auto finished = static_cast<size_t>(std::count_if(
      g.begin(), g.end(), [&](entry* e) { return is_finished(w, e->task); }));
    for (auto* e : g) {
      if (finished <= limit)
        break;
      if (!is_finished(w, e->task) || is_occupant(e->task))
        continue;
      remove_task(w, *e, fmt::format("task history limit {}", limit));
      --finished;
    }
  }
}

} // namespace

plan reconcile(const inputs& in) {
  world w{in};
  if (!w.svc) {
    retire_all(w);
    return std::move(w.out);
  }
  if (w.global()) {
    leave_unwanted_nodes(w);
  } else {
    scale_down(w);
    evacuate(w);
  }
  restart(w);
  retire_superseded(w);
  roll_out(w);
  if (w.global())
    fill_nodes(w);
  else
    fill_slots(w);
  trim_history(w);
  return std::move(w.out);
}

} // namespace skep::reconciler
