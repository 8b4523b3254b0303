#pragma once

// The runtime adapter interface: how a worker runs the tasks it was given
// (DESIGN.md section 6). Implementations: process (default, clone/exec) and
// sim (scripted, in memory). No CAF here: the agent's task runners call an
// adapter from their handlers, so every method returns within a few
// milliseconds and never waits for a task to exit.

#include "messages/result.hpp"
#include "runtime-adapters/container_spec.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skep::runtime {

/// Everything an adapter needs to run one task.
struct task_spec {
  /// See is_valid_task_id; used as a directory name.
  std::string task_id;
  std::string service_name;
  uint64_t slot = 0;
  container_spec container;
  /// Memory is enforced by the process runtime; CPU is not (no cgroups).
  resources limits;
  std::vector<port_config> ports;
};

/// What start() gives back.
struct started {
  /// The task's main process (process runtime) or a made-up id (sim).
  int64_t pid = 0;
  /// The host port given to ports[i], same order and size as the spec's
  /// ports. Ports with the same target share one host port.
  std::vector<uint16_t> host_ports;
};

/// How a task ended.
struct exit_status {
  /// The exit code; 128 + signal when killed by a signal (Docker's way).
  int exit_code = 0;
  /// The signal that ended the task, 0 when it exited by itself.
  int signal = 0;
  /// For people: "exited with code 1", "killed by signal 9".
  std::string message;
};

/// A task found by recover().
struct recovered_task {
  std::string task_id;
  /// True while any process of the task may still be running.
  bool alive = false;
};

/// Runs tasks on this node. Tasks are named by their task id; an id is
/// prepared once and started at most once (a restart is a new task).
/// Implementations are safe to call from several threads.
class adapter {
 public:
  virtual ~adapter() = default;

  /// Validates `spec` and gets everything ready to start it: resolves the
  /// image (process runtime: a name on PATH or an absolute path to an
  /// executable file) and makes the task's directory. Fails with
  /// invalid_argument for a bad id or spec, not_found for a missing image
  /// (`executable "nosuch" not found in PATH`), already_exists when the id is
  /// known already. After success the task is known: start() or remove().
  virtual result<void> prepare(const task_spec& spec) = 0;

  /// Starts a prepared task and returns at once (no waiting for readiness).
  /// Fails with not_found for an unknown id, invalid_argument when the task
  /// was started before, and with the reason when the image cannot be run.
  /// After a failure the task stays prepared-and-unstartable: remove() it.
  virtual result<started> start(const std::string& task_id) = 0;

  /// Tasks that exited since the last call, each reported exactly once.
  /// Never blocks.
  virtual std::vector<std::pair<std::string, exit_status>> reap() = 0;

  /// Asks a running task to stop: SIGTERM to its process group. The grace
  /// period is the caller's timer (then kill()). A no-op for a task that is
  /// not running; not_found for an unknown id.
  virtual result<void> stop(const std::string& task_id) = 0;

  /// Ends a running task: SIGKILL to its process group. The exit shows up
  /// in a later reap(). A no-op for a task that is not running; not_found
  /// for an unknown id.
  virtual result<void> kill(const std::string& task_id) = 0;

  /// Forgets a task that is not running (prepared, failed to start, or
  /// exited and reaped). Its log stays until purge(). Fails with not_found
  /// for an unknown id and invalid_argument for a running task.
  virtual result<void> remove(const std::string& task_id) = 0;

  /// Deletes what a task left on disk (its directory and log). Fails with
  /// invalid_argument while the task is known (remove() it first) or while a
  /// recovered task of that id was not killed; a no-op when nothing is left.
  virtual result<void> purge(const std::string& task_id) = 0;

  /// The file holding the task's standard output and error (also after
  /// remove(), until purge()); empty when there is none.
  virtual std::filesystem::path log_path(const std::string& task_id) const = 0;

  /// After this node restarted: the tasks a previous run of the node started
  /// and did not see exit, found in the state directory. Tasks this adapter
  /// knows are not listed. Each listed task must go through kill_recovered().
  virtual std::vector<recovered_task> recover() = 0;

  /// Makes sure a recovered task no longer runs (SIGKILL to its process
  /// group if alive; a reused pid is left alone) and forgets it. Fails with
  /// not_found when the node holds no record of that task.
  virtual result<void> kill_recovered(const std::string& task_id) = 0;
};

/// Longest task id accepted.
inline constexpr size_t max_task_id_size = 64;

/// True for 1 to max_task_id_size characters of [0-9A-Za-z._-] without
/// "..": safe as a file name.
bool is_valid_task_id(std::string_view id);

/// Fails with invalid_argument naming `id` unless is_valid_task_id(id).
result<void> check_task_id(std::string_view id);

/// Checks what every runtime needs of a spec: a valid task id, an image,
/// KEY=VALUE environment entries, ports with a target and a protocol of tcp
/// or udp. Fails with invalid_argument naming the problem.
result<void> check_task_spec(const task_spec& spec);

/// "exited with code N".
exit_status exited_with(int code);

/// "killed by signal N", exit code 128 + N.
exit_status killed_by(int signal);

} // namespace skep::runtime
