#pragma once

#include "actors/store/leader_link.hpp"
#include "actors/transport/transport_actor.hpp"

#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace skep::dispatcher {

/// The dispatcher's messages: what the manager sends it (store changes,
/// what nodes sent the dispatcher), the console's inspect, and its own
/// wake-ups.
using dispatcher_actor
  = caf::typed_actor<caf::reacts_to<atom::changed, store::changes_ptr>,
                     caf::replies_to<transport::inbound>::with<envelope>,
                     caf::replies_to<atom::describe>::with<envelope>,
                     caf::reacts_to<atom::flush>, caf::reacts_to<atom::tick>,
                     caf::reacts_to<atom::report>>;

/// The leader's dispatcher (the manager sends it what reaches it for the
/// dispatcher while it leads; a follower answers heartbeats itself, with
/// heartbeat_reply(), pointing at the leader):
/// - transport::inbound with a Heartbeat: records when the node beat and the
///   period it is told, marks it Ready (or Down, when it says it leaves),
///   and answers with the period, the leader and the managers;
/// - every 100 ms of the actor clock, marks Down the Ready nodes silent for
///   three of the periods they were told (never the leader's own node);
/// - pushes each node the tasks assigned to it, as a full set when the node
///   has not got this dispatcher's epoch yet, then only what changed
///   (atom::changed from the manager tells it what did); a node whose
///   heartbeat shows it behind gets a full set;
/// - transport::inbound with a TaskStatusReport: the updates of a node for
///   its own tasks, batched into one proposal every few milliseconds; the
///   reply (TaskStatusReply) goes out once they committed.
/// Its writes go through the manager (atom::write).
dispatcher_actor spawn_dispatcher(caf::actor_system& sys,
                                  controlapi::leader_link link,
                                  transport::transport_actor transport,
                                  std::string node_id);

} // namespace skep::dispatcher
