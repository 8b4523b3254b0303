#pragma once

#include "actors/ca/shared_authority.hpp"
#include "actors/raft/raft_actor.hpp"
#include "actors/store/leader_link.hpp"
#include "actors/transport/transport_actor.hpp"
#include "messages/type_ids.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace skep::controlapi {

/// How a manager runs.
struct manager_config {
  std::string node_id;
  std::string hostname;
  std::string advertise_addr;
  std::string engine_version;
  /// The node's transport; the manager registers "raft", "controlapi", "ca"
  /// and "dispatcher" with it.
  transport::transport_actor transport;
  /// The CA the transport judges joining nodes with; the manager keeps it
  /// in step with the replicated cluster object.
  std::shared_ptr<ca::shared_authority> ca;
  raft::raft_actor_config raft;
  /// `swarm init`: the store batch (cluster + this node) to propose as soon
  /// as this member leads; empty otherwise.
  std::vector<uint8_t> init_batch;
  /// `swarm init --force-new-cluster`: Raft starts with this member as the
  /// only voter, and once it leads, the other managers in the store become
  /// workers (they rejoin as such when they come back).
  bool force_new_cluster = false;
  /// Tests (and a simulator): the Raft member and its bridge run on the
  /// actor system's scheduler, so the test coordinator drives them in
  /// virtual time, instead of on threads of their own.
  bool raft_on_scheduler = false;
};

/// What the manager reports for `skep info`.
struct manager_info {
  std::string cluster_id;
  std::string leader; ///< node id, empty when unknown
  uint64_t term = 0;
  uint64_t commit = 0;
  uint32_t managers = 0;
  uint32_t nodes = 0;
  std::vector<std::string> manager_addrs;
  int64_t heartbeat_nanos = 0;
  int64_t cert_expiry_nanos = 0;
  uint32_t task_history_limit = 0;
  uint64_t snapshot_interval = 0;
  uint32_t election_ticks = 0;
  uint32_t heartbeat_ticks = 0;
  uint32_t voters = 0;   ///< Raft voters, as this manager knows them
  uint32_t learners = 0; ///< managers still catching up
  /// The raft member's longest gap between two ticks since it started.
  int64_t longest_tick_gap_nanos = 0;
  /// Leader-only actors running here: orchestrator, scheduler and
  /// dispatcher while this manager leads, none otherwise.
  uint32_t leader_actors = 0;
};

} // namespace skep::controlapi

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::controlapi::manager_info)

namespace skep::controlapi {

/// A manager's messages, by who sends them.
using manager_actor = caf::typed_actor<
  // Its Raft member (raft::apply_sink): committed entries, snapshots, and
  // the member's role, term, leader and configuration when they change.
  caf::reacts_to<atom::apply, std::vector<raft::entry>>,
  caf::reacts_to<atom::restore, raft::snapshot>,
  caf::reacts_to<atom::status, raft::status>,
  // The leader-only actors (leader_link::manager): writes, and decisions
  // that wrote nothing.
  caf::replies_to<atom::write, write_request>::with<write_verdict>,
  caf::reacts_to<atom::event, event>,
  // The node: control requests from local clients, and `skep info`.
  caf::replies_to<control_request>::with<control_reply>,
  caf::replies_to<atom::status>::with<manager_info>,
  // The transport: what other nodes send "controlapi", "ca", "dispatcher".
  caf::replies_to<transport::inbound>::with<envelope>,
  // Itself: a forwarded store proposal taken from an inbound request, and
  // its timers (held replies, event waits, pending forwards, ticks).
  caf::replies_to<atom::propose, control_request>::with<control_reply>,
  caf::reacts_to<atom::caught_up, uint64_t>,
  caf::reacts_to<atom::deadline, uint64_t>, caf::reacts_to<atom::transfer>,
  caf::reacts_to<atom::tick>>;

/// A manager: the Raft member (over the transport), the replicated store it
/// applies, the control API (reads from the local store, writes proposed by
/// the leader: a follower forwards them), the CA's certificate issuing for
/// joining and renewing nodes, and while it leads the leader-only actors:
/// orchestrator, scheduler and dispatcher (heartbeats: a node silent for 3
/// periods is marked Down, Ready again when it returns).
///
/// Its messages: see manager_actor.
manager_actor spawn_manager(caf::actor_system& sys, manager_config cfg,
                            std::unique_ptr<raft::log_storage> storage);

} // namespace skep::controlapi
