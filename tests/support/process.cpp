#include "tests/support/process.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace skep::test {

namespace {

using clock_type = std::chrono::steady_clock;

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

int ms_left(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
  ::_exit(127);
}

} // namespace

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* ent = ::readdir(d)) {
      std::string name = ent->d_name;
      if (name != "." && name != "..")
        out.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

temp_dir::temp_dir() {
  char tmpl[] = "/tmp/skep-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

command_result run_command(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env,
                           std::chrono::milliseconds timeout) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    for (const auto& [key, value] : env)
      ::setenv(key.c_str(), value.c_str(), 1);
    exec_child(argv);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  command_result res;
  auto deadline = clock_type::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    int ready = ::poll(fds, 2, ms_left(deadline));
    if (ready == 0)
      break; // timed out
    if (ready < 0 && errno == EINTR)
      continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      auto n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(n));
    }
  }
  for (auto& p : fds)
    if (p.fd >= 0) {
      ::close(p.fd);
      ::kill(pid, SIGKILL);
    }
  int status = 0;
  ::waitpid(pid, &status, 0);
  res.exit_code = open_fds > 0 ? -1 : decode_status(status);
  return res;
}

child_process::child_process(const std::vector<std::string>& argv,
                             bool with_stdin) {
  int err_pipe[2];
  int in_pipe[2] = {-1, -1};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0 || ::pipe2(stop_fd_, O_CLOEXEC) != 0
      || (with_stdin && ::pipe2(in_pipe, O_CLOEXEC) != 0))
    throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ == 0) {
    int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(with_stdin ? in_pipe[0] : null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(err_pipe[1], 2);
    exec_child(argv);
  }
  ::close(err_pipe[1]);
  err_fd_ = err_pipe[0];
  if (with_stdin) {
    // A child that died must not take the test with it when written to.
    ::signal(SIGPIPE, SIG_IGN);
    ::close(in_pipe[0]);
    in_fd_ = in_pipe[1];
  }
  pidfd_ = pidfd_open(pid_);
  reader_ = std::thread([this] { read_output(); });
}

child_process::~child_process() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds{10});
  }
  stop_reading();
  if (err_fd_ >= 0)
    ::close(err_fd_);
  if (in_fd_ >= 0)
    ::close(in_fd_);
  if (pidfd_ >= 0)
    ::close(pidfd_);
  for (int fd : stop_fd_)
    if (fd >= 0)
      ::close(fd);
}

void child_process::read_output() {
  for (;;) {
    pollfd fds[2] = {{err_fd_, POLLIN, 0}, {stop_fd_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR)
      break;
    if (fds[0].revents == 0 && fds[1].revents != 0)
      break;
    if (fds[0].revents == 0)
      continue;
    char buf[4096];
    auto n = ::read(err_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    std::lock_guard<std::mutex> guard{mtx_};
    if (n <= 0)
      break;
    output_.append(buf, static_cast<size_t>(n));
    grew_.notify_all();
  }
  std::lock_guard<std::mutex> guard{mtx_};
  closed_ = true;
  grew_.notify_all();
}

void child_process::stop_reading() {
  if (!reader_.joinable())
    return;
  char stop = 's';
  [[maybe_unused]] auto n = ::write(stop_fd_[1], &stop, 1);
  reader_.join();
}

std::string child_process::output() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return output_;
}

bool child_process::wait_for_output(const std::string& needle,
                                    std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{mtx_};
  return grew_.wait_for(
    lock, timeout, [&] { return output_.find(needle) != std::string::npos; });
}

void child_process::write_line(const std::string& line) {
  if (in_fd_ < 0)
    throw std::logic_error("the child was started without standard input");
  auto text = line + "\n";
  size_t off = 0;
  while (off < text.size()) {
    auto n = ::write(in_fd_, text.data() + off, text.size() - off);
    if (n <= 0)
      return; // the child is gone; its output will tell
    off += static_cast<size_t>(n);
  }
}

std::string child_process::line_with(const std::string& needle,
                                     std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock{mtx_};
  // The line may still be arriving: wait for its end too.
  auto whole_line = [&] {
    auto at = output_.find(needle);
    return at != std::string::npos
           && (output_.find('\n', at) != std::string::npos || closed_);
  };
  if (!grew_.wait_for(lock, timeout, whole_line))
    return {};
  auto at = output_.find(needle);
  auto begin = output_.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  auto end = output_.find('\n', at);
  return output_.substr(begin, end == std::string::npos ? std::string::npos
                                                        : end - begin);
}

void child_process::signal(int sig) {
  if (!exit_code_)
    ::kill(pid_, sig);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_)
    return exit_code_;
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = decode_status(status);
      // Collect what it wrote last: its standard error closes with it,
      // unless something it started still holds it.
      std::unique_lock<std::mutex> lock{mtx_};
      grew_.wait_for(lock, std::chrono::seconds{1}, [&] { return closed_; });
      return exit_code_;
    }
    int left = ms_left(deadline);
    if (left == 0)
      return std::nullopt;
    // The pidfd turns readable when the child exits.
    pollfd p{pidfd_, POLLIN, 0};
    ::poll(&p, 1, left);
  }
}

std::vector<pid_t> processes_under(std::string root) {
  if (root.empty() || root.back() != '/')
    root += '/';
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr)
    return out;
  while (auto* e = readdir(proc)) {
    char* end = nullptr;
    auto pid = static_cast<pid_t>(strtol(e->d_name, &end, 10));
    if (pid <= 0 || *end != '\0')
      continue;
    char cwd[4096];
    auto link = "/proc/" + std::string{e->d_name} + "/cwd";
    auto n = readlink(link.c_str(), cwd, sizeof(cwd) - 1);
    if (n > 0 && std::string(cwd, static_cast<size_t>(n)).rfind(root, 0) == 0)
      out.push_back(pid);
  }
  closedir(proc);
  return out;
}

uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0
      || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("cannot bind a loopback port");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

} // namespace skep::test
