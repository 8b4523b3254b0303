#include "actors/logging/log.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace skep::log {

namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};
std::atomic<int> sink_fd{STDERR_FILENO};
std::string node_name; // set once at start-up, before other threads log

const char* level_name(level lvl) {
  switch (lvl) {
  case level::error:
    return "ERROR";
  case level::warn:
    return "WARN ";
  case level::info:
    return "INFO ";
  case level::debug:
    return "DEBUG";
  }
  return "?    ";
}

} // namespace

result<void> configure(level min, const std::string& file_path) {
  min_level = static_cast<int>(min);
  if (file_path.empty()) {
    int old = sink_fd.exchange(STDERR_FILENO);
    if (old != STDERR_FILENO)
      ::close(old);
    return {};
  }
  int fd = ::open(file_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0600);
  if (fd < 0)
    return fail(errc::invalid_argument,
                fmt::format("cannot open log file {}: {}", file_path,
                            std::strerror(errno)));
  int old = sink_fd.exchange(fd);
  if (old != STDERR_FILENO)
    ::close(old);
  return {};
}

void set_node_name(std::string name) {
  node_name = std::move(name);
}

bool enabled(level lvl) noexcept {
  return static_cast<int>(lvl) <= min_level.load(std::memory_order_relaxed);
}

std::string format_line(level lvl, std::string_view who, std::string_view text,
                        long long unix_millis, std::string_view node) {
  std::time_t secs = static_cast<std::time_t>(unix_millis / 1000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  if (node.empty())
    return fmt::format("{}.{:03}Z {} {}: {}\n", stamp, unix_millis % 1000,
                       level_name(lvl), who, text);
  return fmt::format("{}.{:03}Z {} [{}] {}: {}\n", stamp, unix_millis % 1000,
                     level_name(lvl), node, who, text);
}

void write(level lvl, std::string_view who, std::string_view text) {
  if (!enabled(lvl))
    return;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::system_clock::now().time_since_epoch());
  auto line = format_line(lvl, who, text, now.count(), node_name);
  // One write per line: O_APPEND and pipes keep it whole.
  auto fd = sink_fd.load();
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    auto n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

bool rate_limit::allow(std::chrono::steady_clock::time_point now,
                       size_t* held_back) {
  std::lock_guard<std::mutex> guard{mutex_};
  if (now - window_start_ >= period_) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= burst_) {
    ++held_;
    return false;
  }
  ++in_window_;
  *held_back += held_;
  held_ = 0;
  return true;
}

void write_limited(rate_limit& limit, level lvl, std::string_view who,
                   std::string_view text) {
  size_t held = 0;
  if (!limit.allow(std::chrono::steady_clock::now(), &held))
    return;
  if (held == 0)
    write(lvl, who, text);
  else
    write(lvl, who,
          fmt::format("{} (and {} more alike, held back)", text, held));
}

} // namespace skep::log
