#pragma once

#include "actors/store/codec.hpp"
#include "actors/store/event.hpp"
#include "actors/store/shared_store.hpp"
#include "messages/type_ids.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace skep::controlapi {

/// A batch a leader-only actor asks its manager to propose:
/// (atom::write, write_request) -> write_verdict, once applied (or failed).
struct write_request {
  std::vector<store::action> actions;
  std::string why; ///< who asks, for the log, e.g. "scheduler"
  /// The decision these actions carry out: recorded in the event log with
  /// the Raft index of the (last) entry once every action committed.
  std::optional<event> decision = std::nullopt;
};

struct write_verdict {
  bool ok = true;
  std::string error;  ///< why not, when !ok
  uint64_t index = 0; ///< the Raft index of the last entry written
};

/// What the manager gives the actors that run only while it leads
/// (orchestrator, reconcilers, scheduler, dispatcher). They read `db` under
/// its read lock, learn what changed from (atom::changed, changes_ptr)
/// messages, write through `manager`, and tell it decisions that wrote
/// nothing with (atom::event, event).
struct leader_link {
  std::shared_ptr<store::shared_store> db;
  /// The manager, as the leader-only actors see it.
  caf::typed_actor<
    caf::replies_to<atom::write, write_request>::with<write_verdict>,
    caf::reacts_to<atom::event, event>>
    manager;
};

} // namespace skep::controlapi

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::store::changes_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::controlapi::write_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::controlapi::write_verdict)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::controlapi::event)
