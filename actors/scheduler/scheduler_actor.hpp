#pragma once

#include "actors/store/leader_link.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace skep::scheduler {

/// The scheduler (leader only): when pending tasks or nodes change
/// ((atom::changed, store::changes_ptr) from the manager) it places every
/// pending task with a placer (placement.hpp) built from the store, and
/// proposes the assignments in batches; a task that fits nowhere keeps its
/// pending state with the reason in its status error.
caf::actor spawn_scheduler(caf::actor_system& sys,
                           controlapi::leader_link link);

} // namespace skep::scheduler
