#pragma once

#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace skep::console {

/// `skep console [SCRIPT] [--json] [--var NAME=VALUE]...`: an interactive
/// console (line editing, history, completion) or, with SCRIPT, runs the
/// script and exits non-zero at the first step that fails, naming its line.
/// `run()` runs it when it was parsed.
class console_command {
 public:
  struct state;
  explicit console_command(std::unique_ptr<state> s);
  console_command(console_command&&) noexcept;
  ~console_command();

  /// The exit code when `console` was parsed; nullopt otherwise.
  std::optional<int> run();

 private:
  std::unique_ptr<state> state_;
};

console_command add_console_command(CLI::App& app,
                                    const std::optional<std::string>& host);

} // namespace skep::console
