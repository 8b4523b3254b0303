#pragma once

#include "actors/store/leader_link.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace skep::orchestrator {

/// The orchestrator (leader only): one reconciler per service (spawned for
/// every service in the store, and for tasks whose service is gone so they
/// are stopped and reaped), poked when the service, its tasks or any node
/// change. Takes (atom::changed, store::changes_ptr) from the manager and
/// (atom::done, service id) from a reconciler that finished.
caf::actor spawn_orchestrator(caf::actor_system& sys,
                              controlapi::leader_link link);

} // namespace skep::orchestrator
