#pragma once

#include "messages/result.hpp"

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

/// Process-wide logging: one line per event with a UTC timestamp, the level
/// and the name of the actor (or component) that speaks, written with a single
/// write(2) so lines from many threads never interleave.
///
///   2026-11-21T22:40:01.123Z INFO  node: serving /var/lib/skep/skepd.sock
namespace skep::log {

enum class level { error = 0, warn = 1, info = 2, debug = 3 };

/// Sends lines at `min` and above to `file_path` (appending; created with
/// mode 0600), or to standard error when the path is empty; a file set
/// before is closed. Call at start-up, before other threads log: a line
/// written while the sink changes may go to the old one. Fails when the file
/// cannot be opened, naming it, and then leaves the sink as it was.
result<void> configure(level min, const std::string& file_path);

/// Names this process's node in every line ("[node1]"), so that several
/// nodes' logs in one terminal or file can be told apart. Call at start-up,
/// with configure(); an empty name (the default) leaves it out.
void set_node_name(std::string name);

/// True when lines at `lvl` are written.
bool enabled(level lvl) noexcept;

/// Writes one line. Does nothing when `lvl` is not enabled.
void write(level lvl, std::string_view who, std::string_view text);

template <class... Ts>
void error(std::string_view who, fmt::format_string<Ts...> f, Ts&&... xs) {
  if (enabled(level::error))
    write(level::error, who, fmt::format(f, std::forward<Ts>(xs)...));
}

template <class... Ts>
void warn(std::string_view who, fmt::format_string<Ts...> f, Ts&&... xs) {
  if (enabled(level::warn))
    write(level::warn, who, fmt::format(f, std::forward<Ts>(xs)...));
}

template <class... Ts>
void info(std::string_view who, fmt::format_string<Ts...> f, Ts&&... xs) {
  if (enabled(level::info))
    write(level::info, who, fmt::format(f, std::forward<Ts>(xs)...));
}

template <class... Ts>
void debug(std::string_view who, fmt::format_string<Ts...> f, Ts&&... xs) {
  if (enabled(level::debug))
    write(level::debug, who, fmt::format(f, std::forward<Ts>(xs)...));
}

/// Lets at most `burst` lines through per `period` and counts the rest, so
/// that a flood of alike events (a port scan, a million tasks) writes a few
/// lines and then a summary instead of one line each. Thread-safe.
class rate_limit {
 public:
  rate_limit(size_t burst, std::chrono::steady_clock::duration period)
    : burst_(burst), period_(period) {}

  /// True when a line may be written at `now`. Lines held back since the
  /// last one let through are added to `*held_back`, to be said with it.
  bool allow(std::chrono::steady_clock::time_point now, size_t* held_back);

 private:
  std::mutex mutex_;
  size_t burst_;
  std::chrono::steady_clock::duration period_;
  std::chrono::steady_clock::time_point window_start_{};
  size_t in_window_ = 0;
  size_t held_ = 0;
};

/// write(), through `limit`: "... (and 37 more alike in the last 10s)".
void write_limited(rate_limit& limit, level lvl, std::string_view who,
                   std::string_view text);

template <class... Ts>
void warn_limited(rate_limit& limit, std::string_view who,
                  fmt::format_string<Ts...> f, Ts&&... xs) {
  if (enabled(level::warn))
    write_limited(limit, level::warn, who,
                  fmt::format(f, std::forward<Ts>(xs)...));
}

template <class... Ts>
void info_limited(rate_limit& limit, std::string_view who,
                  fmt::format_string<Ts...> f, Ts&&... xs) {
  if (enabled(level::info))
    write_limited(limit, level::info, who,
                  fmt::format(f, std::forward<Ts>(xs)...));
}

/// Formats a line exactly as write() would, for tests:
/// "<UTC time> <LEVEL> [<node>] <who>: <text>", without "[<node>] " when
/// `node` is empty.
std::string format_line(level lvl, std::string_view who, std::string_view text,
                        long long unix_millis, std::string_view node = {});

} // namespace skep::log
