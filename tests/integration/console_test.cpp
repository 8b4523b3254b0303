// The message console against real skepd processes on loopback: the example
// scripts under tests/console (create and converge, a worker killed and its
// tasks rescheduled with the reconcile events that explain it, a manager
// partitioned and healed), `skep events`, and bad input that sends nothing.

#include "tests/support/swarm_fixture.hpp"

#include <csignal>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skep {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

class Console : public test::swarm_fixture {
 protected:
  ~Console() override {
    // Task processes outlive a SIGKILLed skepd: none may outlive the test.
    for (auto pid : test::processes_under(tmp.path()))
      kill(pid, SIGKILL);
  }

  /// `skep console SCRIPT` on `on`, with `--var` definitions.
  test::command_result script(const std::string& on, const std::string& path,
                              std::vector<std::string> vars = {}) {
    std::vector<std::string> args{"console", path};
    for (auto& v : vars) {
      args.push_back("--var");
      args.push_back(v);
    }
    std::vector<std::string> argv{SKEP_PATH, "-H", nodes[on].host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_command(argv, {}, 150s);
  }

  /// Writes `text` to a script file in the test's directory.
  std::string write_script(const std::string& name, const std::string& text) {
    auto path = tmp.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  void workers(const std::string& manager, std::vector<std::string> names) {
    for (auto& name : names)
      ASSERT_NO_FATAL_FAILURE(join(name, manager, "worker"));
    ASSERT_TRUE(eventually([&] {
      auto list = node_list(manager);
      return count(list, "Status", "Ready") == int(names.size()) + 1;
    }));
  }

  size_t service_count(const std::string& on) {
    auto r = skep(on, {"service", "ls", "-q"});
    size_t lines = 0;
    for (char c : r.out)
      lines += c == '\n';
    return lines;
  }
};

const std::string scripts = SKEP_CONSOLE_SCRIPTS;

TEST_F(Console, CreateScriptConvergesAndShowsTheDecisions) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  ASSERT_NO_FATAL_FAILURE(workers("m1", {"w1", "w2"}));
  auto r = script("m1", scripts + "/converge.skep");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("created service "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reconcilerState = ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("desired = \"replicated 6\""), std::string::npos)
    << r.out;
  EXPECT_NE(r.out.find("reconciler/web"), std::string::npos) << r.out;
  // The events it waited for are there for `skep events` too.
  auto events = skep("m1", {"events", "--until", "0s", "--filter",
                            "type=reconcile", "--format", "json"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  bool created = false;
  std::istringstream lines{events.out};
  for (std::string line; std::getline(lines, line);) {
    auto e = json::parse(line);
    EXPECT_EQ(e["type"], "reconcile");
    if (e["service"] == "web" && e["action"] == "create") {
      created = true;
      EXPECT_GT(e["raftIndex"].get<uint64_t>(), 0u) << line;
      EXPECT_EQ(e["decisions"].size(), 6u) << line;
      EXPECT_EQ(e["desired"], "replicated 6") << line;
    }
  }
  EXPECT_TRUE(created) << events.out;
}

TEST_F(Console, KilledWorkerIsExplainedByReconcileEvents) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  ASSERT_NO_FATAL_FAILURE(workers("m1", {"w1", "w2"}));
  auto pid = nodes["w2"].proc->pid();
  auto r = script("m1", scripts + "/reschedule.skep",
                  {"W2_PID=" + std::to_string(pid)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // `watch` printed the decisions as they were made.
  EXPECT_NE(r.out.find("reconcile api"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is down"), std::string::npos) << r.out;
}

TEST_F(Console, PartitionedManagerIsHealed) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  ASSERT_NO_FATAL_FAILURE(join("m2", "m1", "manager"));
  ASSERT_NO_FATAL_FAILURE(join("m3", "m1", "manager"));
  // Both joined managers vote: a learner shows Reachable too, and cutting
  // off the one voter besides m1 would leave no quorum (and nobody to mark
  // m3 down).
  ASSERT_TRUE(eventually([&] { return raft_voters("m1") == 3; }));
  auto r = script("m1", scripts + "/partition.skep");
  if (r.exit_code != 0) {
    nodes["m3"].proc->wait_for_output("never printed", 200ms);
    nodes["m1"].proc->wait_for_output("never printed", 200ms);
  }
  ASSERT_EQ(r.exit_code, 0)
    << r.out << r.err << skep("m1", {"node", "ls"}).out
    << nodes["m3"].proc->output() << nodes["m1"].proc->output();
  auto inspect = skep("m1", {"node", "inspect", "m1"});
  EXPECT_NE(inspect.out.find("during"), std::string::npos) << inspect.out;
}

TEST_F(Console, FailedExpectNamesTheLineAndWhatWasSeen) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  auto path = write_script("fails.skep", "# nothing runs\n"
                                         "expect leader elected\n"
                                         "expect service web running 3\n"
                                         "echo not reached\n");
  auto r = script("m1", path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("fails.skep:3: expect service web running 3"),
            std::string::npos)
    << r.err;
  EXPECT_EQ(r.out.find("not reached"), std::string::npos) << r.out;
}

TEST_F(Console, TimedOutWaitNamesTheLine) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  auto path = write_script("waits.skep", "wait node nobody ready timeout 1s\n");
  auto r = script("m1", path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("waits.skep:1:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("timed out after 1s"), std::string::npos) << r.err;
}

TEST_F(Console, BadMessagesAreRefusedBeforeAnythingIsSent) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  struct bad {
    std::string line;
    std::string says;
  };
  std::vector<bad> cases = {
    {"call schedular inspect", "unknown actor 'schedular'"},
    {"call scheduler reconcile", "scheduler"},
    {"call leader/controlapi serviceCreate (name = \"web\", replicsa = 3)",
     "replicsa"},
    {"call leader/controlapi serviceCreate (name = 3)", "column"},
    {"call leader/controlapi serviceCreate (name = \"web\"", "is never closed"},
    {"call leader/controlapi deliver (actor = \"scheduler\", envelope = "
     "0x\"00\")",
     "is not an envelope"},
  };
  for (const auto& c : cases) {
    auto path = write_script("bad.skep", "echo start\n" + c.line + "\n");
    auto r = script("m1", path);
    EXPECT_NE(r.exit_code, 0) << c.line;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.line << "\n" << r.err;
  }
  EXPECT_EQ(service_count("m1"), 0u);
}

TEST_F(Console, WorkerNodeAnswersThatItIsNoManager) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  ASSERT_NO_FATAL_FAILURE(workers("m1", {"w1"}));
  auto path = write_script("w.skep", "call scheduler inspect\n");
  auto r = script("w1", path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a swarm manager"), std::string::npos) << r.err;
}

TEST_F(Console, PipedStepsRunAsAScriptAndAnUnclosedParenIsReported) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  auto piped = [&](const std::string& text) {
    return test::run_command(
      {"/bin/sh", "-c",
       "printf '%s' \"$STEPS\" | \"$SKEP\" -H \"$HOST\" console"},
      {{"STEPS", text}, {"SKEP", SKEP_PATH}, {"HOST", nodes["m1"].host()}});
  };
  auto ok = piped("echo first\nexpect leader elected\necho second\n");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("first\nsecond\n"), std::string::npos) << ok.out;
  auto unclosed = piped("echo first\n"
                        "call leader/controlapi serviceCreate (name = \"web\"\n"
                        "echo never\n");
  EXPECT_EQ(unclosed.exit_code, 2) << unclosed.out << unclosed.err;
  EXPECT_NE(unclosed.err.find("<stdin>: line 2"), std::string::npos)
    << unclosed.err;
  EXPECT_NE(unclosed.err.find("never closed"), std::string::npos)
    << unclosed.err;
  EXPECT_EQ(unclosed.out.find("first"), std::string::npos) << unclosed.out;
}

TEST_F(Console, AScriptIsCheckedWholeBeforeAnythingIsSent) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  auto path = write_script(
    "late.skep",
    "echo start\n"
    "call leader/controlapi serviceCreate (name = \"web\", replicas = 1,\n"
    "  container = (image = \"sleep\", args = [\"1000\"]))\n"
    "echo created\n"
    "expect leader elected\n"
    "call scheduler inspect\n"
    "echo six\n"
    "echo seven\n"
    "call leader/controlapi servceList\n");
  auto r = script("m1", path);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("late.skep: line 9: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("servceList"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("start"), std::string::npos) << r.out;
  EXPECT_EQ(service_count("m1"), 0u);
}

TEST_F(Console, AReconcilerOfNoServiceIsRefusedAtOnce) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  auto path = write_script("nosuch.skep", "call reconciler/nosuch inspect\n");
  auto r = script("m1", path);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("service nosuch not found"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("in time"), std::string::npos) << r.err;
}

} // namespace
} // namespace skep
