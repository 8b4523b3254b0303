#pragma once

#include "actors/ca/certificate.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace skep::store {

/// What the scheduler may do with a node (messages/store.capnp Availability).
enum class availability { active, pause, drain };

/// What the dispatcher last saw of a node (messages/store.capnp NodeStatus).
enum class node_status { unknown, ready, down, disconnected };

/// Lower-case names as the CLI prints them, e.g. "drain", "ready".
const char* to_string(availability value) noexcept;
const char* to_string(node_status value) noexcept;

/// Settings an operator may change with `skep swarm update`. The defaults are
/// Swarm's.
struct cluster_spec {
  /// Finished tasks kept per slot.
  uint32_t task_history_limit = 5;
  /// How often workers heartbeat; > 0.
  std::chrono::nanoseconds dispatcher_heartbeat = std::chrono::seconds{5};
  /// Node certificate lifetime; > 0.
  std::chrono::nanoseconds cert_expiry = std::chrono::hours{90 * 24};
  /// Raft entries between snapshots; > 0.
  uint64_t snapshot_interval = 10000;
  /// Raft election timeout in ticks; > heartbeat_ticks.
  uint32_t election_ticks = 10;
  /// Raft leader heartbeat in ticks; >= 1.
  uint32_t heartbeat_ticks = 1;
};

/// The swarm: there is one once `skep swarm init` committed.
struct cluster_object {
  /// Fixed at creation; non-empty.
  std::string id;
  /// Unix nanoseconds (proposer's clock); fixed at creation.
  int64_t created_at_nanos = 0;
  cluster_spec spec;
  /// The root CA's Ed25519 secret key (libsodium layout: seed then public
  /// key). Never leaves the managers: answers to clients must omit it.
  std::array<uint8_t, 64> ca_secret_key{};
  std::string worker_token;
  std::string manager_token;
  /// The Raft index that last changed the cluster; set by the store.
  uint64_t version = 0;
};

/// A member of the swarm, manager or worker.
struct node_object {
  /// Fixed at creation; non-empty, see store.hpp for the characters allowed.
  std::string id;
  std::string hostname;
  ca::node_role role = ca::node_role::worker;
  availability avail = availability::active;
  /// Operator labels; keys are non-empty.
  std::map<std::string, std::string> labels;
  /// Advertise address, HOST:PORT.
  std::string addr;
  node_status status = node_status::unknown;
  std::string status_message;
  std::string engine_version;
  /// The node's Ed25519 identity key.
  ca::public_key public_key{};
  /// Unix nanoseconds (proposer's clock) of joining; fixed at creation.
  int64_t created_at_nanos = 0;
  /// Unix nanoseconds (proposer's clock) of the last change.
  int64_t updated_at_nanos = 0;
  /// The Raft index that last changed the node; set by the store.
  uint64_t version = 0;
};

bool operator==(const cluster_spec& x, const cluster_spec& y);
bool operator==(const cluster_object& x, const cluster_object& y);
bool operator==(const node_object& x, const node_object& y);

inline bool operator!=(const cluster_spec& x, const cluster_spec& y) {
  return !(x == y);
}
inline bool operator!=(const cluster_object& x, const cluster_object& y) {
  return !(x == y);
}
inline bool operator!=(const node_object& x, const node_object& y) {
  return !(x == y);
}

} // namespace skep::store
