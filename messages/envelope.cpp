#include "messages/envelope.hpp"

#include "messages/frame.hpp"

#include <capnp/message.h>
#include <fmt/format.h>

namespace skep {

namespace {

void set_ref(schema::ActorRef::Builder out, const actor_ref& ref) {
  out.setNodeId(ref.node_id);
  out.setName(ref.name);
}

} // namespace

envelope restamp(const envelope& env, schema::Envelope::Kind kind,
                 uint64_t correlation_id, const actor_ref& sender,
                 const actor_ref& target) {
  capnp::MallocMessageBuilder builder;
  builder.setRoot(env.root());
  auto out = builder.getRoot<schema::Envelope>();
  out.setProtocolVersion(protocol_version);
  set_ref(out.initSender(), sender);
  set_ref(out.initTarget(), target);
  out.setCorrelationId(correlation_id);
  out.setKind(kind);
  return envelope::from(builder);
}

actor_ref to_actor_ref(schema::ActorRef::Reader ref) {
  auto node = ref.getNodeId();
  auto name = ref.getName();
  return actor_ref{std::string(node.begin(), node.size()),
                   std::string(name.begin(), name.size())};
}

envelope make_control_request_envelope(uint64_t correlation_id,
                                       const actor_ref& sender,
                                       const actor_ref& target,
                                       const control_request& request) {
  capnp::MallocMessageBuilder builder;
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version);
  set_ref(env.initSender(), sender);
  set_ref(env.initTarget(), target);
  env.setCorrelationId(correlation_id);
  env.setKind(schema::Envelope::Kind::REQUEST);
  env.getBody().setControlRequest(request.root());
  return envelope::from(builder);
}

envelope make_control_reply_envelope(const envelope& request_envelope,
                                     const control_reply& reply) {
  auto req = request_envelope.root();
  capnp::MallocMessageBuilder builder;
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version);
  env.setSender(req.getTarget());
  env.setTarget(req.getSender());
  env.setCorrelationId(req.getCorrelationId());
  env.setKind(schema::Envelope::Kind::REPLY);
  env.getBody().setControlReply(reply.root());
  return envelope::from(builder);
}

envelope make_error_envelope(uint64_t correlation_id, const failure& why) {
  capnp::MallocMessageBuilder builder;
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version);
  env.setCorrelationId(correlation_id);
  env.setKind(schema::Envelope::Kind::REPLY);
  to_schema(why, env.getBody().initError());
  return envelope::from(builder);
}

control_reply make_error_reply(const failure& why) {
  capnp::MallocMessageBuilder builder;
  auto reply = builder.initRoot<schema::control::Reply>();
  to_schema(why, reply.initError());
  return control_reply::from(builder);
}

failure from_schema(schema::Error::Reader error) {
  auto code = static_cast<uint16_t>(error.getCode());
  if (code == 0 || code > static_cast<uint16_t>(errc::frame_too_large))
    code = static_cast<uint16_t>(errc::internal);
  return failure{static_cast<errc>(code), error.getMessage().cStr()};
}

void to_schema(const failure& why, schema::Error::Builder error) {
  error.setCode(static_cast<schema::ErrorCode>(why.code));
  error.setMessage(why.message);
}

result<void> check_envelope(const envelope& env) {
  auto root = env.root();
  if (root.getProtocolVersion() != protocol_version)
    return fail(errc::unsupported,
                fmt::format("protocol version {} is not supported; this node "
                            "speaks version {}",
                            root.getProtocolVersion(), protocol_version));
  switch (root.getKind()) {
  case schema::Envelope::Kind::ONE_WAY:
  case schema::Envelope::Kind::REQUEST:
  case schema::Envelope::Kind::REPLY:
    break;
  default:
    return fail(errc::malformed_message,
                fmt::format("unknown envelope kind {}",
                            static_cast<uint16_t>(root.getKind())));
  }
  auto body = root.getBody();
  switch (body.which()) {
  case schema::Envelope::Body::ERROR:
  case schema::Envelope::Body::CONTROL_REQUEST:
  case schema::Envelope::Body::CONTROL_REPLY:
  case schema::Envelope::Body::PING:
  case schema::Envelope::Body::PONG:
  case schema::Envelope::Body::CERTIFICATE_REQUEST:
  case schema::Envelope::Body::CERTIFICATE_REPLY:
  case schema::Envelope::Body::RAFT:
  case schema::Envelope::Body::HEARTBEAT:
  case schema::Envelope::Body::HEARTBEAT_REPLY:
  case schema::Envelope::Body::ASSIGNMENTS:
  case schema::Envelope::Body::TASK_STATUS:
  case schema::Envelope::Body::TASK_STATUS_REPLY:
  case schema::Envelope::Body::TASK_LOGS:
  case schema::Envelope::Body::TASK_LOGS_REPLY:
  case schema::Envelope::Body::FAULT:
  case schema::Envelope::Body::FAULT_REPLY:
  case schema::Envelope::Body::INSPECT:
  case schema::Envelope::Body::RECONCILE:
  case schema::Envelope::Body::RECONCILER_STATE:
  case schema::Envelope::Body::SCHEDULER_STATE:
  case schema::Envelope::Body::DISPATCHER_STATE:
    return {};
  }
  return fail(errc::unsupported,
              fmt::format("unknown message type {} in envelope",
                          static_cast<uint16_t>(body.which())));
}

std::vector<uint8_t> frame_envelope(const envelope& env) {
  return make_frame(env.encode());
}

} // namespace skep
