// The process runtime with real processes: output and exit codes, the
// environment a task gets, working directories, image errors, signals to the
// whole process group, the memory limit, and recovery after a restart.

#include "runtime-adapters/process.hpp"
#include "runtime-adapters/process_posix.hpp"
#include "tests/support/process.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

namespace skep::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& path) {
  std::ifstream in{path};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// True once `pid` no longer runs: gone, or a zombie nobody reaped yet.
bool process_gone(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return true;
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size()
         && (line[paren + 2] == 'Z' || line[paren + 2] == 'X');
}

/// Polls `done` every few milliseconds until it holds or 10 s passed.
template <class Predicate>
bool eventually(Predicate done) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class ProcessAdapter : public ::testing::Test {
 protected:
  void TearDown() override {
    // Whatever a failed test left running.
    for (pid_t pid : pids_) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  task_spec shell(std::string id, std::string script) {
    task_spec spec;
    spec.task_id = std::move(id);
    spec.service_name = "web";
    spec.slot = 1;
    spec.container.image = "/bin/sh";
    spec.container.args = {"-c", std::move(script)};
    return spec;
  }

  started run(const task_spec& spec) {
    auto prepared = rt_->prepare(spec);
    EXPECT_TRUE(prepared) << prepared.error().message;
    auto out = rt_->start(spec.task_id);
    EXPECT_TRUE(out) << out.error().message;
    if (!out)
      return {};
    pids_.push_back(static_cast<pid_t>(out->pid));
    return *out;
  }

  /// The task's exit, polling reap(); exit code -99 when it did not come.
  exit_status await_exit(const std::string& id) {
    bool seen = eventually([&] {
      for (auto& [task, how] : rt_->reap())
        exits_[task] = how;
      return exits_.count(id) > 0;
    });
    if (!seen)
      return {-99, 0, "no exit"};
    return exits_[id];
  }

  std::string log_of(const std::string& id) {
    return read_file(rt_->log_path(id));
  }

  bool await_log(const std::string& id, const std::string& needle) {
    return eventually(
      [&] { return log_of(id).find(needle) != std::string::npos; });
  }

  test::temp_dir tmp_;
  fs::path state_ = fs::path{tmp_.path()} / "tasks";
  std::unique_ptr<process_adapter> rt_
    = std::make_unique<process_adapter>(state_);
  std::vector<pid_t> pids_;
  std::map<std::string, exit_status> exits_;
};

TEST_F(ProcessAdapter, ReapsExitCodeWithBothStreamsInTheLog) {
  run(shell("t1", "echo hi; echo err >&2; exit 3"));
  auto how = await_exit("t1");
  EXPECT_EQ(how.exit_code, 3);
  EXPECT_EQ(how.signal, 0);
  EXPECT_EQ(how.message, "exited with code 3");
  EXPECT_EQ(rt_->log_path("t1"), state_ / "t1" / "task.log");
  EXPECT_EQ(log_of("t1"), "hi\nerr\n");
}

TEST_F(ProcessAdapter, ExitIsReportedOnce) {
  run(shell("t1", "exit 0"));
  EXPECT_EQ(await_exit("t1").exit_code, 0);
  EXPECT_TRUE(rt_->reap().empty());
}

TEST_F(ProcessAdapter, TaskGetsEnvironmentAndPortVariables) {
  ::setenv("SKEP_TEST_NOT_PASSED", "1", 1);
  rt_ = std::make_unique<process_adapter>(state_);
  auto spec = shell("t1", "env");
  spec.service_name = "api";
  spec.slot = 3;
  spec.container.env = {"FOO=bar baz", "EMPTY="};
  spec.ports = {{80, 8080, "tcp"}, {0, 9090, "udp"}, {81, 8080, "udp"}};
  auto out = run(spec);
  ASSERT_EQ(out.host_ports.size(), 3u);
  EXPECT_NE(out.host_ports[0], 0);
  EXPECT_NE(out.host_ports[1], 0);
  EXPECT_NE(out.host_ports[0], out.host_ports[1]);
  EXPECT_EQ(out.host_ports[0], out.host_ports[2]); // same target
  ASSERT_EQ(await_exit("t1").exit_code, 0);
  auto log = "\n" + log_of("t1");
  auto has = [&](const std::string& line) {
    return log.find("\n" + line + "\n") != std::string::npos;
  };
  EXPECT_TRUE(has("FOO=bar baz")) << log;
  EXPECT_TRUE(has("EMPTY=")) << log;
  EXPECT_TRUE(has("SKEP_TASK_ID=t1")) << log;
  EXPECT_TRUE(has("SKEP_SERVICE_NAME=api")) << log;
  EXPECT_TRUE(has("SKEP_TASK_SLOT=3")) << log;
  EXPECT_TRUE(has("PORT=" + std::to_string(out.host_ports[0]))) << log;
  EXPECT_TRUE(has("SKEP_PORT_8080=" + std::to_string(out.host_ports[0])))
    << log;
  EXPECT_TRUE(has("SKEP_PORT_9090=" + std::to_string(out.host_ports[1])))
    << log;
  EXPECT_TRUE(has(std::string{"PATH="} + std::getenv("PATH"))) << log;
  EXPECT_EQ(log.find("SKEP_TEST_NOT_PASSED"), std::string::npos) << log;
  ::unsetenv("SKEP_TEST_NOT_PASSED");
}

TEST_F(ProcessAdapter, WorkingDirectoryDefaultsToTheTaskDirectory) {
  run(shell("t1", "pwd"));
  ASSERT_EQ(await_exit("t1").exit_code, 0);
  EXPECT_EQ(log_of("t1"), fs::canonical(state_ / "t1").string() + "\n");
}

TEST_F(ProcessAdapter, WorkingDirectoryComesFromTheSpec) {
  auto work = fs::canonical(tmp_.path()) / "work";
  fs::create_directories(work);
  auto spec = shell("t1", "pwd");
  spec.container.workdir = work.string();
  run(spec);
  ASSERT_EQ(await_exit("t1").exit_code, 0);
  EXPECT_EQ(log_of("t1"), work.string() + "\n");
}

TEST_F(ProcessAdapter, MissingWorkingDirectoryFailsInPrepare) {
  auto spec = shell("t1", "pwd");
  spec.container.workdir = "/no/such/dir";
  auto prepared = rt_->prepare(spec);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code, errc::not_found);
  EXPECT_EQ(prepared.error().message,
            "working directory \"/no/such/dir\" does not exist");
}

TEST_F(ProcessAdapter, ImageIsLookedUpInPath) {
  auto spec = shell("t1", "");
  spec.container.image = "sh";
  spec.container.args = {"-c", "exit 4"};
  run(spec);
  EXPECT_EQ(await_exit("t1").exit_code, 4);
}

TEST_F(ProcessAdapter, MissingExecutableFailsInPrepare) {
  auto spec = shell("t1", "");
  spec.container.image = "skep-no-such-executable";
  auto prepared = rt_->prepare(spec);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code, errc::not_found);
  EXPECT_EQ(prepared.error().message,
            "executable \"skep-no-such-executable\" not found in PATH");
  spec.container.image = "/no/such/executable";
  prepared = rt_->prepare(spec);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().message,
            "executable \"/no/such/executable\" does not exist");
  EXPECT_FALSE(rt_->start("t1")); // never prepared
}

TEST_F(ProcessAdapter, FileWithoutExecutableBitFailsInPrepare) {
  auto file = fs::path{tmp_.path()} / "script";
  std::ofstream{file} << "#!/bin/sh\n";
  auto spec = shell("t1", "");
  spec.container.image = file.string();
  auto prepared = rt_->prepare(spec);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code, errc::permission_denied);
  EXPECT_NE(prepared.error().message.find("is not executable"),
            std::string::npos);
}

TEST_F(ProcessAdapter, RelativeImagePathIsRefused) {
  auto spec = shell("t1", "");
  spec.container.image = "bin/sh";
  auto prepared = rt_->prepare(spec);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code, errc::invalid_argument);
}

TEST_F(ProcessAdapter, ExecFailureIsReportedByStart) {
  auto file = fs::path{tmp_.path()} / "script";
  std::ofstream{file} << "#!/no/such/interpreter\n";
  fs::permissions(file, fs::perms::owner_all);
  auto spec = shell("t1", "");
  spec.container.image = file.string();
  ASSERT_TRUE(rt_->prepare(spec));
  auto out = rt_->start("t1");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, errc::not_found);
  EXPECT_NE(out.error().message.find("cannot run \"" + file.string() + "\""),
            std::string::npos)
    << out.error().message;
  EXPECT_TRUE(rt_->reap().empty());
  EXPECT_TRUE(rt_->remove("t1"));
}

TEST_F(ProcessAdapter, StandardInputIsDevNull) {
  run(shell("t1", "readlink /proc/$$/fd/0"));
  ASSERT_EQ(await_exit("t1").exit_code, 0);
  EXPECT_EQ(log_of("t1"), "/dev/null\n");
}

TEST_F(ProcessAdapter, TaskInheritsNoOtherDescriptors) {
  int fd = ::open("/dev/null", O_RDONLY); // no O_CLOEXEC on purpose
  ASSERT_GE(fd, 0);
  int high = ::dup2(fd, 57);
  ASSERT_EQ(high, 57);
  run(shell("t1", "for fd in 3 " + std::to_string(fd)
                    + " 57; do test -e /proc/$$/fd/$fd && echo open $fd; "
                      "done; echo done"));
  ASSERT_EQ(await_exit("t1").exit_code, 0);
  EXPECT_EQ(log_of("t1"), "done\n");
  ::close(fd);
  ::close(high);
}

TEST_F(ProcessAdapter, StopSendsTermToTheWholeProcessGroup) {
  // The shell waits for its child after TERM: it only exits with 7 if the
  // child got TERM as well.
  run(shell("t1", "sleep 60 & echo child $!; trap 'wait; exit 7' TERM; "
                  "echo ready; wait"));
  ASSERT_TRUE(await_log("t1", "ready\n"));
  auto log = log_of("t1");
  auto child = static_cast<pid_t>(std::stol(log.substr(log.find(' ') + 1)));
  ASSERT_TRUE(rt_->stop("t1"));
  EXPECT_EQ(await_exit("t1").exit_code, 7);
  EXPECT_TRUE(eventually([&] { return process_gone(child); }));
}

TEST_F(ProcessAdapter, KillEndsTaskThatIgnoresTerm) {
  auto out = run(shell("t1", "trap '' TERM; echo ready; while :; do sleep 1; "
                             "done"));
  ASSERT_TRUE(await_log("t1", "ready\n"));
  ASSERT_TRUE(rt_->stop("t1"));
  EXPECT_EQ(::kill(static_cast<pid_t>(out.pid), 0), 0);
  EXPECT_TRUE(rt_->reap().empty());
  ASSERT_TRUE(rt_->kill("t1"));
  auto how = await_exit("t1");
  EXPECT_EQ(how.signal, SIGKILL);
  EXPECT_EQ(how.exit_code, 128 + SIGKILL);
  EXPECT_EQ(how.message, "killed by signal 9");
}

TEST_F(ProcessAdapter, StopAndKillAfterExitAreNoOps) {
  run(shell("t1", "exit 0"));
  ASSERT_EQ(await_exit("t1").exit_code, 0);
  EXPECT_TRUE(rt_->stop("t1"));
  EXPECT_TRUE(rt_->kill("t1"));
  EXPECT_FALSE(rt_->stop("other"));
}

TEST_F(ProcessAdapter, LeftoverProcessesDieWithTheMainProcess) {
  run(shell("t1", "sleep 60 & echo child $!"));
  ASSERT_EQ(await_exit("t1").exit_code, 0);
  auto log = log_of("t1");
  auto child = static_cast<pid_t>(std::stol(log.substr(log.find(' ') + 1)));
  EXPECT_TRUE(eventually([&] { return process_gone(child); }));
}

TEST_F(ProcessAdapter, MemoryLimitMakesABigAllocationFail) {
  // dd allocates its 64 MiB buffer up front.
  auto big = shell("t1", "dd if=/dev/zero of=/dev/null bs=64M count=1");
  big.limits.memory_bytes = 32 * 1024 * 1024;
  run(big);
  EXPECT_NE(await_exit("t1").exit_code, 0);
  EXPECT_NE(log_of("t1").find("memory exhausted"), std::string::npos)
    << log_of("t1");
  // The same without a limit works, so the limit made the difference.
  big.task_id = "t2";
  big.limits.memory_bytes = 0;
  run(big);
  EXPECT_EQ(await_exit("t2").exit_code, 0) << log_of("t2");
}

TEST_F(ProcessAdapter, CpuLimitIsAcceptedThoughNotApplied) {
  auto spec = shell("t1", "exit 0");
  spec.limits.nano_cpus = 500'000'000;
  run(spec);
  EXPECT_EQ(await_exit("t1").exit_code, 0);
}

TEST_F(ProcessAdapter, TaskIsPreparedAndStartedOnce) {
  auto spec = shell("t1", "exit 0");
  run(spec);
  EXPECT_EQ(rt_->prepare(spec).error().code, errc::already_exists);
  EXPECT_EQ(rt_->start("t1").error().code, errc::invalid_argument);
  EXPECT_EQ(await_exit("t1").exit_code, 0);
  EXPECT_EQ(rt_->start("t1").error().code, errc::invalid_argument);
}

TEST_F(ProcessAdapter, RemoveRefusesRunningTaskAndKeepsTheLogUntilPurge) {
  run(shell("t1", "echo hi; exec sleep 60"));
  ASSERT_TRUE(await_log("t1", "hi\n"));
  auto removed = rt_->remove("t1");
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code, errc::invalid_argument);
  EXPECT_FALSE(rt_->purge("t1"));
  ASSERT_TRUE(rt_->kill("t1"));
  await_exit("t1");
  ASSERT_TRUE(rt_->remove("t1"));
  EXPECT_EQ(rt_->remove("t1").error().code, errc::not_found);
  EXPECT_EQ(log_of("t1"), "hi\n");
  ASSERT_TRUE(rt_->purge("t1"));
  EXPECT_FALSE(fs::exists(state_ / "t1"));
  EXPECT_TRUE(rt_->log_path("t1").empty());
}

TEST_F(ProcessAdapter, RecoverFindsTaskLeftRunningAndKillsIt) {
  auto out = run(shell("t1", "exec sleep 60"));
  auto pid = static_cast<pid_t>(out.pid);
  rt_.reset(); // a restart: the task keeps running
  ASSERT_EQ(::kill(pid, 0), 0);
  rt_ = std::make_unique<process_adapter>(state_);
  auto found = rt_->recover();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].task_id, "t1");
  EXPECT_TRUE(found[0].alive);
  ASSERT_TRUE(rt_->kill_recovered("t1"));
  // This test is the task's parent, so it reaps what the adapter killed.
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_TRUE(rt_->recover().empty());
  EXPECT_EQ(rt_->kill_recovered("t1").error().code, errc::not_found);
  EXPECT_TRUE(rt_->purge("t1"));
}

TEST_F(ProcessAdapter, RecoverListsNothingForTasksThatExited) {
  run(shell("t1", "exit 0"));
  ASSERT_EQ(await_exit("t1").exit_code, 0);
  rt_ = std::make_unique<process_adapter>(state_);
  EXPECT_TRUE(rt_->recover().empty());
}

TEST_F(ProcessAdapter, RecoverReportsADeadPidAsNotAlive) {
  pid_t dead = ::fork();
  if (dead == 0)
    ::_exit(0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  fs::create_directories(state_ / "t1");
  std::ofstream{state_ / "t1" / "pid"} << dead << " 12345\n";
  auto found = rt_->recover();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_FALSE(found[0].alive);
  EXPECT_TRUE(rt_->kill_recovered("t1"));
  EXPECT_TRUE(rt_->recover().empty());
}

TEST_F(ProcessAdapter, RecoverTellsAReusedPidAndLeavesItAlone) {
  // This test process stands for an unrelated process that got the pid.
  fs::create_directories(state_ / "t1");
  std::ofstream{state_ / "t1" / "pid"} << ::getpid() << " 1\n";
  auto found = rt_->recover();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_FALSE(found[0].alive);
  EXPECT_TRUE(rt_->kill_recovered("t1")); // and we are still here
  EXPECT_FALSE(fs::exists(state_ / "t1" / "pid"));
}

TEST_F(ProcessAdapter, RecordedTaskIdCannotBePreparedBeforeItIsKilled) {
  fs::create_directories(state_ / "t1");
  std::ofstream{state_ / "t1" / "pid"} << ::getpid() << " 1\n";
  auto prepared = rt_->prepare(shell("t1", "exit 0"));
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code, errc::already_exists);
  EXPECT_FALSE(rt_->purge("t1"));
}

TEST_F(ProcessAdapter, InvalidTaskIdsAreRefused) {
  for (const std::string& id :
       std::vector<std::string>{"", ".", "..", "../x", "a/b", "a..b", "t 1",
                                "t\n", std::string(65, 'a')}) {
    SCOPED_TRACE(id);
    auto prepared = rt_->prepare(shell(id, "exit 0"));
    ASSERT_FALSE(prepared);
    EXPECT_EQ(prepared.error().code, errc::invalid_argument);
    EXPECT_EQ(rt_->start(id).error().code, errc::invalid_argument);
    EXPECT_EQ(rt_->stop(id).error().code, errc::invalid_argument);
    EXPECT_EQ(rt_->kill(id).error().code, errc::invalid_argument);
    EXPECT_EQ(rt_->remove(id).error().code, errc::invalid_argument);
    EXPECT_EQ(rt_->purge(id).error().code, errc::invalid_argument);
    EXPECT_EQ(rt_->kill_recovered(id).error().code, errc::invalid_argument);
    EXPECT_TRUE(rt_->log_path(id).empty());
  }
  EXPECT_TRUE(!fs::exists(state_) || fs::is_empty(state_));
  EXPECT_TRUE(is_valid_task_id(std::string(64, 'a')));
  EXPECT_TRUE(is_valid_task_id("svc.1.abc-DEF_9"));
}

// -- a task never runs without its record ----------------------------------

/// `sh -c 'touch MARKER; exec sleep 1000'` in `dir`, recorded by `record`.
posix::spawn_request marker_task(const fs::path& dir,
                                 std::function<result<void>(pid_t)> record) {
  posix::spawn_request req;
  req.exe = "/bin/sh";
  req.argv = {"sh", "-c", "touch ran; exec sleep 1000"};
  req.env = {"PATH=/usr/bin:/bin"};
  req.workdir = dir;
  req.log = dir / "log";
  req.record = std::move(record);
  return req;
}

TEST(ProcessSpawn, AChildWhoseRecordFailsNeverRuns) {
  test::temp_dir tmp;
  auto dir = fs::path{tmp.path()};
  auto out = posix::spawn(marker_task(dir, [](pid_t) {
    return result<void>{fail(errc::internal, "the disk is full")};
  }));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "the disk is full");
  EXPECT_FALSE(fs::exists(dir / "ran"));
}

TEST(ProcessSpawn, AChildWhoseParentDiesBeforeRecordingItNeverRuns) {
  test::temp_dir tmp;
  auto dir = fs::path{tmp.path()};
  // A parent that is SIGKILLed between fork and its record, as a node
  // killed in the middle of starting a task.
  pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    (void)posix::spawn(marker_task(dir, [&](pid_t child) {
      std::ofstream{dir / "child"} << child;
      ::raise(SIGKILL);
      return result<void>{};
    }));
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(parent, &status, 0), parent);
  ASSERT_TRUE(WIFSIGNALED(status));
  pid_t child = 0;
  std::ifstream{dir / "child"} >> child;
  ASSERT_GT(child, 1);
  EXPECT_TRUE(eventually([&] { return process_gone(child); }));
  EXPECT_FALSE(fs::exists(dir / "ran")) << "the task ran unrecorded";
}

TEST(ProcessSpawn, KillSessionEndsProcessesThatLeftTheGroup) {
  test::temp_dir tmp;
  auto dir = fs::path{tmp.path()};
  posix::spawn_request req;
  req.exe = "/bin/sh";
  // A child that moves to a process group of its own, in the same session.
  req.argv = {"sh", "-c",
              "perl -e 'setpgrp(0, 0); sleep 1000' & echo $! > grandchild; "
              "wait"};
  req.env = {"PATH=/usr/bin:/bin"};
  req.workdir = dir;
  req.log = dir / "log";
  auto pid = posix::spawn(req);
  ASSERT_TRUE(pid) << pid.error().message;
  pid_t grandchild = 0;
  ASSERT_TRUE(eventually([&] {
    std::ifstream in{dir / "grandchild"};
    return static_cast<bool>(in >> grandchild) && grandchild > 1;
  }));
  ASSERT_TRUE(eventually([&] { return ::getpgid(grandchild) == grandchild; }))
    << "it did not leave the group";
  EXPECT_TRUE(posix::session_alive(*pid));
  posix::kill_session(*pid);
  ::waitpid(*pid, nullptr, 0);
  EXPECT_TRUE(eventually([&] { return process_gone(grandchild); }));
  EXPECT_TRUE(eventually([&] { return !posix::session_alive(*pid); }));
}

} // namespace
} // namespace skep::runtime
