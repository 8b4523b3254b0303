#include "runtime-adapters/process_posix.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <sched.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

#include <fmt/format.h>

namespace skep::runtime::posix {

namespace fs = std::filesystem;

void unique_fd::reset() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

std::string error_text(int err) {
  return std::error_code{err, std::generic_category()}.message();
}

errc code_for(int err) {
  switch (err) {
  case ENOENT:
  case ENOTDIR:
    return errc::not_found;
  case EACCES:
  case EPERM:
    return errc::permission_denied;
  default:
    return errc::internal;
  }
}

std::string printable(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 200))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

// ---- files ----------------------------------------------------------------

result<void> write_file_atomically(const fs::path& path,
                                   const std::string& text) {
  auto tmp = path;
  tmp += ".tmp";
  unique_fd fd{
    ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (fd.get() < 0
      || ::write(fd.get(), text.data(), text.size())
           != static_cast<ssize_t>(text.size())) {
    int err = errno;
    return fail(errc::internal, fmt::format("cannot write {}: {}", tmp.string(),
                                            error_text(err)));
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    return fail(errc::internal, fmt::format("cannot write {}: {}",
                                            path.string(), error_text(err)));
  }
  return {};
}

namespace {

/// Opens `path` (or /dev/null) at a descriptor above 2, close-on-exec, so
/// dup2 onto standard input/output in the child never clobbers it.
unique_fd open_above_stdio(const char* path, int flags) {
  unique_fd fd{::open(path, flags | O_CLOEXEC, 0640)};
  if (fd.get() >= 0 && fd.get() <= 2)
    return unique_fd{::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3)};
  return fd;
}

} // namespace

// ---- process identity -----------------------------------------------------

namespace {

/// The fields of /proc/<pid>/stat after the command name (from field 3, the
/// state); nothing when the process is gone.
std::optional<std::istringstream> stat_fields(const std::string& pid) {
  std::ifstream in{"/proc/" + pid + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return std::nullopt;
  // The command name (field 2) may hold spaces and parentheses.
  auto paren = line.rfind(')');
  if (paren == std::string::npos)
    return std::nullopt;
  return std::istringstream{line.substr(paren + 1)};
}

} // namespace

std::optional<uint64_t> process_start_time(pid_t pid) {
  auto stat = stat_fields(std::to_string(pid));
  if (!stat)
    return std::nullopt;
  auto& fields = *stat;
  std::string field;
  for (int i = 3; i <= 22; ++i)
    if (!(fields >> field))
      return std::nullopt;
  char* end = nullptr;
  auto value = std::strtoull(field.c_str(), &end, 10);
  if (end == field.c_str() || *end != '\0')
    return std::nullopt;
  return value;
}

std::optional<pid_record> read_pid_file(const fs::path& path) {
  std::ifstream in{path};
  long long pid = 0;
  unsigned long long start = 0;
  if (!(in >> pid >> start) || pid <= 1 || pid > INT32_MAX)
    return std::nullopt; // never signal -1, 0 or init
  return pid_record{static_cast<pid_t>(pid), start};
}

identity check_identity(const pid_record& rec) {
  auto start = process_start_time(rec.pid);
  if (!start)
    return identity::gone;
  return *start == rec.start_time ? identity::same : identity::reused;
}

bool group_exists(pid_t pgid) {
  return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

namespace {

/// State (field 3), process group (field 5) and session (field 6) of
/// /proc/<pid>/stat.
struct proc_stat {
  char state = 0;
  pid_t group = 0;
  pid_t session = 0;
};

std::optional<proc_stat> read_proc_stat(const std::string& pid) {
  auto stat = stat_fields(pid);
  if (!stat)
    return std::nullopt;
  auto& fields = *stat;
  proc_stat out;
  long long ppid = 0, pgrp = 0, session = 0;
  if (!(fields >> out.state >> ppid >> pgrp >> session))
    return std::nullopt;
  out.group = static_cast<pid_t>(pgrp);
  out.session = static_cast<pid_t>(session);
  return out;
}

/// Calls `f(pid)` for every running (not zombie) process of session `sid`.
template <class F>
void for_each_in_session(pid_t sid, F&& f) {
  std::error_code ec;
  for (fs::directory_iterator i{"/proc", ec}, end; !ec && i != end;
       i.increment(ec)) {
    auto name = i->path().filename().string();
    if (name.empty()
        || name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    auto st = read_proc_stat(name);
    if (st && st->session == sid && st->state != 'Z' && st->state != 'X')
      f(static_cast<pid_t>(std::stoll(name)));
  }
}

} // namespace

bool session_alive(pid_t sid) {
  bool alive = false;
  for_each_in_session(sid, [&](pid_t) { alive = true; });
  return alive;
}

void kill_session(pid_t sid) {
  ::kill(-sid, SIGKILL);
  // Processes that moved to groups of their own stay in the session.
  for_each_in_session(sid, [](pid_t pid) { ::kill(pid, SIGKILL); });
}

// ---- ports ----------------------------------------------------------------

namespace {

unique_fd bound_socket(int type, uint16_t port) {
  unique_fd fd{::socket(AF_INET, type | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0)
    return fd;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    fd.reset();
  return fd;
}

} // namespace

// The probe sockets never listen, so closing them leaves nothing in
// TIME_WAIT.
result<uint16_t> free_port(bool tcp, bool udp,
                           const std::set<uint16_t>& taken) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    auto first = bound_socket(tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (first.get() < 0) {
      int err = errno;
      return fail(errc::unavailable, fmt::format("cannot find a free host "
                                                 "port: {}",
                                                 error_text(err)));
    }
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(first.get(), reinterpret_cast<sockaddr*>(&addr), &len)
        != 0)
      continue;
    uint16_t port = ntohs(addr.sin_port);
    if (port == 0 || taken.count(port) > 0)
      continue;
    if (tcp && udp && bound_socket(SOCK_DGRAM, port).get() < 0)
      continue;
    return port;
  }
  return fail(errc::unavailable, "cannot find a free host port: every port "
                                 "tried was taken");
}

// ---- spawning -------------------------------------------------------------

namespace {

/// What the child reports through the close-on-exec pipe when it cannot
/// exec. Nothing arrives when exec succeeded.
struct child_error {
  int stage = 0;
  int err = 0;
};

enum child_stage : int {
  stage_setsid = 1,
  stage_stdio,
  stage_chdir,
  stage_rlimit,
  stage_exec,
  stage_release, ///< the parent never said go (it died or gave up)
};

/// Everything the child needs, built before clone: the child may only make
/// system calls (it shares this process's memory and locks, and other threads
/// may hold malloc's), on a stack of its own.
struct child_setup {
  const char* exe = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* workdir = nullptr;
  int null_fd = -1;
  int log_fd = -1;
  int err_fd = -1;
  /// Read end of the pipe the parent writes one byte to once it recorded
  /// the child; EOF (the parent died first) ends the child before exec.
  int go_fd = -1;
  /// The write end of that pipe: closed first, so the parent's is the last.
  int go_write_fd = -1;
  bool limit_memory = false;
  rlimit memory{};
  int max_fd = 1024;
};

// ---- the child, from clone to exec -----------------------------------------
// It runs in skepd's memory (CLONE_VM) on a stack of its own, so it makes raw
// system calls only: no libc wrapper that a sanitizer intercepts, no malloc,
// no lock. Nor is its code instrumented: a sanitizer keeps its books per
// thread, and the child is none of skepd's threads.
#define SKEP_CHILD_CODE                                                        \
  __attribute__((no_sanitize_address, no_sanitize_undefined, noinline))

/// Closes every descriptor from 3 up but `keep`.
SKEP_CHILD_CODE void close_fds_except(int keep, int max_fd) {
  bool done = false;
#ifdef SYS_close_range
  done
    = (keep <= 3 || ::syscall(SYS_close_range, 3u, unsigned(keep - 1), 0u) == 0)
      && ::syscall(SYS_close_range, unsigned(keep + 1), ~0u, 0u) == 0;
#endif
  if (!done)
    for (int fd = 3; fd < max_fd; ++fd)
      if (fd != keep)
        ::syscall(SYS_close, fd);
}

[[noreturn]] SKEP_CHILD_CODE void report_and_exit(const child_setup& c,
                                                  int stage, int err) {
  child_error e{stage, err};
  ::syscall(SYS_write, c.err_fd, &e, sizeof e);
  for (;;)
    ::syscall(SYS_exit_group, 127);
}

[[noreturn]] SKEP_CHILD_CODE void run_child(const child_setup& c) {
  // The parent blocked every signal around clone; give the task default
  // dispositions (skepd ignores SIGPIPE, for one) and then an empty mask.
  // The kernel's sigaction for SIG_DFL, no flags and no mask is all zeros.
  unsigned long dfl[4] = {0, 0, 0, 0};
  unsigned long no_signals = 0;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::syscall(SYS_rt_sigaction, sig, dfl, nullptr, sizeof no_signals);
  if (::syscall(SYS_setsid) < 0)
    report_and_exit(c, stage_setsid, errno);
  // Run only once the parent has recorded this process: if it dies before,
  // nothing would ever find and stop the task. Waiting comes before the
  // rest of the set-up: errno lives in the thread-local storage this child
  // shares with the thread that cloned it, and once that thread said go it
  // only closes a pipe and waits in read() until this child exec'd or
  // exited; neither sets errno unless it fails (a read interrupted by a
  // signal handler, and skepd installs none).
  ::syscall(SYS_close, c.go_write_fd);
  char go = 0;
  long got;
  do {
    got = ::syscall(SYS_read, c.go_fd, &go, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1)
    report_and_exit(c, stage_release, got < 0 ? errno : EPIPE);
  ::syscall(SYS_close, c.go_fd);
  if (::syscall(SYS_dup3, c.null_fd, 0, 0) < 0
      || ::syscall(SYS_dup3, c.log_fd, 1, 0) < 0
      || ::syscall(SYS_dup3, c.log_fd, 2, 0) < 0)
    report_and_exit(c, stage_stdio, errno);
  if (::syscall(SYS_chdir, c.workdir) < 0)
    report_and_exit(c, stage_chdir, errno);
  if (c.limit_memory
      && ::syscall(SYS_prlimit64, 0, RLIMIT_AS, &c.memory, nullptr) < 0)
    report_and_exit(c, stage_rlimit, errno);
  close_fds_except(c.err_fd, c.max_fd);
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &no_signals, nullptr,
            sizeof no_signals);
  ::syscall(SYS_execve, c.exe, c.argv, c.envp);
  report_and_exit(c, stage_exec, errno);
}

SKEP_CHILD_CODE int child_main(void* setup) {
  run_child(*static_cast<child_setup*>(setup));
}

/// The stack a child runs on until it execs. The child shares skepd's memory
/// (CLONE_VM) meanwhile, so it needs a stack of its own, with a guard page
/// below it. Unmapped when destroyed: only once the child exec'd or exited.
class child_stack {
 public:
  static constexpr size_t size = 256 * 1024;
  static constexpr size_t guard = 4096;

  child_stack()
    : base_(::mmap(nullptr, size + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0)) {
    if (base_ == MAP_FAILED)
      base_ = nullptr;
    else
      ::mprotect(base_, guard, PROT_NONE);
  }
  ~child_stack() {
    if (base_)
      ::munmap(base_, size + guard);
  }
  child_stack(const child_stack&) = delete;
  child_stack& operator=(const child_stack&) = delete;

  bool ok() const { return base_ != nullptr; }
  /// Stacks grow down: the child starts at the highest address.
  void* top() const { return static_cast<char*>(base_) + size + guard; }

 private:
  void* base_;
};

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

} // namespace

result<pid_t> spawn(spawn_request req) {
  auto null_fd = open_above_stdio("/dev/null", O_RDONLY);
  auto log_fd
    = open_above_stdio(req.log.c_str(), O_WRONLY | O_CREAT | O_APPEND);
  if (null_fd.get() < 0 || log_fd.get() < 0) {
    int err = errno;
    return fail(code_for(err), fmt::format("cannot open {}: {}",
                                           req.log.string(), error_text(err)));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    int err = errno;
    return fail(errc::internal, fmt::format("pipe: {}", error_text(err)));
  }
  unique_fd err_r{pipe_fds[0]};
  unique_fd err_w{pipe_fds[1]};
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    int err = errno;
    return fail(errc::internal, fmt::format("pipe: {}", error_text(err)));
  }
  unique_fd go_r{pipe_fds[0]};
  unique_fd go_w{pipe_fds[1]};
  auto argv = pointers_to(req.argv);
  auto envp = pointers_to(req.env);
  child_setup setup;
  setup.exe = req.exe.c_str();
  setup.argv = argv.data();
  setup.envp = envp.data();
  setup.workdir = req.workdir.c_str();
  setup.null_fd = null_fd.get();
  setup.log_fd = log_fd.get();
  setup.err_fd = err_w.get();
  setup.go_fd = go_r.get();
  setup.go_write_fd = go_w.get();
  if (req.memory_bytes > 0) {
    setup.limit_memory = true;
    setup.memory.rlim_cur = static_cast<rlim_t>(req.memory_bytes);
    setup.memory.rlim_max = static_cast<rlim_t>(req.memory_bytes);
  }
  long open_max = ::sysconf(_SC_OPEN_MAX);
  setup.max_fd = open_max > 0 && open_max < 65536 ? int(open_max) : 65536;

  // The child shares this process's memory until it execs (CLONE_VM), as
  // posix_spawn's does: nothing is copied, however large skepd's heap, and
  // skepd's threads take no copy-on-write faults while the child waits for
  // its record. No fork handlers run either (an allocator's would touch
  // every arena). Unlike posix_spawn this thread goes on meanwhile, which
  // the wait for the record needs; every return below comes after the
  // child exec'd or exited, so neither its stack nor `setup` goes away
  // under it.
  child_stack stack;
  if (!stack.ok()) {
    int err = errno;
    return fail(errc::unavailable,
                fmt::format("cannot map a stack for the task's process: {}",
                            error_text(err)));
  }
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::clone(child_main, stack.top(), CLONE_VM | SIGCHLD, &setup);
  int clone_err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0)
    return fail(errc::unavailable,
                fmt::format("clone: {}", error_text(clone_err)));
  err_w.reset();
  go_r.reset();
  // Record the child before it may exec; without the record it never runs.
  if (req.record) {
    if (auto recorded = req.record(pid); !recorded) {
      go_w.reset(); // EOF: the child exits without running anything
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return std::move(recorded).error();
    }
  }
  char go = 1;
  if (::write(go_w.get(), &go, 1) != 1) {
    int err = errno;
    go_w.reset();
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return fail(
      errc::internal,
      fmt::format("cannot release the task's process: {}", error_text(err)));
  }
  go_w.reset();
  child_error e;
  ssize_t n;
  do {
    n = ::read(err_r.get(), &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  if (n == 0)
    return pid; // the pipe closed on exec
  int status = 0;
  if (n != static_cast<ssize_t>(sizeof e)) {
    int err = n < 0 ? errno : EPROTO;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return fail(
      errc::internal,
      fmt::format("cannot hear from the task's process: {}", error_text(err)));
  }
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  auto what = printable(req.exe.string());
  switch (e.stage) {
  case stage_chdir:
    return fail(code_for(e.err),
                fmt::format("cannot enter working directory \"{}\": {}",
                            printable(req.workdir.string()),
                            error_text(e.err)));
  case stage_rlimit:
    return fail(errc::invalid_argument,
                fmt::format("cannot limit memory to {} bytes: {}",
                            req.memory_bytes, error_text(e.err)));
  case stage_exec:
    return fail(code_for(e.err),
                fmt::format("cannot run \"{}\": {}", what, error_text(e.err)));
  default:
    return fail(errc::internal,
                fmt::format("cannot start \"{}\": setting up the process "
                            "failed: {}",
                            what, error_text(e.err)));
  }
}

// ---- images ---------------------------------------------------------------

namespace {

result<fs::path> check_executable(const fs::path& path,
                                  const std::string& image) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return fail(errc::not_found, fmt::format("executable \"{}\" does not "
                                             "exist",
                                             printable(image)));
  if (!S_ISREG(st.st_mode))
    return fail(errc::invalid_argument,
                fmt::format("\"{}\" is not a regular file, so it cannot be "
                            "run",
                            printable(path.string())));
  if (::access(path.c_str(), X_OK) != 0)
    return fail(errc::permission_denied,
                fmt::format("\"{}\" is not executable: set its executable "
                            "bit",
                            printable(path.string())));
  return path;
}

} // namespace

result<fs::path> resolve_image(const std::string& image,
                               const std::string& path_var) {
  if (image.find('/') != std::string::npos) {
    if (image.front() != '/')
      return fail(errc::invalid_argument,
                  fmt::format("image \"{}\" is a relative path: use a name on "
                              "PATH or an absolute path",
                              printable(image)));
    return check_executable(image, image);
  }
  std::optional<failure> first_problem;
  std::istringstream dirs{path_var};
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty() || dir.front() != '/')
      continue; // never look in the current directory
    auto candidate = fs::path{dir} / image;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) != 0)
      continue;
    auto found = check_executable(candidate, image);
    if (found)
      return found;
    if (!first_problem)
      first_problem = std::move(found).error();
  }
  if (first_problem)
    return *first_problem;
  return fail(errc::not_found, fmt::format("executable \"{}\" not found in "
                                           "PATH",
                                           printable(image)));
}

} // namespace skep::runtime::posix
