// Reconciler decisions for one service: slots, restart policy, failed nodes,
// scaling, rolling updates, global mode, removal, task history, idempotence.

#include "actors/reconciler/reconcile.hpp"

#include <algorithm>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace skep::reconciler {
namespace {

using store::node_object;
using store::task_object;
using store::task_state;

constexpr int64_t sec = 1'000'000'000;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<task_object> creates(const plan& p) {
  std::vector<task_object> out;
  for (auto& a : p.actions)
    if (auto* put = std::get_if<store::put_task>(&a))
      out.push_back(put->task);
  return out;
}

std::vector<std::string> shutdowns(const plan& p) {
  std::vector<std::string> out;
  for (auto& a : p.actions)
    if (auto* set = std::get_if<store::set_task_desired_state>(&a))
      out.push_back(set->id);
  return out;
}

std::vector<std::string> removals(const plan& p) {
  std::vector<std::string> out;
  for (auto& a : p.actions)
    if (auto* remove = std::get_if<store::remove_task>(&a))
      out.push_back(remove->id);
  return out;
}

std::vector<uint64_t> slots_of(const std::vector<task_object>& tasks) {
  std::vector<uint64_t> out;
  for (auto& t : tasks)
    out.push_back(t.slot);
  std::sort(out.begin(), out.end());
  return out;
}

const decision* find_decision(const plan& p, const std::string& action) {
  for (auto& d : p.decisions)
    if (d.action == action)
      return &d;
  return nullptr;
}

class Reconcile : public ::testing::Test {
 protected:
  void SetUp() override {
    service.id = "svc1";
    service.spec.name = "web";
    service.spec.container.image = "sleep";
    service.spec.container.args = {"1000"};
    service.spec.replicas = 3;
    service.spec.restart.delay = std::chrono::nanoseconds{0};
    service.spec.reservations.memory_bytes = 1 << 20;
    service.spec.ports.push_back({8080, 80, "tcp"});
    service.spec_version = 1;
  }

  node_object& add_node(std::string id) {
    node_object n;
    n.id = std::move(id);
    n.hostname = "host-" + n.id;
    n.status = store::node_status::ready;
    nodes.push_back(n);
    return nodes.back();
  }

  node_object& node(const std::string& id) {
    for (auto& n : nodes)
      if (n.id == id)
        return n;
    throw std::logic_error("no node " + id);
  }

  /// A task created at `created` (seconds) from spec `version`.
  task_object& add_task(uint64_t slot, std::string node_id, task_state state,
                        int64_t created = 1, uint64_t version = 1) {
    task_object t;
    t.id = "old" + std::to_string(++old_tasks);
    t.service_id = service.id;
    t.slot = slot;
    t.node_id = std::move(node_id);
    t.spec_version = version;
    t.desired_state = task_state::running;
    t.status.state = state;
    t.status.at_nanos = created * sec;
    t.created_at_nanos = created * sec;
    tasks.push_back(t);
    return tasks.back();
  }

  task_object& task(const std::string& id) {
    for (auto& t : tasks)
      if (t.id == id)
        return t;
    throw std::logic_error("no task " + id);
  }

  /// Ends task `id` at `now` with `state`.
  void end(const std::string& id, task_state state, int32_t exit_code = 0) {
    auto& t = task(id);
    t.status.state = state;
    t.status.exit_code = exit_code;
    t.status.at_nanos = now;
  }

  plan run() {
    inputs in;
    in.max_actions = max_actions;
    in.service = service_removed ? nullptr : &service;
    for (auto& t : tasks)
      in.tasks.push_back(&t);
    for (auto& n : nodes)
      in.nodes.push_back(&n);
    in.eligible = eligible;
    in.task_history_limit = history_limit;
    in.now_nanos = now;
    in.new_task_id = [this] { return "new" + std::to_string(++new_tasks); };
    return reconcile(in);
  }

  /// What the store would do with the plan's actions.
  void apply(const plan& p) {
    for (auto& a : p.actions) {
      if (auto* put = std::get_if<store::put_task>(&a)) {
        ASSERT_EQ(put->expected_version, 0u);
        tasks.push_back(put->task);
      } else if (auto* remove = std::get_if<store::remove_task>(&a)) {
        tasks.erase(std::remove_if(tasks.begin(), tasks.end(),
                                   [&](auto& t) { return t.id == remove->id; }),
                    tasks.end());
      } else if (auto* set = std::get_if<store::set_task_desired_state>(&a)) {
        auto& t = task(set->id);
        t.desired_state = std::max(t.desired_state, set->desired_state);
      } else {
        FAIL() << "unexpected action " << a.index();
      }
    }
  }

  /// Runs and applies; the next run must find nothing to do.
  plan run_and_apply() {
    auto p = run();
    apply(p);
    auto again = run();
    EXPECT_TRUE(again.actions.empty())
      << again.actions.size() << " actions on the second run, first: "
      << (again.decisions.empty() ? "" : again.decisions.front().reason);
    return p;
  }

  /// Workers at `now`: pending tasks start on `node_id` (or their own node),
  /// tasks told to stop stop.
  void workers_act(const std::string& node_id = "n1") {
    for (auto& t : tasks) {
      if (t.desired_state <= task_state::running
          && t.status.state == task_state::pending) {
        if (t.node_id.empty())
          t.node_id = node_id;
        t.status.state = task_state::running;
        t.status.at_nanos = now;
      } else if (t.desired_state > task_state::running
                 && !store::is_terminal(t.status.state)) {
        t.status.state = task_state::shutdown;
        t.status.at_nanos = now;
      }
    }
  }

  size_t count(task_state state, uint64_t version = 0) const {
    return static_cast<size_t>(
      std::count_if(tasks.begin(), tasks.end(), [&](const task_object& t) {
        return t.status.state == state
               && (version == 0 || t.spec_version == version);
      }));
  }

  /// Three running tasks of spec version 1 on n1, n2, n3 and the service at
  /// version 2.
  void outdated_service() {
    for (uint64_t slot = 1; slot <= 3; ++slot) {
      add_node("n" + std::to_string(slot));
      add_task(slot, "n" + std::to_string(slot), task_state::running);
    }
    service.spec_version = 2;
    service.spec.container.args = {"2000"};
  }

  store::service_object service;
  bool service_removed = false;
  std::vector<node_object> nodes;
  std::vector<task_object> tasks;
  std::function<bool(const node_object&)> eligible;
  uint32_t history_limit = 5;
  size_t max_actions = 50000;
  int64_t now = 100 * sec;
  int old_tasks = 0;
  int new_tasks = 0;
};

// -- replicas -----------------------------------------------------------------

TEST_F(Reconcile, CreatesOnePendingTaskPerReplica) {
  auto p = run_and_apply();
  auto created = creates(p);
  ASSERT_EQ(created.size(), 3u);
  EXPECT_EQ(slots_of(created), (std::vector<uint64_t>{1, 2, 3}));
  for (auto& t : created) {
    EXPECT_EQ(t.service_id, "svc1");
    EXPECT_TRUE(t.node_id.empty());
    EXPECT_EQ(t.spec_version, 1u);
    EXPECT_EQ(t.container, service.spec.container);
    EXPECT_EQ(t.reservations, service.spec.reservations);
    EXPECT_EQ(t.ports, service.spec.ports);
    EXPECT_EQ(t.desired_state, task_state::running);
    EXPECT_EQ(t.status.state, task_state::pending);
    EXPECT_EQ(t.status.message, "pending task scheduling");
    EXPECT_EQ(t.created_at_nanos, now);
  }
  EXPECT_EQ(p.decisions.size(), 3u);
  EXPECT_EQ(p.decisions[0].action, "create");
  EXPECT_EQ(p.decisions[0].task_id, created[0].id);
}

TEST_F(Reconcile, ConvergedServiceNeedsNothing) {
  add_node("n1");
  for (uint64_t slot = 1; slot <= 3; ++slot)
    add_task(slot, "n1", task_state::running);
  auto p = run();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(p.decisions.empty());
  EXPECT_FALSE(p.wake_at_nanos);
}

TEST_F(Reconcile, ScaleUpFillsTheLowestFreeSlots) {
  add_node("n1");
  add_task(2, "n1", task_state::running);
  add_task(5, "n1", task_state::running);
  service.spec.replicas = 4;
  auto p = run_and_apply();
  EXPECT_EQ(slots_of(creates(p)), (std::vector<uint64_t>{1, 3}));
}

TEST_F(Reconcile, ScaleDownTakesFromTheMostLoadedNodesHighestSlotFirst) {
  add_node("n1");
  add_node("n2");
  add_task(1, "n1", task_state::running);
  add_task(2, "n1", task_state::running);
  auto dropped3 = add_task(3, "n1", task_state::running).id;
  add_task(4, "n2", task_state::running);
  auto dropped5 = add_task(5, "n2", task_state::running).id;
  service.spec.replicas = 3;
  auto p = run_and_apply();
  // n1 has 3, so slot 3 goes; then n1 and n2 tie at 2: the highest slot, 5.
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{dropped3, dropped5}));
  EXPECT_TRUE(creates(p).empty());
  EXPECT_TRUE(contains(p.decisions[0].reason, "scale down to 3 replicas"));
}

TEST_F(Reconcile, ScaleDownRemovesTasksThatNeverRanFirst) {
  add_node("n1");
  add_task(1, "n1", task_state::running);
  auto pending = add_task(2, "", task_state::pending).id;
  add_task(3, "n1", task_state::running);
  service.spec.replicas = 2;
  auto p = run_and_apply();
  EXPECT_EQ(removals(p), (std::vector<std::string>{pending}));
  EXPECT_TRUE(shutdowns(p).empty());
}

TEST_F(Reconcile, ScaleUpWaitsForTasksStillStopping) {
  add_node("n1");
  add_task(1, "n1", task_state::running);
  add_task(2, "n1", task_state::running).desired_state = task_state::shutdown;
  service.spec.replicas = 2;
  auto p = run();
  EXPECT_TRUE(p.actions.empty());
  ASSERT_TRUE(find_decision(p, "wait"));
  workers_act();
  EXPECT_EQ(slots_of(creates(run_and_apply())), (std::vector<uint64_t>{2}));
}

TEST_F(Reconcile, ALargePlanGoesOutInBatches) {
  add_node("n1");
  service.spec.replicas = 25;
  max_actions = 10;
  std::vector<size_t> batches;
  for (int round = 0; round < 5; ++round) {
    auto p = run();
    batches.push_back(creates(p).size());
    EXPECT_EQ(p.actions.size(), creates(p).size());
    EXPECT_EQ(p.more, batches.back() == 10) << "round " << round;
    if (p.more) {
      ASSERT_TRUE(find_decision(p, "wait"));
      EXPECT_TRUE(contains(find_decision(p, "wait")->reason, "batch of 10"));
    }
    apply(p);
  }
  EXPECT_EQ(batches, (std::vector<size_t>{10, 10, 5, 0, 0}));
  EXPECT_EQ(
    slots_of(std::vector<task_object>(tasks.begin(), tasks.end())).back(), 25u);
  // Removing the service goes in batches too.
  service_removed = true;
  auto removed = run();
  EXPECT_EQ(removed.actions.size(), 10u);
  EXPECT_TRUE(removed.more);
}

// -- restart policy -----------------------------------------------------------

TEST_F(Reconcile, FailedTaskIsReplacedInItsSlotAndKeptAsHistory) {
  add_node("n1");
  add_task(1, "n1", task_state::running);
  auto failed = add_task(2, "n1", task_state::running).id;
  add_task(3, "n1", task_state::running);
  end(failed, task_state::failed, 1);
  auto p = run_and_apply();
  auto created = creates(p);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].slot, 2u);
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{failed}));
  EXPECT_TRUE(
    contains(p.decisions[0].reason,
             "task " + failed + " failed (exit 1), restart policy any"));
  EXPECT_EQ(task(failed).desired_state, task_state::shutdown);
  EXPECT_EQ(tasks.size(), 4u);
}

TEST_F(Reconcile, RestartConditionNoneLeavesTheSlotFinished) {
  service.spec.restart.condition = store::restart_condition::none;
  add_node("n1");
  service.spec.replicas = 1;
  auto id = add_task(1, "n1", task_state::running).id;
  end(id, task_state::failed, 1);
  auto p = run();
  EXPECT_TRUE(p.actions.empty());
  ASSERT_TRUE(find_decision(p, "no-restart"));
  EXPECT_EQ(find_decision(p, "no-restart")->task_id, id);
}

TEST_F(Reconcile, RestartOnFailureReplacesAFailedTask) {
  service.spec.restart.condition = store::restart_condition::on_failure;
  service.spec.replicas = 1;
  add_node("n1");
  auto id = add_task(1, "n1", task_state::running).id;
  end(id, task_state::failed, 2);
  EXPECT_EQ(creates(run_and_apply()).size(), 1u);
}

TEST_F(Reconcile, RestartOnFailureLeavesACompletedTask) {
  service.spec.restart.condition = store::restart_condition::on_failure;
  service.spec.replicas = 1;
  add_node("n1");
  auto id = add_task(1, "n1", task_state::running).id;
  end(id, task_state::complete, 0);
  auto p = run();
  EXPECT_TRUE(p.actions.empty());
  EXPECT_TRUE(find_decision(p, "no-restart"));
}

TEST_F(Reconcile, RestartAnyReplacesACompletedTask) {
  service.spec.replicas = 1;
  add_node("n1");
  auto id = add_task(1, "n1", task_state::running).id;
  end(id, task_state::complete, 0);
  auto p = run_and_apply();
  EXPECT_EQ(creates(p).size(), 1u);
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{id}));
}

TEST_F(Reconcile, RestartWaitsForTheDelayThenReplaces) {
  service.spec.restart.delay = std::chrono::seconds{5};
  service.spec.replicas = 1;
  add_node("n1");
  auto id = add_task(1, "n1", task_state::running).id;
  end(id, task_state::failed, 1);
  now += 2 * sec;
  auto p = run();
  EXPECT_TRUE(p.actions.empty());
  ASSERT_TRUE(p.wake_at_nanos);
  EXPECT_EQ(*p.wake_at_nanos, task(id).status.at_nanos + 5 * sec);
  ASSERT_TRUE(find_decision(p, "wait"));
  now = *p.wake_at_nanos;
  auto later = run_and_apply();
  EXPECT_EQ(creates(later).size(), 1u);
  EXPECT_FALSE(later.wake_at_nanos);
}

TEST_F(Reconcile, MaxAttemptsStopsRestarting) {
  service.spec.restart.max_attempts = 2;
  service.spec.replicas = 1;
  add_node("n1");
  add_task(1, "n1", task_state::running);
  size_t created = 0;
  for (int round = 0; round < 4; ++round) {
    now += sec;
    for (auto& t : tasks)
      if (t.desired_state == task_state::running)
        end(t.id, task_state::failed, 1);
    auto p = run_and_apply();
    created += creates(p).size();
    workers_act();
    if (round == 2) {
      ASSERT_TRUE(find_decision(p, "restart-limit"));
      EXPECT_TRUE(contains(find_decision(p, "restart-limit")->reason,
                           "2 restarts, max attempts 2"));
    }
  }
  EXPECT_EQ(created, 2u);
}

TEST_F(Reconcile, MaxAttemptsCountOnlyRestartsWithinTheWindow) {
  service.spec.restart.max_attempts = 1;
  service.spec.restart.window = std::chrono::seconds{30};
  service.spec.replicas = 1;
  add_node("n1");
  auto first = add_task(1, "n1", task_state::running).id;
  end(first, task_state::failed, 1);
  apply(run()); // restart 1, at 100s
  workers_act();
  auto restarted = tasks.back().id;
  now += 10 * sec;
  end(restarted, task_state::failed, 1);
  auto p = run();
  EXPECT_TRUE(p.actions.empty()) << "1 restart within 30s before the end";
  EXPECT_TRUE(find_decision(p, "restart-limit"));

  now += 30 * sec; // had it failed 40s after its restart instead
  end(restarted, task_state::failed, 1);
  EXPECT_EQ(creates(run_and_apply()).size(), 1u);
}

// -- failed nodes -------------------------------------------------------------

TEST_F(Reconcile, TaskOnADownNodeIsReplacedAtOnceInItsSlot) {
  service.spec.restart.delay = std::chrono::seconds{5};
  service.spec.restart.max_attempts = 1;
  service.spec.replicas = 1;
  add_node("n1").status = store::node_status::down;
  auto id = add_task(1, "n1", task_state::running).id;
  auto p = run_and_apply();
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{id}));
  auto created = creates(p);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].slot, 1u);
  EXPECT_TRUE(contains(p.decisions[1].reason, "node n1 is down"));
}

TEST_F(Reconcile, TaskOnADrainedNodeIsReplaced) {
  service.spec.replicas = 1;
  add_node("n1").avail = store::availability::drain;
  auto id = add_task(1, "n1", task_state::running).id;
  auto p = run_and_apply();
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{id}));
  EXPECT_EQ(creates(p).size(), 1u);
  EXPECT_TRUE(contains(p.decisions[0].reason, "node n1 is drained"));
}

TEST_F(Reconcile, TaskOnARemovedNodeIsReplaced) {
  service.spec.replicas = 1;
  auto id = add_task(1, "gone", task_state::running).id;
  auto p = run_and_apply();
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{id}));
  EXPECT_EQ(creates(p).size(), 1u);
  EXPECT_TRUE(contains(p.decisions[0].reason, "node gone was removed"));
}

TEST_F(Reconcile, TaskOnAPausedNodeStays) {
  service.spec.replicas = 1;
  add_node("n1").avail = store::availability::pause;
  add_task(1, "n1", task_state::running);
  EXPECT_TRUE(run().actions.empty());
}

// -- rolling update -----------------------------------------------------------

TEST_F(Reconcile, StopFirstUpdateReplacesOneSlotAtATime) {
  outdated_service();
  auto p = run_and_apply();
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{"old1"}));
  EXPECT_TRUE(creates(p).empty()) << "the new task waits for the old to stop";

  workers_act();
  p = run_and_apply();
  auto created = creates(p);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].slot, 1u);
  EXPECT_EQ(created[0].spec_version, 2u);
  EXPECT_EQ(created[0].container.args, (std::vector<std::string>{"2000"}));
  EXPECT_TRUE(shutdowns(p).empty()) << "slot 2 waits for slot 1 to run";

  workers_act();
  EXPECT_EQ(shutdowns(run_and_apply()), (std::vector<std::string>{"old2"}));
}

TEST_F(Reconcile, StopFirstUpdateNeverRunsMoreThanTheReplicas) {
  outdated_service();
  for (int round = 0; round < 12; ++round) {
    run_and_apply();
    size_t busy = static_cast<size_t>(
      std::count_if(tasks.begin(), tasks.end(), [](const task_object& t) {
        return !store::is_terminal(t.status.state);
      }));
    EXPECT_LE(busy, 3u);
    workers_act();
  }
  EXPECT_EQ(count(task_state::running, 2), 3u);
  EXPECT_EQ(count(task_state::running, 1), 0u);
}

TEST_F(Reconcile, StartFirstUpdateStopsTheOldTaskOnceTheNewRuns) {
  outdated_service();
  service.spec.update.order = store::update_order::start_first;
  auto p = run_and_apply();
  auto created = creates(p);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].slot, 1u);
  EXPECT_TRUE(shutdowns(p).empty()) << "the old task serves meanwhile";

  workers_act();
  p = run_and_apply();
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{"old1"}));
  ASSERT_EQ(creates(p).size(), 1u) << "next batch";
  EXPECT_EQ(creates(p)[0].slot, 2u);
}

TEST_F(Reconcile, UpdateWithParallelismTwoReplacesTwoSlotsAtOnce) {
  outdated_service();
  service.spec.update.parallelism = 2;
  auto p = run_and_apply();
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{"old1", "old2"}));
  workers_act();
  EXPECT_EQ(creates(run_and_apply()).size(), 2u);
  workers_act();
  EXPECT_EQ(shutdowns(run_and_apply()), (std::vector<std::string>{"old3"}));
}

TEST_F(Reconcile, UpdateWaitsForTheDelayAfterATaskStarted) {
  outdated_service();
  service.spec.update.delay = std::chrono::seconds{10};
  apply(run());
  workers_act();
  apply(run());
  workers_act(); // slot 1 runs version 2 since now
  auto started = now;
  now += 3 * sec;
  auto p = run();
  EXPECT_TRUE(p.actions.empty());
  ASSERT_TRUE(p.wake_at_nanos);
  EXPECT_EQ(*p.wake_at_nanos, started + 10 * sec);
  now = *p.wake_at_nanos;
  EXPECT_EQ(shutdowns(run_and_apply()), (std::vector<std::string>{"old2"}));
}

TEST_F(Reconcile, UpdatePausesWhenUpdatedTasksFail) {
  outdated_service();
  service.spec.restart.condition = store::restart_condition::none;
  apply(run());
  workers_act();
  apply(run());
  workers_act();
  now += sec;
  end(tasks.back().id, task_state::failed, 1); // within the 5s monitor
  auto p = run();
  EXPECT_TRUE(p.actions.empty());
  auto* paused = find_decision(p, "update-paused");
  ASSERT_TRUE(paused);
  EXPECT_TRUE(contains(paused->reason, "1 of 1 updated tasks failed"));
}

TEST_F(Reconcile, UpdateProceedsDespiteFailuresWhenAskedTo) {
  outdated_service();
  service.spec.restart.condition = store::restart_condition::none;
  service.spec.update.on_failure = store::failure_action::proceed;
  apply(run());
  workers_act();
  apply(run());
  workers_act();
  end(tasks.back().id, task_state::failed, 1);
  EXPECT_EQ(shutdowns(run_and_apply()), (std::vector<std::string>{"old2"}));
}

TEST_F(Reconcile, UpdateRerunsATaskThatWasNotRestarted) {
  outdated_service();
  service.spec.restart.condition = store::restart_condition::none;
  service.spec.replicas = 1;
  tasks.resize(1);
  end("old1", task_state::complete);
  auto p = run_and_apply();
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{"old1"}));
  ASSERT_EQ(creates(p).size(), 1u);
  EXPECT_EQ(creates(p)[0].spec_version, 2u);
}

// -- rolling update after a scale-down: sparse slots -------------------------

struct update_case {
  uint32_t parallelism;
  store::update_order order;
};

class SparseSlotUpdate : public Reconcile,
                         public ::testing::WithParamInterface<update_case> {
 protected:
  /// Nine slots, 1-5 on n1 and 6-9 on n2, scaled down to six: slots 4, 5
  /// and 9 go (the busiest node first), leaving {1, 2, 3, 6, 7, 8}.
  std::set<uint64_t> scaled_down_service() {
    add_node("n1");
    add_node("n2");
    for (uint64_t slot = 1; slot <= 9; ++slot)
      add_task(slot, slot <= 5 ? "n1" : "n2", task_state::running);
    service.spec.replicas = 6;
    run_and_apply();
    workers_act();
    std::set<uint64_t> live;
    for (auto& t : tasks)
      if (t.desired_state <= task_state::running)
        live.insert(t.slot);
    return live;
  }
};

TEST_P(SparseSlotUpdate, EveryReplacementKeepsItsSlot) {
  auto live = scaled_down_service();
  ASSERT_EQ(live, (std::set<uint64_t>{1, 2, 3, 6, 7, 8}));
  service.spec_version = 2;
  service.spec.update.parallelism = GetParam().parallelism;
  service.spec.update.order = GetParam().order;
  for (int round = 0; round < 40
                      && (count(task_state::running, 2) < 6
                          || count(task_state::running, 1) > 0);
       ++round) {
    now += sec;
    for (auto& created : creates(run_and_apply()))
      EXPECT_EQ(live.count(created.slot), 1u)
        << "task " << created.id << " replaces into slot " << created.slot;
    workers_act(round % 2 == 0 ? "n1" : "n2");
  }
  std::multiset<uint64_t> running_slots;
  for (auto& t : tasks)
    if (t.status.state == task_state::running)
      running_slots.insert(t.slot);
  EXPECT_EQ(running_slots, (std::multiset<uint64_t>{1, 2, 3, 6, 7, 8}));
  EXPECT_EQ(count(task_state::running, 2), 6u);
}

INSTANTIATE_TEST_SUITE_P(
  OrdersAndParallelism, SparseSlotUpdate,
  ::testing::Values(update_case{1, store::update_order::stop_first},
                    update_case{2, store::update_order::stop_first},
                    update_case{1, store::update_order::start_first},
                    update_case{2, store::update_order::start_first}),
  [](const auto& info) {
    return fmt::format("Parallelism{}{}", info.param.parallelism,
                       info.param.order == store::update_order::stop_first
                         ? "StopFirst"
                         : "StartFirst");
  });

TEST_F(Reconcile, ScaleDownMarksTasksRemoveAndDeletesThemOnceStopped) {
  add_node("n1");
  for (uint64_t slot = 1; slot <= 3; ++slot)
    add_task(slot, "n1", task_state::running);
  service.spec.replicas = 2;
  auto p = run_and_apply();
  ASSERT_EQ(shutdowns(p), (std::vector<std::string>{"old3"}));
  EXPECT_EQ(task("old3").desired_state, task_state::remove);
  EXPECT_TRUE(removals(p).empty()) << "it still runs";
  workers_act();
  EXPECT_EQ(removals(run_and_apply()), (std::vector<std::string>{"old3"}));
  EXPECT_EQ(tasks.size(), 2u);
}

// -- global mode --------------------------------------------------------------

class GlobalReconcile : public Reconcile {
 protected:
  void SetUp() override {
    Reconcile::SetUp();
    service.spec.mode = store::service_mode::global;
    add_node("n1");
    add_node("n2");
  }
};

TEST_F(GlobalReconcile, CreatesOneTaskPerNodeIncludingOneJoiningLater) {
  auto p = run_and_apply();
  auto created = creates(p);
  ASSERT_EQ(created.size(), 2u);
  EXPECT_EQ(created[0].node_id, "n1");
  EXPECT_EQ(created[1].node_id, "n2");
  EXPECT_EQ(created[0].slot, 0u);
  workers_act();
  add_node("n3");
  created = creates(run_and_apply());
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].node_id, "n3");
}

TEST_F(GlobalReconcile, DrainedNodeLosesItsTaskWithoutReplacement) {
  apply(run());
  workers_act();
  node("n2").avail = store::availability::drain;
  auto p = run_and_apply();
  ASSERT_EQ(shutdowns(p).size(), 1u);
  EXPECT_EQ(task(shutdowns(p)[0]).node_id, "n2");
  EXPECT_TRUE(creates(p).empty());
}

TEST_F(GlobalReconcile, IneligibleNodeGetsNoTaskAndLosesItsOwn) {
  eligible = [](const node_object& n) { return n.id != "n2"; };
  auto created = creates(run_and_apply());
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].node_id, "n1");

  auto& stale = add_task(0, "n2", task_state::running);
  auto id = stale.id;
  auto p = run_and_apply();
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{id}));
  EXPECT_TRUE(contains(p.decisions[0].reason, "constraints"));
}

TEST_F(GlobalReconcile, RestartPolicyAppliesPerNode) {
  apply(run());
  workers_act();
  auto on_n2 = tasks[1].id;
  end(on_n2, task_state::failed, 1);
  auto p = run_and_apply();
  auto created = creates(p);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].node_id, "n2");
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{on_n2}));
}

// -- removal, history, determinism --------------------------------------------

TEST_F(Reconcile, RemovedServiceStopsLiveTasksAndRemovesFinishedOnes) {
  add_node("n1");
  auto live = add_task(1, "n1", task_state::running).id;
  auto done = add_task(2, "n1", task_state::failed).id;
  auto pending = add_task(3, "", task_state::pending).id;
  auto& stopping = add_task(3, "n1", task_state::running);
  stopping.desired_state = task_state::shutdown;
  service_removed = true;
  auto p = run_and_apply();
  EXPECT_EQ(shutdowns(p), (std::vector<std::string>{live}));
  auto removed = removals(p);
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{done, pending}));
  workers_act();
  EXPECT_EQ(removals(run_and_apply()).size(), 2u);
  EXPECT_TRUE(tasks.empty());
}

TEST_F(Reconcile, HistoryLimitRemovesTheOldestFinishedTasksPerSlot) {
  service.spec.replicas = 1;
  history_limit = 2;
  add_node("n1");
  std::vector<std::string> finished;
  for (int i = 0; i < 4; ++i) {
    auto& t = add_task(1, "n1", task_state::failed, 1 + i);
    t.desired_state = task_state::shutdown;
    finished.push_back(t.id);
  }
  add_task(1, "n1", task_state::running, 10);
  auto p = run_and_apply();
  EXPECT_EQ(removals(p), (std::vector<std::string>{finished[0], finished[1]}));
}

TEST_F(Reconcile, HistoryKeepsAFinishedTaskThatHoldsItsSlot) {
  service.spec.restart.condition = store::restart_condition::none;
  service.spec.replicas = 1;
  history_limit = 0;
  add_node("n1");
  auto id = add_task(1, "n1", task_state::complete).id;
  EXPECT_TRUE(run().actions.empty());
  EXPECT_EQ(task(id).desired_state, task_state::running);
}

TEST_F(Reconcile, TasksLeftOnARemovedNodeBecomeHistory) {
  service.spec.replicas = 1;
  history_limit = 0;
  add_node("n1");
  auto& lost = add_task(1, "gone", task_state::running);
  lost.desired_state = task_state::shutdown;
  auto id = lost.id;
  add_task(1, "n1", task_state::running, 2);
  EXPECT_EQ(removals(run_and_apply()), (std::vector<std::string>{id}));
}

TEST_F(Reconcile, SameInputsInAnyOrderGiveTheSamePlan) {
  add_node("n1");
  add_node("n2").status = store::node_status::down;
  add_task(1, "n1", task_state::failed);
  add_task(2, "n2", task_state::running, 2);
  add_task(4, "n1", task_state::running, 3);
  service.spec_version = 2;
  auto first = run();
  std::reverse(tasks.begin(), tasks.end());
  std::reverse(nodes.begin(), nodes.end());
  new_tasks = 0;
  auto second = run();
  ASSERT_EQ(first.decisions.size(), second.decisions.size());
  for (size_t i = 0; i < first.decisions.size(); ++i) {
    EXPECT_EQ(first.decisions[i].action, second.decisions[i].action);
    EXPECT_EQ(first.decisions[i].task_id, second.decisions[i].task_id);
    EXPECT_EQ(first.decisions[i].reason, second.decisions[i].reason);
  }
  EXPECT_EQ(first.actions.size(), second.actions.size());
}

TEST_F(Reconcile, AppliedPlanLeavesNothingToDoThroughAStormyLife) {
  add_node("n1");
  add_node("n2");
  // Each round changes the world; run_and_apply checks the second run.
  for (int round = 0; round < 20; ++round) {
    now += sec;
    run_and_apply();
    workers_act(round % 2 == 0 ? "n1" : "n2");
    if (round == 3 && !tasks.empty())
      end(tasks.front().id, task_state::failed, 1);
    if (round == 5)
      node("n2").status = store::node_status::down;
    if (round == 7)
      service.spec.replicas = 5;
    if (round == 9) {
      service.spec_version = 2;
      service.spec.update.parallelism = 2;
    }
    if (round == 12)
      service.spec.replicas = 2;
    if (round == 14)
      node("n2").status = store::node_status::ready;
  }
  EXPECT_EQ(count(task_state::running, 2), 2u);
  EXPECT_TRUE(run().actions.empty());
}

} // namespace
} // namespace skep::reconciler
