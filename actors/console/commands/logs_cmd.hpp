#pragma once

#include "messages/control.capnp.h"

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace skep::console {

/// `skep service logs [-f] [--tail N] [-t] SERVICE|TASK`, registered under
/// the `service` command; `run()` runs it when it was parsed.
class logs_command {
 public:
  struct state;
  explicit logs_command(std::unique_ptr<state> s);
  logs_command(logs_command&&) noexcept;
  ~logs_command();

  /// The exit code when `service logs` was parsed; nullopt otherwise.
  std::optional<int> run();

 private:
  std::unique_ptr<state> state_;
};

logs_command add_logs_command(CLI::App& service,
                              const std::optional<std::string>& host);

/// The task prefix Docker shows before each line: `NAME.SLOT.ID@NODE` (an
/// id of 12 characters; global services show no slot), padded to `width`.
std::string log_prefix(schema::control::TaskOutput::Reader task, size_t width);

/// Formats the complete lines of `chunk` with `prefix` and " | " before
/// each; a trailing partial line is kept in `partial` until its end comes.
std::string prefix_lines(const std::string& prefix, std::string& partial,
                         const std::string& chunk);

} // namespace skep::console
