#pragma once

#include "actors/controlapi/leader_link.hpp"
#include "actors/transport/transport_actor.hpp"

#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace skep::dispatcher {

/// The dispatcher's task side (leader only; heartbeats stay with the
/// manager, which runs on every manager):
/// - pushes each node the tasks assigned to it, as a full set when the node
///   has not got this dispatcher's epoch yet, then only what changed
///   (atom::changed from the manager tells it what did);
/// - (atom::beat, node id, epoch, sequence): a node's heartbeat said what it
///   last applied; a node behind gets a full set;
/// - transport::inbound with a TaskStatusReport: the updates of a node for
///   its own tasks, batched into one proposal every few milliseconds; the
///   reply (TaskStatusReply) goes out once they committed.
caf::actor spawn_dispatcher(caf::actor_system& sys,
                            controlapi::leader_link link, caf::actor transport,
                            std::string node_id);

} // namespace skep::dispatcher
