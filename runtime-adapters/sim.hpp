#pragma once

// The sim runtime: tasks that exist only in memory and do what a test
// scripted, on a virtual clock the test advances. Deterministic: the same
// calls give the same results, in the same order.

#include "runtime-adapters/runtime.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace skep::runtime {

/// What the tasks of one image do. The default: start and run until stopped.
struct behaviour {
  /// Non-empty: prepare() fails with not_found and this message.
  std::string fail_prepare;
  /// Non-empty: start() fails with internal and this message.
  std::string fail_start;
  /// >= 0: the task exits by itself this long after it started; < 0: it runs
  /// until stopped or killed.
  int64_t run_for_nanos = -1;
  /// The exit code of that exit.
  int exit_code = 0;
  /// stop() has no effect; only kill() ends the task.
  bool ignore_sigterm = false;
};

/// An adapter whose tasks follow scripts. Time starts at 0 and moves only by
/// advance(). stop() ends a task at once with signal 15 (unless it ignores
/// SIGTERM), kill() with signal 9; exits show up in the next reap().
class sim_adapter final : public adapter {
 public:
  sim_adapter() = default;

  /// Tasks prepared from now on with `image` follow `what`.
  void script(std::string image, behaviour what);

  /// Moves the virtual clock forward; tasks whose time came exit.
  /// Requires nanos >= 0.
  void advance(int64_t nanos);

  /// The virtual clock, nanoseconds since construction.
  int64_t now() const;

  /// Tasks started and not yet exited (by the virtual clock).
  size_t running_count() const;

  /// Successful start() calls so far.
  uint64_t start_count() const;

  /// True while the task is started and has not exited.
  bool is_running(const std::string& task_id) const;

  /// Pretends a previous run of the node left `task_id` behind: recover()
  /// lists it (with `alive`) until kill_recovered().
  void add_recovered(std::string task_id, bool alive);

  result<void> prepare(const task_spec& spec) override;
  result<started> start(const std::string& task_id) override;
  std::vector<std::pair<std::string, exit_status>> reap() override;
  result<void> stop(const std::string& task_id) override;
  result<void> kill(const std::string& task_id) override;
  result<void> remove(const std::string& task_id) override;
  result<void> purge(const std::string& task_id) override;
  /// Always empty: sim tasks write no logs.
  std::filesystem::path log_path(const std::string& task_id) const override;
  std::vector<recovered_task> recover() override;
  result<void> kill_recovered(const std::string& task_id) override;

 private:
  enum class phase { prepared, start_failed, running, exited };

  struct task {
    task_spec spec;
    behaviour what;
    phase at = phase::prepared;
    /// When it exits (>= 0) and how; set once its end is known.
    int64_t ends_at = -1;
    exit_status status;
  };

  bool has_exited(const task& t) const {
    return t.ends_at >= 0 && t.ends_at <= now_;
  }
  bool runs(const task& t) const {
    return t.at == phase::running && !has_exited(t);
  }
  result<task*> find(const std::string& task_id);

  mutable std::mutex mtx_;
  int64_t now_ = 0;
  uint64_t starts_ = 0;
  int64_t next_pid_ = 1000;
  uint16_t next_port_ = 30000;
  std::map<std::string, behaviour> scripts_;
  std::map<std::string, task> tasks_;
  std::map<std::string, bool> recovered_;
};

} // namespace skep::runtime
