#pragma once

#include "actors/node/supervisor.hpp"
#include "messages/result.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace caf {
class actor_system;
} // namespace caf

namespace skep::node {

/// How the control socket serves clients.
struct control_server_options {
  std::string socket_path;
  /// Frames above this size are refused and the connection closed.
  size_t max_frame_bytes = 4 * 1024 * 1024;
  /// How long one request may take before the client gets a timeout error.
  std::chrono::nanoseconds request_timeout = std::chrono::seconds{30};
  /// How long a client may take to send the rest of a frame once it started
  /// one, and to read a reply; a client slower than that is dropped.
  std::chrono::milliseconds frame_timeout{10'000};
  /// Clients served at once; more are told to retry and disconnected.
  size_t max_sessions = 128;
};

/// Binds a unix stream socket at `path` with mode 0600 and listens on it. A
/// stale socket file (no server behind it) is replaced; a live one is an
/// error naming the path. Returns the listening descriptor (close-on-exec).
result<int> open_control_socket(const std::string& path);

/// A running control server: a detached listener actor that accepts clients
/// and one detached session actor per client, each reading length-prefixed
/// envelopes, passing control requests to the supervisor and writing the
/// replies. Destroying the handle stops the listener and every session,
/// closes the listening socket and removes the socket file.
class control_server {
 public:
  /// Takes ownership of `listen_fd`.
  static result<std::unique_ptr<control_server>>
  start(caf::actor_system& sys, int listen_fd, supervisor_actor supervisor,
        control_server_options options);

  /// Takes ownership of `stop_fd`, the write end of the stop pipe.
  explicit control_server(int stop_fd) : stop_fd_(stop_fd) {}
  ~control_server();
  control_server(const control_server&) = delete;
  control_server& operator=(const control_server&) = delete;

 private:
  /// Write end of the stop pipe; closing it wakes every poller.
  int stop_fd_;
};

} // namespace skep::node
