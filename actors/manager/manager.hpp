#pragma once

#include "actors/ca/shared_authority.hpp"
#include "actors/raft/raft_actor.hpp"
#include "messages/type_ids.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace skep::controlapi {

/// How a manager runs.
struct manager_config {
  std::string node_id;
  std::string hostname;
  std::string advertise_addr;
  std::string engine_version;
  /// The node's transport; the manager registers "raft", "controlapi", "ca"
  /// and "dispatcher" with it.
  caf::actor transport;
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

/// A manager: the Raft member (over the transport), the replicated store it
/// applies, the control API (reads from the local store, writes proposed by
/// the leader: a follower forwards them), the CA's certificate issuing for
/// joining and renewing nodes, and while it leads the leader-only actors:
/// orchestrator, scheduler and dispatcher (heartbeats: a node silent for 3
/// periods is marked Down, Ready again when it returns).
///
/// Messages: control_request -> control_reply; (status) -> manager_info;
/// and what the transport delivers (transport::inbound).
caf::actor spawn_manager(caf::actor_system& sys, manager_config cfg,
                         std::unique_ptr<raft::log_storage> storage);

} // namespace skep::controlapi

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::controlapi::manager_info)
