#pragma once

#include "actors/raft/types.hpp"
#include "messages/raft.capnp.h"
#include "messages/result.hpp"

#include <string_view>

namespace skep::raft {

/// The Raft member id of the node named `node`: the first 8 bytes of
/// BLAKE2b-256 of the name, never 0. Every manager derives the same id, so
/// configurations need no separate id table.
node_id member_id_of(std::string_view node);

/// Writes `m` into a Cap'n Proto message.
void to_wire(const message& m, schema::raft::Message::Builder out);

/// Reads a message from the wire, checking what the schema cannot: the
/// message and entry types, and the sizes of hashes.
result<message> from_wire(schema::raft::Message::Reader in);

} // namespace skep::raft
