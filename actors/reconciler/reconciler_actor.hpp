#pragma once

#include "actors/store/leader_link.hpp"

#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace skep::reconciler {

/// One service's reconciler (leader only). On (atom::poke) it reads the
/// service, its tasks and the nodes under the store's read lock, decides
/// with reconcile() (reconcile.hpp) and proposes the actions in one batch
/// through the manager; it runs again when poked while a batch is in
/// flight, and at the plan's wake-up time (restart delay, update delay).
/// Once the service is gone and its last task was reaped it tells
/// `orchestrator` (atom::done, service id) and quits.
caf::actor spawn_reconciler(caf::actor_system& sys,
                            controlapi::leader_link link,
                            std::string service_id, caf::actor orchestrator);

} // namespace skep::reconciler
