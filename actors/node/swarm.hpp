#pragma once

#include "actors/agent/agent.hpp"
#include "actors/ca/shared_authority.hpp"
#include "actors/manager/manager.hpp"
#include "actors/node/membership.hpp"
#include "actors/node/node_state.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace skep::node {

/// The actors a swarm member runs: the transport and the agent everywhere,
/// the manager (Raft, store, control API, CA, dispatcher) on managers.
struct member_runtime {
  ca::node_role role = ca::node_role::worker;
  std::string cluster_id;
  transport::transport_actor transport;
  controlapi::manager_actor manager; ///< null on workers
  agent::agent_actor agent;

  /// Stops every actor of the membership.
  void stop();
};

/// Starts the member actors for `m` (certificate, CA, managers). On a
/// manager, `init_batch` (swarm init only) is proposed once it leads, and
/// `bootstrap` writes the founding Raft configuration (this node alone)
/// into a new log.
/// `supervisor` hears (certify, certificate) when the swarm changes the
/// node's role. `now` (the wall time by the supervisor's actor clock) is
/// when the node's certificate is checked.
result<member_runtime>
start_member(caf::actor_system& sys, const node_state& node,
             const ca::keypair& identity, const membership& m,
             caf::actor supervisor, std::chrono::system_clock::time_point now,
             std::vector<uint8_t> init_batch = {}, bool bootstrap = false,
             bool force_new_cluster = false);

/// What `swarm init` creates: the CA, the membership files of this node and
/// the first store batch (the cluster object and this node). Pure apart
/// from writing the data dir.
struct swarm_seed {
  membership files;
  std::vector<uint8_t> init_batch;
  std::string worker_token;
  std::string manager_token;
};

/// Settings `swarm init` may change from the defaults (0 / -1: default).
struct init_options {
  std::string advertise_addr;
  int64_t task_history_limit = -1;
  int64_t dispatcher_heartbeat_nanos = 0;
  int64_t cert_expiry_nanos = 0;
  uint64_t snapshot_interval = 0; ///< 0: the default
};

/// `now` is the wall time by the node's actor clock (see logging/clock.hpp).
result<swarm_seed> seed_swarm(const node_state& node,
                              const ca::keypair& identity,
                              const init_options& opts,
                              std::chrono::system_clock::time_point now);

} // namespace skep::node
