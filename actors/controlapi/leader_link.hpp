#pragma once

#include "actors/store/codec.hpp"
#include "actors/store/shared_store.hpp"
#include "messages/type_ids.hpp"

#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

namespace skep::controlapi {

/// A batch a leader-only actor asks its manager to propose:
/// (atom::write, write_request) -> write_verdict, once applied (or failed).
struct write_request {
  std::vector<store::action> actions;
  std::string why; ///< who asks, for the log, e.g. "scheduler"
};

struct write_verdict {
  bool ok = true;
  std::string error; ///< why not, when !ok
};

/// What the manager gives the actors that run only while it leads
/// (orchestrator, reconcilers, scheduler, dispatcher). They read `db` under
/// its read lock, learn what changed from (atom::changed, changes_ptr)
/// messages, and write through `manager`.
struct leader_link {
  std::shared_ptr<store::shared_store> db;
  caf::actor manager;
};

} // namespace skep::controlapi

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::store::changes_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::controlapi::write_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::controlapi::write_verdict)
