#pragma once

#include "actors/raft/raft_actor.hpp"
#include "actors/transport/transport_actor.hpp"

#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace skep::raft {

/// Carries one manager's Raft messages over the node transport. Give it to
/// the raft actor as its outbox, register it with the transport as "raft",
/// then send it (atom::apply, member) with the local raft actor:
///
/// - raft::message from the local member: sent one-way to the node whose
///   member id is `to` (learned from `(atom::peer, node id)` or from earlier
///   messages of that node); dropped when the node is unknown, as on a lossy
///   network.
/// - transport::inbound with a Raft body: decoded, checked (the sender must
///   be a manager, which the session enforces, and `from` must be its own
///   member id) and handed to the member.
///
/// It runs on a thread of its own (see raft_bridge.cpp), or on the actor
/// system's scheduler with `on_scheduler` (tests under the test
/// coordinator).
caf::actor spawn_raft_bridge(caf::actor_system& sys,
                             transport::transport_actor transport,
                             std::string self_node, bool on_scheduler = false);

} // namespace skep::raft
