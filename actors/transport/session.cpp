#include "actors/transport/session.hpp"

#include <fmt/format.h>

namespace skep::transport {

namespace {

void append_frame(std::vector<uint8_t>& out,
                  const std::vector<uint8_t>& payload) {
  auto framed = make_frame(payload);
  out.insert(out.end(), framed.begin(), framed.end());
}

// Whether a body may come from a worker. Control traffic between nodes is
// managers forwarding requests to the leader; workers have no business there.
bool workers_may_send(schema::Envelope::Body::Which body) {
  switch (body) {
  case schema::Envelope::Body::ERROR:
    return true;
  case schema::Envelope::Body::CONTROL_REQUEST:
  case schema::Envelope::Body::CONTROL_REPLY:
    return false;
  }
  return false; // unknown bodies never get this far (check_envelope)
}

} // namespace

result<void> authorize(const ca::certificate_fields& peer,
                       const envelope& env) {
  auto root = env.root();
  auto sender = root.getSender().getNodeId();
  if (std::string_view(sender.begin(), sender.size()) != peer.node_id)
    return fail(errc::permission_denied,
                fmt::format("node {} sent a message claiming to come from "
                            "node {}",
                            peer.node_id,
                            std::string(sender.begin(), sender.size())));
  auto body = root.getBody().which();
  if (peer.role != ca::node_role::manager && !workers_may_send(body))
    return fail(errc::permission_denied,
                fmt::format("worker {} may not send message type {}; only "
                            "managers may",
                            peer.node_id, static_cast<uint16_t>(body)));
  return {};
}

session::session(options opts)
  : opts_(opts), reader_(opts.max_frame_bytes), handshake_(opts.handshake) {}

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
        channel_.emplace(handshake_.take_channel());
      }
      continue;
    }
    auto opened = channel_->open(bytes.data(), bytes.size());
    if (!opened)
      return drop(std::move(opened).error());
    auto env = envelope::decode(opened->data(), opened->size(), limits);
    if (!env)
      return drop(std::move(env).error());
    if (auto checked = check_envelope(*env); !checked)
      return drop(std::move(checked).error());
    if (auto allowed = authorize(peer_, *env); !allowed)
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
  auto sealed = channel_->seal(plain.data(), plain.size());
  return make_frame(sealed);
}

} // namespace skep::transport
