#pragma once

#include "actors/store/objects.hpp"
#include "messages/type_ids.hpp"
#include "runtime-adapters/runtime.hpp"

#include <atomic>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

namespace skep::agent {

/// What a task runner asks its starter: prepare the task, then start it
/// unless `cancelled` was set meanwhile (a stop came first).
struct start_request {
  runtime::task_spec spec;
  std::shared_ptr<std::atomic<bool>> cancelled;
};

/// What a task starter answers: whether the runtime prepared the task,
/// whether the start was skipped (cancelled), and otherwise the process it
/// started, or why not (`error`, empty when it worked).
struct start_outcome {
  bool prepared = false;
  bool cancelled = false;
  std::string error;
  runtime::started started;
};

/// A task starter: runs the runtime's blocking calls for task runners, one
/// at a time. An agent keeps two. They are meant to run detached, so that a
/// fork/exec (or later a container's creation) never holds one of CAF's
/// scheduler threads; for now they run on the scheduler whatever
/// `on_scheduler` says, as detached starters were seen to hold a skepd at
/// SIGTERM (see spawn_task_starter).
///
/// Messages:
/// - (atom::start, start_request) -> start_outcome: the runtime's prepare,
///   then its start, in one round trip.
caf::actor spawn_task_starter(caf::actor_system& sys,
                              std::shared_ptr<runtime::adapter> runtime,
                              bool on_scheduler = false);

/// A task runner: drives one task through the runtime adapter, from
/// assigned to a final state, and tells `agent` every transition as
/// (atom::report, task id, store::task_status). It has `starter` prepare
/// and start the task; what arrives meanwhile (a stop, the agent's done,
/// the process's exit) waits for the starter's answer, so that a process
/// started late is still stopped, killed or reported.
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
                             caf::actor agent, caf::actor starter);

} // namespace skep::agent

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::store::task_object)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::store::task_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::runtime::exit_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::agent::start_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::agent::start_outcome)
