#pragma once

#include "actors/store/leader_link.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace skep::orchestrator {

/// The orchestrator's messages: what the manager sends it, the console's
/// inspect of one service's reconciler (an envelope with its state) and its
/// poke, and a reconciler's word that its service is gone.
using orchestrator_actor = caf::typed_actor<
  caf::reacts_to<atom::changed, store::changes_ptr>,
  caf::replies_to<atom::describe, std::string>::with<envelope>,
  caf::reacts_to<atom::poke, std::string>,
  caf::reacts_to<atom::done, std::string>>;

/// The orchestrator (leader only): one reconciler per service (spawned for
/// every service in the store, and for tasks whose service is gone so they
/// are stopped and reaped), poked when the service, its tasks or any node
/// change. Takes (atom::changed, store::changes_ptr) from the manager and
/// (atom::done, service id) from a reconciler that finished.
orchestrator_actor spawn_orchestrator(caf::actor_system& sys,
                                      controlapi::leader_link link);

} // namespace skep::orchestrator
