#pragma once

// `skep service ...` and `skep node ps`: the commands that send the flags
// (parsed and turned into a spec by service_spec.hpp).

#include "actors/console/commands/service_spec.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace skep::console {

/// The `service` subcommands and `node ps`, registered on the app; `run()`
/// runs the one that was parsed.
class service_commands {
 public:
  struct state;

  explicit service_commands(std::unique_ptr<state> s);
  service_commands(service_commands&&) noexcept;
  ~service_commands();

  /// The exit code of the command that was parsed; nullopt when none of
  /// these commands was.
  std::optional<int> run();

 private:
  std::unique_ptr<state> state_;
};

/// Adds `service` (create, ls, ps, inspect, scale, update, rollback, rm) to
/// `app` and `ps` to `node`. `host` is read when a command runs, after
/// parsing.
service_commands add_service_commands(CLI::App& app, CLI::App& node,
                                      const std::optional<std::string>& host);

} // namespace skep::console
