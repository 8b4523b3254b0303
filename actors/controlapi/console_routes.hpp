#pragma once
// Where a console message goes: the actor names `skep console` uses
// (leader/controlapi, node/NAME/agent, node/NAME/transport, dispatcher,
// scheduler, reconciler/SERVICE) and the messages each of them accepts.
// Pure: the manager checks every Delivery with it before sending anything.

#include "messages/envelope.hpp"
#include "messages/result.hpp"

#include <string>
#include <string_view>

namespace skep::controlapi {

enum class console_target_kind {
  controlapi, ///< the leader's control API
  node_actor, ///< an actor of one node: its agent or its transport
  dispatcher, ///< the leader's dispatcher
  scheduler,  ///< the leader's scheduler
  reconciler, ///< the leader's reconciler of one service
};

struct console_target {
  console_target_kind kind = console_target_kind::controlapi;
  std::string node;    ///< node_actor: the node's id, prefix or hostname
  std::string route;   ///< node_actor: "agent" or "transport"
  std::string service; ///< reconciler: the service's name or id
};

/// Reads an actor name. Fails naming the name and listing the valid forms.
result<console_target> parse_console_target(std::string_view actor);

/// Whether `target` accepts a message with this body, sent this way. Fails
/// naming the message and what the actor accepts.
result<void> check_console_body(const console_target& target,
                                schema::Envelope::Body::Which body,
                                bool one_way);

/// Whether the target runs only on the leader.
bool runs_on_leader(const console_target& target);

} // namespace skep::controlapi
