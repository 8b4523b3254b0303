// The sim runtime: scripted failures and exits on a virtual clock, stop and
// kill semantics, host ports, recovery, determinism.

#include "runtime-adapters/sim.hpp"

#include <csignal>

#include <gtest/gtest.h>

namespace skep::runtime {
namespace {

constexpr int64_t second = 1'000'000'000;

task_spec make_spec(std::string id, std::string image = "app") {
  task_spec spec;
  spec.task_id = std::move(id);
  spec.service_name = "web";
  spec.slot = 1;
  spec.container.image = std::move(image);
  return spec;
}

class SimAdapter : public ::testing::Test {
 protected:
  started run(const std::string& id, const std::string& image = "app") {
    auto prepared = rt.prepare(make_spec(id, image));
    EXPECT_TRUE(prepared) << prepared.error().message;
    auto out = rt.start(id);
    EXPECT_TRUE(out) << out.error().message;
    return out ? *out : started{};
  }

  sim_adapter rt;
};

TEST_F(SimAdapter, UnscriptedTaskRunsUntilStopped) {
  run("t1");
  rt.advance(3600 * second);
  EXPECT_TRUE(rt.reap().empty());
  EXPECT_TRUE(rt.is_running("t1"));
  EXPECT_EQ(rt.running_count(), 1u);
  EXPECT_EQ(rt.start_count(), 1u);
}

TEST_F(SimAdapter, StopEndsTaskWithSigterm) {
  run("t1");
  ASSERT_TRUE(rt.stop("t1"));
  EXPECT_FALSE(rt.is_running("t1"));
  auto exits = rt.reap();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].first, "t1");
  EXPECT_EQ(exits[0].second.signal, SIGTERM);
  EXPECT_EQ(exits[0].second.exit_code, 128 + SIGTERM);
  EXPECT_EQ(exits[0].second.message, "killed by signal 15");
  EXPECT_TRUE(rt.reap().empty());
}

TEST_F(SimAdapter, TaskIgnoringSigtermSurvivesStopButNotKill) {
  behaviour stubborn;
  stubborn.ignore_sigterm = true;
  rt.script("app", stubborn);
  run("t1");
  ASSERT_TRUE(rt.stop("t1"));
  EXPECT_TRUE(rt.reap().empty());
  EXPECT_TRUE(rt.is_running("t1"));
  ASSERT_TRUE(rt.kill("t1"));
  auto exits = rt.reap();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].second.signal, SIGKILL);
  EXPECT_EQ(exits[0].second.message, "killed by signal 9");
  EXPECT_EQ(rt.running_count(), 0u);
}

TEST_F(SimAdapter, ScriptedTaskExitsWhenItsTimeComes) {
  behaviour job;
  job.run_for_nanos = 5 * second;
  job.exit_code = 2;
  rt.script("job", job);
  run("t1", "job");
  rt.advance(5 * second - 1);
  EXPECT_TRUE(rt.reap().empty());
  rt.advance(1);
  auto exits = rt.reap();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].second.exit_code, 2);
  EXPECT_EQ(exits[0].second.signal, 0);
  EXPECT_EQ(exits[0].second.message, "exited with code 2");
}

TEST_F(SimAdapter, ExitsComeOutEarliestFirst) {
  behaviour slow, fast;
  slow.run_for_nanos = 2 * second;
  fast.run_for_nanos = 1 * second;
  rt.script("slow", slow);
  rt.script("fast", fast);
  run("a", "slow");
  run("b", "fast");
  rt.advance(10 * second);
  auto exits = rt.reap();
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[0].first, "b");
  EXPECT_EQ(exits[1].first, "a");
}

TEST_F(SimAdapter, KillAfterTheExitKeepsTheExitStatus) {
  behaviour job;
  job.run_for_nanos = 0;
  job.exit_code = 1;
  rt.script("job", job);
  run("t1", "job");
  ASSERT_TRUE(rt.kill("t1"));
  auto exits = rt.reap();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].second.exit_code, 1);
}

TEST_F(SimAdapter, ScriptedPrepareFailureCarriesItsMessage) {
  behaviour missing;
  missing.fail_prepare = "image \"gone\" not found";
  rt.script("gone", missing);
  auto prepared = rt.prepare(make_spec("t1", "gone"));
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code, errc::not_found);
  EXPECT_EQ(prepared.error().message, "image \"gone\" not found");
  EXPECT_EQ(rt.start("t1").error().code, errc::not_found);
}

TEST_F(SimAdapter, ScriptedStartFailureLeavesTaskRemovable) {
  behaviour broken;
  broken.fail_start = "exec format error";
  rt.script("broken", broken);
  ASSERT_TRUE(rt.prepare(make_spec("t1", "broken")));
  auto out = rt.start("t1");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "exec format error");
  EXPECT_EQ(rt.start_count(), 0u);
  EXPECT_EQ(rt.start("t1").error().code, errc::invalid_argument);
  EXPECT_TRUE(rt.remove("t1"));
}

TEST_F(SimAdapter, ScriptsApplyToTasksPreparedLater) {
  run("t1");
  behaviour job;
  job.run_for_nanos = second;
  rt.script("app", job);
  run("t2");
  rt.advance(second);
  auto exits = rt.reap();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].first, "t2");
  EXPECT_TRUE(rt.is_running("t1"));
}

TEST_F(SimAdapter, HostPortsArePerTarget) {
  auto spec = make_spec("t1");
  spec.ports = {{80, 8080, "tcp"}, {0, 9090, "tcp"}, {81, 8080, "udp"}};
  ASSERT_TRUE(rt.prepare(spec));
  auto out = rt.start("t1");
  ASSERT_TRUE(out);
  ASSERT_EQ(out->host_ports.size(), 3u);
  EXPECT_EQ(out->host_ports[0], out->host_ports[2]);
  EXPECT_NE(out->host_ports[0], out->host_ports[1]);
}

TEST_F(SimAdapter, SameCallsGiveSameResults) {
  sim_adapter other;
  auto spec = make_spec("t1");
  spec.ports = {{80, 8080, "tcp"}};
  ASSERT_TRUE(rt.prepare(spec));
  ASSERT_TRUE(other.prepare(spec));
  auto x = rt.start("t1");
  auto y = other.start("t1");
  ASSERT_TRUE(x && y);
  EXPECT_EQ(x->pid, y->pid);
  EXPECT_EQ(x->host_ports, y->host_ports);
}

TEST_F(SimAdapter, RemoveRefusesRunningTask) {
  run("t1");
  EXPECT_EQ(rt.remove("t1").error().code, errc::invalid_argument);
  EXPECT_FALSE(rt.purge("t1"));
  ASSERT_TRUE(rt.kill("t1"));
  // Ended but not reaped yet still counts as running.
  EXPECT_FALSE(rt.remove("t1"));
  rt.reap();
  EXPECT_TRUE(rt.remove("t1"));
  EXPECT_TRUE(rt.purge("t1"));
  EXPECT_EQ(rt.stop("t1").error().code, errc::not_found);
}

TEST_F(SimAdapter, TaskIsPreparedAndStartedOnce) {
  run("t1");
  EXPECT_EQ(rt.prepare(make_spec("t1")).error().code, errc::already_exists);
  EXPECT_EQ(rt.start("t1").error().code, errc::invalid_argument);
}

TEST_F(SimAdapter, InvalidSpecsAreRefused) {
  EXPECT_EQ(rt.prepare(make_spec("../x")).error().code, errc::invalid_argument);
  EXPECT_EQ(rt.prepare(make_spec("t1", "")).error().code,
            errc::invalid_argument);
  auto spec = make_spec("t1");
  spec.container.env = {"NOVALUE"};
  EXPECT_EQ(rt.prepare(spec).error().code, errc::invalid_argument);
  spec.container.env = {"A=1", "A=2"};
  EXPECT_EQ(rt.prepare(spec).error().code, errc::invalid_argument);
  spec.container.env = {};
  spec.ports = {{80, 0, "tcp"}};
  EXPECT_EQ(rt.prepare(spec).error().code, errc::invalid_argument);
  spec.ports = {{80, 8080, "sctp"}};
  EXPECT_EQ(rt.prepare(spec).error().code, errc::invalid_argument);
  EXPECT_EQ(rt.stop("a/b").error().code, errc::invalid_argument);
}

TEST_F(SimAdapter, RecoveredTasksAreListedUntilKilled) {
  rt.add_recovered("old1", true);
  rt.add_recovered("old2", false);
  auto found = rt.recover();
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].task_id, "old1");
  EXPECT_TRUE(found[0].alive);
  EXPECT_FALSE(found[1].alive);
  EXPECT_FALSE(rt.purge("old1"));
  ASSERT_TRUE(rt.kill_recovered("old1"));
  EXPECT_EQ(rt.recover().size(), 1u);
  EXPECT_EQ(rt.kill_recovered("old1").error().code, errc::not_found);
}

TEST_F(SimAdapter, HasNoLogs) {
  run("t1");
  EXPECT_TRUE(rt.log_path("t1").empty());
}

} // namespace
} // namespace skep::runtime
