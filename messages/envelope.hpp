#pragma once

#include "messages/common.capnp.h"
#include "messages/control.capnp.h"
#include "messages/envelope.capnp.h"
#include "messages/message.hpp"
#include "messages/result.hpp"

#include <cstdint>
#include <string>

#include <capnp/message.h>

namespace skep {

/// The wire protocol version this build speaks. A peer sending another
/// version gets an `unsupported` error naming both.
inline constexpr uint16_t protocol_version = 1;

using envelope = message<schema::Envelope>;
using control_request = message<schema::control::Request>;
using control_reply = message<schema::control::Reply>;

/// Names an actor: (node id, actor name). An empty node id means "the node
/// that receives the envelope".
struct actor_ref {
  std::string node_id;
  std::string name;
};

/// Builds an envelope with the given header; `fill` writes the body through
/// a schema::Envelope::Body::Builder.
template <class Fill>
envelope make_envelope(schema::Envelope::Kind kind, uint64_t correlation_id,
                       const actor_ref& sender, const actor_ref& target,
                       Fill&& fill) {
  capnp::MallocMessageBuilder builder;
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version);
  env.getSender().setNodeId(sender.node_id);
  env.getSender().setName(sender.name);
  env.getTarget().setNodeId(target.node_id);
  env.getTarget().setName(target.name);
  env.setCorrelationId(correlation_id);
  env.setKind(kind);
  fill(env.getBody());
  return envelope::from(builder);
}

/// A copy of `env` with a new header and the same body.
envelope restamp(const envelope& env, schema::Envelope::Kind kind,
                 uint64_t correlation_id, const actor_ref& sender,
                 const actor_ref& target);

/// Reads an envelope's sender or target.
actor_ref to_actor_ref(schema::ActorRef::Reader ref);

/// Builds a request envelope carrying `request` from `sender` to `target`.
envelope make_control_request_envelope(uint64_t correlation_id,
                                       const actor_ref& sender,
                                       const actor_ref& target,
                                       const control_request& request);

/// Builds the reply envelope to `request_envelope` carrying `reply`.
envelope make_control_reply_envelope(const envelope& request_envelope,
                                     const control_reply& reply);

/// Builds a reply envelope that refuses the envelope with `correlation_id`
/// (0 when the request could not be read at all).
envelope make_error_envelope(uint64_t correlation_id, const failure& why);

/// A control reply that carries `why`.
control_reply make_error_reply(const failure& why);

/// Reads an Error struct.
failure from_schema(schema::Error::Reader error);

/// Writes `why` into an Error struct.
void to_schema(const failure& why, schema::Error::Builder error);

/// Checks what the schema cannot: the protocol version, the kind, and that
/// the body is a message this build knows.
result<void> check_envelope(const envelope& env);

/// Encodes an envelope into a complete frame (header + payload).
std::vector<uint8_t> frame_envelope(const envelope& env);

} // namespace skep
