#include "actors/transport/session.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace skep::transport {

namespace {

void append_frame(std::vector<uint8_t>& out,
                  const std::vector<uint8_t>& payload) {
  auto framed = make_frame(payload);
  out.insert(out.end(), framed.begin(), framed.end());
}

using body_kind = schema::Envelope::Body::Which;

// Whether a body may come from a worker. Control traffic between nodes is
// managers forwarding requests to the leader, and only a CA (on a manager)
// hands out certificates; workers have no business there.
bool workers_may_send(body_kind body) {
  switch (body) {
  case body_kind::ERROR:
  case body_kind::PING:
  case body_kind::PONG:
  case body_kind::CERTIFICATE_REQUEST:
  case body_kind::HEARTBEAT:
  case body_kind::TASK_STATUS:
  case body_kind::TASK_LOGS_REPLY:
  case body_kind::FAULT_REPLY:
    return true;
  case body_kind::CONTROL_REQUEST:
  case body_kind::CONTROL_REPLY:
  case body_kind::CERTIFICATE_REPLY:
  case body_kind::RAFT:
  case body_kind::HEARTBEAT_REPLY:
  case body_kind::ASSIGNMENTS:
  case body_kind::TASK_STATUS_REPLY:
  case body_kind::TASK_LOGS:
  case body_kind::FAULT:
  case body_kind::INSPECT:
  case body_kind::RECONCILE:
  case body_kind::RECONCILER_STATE:
  case body_kind::SCHEDULER_STATE:
  case body_kind::DISPATCHER_STATE:
    return false;
  }
  return false; // unknown bodies never get this far (check_envelope)
}

std::string_view text(capnp::Text::Reader t) {
  return std::string_view(t.begin(), t.size());
}

} // namespace

result<void> authorize(const ca::certificate_fields& peer, bool joining,
                       const envelope& env) {
  auto root = env.root();
  auto sender = text(root.getSender().getNodeId());
  if (sender != peer.node_id)
    return fail(errc::permission_denied,
                fmt::format("node {} sent a message claiming to come from "
                            "node {}",
                            peer.node_id, std::string(sender)));
  auto body = root.getBody().which();
  if (joining) {
    if (root.getKind() != schema::Envelope::Kind::REQUEST
        || body != body_kind::CERTIFICATE_REQUEST
        || text(root.getTarget().getName()) != "ca")
      return fail(errc::permission_denied,
                  fmt::format("node {} joined with a token and may only ask "
                              "the CA for its certificate",
                              peer.node_id));
    return {};
  }
  if (body == body_kind::HEARTBEAT
      && text(root.getBody().getHeartbeat().getNodeId()) != peer.node_id)
    return fail(
      errc::permission_denied,
      fmt::format("node {} may send heartbeats only for itself", peer.node_id));
  if (body == body_kind::TASK_STATUS
      && text(root.getBody().getTaskStatus().getNodeId()) != peer.node_id)
    return fail(
      errc::permission_denied,
      fmt::format("node {} may report only its own tasks", peer.node_id));
  if (peer.role != ca::node_role::manager && !workers_may_send(body))
    return fail(errc::permission_denied,
                fmt::format("worker {} may not send message type {}; only "
                            "managers may",
                            peer.node_id, static_cast<uint16_t>(body)));
  return {};
}

// Handshake frames are small: an unauthenticated peer may not make this node
// buffer a full-size frame.
constexpr size_t max_handshake_frame = 16 * 1024;

session::session(options opts)
  : opts_(opts), reader_(std::min(max_handshake_frame, opts.max_frame_bytes)),
    handshake_(opts.handshake) {}

std::vector<uint8_t> session::start() {
  std::vector<uint8_t> out;
  for (auto& frame : handshake_.start())
    append_frame(out, frame);
  return out;
}

result<session::output> session::on_bytes(const uint8_t* data, size_t size) {
  if (failed_)
    return fail(errc::unavailable, "the session already failed");
  auto drop = [this](failure why) -> result<output> {
    failed_ = true;
    return why;
  };
  reader_.feed(data, size);
  output out;
  read_limits limits = read_limits_for_frames(opts_.max_frame_bytes);
  for (;;) {
    auto frame = reader_.next();
    if (!frame)
      return drop(std::move(frame).error());
    if (!*frame)
      return out;
    const auto& bytes = **frame;
    if (!channel_) {
      auto replies = handshake_.receive(bytes.data(), bytes.size());
      if (!replies)
        return drop(std::move(replies).error());
      for (auto& reply : *replies)
        append_frame(out.to_send, reply);
      if (handshake_.established()) {
        peer_ = handshake_.peer();
        joining_ = handshake_.peer_joining();
        channel_.emplace(handshake_.take_channel());
        reader_.set_max_frame_bytes(opts_.max_frame_bytes);
      }
      continue;
    }
    result<envelope> env = fail(errc::internal, "unreachable");
    if (opts_.seal_frames) {
      auto opened = channel_->open(bytes.data(), bytes.size());
      if (!opened)
        return drop(std::move(opened).error());
      env = envelope::decode(opened->data(), opened->size(), limits);
    } else {
      env = envelope::decode(bytes.data(), bytes.size(), limits);
    }
    if (!env)
      return drop(std::move(env).error());
    if (auto checked = check_envelope(*env); !checked)
      return drop(std::move(checked).error());
    if (auto allowed = authorize(peer_, joining_, *env); !allowed)
      return drop(std::move(allowed).error());
    out.received.push_back(std::move(*env));
  }
}

result<std::vector<uint8_t>> session::seal(const envelope& env) {
  if (!channel_ || failed_)
    return fail(errc::unavailable, "the session is not established");
  auto plain = env.encode();
  if (plain.size() + sealed_channel::overhead > opts_.max_frame_bytes)
    return fail(errc::frame_too_large,
                fmt::format("message of {} bytes exceeds the frame limit of {} "
                            "bytes",
                            plain.size(), opts_.max_frame_bytes));
  if (!opts_.seal_frames)
    return make_frame(plain);
  auto sealed = channel_->seal(plain.data(), plain.size());
  return make_frame(sealed);
}

} // namespace skep::transport
