#pragma once

// The one place where Skep registers its message types and atoms with CAF.
// Include this only from actor code: it pulls in CAF headers.

#include "messages/envelope.hpp"

#include <cstdint>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/sec.hpp>
#include <caf/type_id.hpp>

namespace skep {

/// Lets CAF serialize a Cap'n Proto message as its wire bytes, and validates
/// those bytes with the default read limits when deserializing.
template <class Inspector, class Root>
typename Inspector::result_type inspect(Inspector& f, message<Root>& x) {
  if constexpr (Inspector::reads_state) {
    auto bytes = x.encode();
    return f(bytes);
  } else {
    std::vector<uint8_t> bytes;
    auto load = caf::meta::load_callback([&]() -> caf::error {
      auto decoded = message<Root>::decode(bytes.data(), bytes.size());
      if (!decoded)
        return caf::make_error(caf::sec::invalid_argument,
                               decoded.error().message);
      x = std::move(*decoded);
      return caf::none;
    });
    return f(bytes, load);
  }
}

/// Announces every type in the block below to `cfg`. Call once, before the
/// actor system starts.
void register_types(caf::actor_system_config& cfg);

} // namespace skep

CAF_BEGIN_TYPE_ID_BLOCK(skep, caf::first_custom_type_id)

CAF_ADD_TYPE_ID(skep, (skep::envelope))
CAF_ADD_TYPE_ID(skep, (skep::control_request))
CAF_ADD_TYPE_ID(skep, (skep::control_reply))

// Raft: requests to a member and what it hands its state machine.
CAF_ADD_ATOM(skep, skep::atom, propose, "propose")
CAF_ADD_ATOM(skep, skep::atom, read, "read")
CAF_ADD_ATOM(skep, skep::atom, add_learner, "addLearner")
CAF_ADD_ATOM(skep, skep::atom, promote, "promote")
CAF_ADD_ATOM(skep, skep::atom, remove, "remove")
CAF_ADD_ATOM(skep, skep::atom, transfer, "transfer")
CAF_ADD_ATOM(skep, skep::atom, status, "status")
CAF_ADD_ATOM(skep, skep::atom, tick, "tick")
CAF_ADD_ATOM(skep, skep::atom, apply, "apply")
CAF_ADD_ATOM(skep, skep::atom, restore, "restore")
CAF_ADD_ATOM(skep, skep::atom, verify, "verify")

// Transport: peers, local routes, remote sends and calls, fault injection.
CAF_ADD_ATOM(skep, skep::atom, peer, "peer")
CAF_ADD_ATOM(skep, skep::atom, forget, "forget")
CAF_ADD_ATOM(skep, skep::atom, route, "route")
CAF_ADD_ATOM(skep, skep::atom, send, "send")
CAF_ADD_ATOM(skep, skep::atom, call, "call")
CAF_ADD_ATOM(skep, skep::atom, fault, "fault")
CAF_ADD_ATOM(skep, skep::atom, heal, "heal")
CAF_ADD_ATOM(skep, skep::atom, revoke, "revoke")
CAF_ADD_ATOM(skep, skep::atom, certify, "certify")
CAF_ADD_ATOM(skep, skep::atom, expire, "expire")
CAF_ADD_ATOM(skep, skep::atom, redial, "redial")
CAF_ADD_ATOM(skep, skep::atom, dialed, "dialed")
CAF_ADD_ATOM(skep, skep::atom, deadline, "deadline")
CAF_ADD_ATOM(skep, skep::atom, caught_up, "caughtUp")
CAF_ADD_ATOM(skep, skep::atom, leave, "leave")
CAF_ADD_ATOM(skep, skep::atom, delayed, "delayed")

// Dispatcher: a node's own heartbeat to its local manager.
CAF_ADD_ATOM(skep, skep::atom, beat, "beat")

// Leader-only actors: store changes, writes, wake-ups; agent task runners.
CAF_ADD_ATOM(skep, skep::atom, changed, "changed")
CAF_ADD_ATOM(skep, skep::atom, write, "write")
CAF_ADD_ATOM(skep, skep::atom, poke, "poke")
CAF_ADD_ATOM(skep, skep::atom, done, "done")
CAF_ADD_ATOM(skep, skep::atom, assign, "assign")
CAF_ADD_ATOM(skep, skep::atom, report, "report")
CAF_ADD_ATOM(skep, skep::atom, exited, "exited")
CAF_ADD_ATOM(skep, skep::atom, reap, "reap")
CAF_ADD_ATOM(skep, skep::atom, start, "start")
CAF_ADD_ATOM(skep, skep::atom, flush, "flush")
CAF_ADD_ATOM(skep, skep::atom, grace, "grace")
CAF_ADD_ATOM(skep, skep::atom, snapshot, "snapshot")

// Console: an actor's state on request; decisions recorded as events.
CAF_ADD_ATOM(skep, skep::atom, describe, "describe")
CAF_ADD_ATOM(skep, skep::atom, event, "event")

// CA: certificates and join tokens.
CAF_ADD_ATOM(skep, skep::atom, issue, "issue")
CAF_ADD_ATOM(skep, skep::atom, tokens, "tokens")
CAF_ADD_ATOM(skep, skep::atom, rotate, "rotate")

CAF_END_TYPE_ID_BLOCK(skep)
