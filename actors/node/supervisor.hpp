#pragma once

#include "actors/node/node_state.hpp"
#include "actors/node/swarm.hpp"
#include "messages/type_ids.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace skep::node {

/// The node supervisor: the root of a node's actors. It answers control
/// requests about the node and owns the actors a node's roles need.
///
/// (apply, ...) ends a swarm join that ran on a thread of its own; (tick)
/// drives polls that wait for the swarm to come up; (certify, certificate)
/// restarts the membership in the role a renewed certificate gives.
using supervisor_actor = caf::typed_actor<
  caf::replies_to<control_request>::with<control_reply>,
  caf::replies_to<atom::apply, std::string, std::vector<uint8_t>, std::string,
                  std::string, std::string, std::string,
                  std::string>::with<control_reply>,
  caf::reacts_to<atom::certify, std::vector<uint8_t>>,
  caf::reacts_to<atom::tick>>;

class control_server;
struct control_server_options;

struct supervisor_state {
  node_state node;
  /// Start on the actor clock, so uptime follows virtual time in tests.
  caf::actor_clock::time_point started;
  /// Names of the actors this supervisor started, for `skep info`.
  std::vector<std::string> actors;
  /// The control socket server, when this node serves one.
  std::shared_ptr<control_server> control;
  /// The node's identity key (node.key in the data dir).
  std::shared_ptr<const ca::keypair> identity;
  /// The swarm membership's actors, once the node belongs to a swarm.
  std::optional<member_runtime> member;
  /// A swarm init or join is under way.
  bool changing = false;
  /// A manager is leaving: no role change restarts the membership meanwhile.
  bool leaving = false;
  /// Waiting for the next tick.
  std::vector<std::function<void()>> pending_polls;

  supervisor_state() = default;
  supervisor_state(const supervisor_state&) = delete;
  supervisor_state& operator=(const supervisor_state&) = delete;

  /// The membership's actors stop with the supervisor (they hold handles
  /// to it, so nothing else would stop them).
  ~supervisor_state() {
    if (member)
      member->stop();
  }

  static inline const char* name = "node";
};

/// Starts a node supervisor for `state`. With `control`, it also takes over
/// the listening socket `control_fd` and serves clients on it until it exits;
/// a failure to start that server is logged and makes the supervisor quit.
supervisor_actor spawn_supervisor(caf::actor_system& sys, node_state state,
                                  int control_fd,
                                  const control_server_options* control);

} // namespace skep::node
