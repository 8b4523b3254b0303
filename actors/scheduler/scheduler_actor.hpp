#pragma once

#include "actors/store/leader_link.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace skep::scheduler {

/// The scheduler's messages: what the manager sends it, its own wake-ups,
/// and the console's inspect (an envelope with a SchedulerState body).
using scheduler_actor
  = caf::typed_actor<caf::reacts_to<atom::changed, store::changes_ptr>,
                     caf::reacts_to<atom::poke>, caf::reacts_to<atom::flush>,
                     caf::replies_to<atom::describe>::with<envelope>>;

/// The scheduler (leader only): when pending tasks or nodes change
/// ((atom::changed, store::changes_ptr) from the manager) it places every
/// pending task with a placer (placement.hpp) built from the store, and
/// proposes the assignments in batches; a task that fits nowhere keeps its
/// pending state with the reason in its status error.
scheduler_actor spawn_scheduler(caf::actor_system& sys,
                                controlapi::leader_link link);

} // namespace skep::scheduler
