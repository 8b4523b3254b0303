#pragma once

#include "actors/console/control_client.hpp"
#include "actors/events/event_log.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace skep::console {

/// Which events a stream reads. Build it with make_event_stream_options so
/// the values are checked before anything is sent.
struct event_stream_options {
  int64_t since_nanos = 0; ///< 0: from the oldest event the leader keeps
  int64_t until_nanos = 0; ///< 0: until stop() says so
  std::vector<std::string> filters; ///< KEY=VALUE, see parse_filters
  /// How long the leader holds a request that finds nothing new.
  std::chrono::milliseconds wait{1000};
  /// Most events per request.
  uint32_t batch_limit = 1000;
};

/// Checks --since, --until (parse_event_time against `now_nanos`; empty:
/// not given) and the filters (parse_filters); fails with invalid_argument
/// naming the bad value, or when since is not before until.
result<event_stream_options>
make_event_stream_options(const std::string& since, const std::string& until,
                          const std::vector<std::string>& filters,
                          int64_t now_nanos);

/// Sends one control request and returns its reply (call_node, or a fake).
using control_call
  = std::function<result<control_reply>(const control_request&)>;

/// Reads the leader's events and calls `on_event` for each, oldest first,
/// never twice. Asks with afterSeq = the last reply's nextSeq; when the
/// reply comes from another log (leadership moved), starts over on the new
/// log from just after the last event delivered, so nothing repeats and
/// only what the old leader recorded after that request is lost.
///
/// `on_notice` gets lines for people (without newline): events dropped from
/// the leader's ring before they were read ("N events were dropped before
/// they could be read"), a leader change, and once per outage that the node
/// is unreachable and the stream retries every second.
///
/// Returns ok when `stop()` is true (asked before each request and while
/// retrying, so within about opts.wait), or when until_nanos has passed and
/// the log has nothing more before it. Fails with the node's error when the
/// first request fails or a later one fails with anything but unavailable
/// or timeout (e.g. not_manager).
result<void>
stream_events_via(const control_call& call, const event_stream_options& opts,
                  const std::function<void(const controlapi::event&)>& on_event,
                  const std::function<bool()>& stop,
                  const std::function<void(const std::string&)>& on_notice);

/// stream_events_via over the control socket of `node`.
result<void>
stream_events(const node_address& node, const event_stream_options& opts,
              const std::function<void(const controlapi::event&)>& on_event,
              const std::function<bool()>& stop,
              const std::function<void(const std::string&)>& on_notice);

/// `skep events [--since T] [--until T] [-f|--filter K=V]... [--format json]`,
/// registered on the top-level app; `run()` runs it when it was parsed.
/// SIGINT ends the stream with exit code 0.
class events_command {
 public:
  struct state;
  explicit events_command(std::unique_ptr<state> s);
  events_command(events_command&&) noexcept;
  ~events_command();

  /// The exit code when `events` was parsed; nullopt otherwise.
  std::optional<int> run();

 private:
  std::unique_ptr<state> state_;
};

events_command add_events_command(CLI::App& app,
                                  const std::optional<std::string>& host);

} // namespace skep::console
