#pragma once

#include "actors/store/objects.hpp"
#include "messages/result.hpp"
#include "messages/store.capnp.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace skep::store {

/// Creates the swarm; refused when one exists.
struct create_cluster {
  cluster_object cluster; ///< version is ignored
};

/// Replaces the cluster; `id` and `created_at_nanos` must not change.
struct update_cluster {
  cluster_object cluster;        ///< version is ignored
  uint64_t expected_version = 0; ///< must equal the stored version
};

/// Creates (expected_version 0) or replaces a node.
struct put_node {
  node_object node;              ///< version is ignored
  uint64_t expected_version = 0; ///< 0: must not exist; else stored version
};

/// Deletes a node.
struct remove_node {
  std::string id;
  uint64_t expected_version = 0; ///< 0: any version; else stored version
};

/// Records what the dispatcher saw of a node. No version check: heartbeats
/// are the only writers and the last one wins.
struct set_node_status {
  std::string id;
  node_status status = node_status::unknown;
  std::string message;
  int64_t at_nanos = 0; ///< proposer's clock; becomes updated_at_nanos
};

/// Creates (expected_version 0) or replaces a service.
struct put_service {
  service_object service;        ///< version is ignored
  uint64_t expected_version = 0; ///< 0: must not exist; else stored version
};

/// Deletes a service. Its tasks stay: the reaper deletes them later.
struct remove_service {
  std::string id;
  uint64_t expected_version = 0; ///< 0: any version; else stored version
};

/// Creates (expected_version 0; its service must exist) or replaces a task.
struct put_task {
  task_object task;              ///< version is ignored
  uint64_t expected_version = 0; ///< 0: must not exist; else stored version
};

/// Deletes a task; skipped when it is already gone.
struct remove_task {
  std::string id;
};

/// Places a pending task on a node. Skipped (no change, no failure) unless
/// the task exists, is pending, its desired state is at most running and the
/// node exists: a stale scheduler decision never fails a batch.
struct assign_task {
  std::string id;
  std::string node_id;
  int64_t at_nanos = 0; ///< proposer's clock; becomes status.at_nanos
  std::string message;  ///< becomes status.message
};

/// Records what a task reported. Skipped unless the task exists and
/// status.state is not before its current state; an equal state keeps the
/// stored at_nanos and takes the rest.
struct set_task_status {
  std::string id;
  task_status status;
};

/// Steers a task (e.g. to shutdown). Skipped unless the task exists and
/// `desired_state` is after its current desired state.
struct set_task_desired_state {
  std::string id;
  task_state desired_state = task_state::shutdown;
};

/// One change to the store (messages/store.capnp Action).
using action = std::variant<create_cluster, update_cluster, put_node,
                            remove_node, set_node_status, put_service,
                            remove_service, put_task, remove_task, assign_task,
                            set_task_status, set_task_desired_state>;

/// The largest Batch a store applies. Every manager must refuse exactly the
/// same entries, so this is a constant of the protocol, not a setting;
/// proposers must stay below it.
inline constexpr size_t max_batch_bytes = 8 * 1024 * 1024;

/// The largest Snapshot a store restores.
inline constexpr size_t max_snapshot_bytes = size_t{1} << 30;

/// Longest object id (cluster, node, service, task) the store accepts.
inline constexpr size_t max_id_size = 64;

/// True for ids the store accepts: 1 to max_id_size characters of
/// [0-9A-Za-z._-], so they are safe in logs, file names and command lines.
bool is_valid_object_id(std::string_view id);

/// Longest service name.
inline constexpr size_t max_service_name_size = 63;

/// True for service names the store accepts: 1 to max_service_name_size
/// characters of [A-Za-z0-9_.-], the first one a letter or digit.
bool is_valid_service_name(std::string_view name);

/// Most elements in any list of a service or task (args, env, labels,
/// constraints, ports, host ports), so that a hostile batch cannot make a
/// manager allocate without bound.
inline constexpr size_t max_list_size = 10'000;

/// Longest text in a service or task (an arg, an env entry, a message...).
inline constexpr size_t max_text_size = 64 * 1024;

/// Most replicas (and highest slot) a service may have.
inline constexpr uint64_t max_replicas = 1'000'000;

/// Checks a spec as from_schema does: a valid name, a non-empty image,
/// "KEY=VALUE" env entries with unique keys, constraints "KEY==VALUE" or
/// "KEY!=VALUE", ports with a target and tcp or udp, non-negative durations
/// and resources, max_failure_ratio in [0, 1], known enum values, replicas
/// up to max_replicas, lists and texts within max_list_size and
/// max_text_size. For controlapi, before it proposes.
result<void> validate(const service_spec& spec);

/// Checks a service: a valid id, a valid spec and previous spec.
result<void> validate(const service_object& service);

/// Checks a task: valid ids (node_id may be empty), a valid container,
/// resources and ports, known states, a slot up to max_replicas.
result<void> validate(const task_object& task);

/// Checks an action built in memory as decode_batch checks a decoded one,
/// so that store::apply(index, actions) refuses what followers would.
result<void> validate(const action& a);

/// Who proposed a batch (schema::store::Proposal); seq 0 is no tag.
struct proposal_tag {
  uint64_t proposer = 0;
  uint64_t seq = 0;
};

/// Encodes `actions` as a Batch: the payload of one Raft entry.
std::vector<uint8_t> encode_batch(const std::vector<action>& actions,
                                  proposal_tag tag = {});

/// The same Batch with `tag` in place of the tag it had. Fails like
/// decode_batch for bytes that are not a Batch.
result<std::vector<uint8_t>> stamp_batch(const uint8_t* data, size_t size,
                                         proposal_tag tag);

/// The tag of an encoded Batch, read without decoding its actions; an
/// empty tag (seq 0) when it has none or the bytes are not a Batch.
proposal_tag proposal_of(const uint8_t* data, size_t size) noexcept;

/// Decodes a Batch and validates every field (see from_schema). Fails with
/// malformed_message for bytes that are not a Batch within max_batch_bytes
/// or that name an action this build does not know, and with
/// invalid_argument for a field out of range.
result<std::vector<action>> decode_batch(const uint8_t* data, size_t size);

/// Writes `cluster` (secret key included) into a Cluster struct.
void to_schema(const cluster_object& cluster,
               schema::store::Cluster::Builder out);

/// Writes `node` into a Node struct, labels sorted by key.
void to_schema(const node_object& node, schema::store::Node::Builder out);

/// Reads a Cluster, checking what the schema cannot: a valid id, a 64-byte
/// CA key, non-empty join tokens and a sane spec (see cluster_spec).
result<cluster_object> from_schema(schema::store::Cluster::Reader in);

/// Reads a Node, checking what the schema cannot: a valid id, a 32-byte
/// public key, known enum values, non-empty and unique label keys.
result<node_object> from_schema(schema::store::Node::Reader in);

/// Writes `spec` into a ServiceSpec struct, labels sorted by key.
void to_schema(const service_spec& spec,
               schema::store::ServiceSpec::Builder out);

/// Writes `service` into a Service struct.
void to_schema(const service_object& service,
               schema::store::Service::Builder out);

/// Writes `status` into a TaskStatus struct.
void to_schema(const task_status& status,
               schema::store::TaskStatus::Builder out);

/// Writes `task` into a Task struct.
void to_schema(const task_object& task, schema::store::Task::Builder out);

/// Reads a ServiceSpec, checking it as validate(service_spec) does, plus
/// unique label keys; refuses an oversized list before reading it.
result<service_spec> from_schema(schema::store::ServiceSpec::Reader in);

/// Reads a Service, checking it as validate(service_object) does.
result<service_object> from_schema(schema::store::Service::Reader in);

/// Reads a TaskStatus: a known state, texts and host ports within limits.
result<task_status> from_schema(schema::store::TaskStatus::Reader in);

/// Reads a Task, checking it as validate(task_object) does.
result<task_object> from_schema(schema::store::Task::Reader in);

} // namespace skep::store
