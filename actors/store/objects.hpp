#pragma once

#include "actors/ca/certificate.hpp"
#include "runtime-adapters/container_spec.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace skep::store {

/// What a task runs and may use, as the runtime adapters take it.
using runtime::container_spec;
using runtime::port_config;
using runtime::resources;

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
  /// What tasks may reserve on it in total; 0 in a field: unknown, no limit.
  resources capacity;
};

/// How a service places its tasks (messages/store.capnp ServiceMode).
enum class service_mode { replicated, global };

/// When a finished task is replaced (RestartCondition).
enum class restart_condition { none, on_failure, any };

/// What a rolling update does first (UpdateOrder).
enum class update_order { stop_first, start_first };

/// What a rolling update does when too many tasks fail (FailureAction).
enum class failure_action { pause, proceed, rollback };

/// The life of a task. States only move forward (DESIGN.md section 2): a
/// task whose state is >= running never goes back, a failed task is never
/// revived; the reconciler creates a replacement in the same slot.
enum class task_state {
  new_task,
  pending,
  assigned,
  accepted,
  preparing,
  starting,
  running,
  complete,
  shutdown,
  failed,
  rejected,
  orphaned,
  /// Desired state only: the task leaves the service for good (scale
  /// down); it stops like shutdown and is deleted once it has stopped.
  remove,
};

const char* to_string(service_mode value) noexcept;
const char* to_string(restart_condition value) noexcept;
const char* to_string(update_order value) noexcept;
const char* to_string(failure_action value) noexcept;
/// Lower-case names as the CLI prints them, e.g. "running", "new".
const char* to_string(task_state value) noexcept;

/// True for complete, shutdown, failed, rejected and orphaned: the task
/// will not run again.
constexpr bool is_terminal(task_state state) noexcept {
  return state >= task_state::complete;
}

/// When and how often failed tasks are replaced (Swarm's defaults).
struct restart_policy {
  restart_condition condition = restart_condition::any;
  std::chrono::nanoseconds delay = std::chrono::seconds{5};
  /// Replacements allowed within `window`; 0: unlimited.
  uint64_t max_attempts = 0;
  /// 0: the attempts count over the slot's whole life.
  std::chrono::nanoseconds window{0};
};

/// How `service update` (and rollback) replaces tasks (Swarm's defaults).
struct update_config {
  /// Tasks replaced at once; 0: all at once.
  uint64_t parallelism = 1;
  std::chrono::nanoseconds delay{0};
  /// How long a new task is watched for failure after it started.
  std::chrono::nanoseconds monitor = std::chrono::seconds{5};
  failure_action on_failure = failure_action::pause;
  /// Failures tolerated, as a fraction of the tasks updated, in [0, 1].
  double max_failure_ratio = 0;
  update_order order = update_order::stop_first;
};

/// What the operator declared (`skep service create/update`).
struct service_spec {
  std::string name; ///< unique among services; see is_valid_service_name
  std::map<std::string, std::string> labels;
  container_spec container;
  service_mode mode = service_mode::replicated;
  uint64_t replicas = 1; ///< replicated mode only
  /// Placement constraints, each "KEY==VALUE" or "KEY!=VALUE" with KEY one of
  /// node.id, node.hostname, node.role, node.labels.NAME.
  std::vector<std::string> constraints;
  uint64_t max_replicas_per_node = 0; ///< 0: unlimited
  resources reservations;
  resources limits;
  restart_policy restart;
  update_config update;
  update_config rollback;
  std::vector<port_config> ports;
};

/// A declared service.
struct service_object {
  std::string id; ///< fixed at creation
  service_spec spec;
  /// The spec before the last update, for `service rollback`.
  std::optional<service_spec> previous_spec;
  /// Incremented by every `service update` that changes what tasks run
  /// (container, resources, ports) or by --force: tasks created from an older
  /// spec_version are outdated and the reconciler replaces them.
  uint64_t spec_version = 1;
  int64_t created_at_nanos = 0;
  int64_t updated_at_nanos = 0;
  uint64_t version = 0; ///< set by the store
};

/// What a task is doing, as last reported.
struct task_status {
  task_state state = task_state::new_task;
  int64_t at_nanos = 0;  ///< when it entered `state`, reporter's clock
  std::string message;   ///< e.g. "started", "assigned"
  std::string err;       ///< why it failed or is stuck, for people
  int32_t exit_code = 0; ///< once it exited
  /// Host ports the runtime gave to published targets, same order as the
  /// task's ports.
  std::vector<uint16_t> host_ports;
};

/// One run of a service's slot (or of a global service on one node).
struct task_object {
  std::string id; ///< fixed at creation
  std::string service_id;
  /// 1..replicas for replicated services; 0 for global ones.
  uint64_t slot = 0;
  /// The node it runs on: set by the scheduler (replicated) or at creation
  /// (global); empty while pending.
  std::string node_id;
  /// The service's spec_version this task was created from.
  uint64_t spec_version = 0;
  /// Copied from the service at creation, so a worker needs nothing else.
  container_spec container;
  resources reservations;
  resources limits;
  std::vector<port_config> ports;
  /// What the orchestrator wants: running, or shutdown to stop it (or
  /// remove: stop it, and the reaper deletes it once it stopped).
  task_state desired_state = task_state::running;
  task_status status;
  int64_t created_at_nanos = 0;
  uint64_t version = 0; ///< set by the store
};

bool operator==(const restart_policy& x, const restart_policy& y);
bool operator==(const update_config& x, const update_config& y);
bool operator==(const service_spec& x, const service_spec& y);
bool operator==(const service_object& x, const service_object& y);
bool operator==(const task_status& x, const task_status& y);
bool operator==(const task_object& x, const task_object& y);

inline bool operator!=(const restart_policy& x, const restart_policy& y) {
  return !(x == y);
}
inline bool operator!=(const update_config& x, const update_config& y) {
  return !(x == y);
}
inline bool operator!=(const service_spec& x, const service_spec& y) {
  return !(x == y);
}
inline bool operator!=(const service_object& x, const service_object& y) {
  return !(x == y);
}
inline bool operator!=(const task_status& x, const task_status& y) {
  return !(x == y);
}
inline bool operator!=(const task_object& x, const task_object& y) {
  return !(x == y);
}

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
