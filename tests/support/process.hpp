#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace skep::test {

/// A fresh directory under /tmp (short, so unix socket paths fit), removed
/// with everything in it when the object goes.
/// The names of the entries in `dir`, sorted, without "." and ".."; empty
/// when `dir` cannot be read.
std::vector<std::string> files_in(const std::string& dir);

class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// What a finished command printed and how it ended.
struct command_result {
  int exit_code = -1; ///< -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

/// Runs `argv` to completion (at most `timeout`, then kills it), with
/// `env` added to this process's environment. Standard input is empty.
command_result run_command(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env = {},
                           std::chrono::milliseconds timeout
                           = std::chrono::seconds{30});

/// A child process (a skepd under test) whose standard error is captured.
/// A thread reads it as it comes, so a child that logs much never blocks on
/// a full pipe. The destructor kills the child if it is still running.
class child_process {
 public:
  /// Starts `argv`. With `with_stdin`, the child reads what write_line()
  /// sends; otherwise its standard input is empty.
  explicit child_process(const std::vector<std::string>& argv,
                         bool with_stdin = false);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }

  /// Reads the child's standard error until a line containing `needle`
  /// appears (true), the child closes it, or `timeout` passes (false).
  bool wait_for_output(const std::string& needle,
                       std::chrono::milliseconds timeout
                       = std::chrono::seconds{20});

  /// Sends `line` and a newline to the child's standard input.
  void write_line(const std::string& line);

  /// The first whole line of output containing `needle`, once it appears
  /// (within `timeout`); empty when it does not.
  std::string line_with(const std::string& needle,
                        std::chrono::milliseconds timeout
                        = std::chrono::seconds{20});

  /// Everything read from standard error so far.
  std::string output() const;

  /// Sends `signal`.
  void signal(int signal);

  /// Waits up to `timeout` for the child to exit; returns its exit code, or
  /// 128 + signal number when a signal ended it; nothing on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout
                               = std::chrono::seconds{20});

 private:
  void read_output();
  void stop_reading();

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int err_fd_ = -1;
  int in_fd_ = -1;
  int stop_fd_[2] = {-1, -1}; ///< written to end the reader thread
  std::optional<int> exit_code_;
  mutable std::mutex mtx_;
  std::condition_variable grew_;
  std::string output_;  ///< guarded by mtx_
  bool closed_ = false; ///< the child closed its standard error; by mtx_
  std::thread reader_;
};

/// A loopback TCP port nobody listens on right now (the kernel's pick), for
/// daemons under test that need a fixed port.
uint16_t free_loopback_port();

/// The processes whose working directory is under the directory `root`
/// (task processes of the process runtime run in their task dir, under a
/// node's data dir).
std::vector<pid_t> processes_under(std::string root);

/// Connects a unix stream socket to `path`; -1 on failure.
int connect_unix(const std::string& path);

} // namespace skep::test
