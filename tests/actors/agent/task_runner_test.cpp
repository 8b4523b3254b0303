// A task runner over the sim runtime under the test coordinator: the states
// it reports to its agent, stopping with a grace period of virtual time,
// and the tasks it must not start.

#include "actors/agent/task_runner.hpp"
#include "runtime-adapters/sim.hpp"
#include "tests/support/actor_fixture.hpp"

#include <atomic>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

namespace skep::store {
// Task states by name in assertion failures.
static void PrintTo(task_state state, std::ostream* os) {
  *os << to_string(state);
}
} // namespace skep::store

namespace skep::agent {
namespace {

using namespace std::chrono_literals;
using store::task_state;

/// What the runner told its agent, in order.
struct report_log {
  std::vector<std::pair<std::string, store::task_status>> reports;

  std::vector<task_state> states() const {
    std::vector<task_state> out;
    for (const auto& [id, status] : reports)
      out.push_back(status.state);
    return out;
  }

  /// The last report, or a default status when there was none.
  store::task_status last() const {
    return reports.empty() ? store::task_status{} : reports.back().second;
  }
};

caf::behavior fake_agent(caf::event_based_actor*,
                         std::shared_ptr<report_log> log) {
  return {
    [log](atom::report, const std::string& id,
          const store::task_status& status) {
      log->reports.emplace_back(id, status);
    },
  };
}

store::task_object assigned_task(const std::string& image = "busybox") {
  store::task_object t;
  t.id = "task-1";
  t.service_id = "web";
  t.slot = 1;
  t.node_id = "node-a";
  t.spec_version = 1;
  t.container.image = image;
  t.container.args = {"sleep", "1000"};
  t.container.stop_grace = 3s;
  t.status.state = task_state::assigned;
  t.status.message = "assigned";
  return t;
}

class TaskRunner : public test::actor_fixture {
 protected:
  TaskRunner()
    : sim(std::make_shared<runtime::sim_adapter>()),
      log(std::make_shared<report_log>()) {
    agent = sys.spawn(fake_agent, log);
    starter = spawn_task_starter(sys, sim, true);
  }

  ~TaskRunner() override {
    if (runner)
      caf::anon_send_exit(runner, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(starter, caf::exit_reason::user_shutdown);
    run();
  }

  void start(store::task_object t) {
    runner = spawn_task_runner(sys, std::move(t), sim, agent, starter);
    run();
  }

  /// Hands the runner what the sim runtime reaped, as the agent does.
  void reap() {
    for (auto& [id, exit] : sim->reap())
      caf::anon_send(runner, atom::exited_v, exit);
    run();
  }

  std::shared_ptr<runtime::sim_adapter> sim;
  std::shared_ptr<report_log> log;
  caf::actor agent;
  caf::actor starter;
  caf::actor runner;
};

TEST_F(TaskRunner, AssignedTaskReportsEachStateUpToRunning) {
  start(assigned_task());
  EXPECT_EQ(log->states(), (std::vector<task_state>{
                             task_state::accepted, task_state::preparing,
                             task_state::starting, task_state::running}));
  for (const auto& [id, status] : log->reports)
    EXPECT_EQ(id, "task-1");
  EXPECT_EQ(log->last().message, "started");
  EXPECT_TRUE(sim->is_running("task-1"));
  EXPECT_EQ(sim->start_count(), 1u);
}

TEST_F(TaskRunner, NonZeroExitIsAFailure) {
  runtime::behaviour crash;
  crash.run_for_nanos = 2'000'000'000;
  crash.exit_code = 1;
  sim->script("crasher", crash);
  start(assigned_task("crasher"));
  ASSERT_EQ(log->last().state, task_state::running);

  sim->advance(2'000'000'000);
  reap();
  ASSERT_EQ(log->reports.size(), 5u);
  EXPECT_EQ(log->last().state, task_state::failed);
  EXPECT_EQ(log->last().exit_code, 1);
  EXPECT_NE(log->last().err.find("non-zero exit"), std::string::npos)
    << log->last().err;
}

TEST_F(TaskRunner, ExitCodeOneHandedByTheAgentIsAFailure) {
  start(assigned_task());
  caf::anon_send(runner, atom::exited_v,
                 runtime::exit_status{1, 0, "exited with code 1"});
  run();
  EXPECT_EQ(log->last().state, task_state::failed);
  EXPECT_EQ(log->last().exit_code, 1);
  EXPECT_NE(log->last().err.find("non-zero exit"), std::string::npos)
    << log->last().err;
}

TEST_F(TaskRunner, ShutdownStopsTheTaskAndReportsShutdown) {
  start(assigned_task());
  auto latest = assigned_task();
  latest.desired_state = task_state::shutdown;
  caf::anon_send(runner, atom::assign_v, latest);
  run();
  EXPECT_FALSE(sim->is_running("task-1")); // SIGTERM ended it
  reap();
  EXPECT_EQ(log->last().state, task_state::shutdown);
  EXPECT_EQ(log->last().exit_code, 128 + 15);
  advance(3s); // the grace timer finds nothing left to kill
  EXPECT_EQ(log->last().state, task_state::shutdown);
}

TEST_F(TaskRunner, TaskIgnoringSigtermIsKilledAfterTheStopGracePeriod) {
  runtime::behaviour stubborn;
  stubborn.ignore_sigterm = true;
  sim->script("stubborn", stubborn);
  start(assigned_task("stubborn"));
  auto latest = assigned_task("stubborn");
  latest.desired_state = task_state::shutdown;
  caf::anon_send(runner, atom::assign_v, latest);
  run();
  reap();
  EXPECT_TRUE(sim->is_running("task-1"));
  EXPECT_EQ(log->last().state, task_state::running);

  advance(3s - 1ms);
  EXPECT_TRUE(sim->is_running("task-1"));
  advance(1ms);
  EXPECT_FALSE(sim->is_running("task-1")); // SIGKILL
  reap();
  EXPECT_EQ(log->last().state, task_state::shutdown);
  EXPECT_EQ(log->last().exit_code, 128 + 9);
}

TEST_F(TaskRunner, PrepareFailureIsARejection) {
  runtime::behaviour missing;
  missing.fail_prepare = "executable \"nosuch\" not found in PATH";
  sim->script("nosuch", missing);
  start(assigned_task("nosuch"));
  EXPECT_EQ(log->states(), (std::vector<task_state>{task_state::accepted,
                                                    task_state::preparing,
                                                    task_state::rejected}));
  EXPECT_NE(log->last().err.find("not found in PATH"), std::string::npos)
    << log->last().err;
  EXPECT_EQ(sim->start_count(), 0u);
}

TEST_F(TaskRunner, TaskPastPreparingFromAPreviousRunIsLostNotStarted) {
  auto t = assigned_task();
  t.status.state = task_state::running; // the node restarted meanwhile
  start(t);
  ASSERT_EQ(log->states(), (std::vector<task_state>{task_state::failed}));
  EXPECT_EQ(log->last().message, "task lost");
  EXPECT_EQ(sim->start_count(), 0u);
  EXPECT_EQ(sim->running_count(), 0u);
}

TEST_F(TaskRunner, TaskShutDownBeforeItStartedNeverStarts) {
  auto t = assigned_task();
  t.desired_state = task_state::shutdown;
  start(t);
  ASSERT_EQ(log->states(), (std::vector<task_state>{task_state::shutdown}));
  EXPECT_EQ(sim->start_count(), 0u);
}

TEST_F(TaskRunner, DoneKillsATaskThatStillRuns) {
  start(assigned_task());
  ASSERT_TRUE(sim->is_running("task-1"));
  caf::anon_send(runner, atom::done_v);
  run();
  EXPECT_FALSE(sim->is_running("task-1"));
  auto exits = sim->reap();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].second.signal, 9);
}

/// A starter that holds each request until poked: what reaches the runner
/// while a start takes its time. With `began`, the starter is taken to have
/// begun the start before anything arrived: a stop can no longer skip it.
struct held_starts {
  std::vector<std::pair<caf::response_promise, start_request>> held;
  bool began = false;
};

caf::behavior gated_starter(caf::event_based_actor* self, caf::actor real,
                            std::shared_ptr<held_starts> gate) {
  return {
    [=](atom::start, start_request& req) {
      auto rp = self->make_response_promise();
      gate->held.emplace_back(rp, std::move(req));
      return rp;
    },
    [=](atom::poke) {
      for (auto& [rp, req] : gate->held) {
        if (gate->began)
          req.cancelled = std::make_shared<std::atomic<bool>>(false);
        self->request(real, caf::infinite, atom::start_v, req)
          .then([rp = rp](start_outcome& out) mutable {
            rp.deliver(std::move(out));
          });
      }
      gate->held.clear();
    },
  };
}

class TaskRunnerWhileStarting : public TaskRunner {
 protected:
  TaskRunnerWhileStarting() : gate(std::make_shared<held_starts>()) {
    gated = sys.spawn(gated_starter, starter, gate);
  }
  ~TaskRunnerWhileStarting() override {
    caf::anon_send_exit(gated, caf::exit_reason::user_shutdown);
    run();
  }

  /// Starts the runner until its start is held by the gate.
  void start_held(store::task_object t) {
    runner = spawn_task_runner(sys, std::move(t), sim, agent, gated);
    run();
    ASSERT_EQ(gate->held.size(), 1u);
    ASSERT_EQ(log->last().state, task_state::preparing);
  }

  void stop_runner() {
    auto stopped = assigned_task();
    stopped.desired_state = task_state::shutdown;
    caf::anon_send(runner, atom::assign_v, stopped);
    run();
  }

  std::shared_ptr<held_starts> gate;
  caf::actor gated;
};

TEST_F(TaskRunnerWhileStarting, AStopBeforeTheStartBeganSkipsTheStart) {
  start_held(assigned_task());
  stop_runner();
  EXPECT_EQ(log->last().state, task_state::preparing);
  caf::anon_send(gated, atom::poke_v);
  run();
  EXPECT_EQ(sim->start_count(), 0u);
  EXPECT_EQ(log->last().state, task_state::shutdown);
  EXPECT_EQ(log->last().message, "shutdown before it started");
}

TEST_F(TaskRunnerWhileStarting, AStopAfterTheStartBeganStopsTheProcess) {
  start_held(assigned_task());
  gate->began = true;
  stop_runner();
  caf::anon_send(gated, atom::poke_v);
  run();
  EXPECT_EQ(sim->start_count(), 1u);
  reap();
  EXPECT_FALSE(sim->is_running("task-1"));
  EXPECT_EQ(log->last().state, task_state::shutdown);
}

TEST_F(TaskRunnerWhileStarting, DoneKillsWhatTheStarterStartedAfterwards) {
  start_held(assigned_task());
  caf::anon_send(runner, atom::done_v);
  run();
  caf::anon_send(gated, atom::poke_v);
  run();
  EXPECT_EQ(sim->start_count(), 1u);
  EXPECT_FALSE(sim->is_running("task-1"));
  auto exits = sim->reap();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].second.signal, 9);
}

TEST_F(TaskRunnerWhileStarting, AnExitReapedBeforeTheStartersAnswerIsReported) {
  start_held(assigned_task());
  caf::anon_send(gated, atom::poke_v);
  caf::anon_send(runner, atom::exited_v,
                 runtime::exit_status{3, 0, "exited with code 3"});
  run();
  EXPECT_EQ(log->states(),
            (std::vector<task_state>{
              task_state::accepted, task_state::preparing, task_state::starting,
              task_state::running, task_state::failed}));
  EXPECT_EQ(log->last().exit_code, 3);
}

} // namespace
} // namespace skep::agent
