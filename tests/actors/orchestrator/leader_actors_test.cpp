// The leader-only actors under the test coordinator: the orchestrator and
// its reconcilers and the scheduler, writing through a fake manager that
// applies their batches to the shared store at once. The dispatcher's tests
// are in tests/actors/dispatcher.

#include "actors/orchestrator/orchestrator.hpp"
#include "actors/scheduler/scheduler_actor.hpp"
#include "actors/store/object_id.hpp"
#include "tests/support/leader_fixture.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_registry.hpp>
#include <caf/send.hpp>

namespace skep {
namespace {

using namespace std::chrono_literals;
using namespace test;
using store::task_object;
using store::task_state;

/// The fixture, with the actors under test.
class LeaderActors : public test::leader_fixture {
 protected:
  void start_orchestrator_and_scheduler() {
    subscribe(caf::actor_cast<caf::actor>(
      orchestrator::spawn_orchestrator(sys, link())));
    subscribe(
      caf::actor_cast<caf::actor>(scheduler::spawn_scheduler(sys, link())));
  }
};

/// Six wanted tasks, one per slot 1..6, each assigned to a node.
void expect_six_placed(const std::vector<task_object>& tasks) {
  ASSERT_EQ(tasks.size(), 6u);
  std::set<uint64_t> slots;
  for (const auto& t : tasks) {
    slots.insert(t.slot);
    EXPECT_EQ(t.status.state, task_state::assigned) << t.id;
    EXPECT_FALSE(t.node_id.empty()) << t.id;
  }
  EXPECT_EQ(slots, (std::set<uint64_t>{1, 2, 3, 4, 5, 6}));
}

// -- orchestrator, reconcilers, scheduler -------------------------------------

TEST_F(LeaderActors, ServiceOfSixReplicasGetsSixTasksSpreadTwoPerNode) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 6));

  auto reconciler_writes = m->writes_by("reconciler");
  ASSERT_EQ(reconciler_writes.size(), 1u);
  const auto& created = reconciler_writes[0]->actions;
  ASSERT_EQ(count_of<store::put_task>(created), 6u);
  for (const auto& a : created) {
    const auto& t = std::get<store::put_task>(a).task;
    EXPECT_EQ(t.status.state, task_state::pending);
    EXPECT_EQ(t.desired_state, task_state::running);
    EXPECT_TRUE(t.node_id.empty());
  }
  auto tasks = tasks_of("web");
  expect_six_placed(tasks);
  EXPECT_EQ(per_node(tasks), (std::map<std::string, size_t>{
                               {"node-a", 2}, {"node-b", 2}, {"node-c", 2}}));
}

TEST_F(LeaderActors, FailedTaskIsNotReplacedBeforeTheRestartDelay) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 6)); // restart delay: Swarm's 5 s
  auto before = tasks_of("web");
  ASSERT_EQ(before.size(), 6u);
  auto victim = before[2]; // slot 3
  auto failed = status_of(task_state::failed, "task failed");
  failed.exit_code = 1;
  ASSERT_TRUE(write({store::set_task_status{victim.id, failed}}).ok);
  advance(1s);
  EXPECT_EQ(tasks_of("web").size(), 6u);
  EXPECT_EQ(task(victim.id).desired_state, task_state::running);
}

// The restart delay runs on the actor clock: the wake-up that arrives
// re-arms itself until the delay passed (regression: it once stalled).
TEST_F(LeaderActors, FailedTaskIsReplacedInItsSlotAfterTheRestartDelay) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 6));
  auto before = tasks_of("web");
  ASSERT_EQ(before.size(), 6u);
  auto victim = before[2]; // slot 3
  auto failed = status_of(task_state::failed, "task failed");
  failed.exit_code = 1;
  ASSERT_TRUE(write({store::set_task_status{victim.id, failed}}).ok);
  ASSERT_EQ(tasks_of("web").size(), 6u);
  advance(5s + 100ms);
  auto slot = m->db->read([&](const store::store& db) {
    std::vector<task_object> out;
    for (const auto* t : db.tasks_in_slot("web", victim.slot))
      out.push_back(*t);
    return out;
  });
  ASSERT_EQ(slot.size(), 2u);
  EXPECT_EQ(task(victim.id).desired_state, task_state::shutdown);
  auto wanted_now = wanted("web");
  expect_six_placed(wanted_now);
}

TEST_F(LeaderActors, TaskThatFailedLongAgoIsReplacedInItsSlotAtOnce) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 6));
  auto before = tasks_of("web");
  ASSERT_EQ(before.size(), 6u);
  auto victim = before[2]; // slot 3
  auto failed = status_of(task_state::failed, "task failed",
                          test::unix_nanos() - 60'000'000'000);
  failed.exit_code = 1;
  ASSERT_TRUE(write({store::set_task_status{victim.id, failed}}).ok);

  auto old = task(victim.id);
  EXPECT_EQ(old.desired_state, task_state::shutdown);
  EXPECT_EQ(old.status.state, task_state::failed);
  auto now = wanted("web");
  expect_six_placed(now);
  auto fresh = std::find_if(now.begin(), now.end(), [&](const auto& t) {
    return t.slot == victim.slot;
  });
  ASSERT_NE(fresh, now.end());
  EXPECT_NE(fresh->id, victim.id);
}

TEST_F(LeaderActors, TasksOfADownNodeAreReplacedOnTheOtherNodes) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 6));
  std::set<std::string> on_b;
  for (const auto& t : tasks_of("web"))
    if (t.node_id == "node-b")
      on_b.insert(t.id);
  ASSERT_EQ(on_b.size(), 2u);

  ASSERT_TRUE(
    write({store::set_node_status{"node-b", store::node_status::down,
                                  "heartbeat failure", test::unix_nanos()}})
      .ok);

  for (const auto& id : on_b)
    EXPECT_EQ(task(id).desired_state, task_state::shutdown) << id;
  auto now = wanted("web");
  expect_six_placed(now);
  EXPECT_EQ(per_node(now),
            (std::map<std::string, size_t>{{"node-a", 3}, {"node-c", 3}}));
}

// Every decision is an event: what the reconciler saw and wanted, what it
// did to which task and why; where the scheduler put each task.
TEST_F(LeaderActors, DecisionsOfADownNodeAreRecordedAsEvents) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 6));
  auto of = [&](const std::string& type, const std::string& action) {
    std::vector<controlapi::event> out;
    for (const auto& e : m->events)
      if (e.type == type && e.action.find(action) != std::string::npos)
        out.push_back(e);
    return out;
  };
  auto created = of("reconcile", "create");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].service, "svc-web"); // by name
  EXPECT_EQ(created[0].desired, "replicated 6");
  EXPECT_EQ(created[0].decisions.size(), 6u);
  EXPECT_GT(created[0].spec_version, 0u);
  auto assigned = of("schedule", "assign");
  ASSERT_FALSE(assigned.empty());
  size_t placements = 0;
  for (const auto& e : assigned) {
    // One service scheduled: the event names it (`events --filter service=`).
    EXPECT_EQ(e.service, "svc-web");
    for (const auto& d : e.decisions)
      placements += d.action == "assign" && !d.node_id.empty();
  }
  EXPECT_EQ(placements, 6u);

  m->events.clear();
  ASSERT_TRUE(
    write({store::set_node_status{"node-b", store::node_status::down,
                                  "heartbeat failure", test::unix_nanos()}})
      .ok);
  auto moved = of("reconcile", "shutdown");
  ASSERT_EQ(moved.size(), 1u) << m->events.size();
  const auto& e = moved[0];
  // Observed before the decision: the six tasks (no agent runs them here).
  uint32_t observed = 0;
  for (const auto& [state, n] : e.observed)
    observed += n;
  EXPECT_EQ(observed, 6u);
  size_t shutdowns = 0, creates = 0;
  for (const auto& d : e.decisions) {
    if (d.action == "shutdown") {
      ++shutdowns;
      EXPECT_EQ(d.node_id, "node-b");
      EXPECT_NE(d.reason.find("down"), std::string::npos) << d.reason;
    }
    creates += d.action == "create";
  }
  EXPECT_EQ(shutdowns, 2u);
  EXPECT_EQ(creates, 2u);
}

TEST_F(LeaderActors, ScalingDownToTwoShutsDownFourTasksAcrossNodes) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 6));
  scale("web", 2);

  auto all = tasks_of("web");
  EXPECT_EQ(all.size(), 6u);
  auto now = wanted("web");
  ASSERT_EQ(now.size(), 2u);
  EXPECT_NE(now[0].node_id, now[1].node_id);
  // Given up for good: deleted once they have stopped.
  for (const auto& t : all) {
    if (!is_wanted(t)) {
      EXPECT_EQ(t.desired_state, task_state::remove) << t.id;
    }
  }
}

TEST_F(LeaderActors, RemovedServiceTasksAreShutDownThenReapedOnceStopped) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 6));
  ASSERT_TRUE(write({store::remove_service{"web", 0}}).ok);

  auto left = tasks_of("web");
  ASSERT_EQ(left.size(), 6u);
  std::vector<store::action> stopped;
  for (const auto& t : left) {
    EXPECT_EQ(t.desired_state, task_state::shutdown) << t.id;
    stopped.push_back(store::set_task_status{
      t.id, status_of(task_state::shutdown, "shutdown")});
  }
  ASSERT_TRUE(write(stopped).ok);
  EXPECT_TRUE(tasks_of("web").empty());
}

// The reconciler looks again after each write, so the batch that reaps
// the last task of a removed service lets it quit.
TEST_F(LeaderActors, ReconcilerOfARemovedServiceQuitsOnceItsTasksAreReaped) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 6));
  auto with_reconciler = sys.registry().running();
  ASSERT_TRUE(write({store::remove_service{"web", 0}}).ok);
  std::vector<store::action> stopped;
  for (const auto& t : tasks_of("web"))
    stopped.push_back(store::set_task_status{
      t.id, status_of(task_state::shutdown, "shutdown")});
  ASSERT_TRUE(write(stopped).ok);
  ASSERT_TRUE(tasks_of("web").empty());
  EXPECT_EQ(sys.registry().running(), with_reconciler - 1);
}

TEST_F(LeaderActors, UnmatchableConstraintKeepsTasksPendingWithTheReason) {
  start_orchestrator_and_scheduler();
  auto s = make_service("web", 3);
  s.spec.constraints = {"node.labels.zone==mars"};
  put_service(s);

  auto tasks = tasks_of("web");
  ASSERT_EQ(tasks.size(), 3u);
  for (const auto& t : tasks) {
    EXPECT_EQ(t.status.state, task_state::pending) << t.id;
    EXPECT_TRUE(t.node_id.empty()) << t.id;
    EXPECT_NE(t.status.err.find("constraints not satisfied"), std::string::npos)
      << t.status.err;
  }
  // Said once: the scheduler's own write does not make it say it again.
  EXPECT_EQ(m->writes_by("scheduler").size(), 1u);

  auto mars = make_node("node-b");
  mars.labels["zone"] = "mars";
  auto version = m->db->read(
    [](const store::store& db) { return db.node("node-b")->version; });
  ASSERT_TRUE(write({store::put_node{mars, version}}).ok);
  for (const auto& t : tasks_of("web")) {
    EXPECT_EQ(t.status.state, task_state::assigned) << t.id;
    EXPECT_EQ(t.node_id, "node-b");
    EXPECT_TRUE(t.status.err.empty()) << t.status.err;
  }
}

TEST_F(LeaderActors, SchedulerPlacesManyPendingTasksInOnePass) {
  start_orchestrator_and_scheduler();
  put_service(make_service("web", 30));

  auto passes = m->writes_by("scheduler");
  ASSERT_EQ(passes.size(), 1u);
  EXPECT_EQ(count_of<store::assign_task>(passes[0]->actions), 30u);
  EXPECT_EQ(per_node(tasks_of("web")),
            (std::map<std::string, size_t>{
              {"node-a", 10}, {"node-b", 10}, {"node-c", 10}}));
}

TEST_F(LeaderActors, SchedulerWaitsForItsBatchThenPlacesWhatCameMeanwhile) {
  start_orchestrator_and_scheduler();
  m->hold.insert("scheduler");
  put_service(make_service("web", 6));
  ASSERT_EQ(m->writes_by("scheduler").size(), 1u);
  scale("web", 9); // three more pending tasks while the batch is in flight
  EXPECT_EQ(m->writes_by("scheduler").size(), 1u);
  EXPECT_EQ(tasks_of("web").size(), 9u);

  release_held_writes();
  auto passes = m->writes_by("scheduler");
  ASSERT_EQ(passes.size(), 2u);
  EXPECT_EQ(count_of<store::assign_task>(passes[0]->actions), 6u);
  EXPECT_EQ(count_of<store::assign_task>(passes[1]->actions), 3u);
  EXPECT_EQ(per_node(tasks_of("web")),
            (std::map<std::string, size_t>{
              {"node-a", 3}, {"node-b", 3}, {"node-c", 3}}));
}

TEST_F(LeaderActors, ReconcilerWaitsForItsBatchBeforeDecidingAgain) {
  start_orchestrator_and_scheduler();
  m->hold.insert("reconciler");
  put_service(make_service("web", 6));
  ASSERT_EQ(m->writes_by("reconciler").size(), 1u);
  scale("web", 9);
  EXPECT_EQ(m->writes_by("reconciler").size(), 1u);
  EXPECT_TRUE(tasks_of("web").empty());

  release_held_writes();
  auto batches = m->writes_by("reconciler");
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(count_of<store::put_task>(batches[0]->actions), 6u);
  EXPECT_EQ(count_of<store::put_task>(batches[1]->actions), 3u);
  std::set<uint64_t> slots;
  for (const auto& t : tasks_of("web"))
    slots.insert(t.slot);
  EXPECT_EQ(slots, (std::set<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(LeaderActors, ReconcilerRetriesARefusedBatch) {
  start_orchestrator_and_scheduler();
  m->refuse["reconciler"] = 1;
  put_service(make_service("web", 6));
  EXPECT_TRUE(tasks_of("web").empty());
  advance(200ms);
  ASSERT_EQ(m->writes_by("reconciler").size(), 2u);
  expect_six_placed(tasks_of("web"));
}

// A batch the manager refused is decided again half a second later.
TEST_F(LeaderActors, SchedulerRetriesARefusedBatch) {
  start_orchestrator_and_scheduler();
  m->refuse["scheduler"] = 1;
  put_service(make_service("web", 6));
  ASSERT_EQ(m->writes_by("scheduler").size(), 1u);
  for (const auto& t : tasks_of("web"))
    ASSERT_EQ(t.status.state, task_state::pending);
  advance(1s);
  expect_six_placed(tasks_of("web"));
}

TEST_F(LeaderActors, OrchestratorStopsAndReapsTasksWhoseServiceIsGone) {
  // Left behind by a previous leader: the service is gone, its tasks not.
  put_service(make_service("old", 2));
  auto tasks = placed_task("t-1", "old", 1, "node-a");
  auto more = placed_task("t-2", "old", 2, "node-b");
  tasks.insert(tasks.end(), more.begin(), more.end());
  tasks.push_back(store::remove_service{"old", 0});
  ASSERT_TRUE(write(tasks).ok);

  start_orchestrator_and_scheduler();
  EXPECT_EQ(task("t-1").desired_state, task_state::shutdown);
  EXPECT_EQ(task("t-2").desired_state, task_state::shutdown);
  ASSERT_TRUE(write({store::set_task_status{
                       "t-1", status_of(task_state::shutdown, "shutdown")},
                     store::set_task_status{
                       "t-2", status_of(task_state::shutdown, "shutdown")}})
                .ok);
  EXPECT_TRUE(tasks_of("old").empty());
}

} // namespace
} // namespace skep
