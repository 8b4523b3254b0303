#pragma once

// The process runtime (the default): a task is a local executable run with
// clone/exec in its own session, so its whole process group can be signalled.
//
// On disk, under the state directory (`<data>/tasks`), each task has a
// directory `<task id>/` holding
//   task.log  standard output and error, appended;
//   pid       "<pid> <start time>" while the task may run, so a restarted
//             node can tell its task from a process that reused the pid.
//
// What a task gets:
// - argv: the image (a name on PATH or an absolute path) and its args;
// - standard input /dev/null; standard output and error to task.log;
// - working directory: container.workdir (absolute, must exist) or the task
//   directory;
// - environment: PATH (skepd's, or a default), HOME and TZ when skepd has
//   them, then container.env, then SKEP_TASK_ID, SKEP_SERVICE_NAME,
//   SKEP_TASK_SLOT, and per published target a free host port in
//   SKEP_PORT_<target> (and the first one in PORT too). A free port is found
//   by binding port 0 on the any address and closing the socket again; this
//   adapter never hands one port to two live tasks, but another program may
//   still take it before the task binds it;
// - limits: memory as RLIMIT_AS (address space, so it is a rough cap). CPU
//   limits are accepted and not applied: there are no cgroups here.
//
// When a task's main process exits, whatever is left in its process group is
// killed (as Docker does when a container's first process ends).
// Destroying the adapter leaves tasks running: a new adapter on the same
// directory finds them with recover().

#include "runtime-adapters/runtime.hpp"

#include <filesystem>
#include <memory>

namespace skep::runtime {

class process_adapter final : public adapter {
 public:
  /// Keeps task directories under `state_dir` (created when needed) and takes
  /// PATH, HOME and TZ from this process's environment now.
  explicit process_adapter(std::filesystem::path state_dir);
  /// Leaves running tasks running.
  ~process_adapter() override;
  process_adapter(const process_adapter&) = delete;
  process_adapter& operator=(const process_adapter&) = delete;

  const std::filesystem::path& state_dir() const;

  result<void> prepare(const task_spec& spec) override;
  result<started> start(const std::string& task_id) override;
  std::vector<std::pair<std::string, exit_status>> reap() override;
  result<void> stop(const std::string& task_id) override;
  result<void> kill(const std::string& task_id) override;
  result<void> remove(const std::string& task_id) override;
  result<void> purge(const std::string& task_id) override;
  std::filesystem::path log_path(const std::string& task_id) const override;
  std::vector<recovered_task> recover() override;
  result<void> kill_recovered(const std::string& task_id) override;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

} // namespace skep::runtime
