#include "actors/console/control_client.hpp"

#include "messages/frame_io.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

namespace skep::console {

namespace {

/// The largest reply skep reads.
constexpr size_t max_reply_bytes = size_t{256} << 20;

} // namespace

namespace {

// Closes a descriptor when the call returns.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace

result<node_address>
resolve_node_address(const std::optional<std::string>& flag,
                     const char* env_value) {
  std::string text = default_host;
  std::string source = "the default host";
  if (flag) {
    text = *flag;
    source = "-H";
  } else if (env_value != nullptr && *env_value != '\0') {
    text = env_value;
    source = "SKEP_HOST";
  }
  constexpr std::string_view scheme = "unix://";
  if (text.compare(0, scheme.size(), scheme) != 0)
    return fail(errc::invalid_argument,
                fmt::format("{} \"{}\" is not supported: use unix:///path/to/"
                            "skepd.sock",
                            source, text));
  auto path = text.substr(scheme.size());
  if (path.empty() || path.front() != '/')
    return fail(errc::invalid_argument,
                fmt::format("{} \"{}\" needs an absolute socket path, e.g. "
                            "unix:///var/lib/skep/skepd.sock",
                            source, text));
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    return fail(
      errc::invalid_argument,
      fmt::format("{} \"{}\": socket path is too long", source, text));
  return node_address{path, text};
}

result<control_reply> call_node(const node_address& node,
                                const control_request& request,
                                std::chrono::milliseconds timeout) {
  fd_guard sock{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0)
    return fail(errc::internal, fmt::format("cannot create a socket: {}",
                                            std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, node.socket_path.c_str(), node.socket_path.size());
  if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return fail(errc::unavailable,
                fmt::format("Cannot connect to the Skep daemon at {}: {}. Is "
                            "skepd running?",
                            node.display, std::strerror(errno)));
  constexpr uint64_t correlation_id = 1;
  auto env = make_control_request_envelope(correlation_id, {"", "skep"},
                                           {"", "node"}, request);
  auto frame = frame_envelope(env);
  if (auto sent = write_all(sock.fd, frame.data(), frame.size()); !sent)
    return fail(errc::unavailable,
                fmt::format("lost the connection to {}: {}", node.display,
                            sent.error().message));
  // Replies come from the node the operator named, over its local socket;
  // a task list of 100,000 tasks is tens of MB.
  auto limits = read_limits_for_frames(max_reply_bytes);
  frame_reader reader{limits.max_frame_bytes};
  frame_read_options opts;
  opts.timeout = timeout;
  auto reply_frame = read_frame(sock.fd, reader, opts);
  if (!reply_frame) {
    auto why = std::move(reply_frame).error();
    if (why.code == errc::timeout)
      why.message = fmt::format("{} did not answer within {} ms", node.display,
                                timeout.count());
    return why;
  }
  if (!*reply_frame)
    return fail(
      errc::unavailable,
      fmt::format("{} closed the connection without answering", node.display));
  const auto& bytes = **reply_frame;
  auto reply_env = envelope::decode(bytes.data(), bytes.size(), limits);
  if (!reply_env)
    return fail(errc::malformed_message,
                fmt::format("unreadable reply from {}: {}", node.display,
                            reply_env.error().message));
  if (auto checked = check_envelope(*reply_env); !checked)
    return std::move(checked).error();
  auto root = reply_env->root();
  auto body = root.getBody();
  if (body.which() == schema::Envelope::Body::ERROR)
    return from_schema(body.getError());
  if (body.which() != schema::Envelope::Body::CONTROL_REPLY
      || root.getCorrelationId() != correlation_id)
    return fail(errc::malformed_message,
                fmt::format("{} answered with something other than the reply "
                            "to this request",
                            node.display));
  auto reply = control_reply::from(body.getControlReply());
  if (reply.root().which() == schema::control::Reply::ERROR)
    return from_schema(reply.root().getError());
  return reply;
}

} // namespace skep::console
