#pragma once

// The system calls under the process runtime (process.hpp): spawning a task
// in its own session, finding free host ports, telling a task's process from
// one that reused its pid, finding executables. Linux only (/proc).

#include "messages/result.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace skep::runtime::posix {

/// The text for an errno value, e.g. "No such file or directory".
std::string error_text(int err);

/// not_found for ENOENT/ENOTDIR, permission_denied for EACCES/EPERM, else
/// internal.
errc code_for(int err);

/// `text` cut to 200 characters with control and non-ASCII bytes as '?':
/// images, paths and values come from operators and end up in log lines.
std::string printable(const std::string& text);

/// A file descriptor that closes itself.
class unique_fd {
 public:
  explicit unique_fd(int fd = -1) : fd_(fd) {}
  ~unique_fd() { reset(); }
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset();

 private:
  int fd_;
};

/// Replaces `path` with `text` (through `path`.tmp and a rename, so readers
/// see the old or the new content). Not fsynced: what it records does not
/// outlive a reboot anyway.
result<void> write_file_atomically(const std::filesystem::path& path,
                                   const std::string& text);

/// A process as the pid file records it: the process group leader and its
/// start time (clock ticks since boot, /proc/<pid>/stat field 22).
struct pid_record {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

/// Field 22 of /proc/<pid>/stat; nothing when the process is gone.
std::optional<uint64_t> process_start_time(pid_t pid);

/// "<pid> <start time>"; nothing when unreadable or when pid <= 1 (so -1, 0
/// and init are never signalled).
std::optional<pid_record> read_pid_file(const std::filesystem::path& path);

enum class identity {
  same,   ///< the recorded process runs (or is a zombie)
  gone,   ///< no process has the pid
  reused, ///< another process has the pid now
};

identity check_identity(const pid_record& rec);

/// True when process group `pgid` has members (zombies included). While it
/// has, the kernel does not give its id to a new process, so a group whose
/// leader is gone still holds only the task's processes.
bool group_exists(pid_t pgid);

/// True when a process of session `sid` runs, zombies not counted: what
/// /proc says after a kill, whoever reaps the dead. A task is spawned as
/// the leader of its own session, so its session id is its pid.
bool session_alive(pid_t sid);

/// SIGKILLs every process of session `sid`: its process group, and the
/// members that moved to groups of their own.
void kill_session(pid_t sid);

/// A host port free now on the any address for the protocols asked (TCP,
/// UDP or both) and not in `taken`: bind port 0, read the port, close.
/// Fails with unavailable when none is found.
result<uint16_t> free_port(bool tcp, bool udp, const std::set<uint16_t>& taken);

/// What to run and how.
struct spawn_request {
  std::filesystem::path exe; ///< absolute
  std::vector<std::string> argv;
  std::vector<std::string> env; ///< KEY=VALUE
  std::filesystem::path workdir;
  std::filesystem::path log; ///< standard output and error, appended
  int64_t memory_bytes = 0;  ///< > 0: RLIMIT_AS
  /// Called with the child's pid after clone and before it may exec: the
  /// child runs only if this succeeds, so a task is never running without
  /// its record, even if the caller dies between the two.
  std::function<result<void>(pid_t)> record;
};

/// Forks and execs `req` in a new session (so its pid is its process group
/// id), standard input from /dev/null, no other descriptors inherited,
/// default signal dispositions and an empty signal mask. The child waits
/// for `req.record` to succeed before it execs, and exits without running
/// anything if this process dies first. Returns once the exec happened, or
/// with the reason it failed (the child is reaped then).
result<pid_t> spawn(spawn_request req);

/// An absolute path to the executable `image` names: an absolute path
/// itself or a name looked up in `path_var` (absolute entries only). Fails
/// with not_found (`executable "x" not found in PATH`), permission_denied
/// (no executable bit) or invalid_argument (relative path, not a file).
result<std::filesystem::path> resolve_image(const std::string& image,
                                            const std::string& path_var);

} // namespace skep::runtime::posix
