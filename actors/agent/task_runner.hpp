#pragma once

#include "actors/store/objects.hpp"
#include "messages/type_ids.hpp"
#include "runtime-adapters/runtime.hpp"

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

namespace skep::agent {

/// A task runner: drives one task through the runtime adapter, from
/// assigned to a final state, and tells `agent` every transition as
/// (atom::report, task id, store::task_status).
///
/// Messages:
/// - (atom::assign, store::task_object): the dispatcher's latest view of the
///   task; a desired state past running stops it (SIGTERM, then SIGKILL
///   after the task's stop grace period);
/// - (atom::exited, runtime::exit_status): the agent reaped its process;
/// - (atom::done): forget the task (the runtime's remove()) and quit; the
///   process is killed first if it still runs.
caf::actor spawn_task_runner(caf::actor_system& sys, store::task_object task,
                             std::shared_ptr<runtime::adapter> runtime,
                             caf::actor agent);

} // namespace skep::agent

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::store::task_object)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::store::task_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::runtime::exit_status)
