#pragma once
// What `skep console` runs: one step at a time (send, call, let, wait,
// expect, sleep, faults, introspection) against a node's control socket,
// keeping the variables replies were stored in and the events seen since the
// session began. Used by the interactive console and by scripts alike.

#include "actors/console/control_client.hpp"
#include "actors/console/session/catalog.hpp"
#include "actors/console/session/script.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace skep::console {

/// Checks a parsed script before anything runs: every message step must
/// name a known actor and message, and its fields must build (for a step
/// with variables, the actor and message where they are written out).
/// Errors read "line L: ...". Pure: sends nothing.
result<void> check_script(const script& s);

/// The example steps `help` prints, for tests.
const std::vector<std::string>& help_examples();

struct session_options {
  node_address node;
  /// Replies as JSON instead of Cap'n Proto text.
  bool json = false;
  /// How long a call may take.
  std::chrono::milliseconds call_timeout{30000};
  /// How often a wait looks again.
  std::chrono::milliseconds poll{200};
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

class console_session {
 public:
  explicit console_session(session_options opts);

  /// Runs one step (variables already substituted: see bind()). Fails with
  /// what went wrong, without the step's position: the caller adds it.
  result<void> run(const step& s);

  /// The step with its variables substituted and parsed again.
  result<step> bind(const step& s) const;

  /// Defines NAME as a text value (`--var NAME=VALUE`).
  void set_variable(const std::string& name, std::string value);

  /// True once an `exit` step ran.
  bool exit_requested() const { return exit_requested_; }

  /// Node hostnames and service names, for completion; empty when the node
  /// does not answer.
  known_names names();

  /// Prints events that arrived for `watch` since the last look.
  void pump_events();

  /// Interactive sessions stream `watch` until `interrupted()` is true
  /// instead of printing between steps.
  bool interactive = false;
  std::function<bool()> interrupted = [] { return false; };

 private:
  struct variable {
    std::optional<control_reply> reply;
    std::optional<envelope> env;
    std::string text;
  };

  result<control_reply> call(const control_request& request,
                             std::chrono::milliseconds timeout);
  result<control_reply> call(const control_request& request) {
    return call(request, opts_.call_timeout);
  }
  result<void> run_message(const step& s);
  result<void> run_condition(const step& s);
  result<void> run_fault(const step& s);
  result<void> run_actors();
  result<void> run_watch(const step& s);
  result<void> sleep_for(std::chrono::nanoseconds how_long);
  result<condition_result> check(const condition& c);
  result<cluster_view> fetch(const data_needs& needs);
  /// Reads the events recorded since the last call into seen_ (and prints
  /// the watched ones). Quiet when there is no leader.
  void read_events();
  result<std::vector<std::string>> all_nodes();
  result<void> send_fault(const std::string& node, const std::string& args);
  result<std::string> lookup(std::string_view name_and_path) const;
  void print(const std::string& text);

  session_options opts_;
  std::map<std::string, variable> variables_;
  bool exit_requested_ = false;
  // Events since the session began.
  int64_t started_nanos_ = 0;
  std::string events_log_;
  uint64_t events_after_ = 0;
  std::vector<event_row> seen_;
  std::optional<std::vector<std::string>> watch_;
};

} // namespace skep::console
