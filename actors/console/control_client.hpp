#pragma once

#include "messages/envelope.hpp"
#include "messages/result.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace skep::console {

/// The node a command talks to.
struct node_address {
  /// Filesystem path of the node's control socket.
  std::string socket_path;
  /// How the operator wrote it, for messages
  /// ("unix:///var/lib/skep/skepd.sock").
  std::string display;
};

/// The control socket of a node started with the default data dir.
inline constexpr const char* default_host = "unix:///var/lib/skep/skepd.sock";

/// Picks the node from `-H` (when given), else `SKEP_HOST` (when set and
/// not empty), else the default. Accepts `unix:///absolute/path`. Fails
/// naming the value for other schemes or relative paths.
result<node_address>
resolve_node_address(const std::optional<std::string>& flag,
                     const char* env_value);

/// Sends `request` to the node and waits up to `timeout` for its reply.
/// Fails with `unavailable` when the node cannot be reached (the message
/// says whether skepd runs), with the node's error when it refuses, and with
/// `malformed_message` when the reply is not readable.
result<control_reply> call_node(const node_address& node,
                                const control_request& request,
                                std::chrono::milliseconds timeout);

} // namespace skep::console
