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

/// One change to the store (messages/store.capnp Action).
using action = std::variant<create_cluster, update_cluster, put_node,
                            remove_node, set_node_status>;

/// The largest Batch a store applies. Every manager must refuse exactly the
/// same entries, so this is a constant of the protocol, not a setting;
/// proposers must stay below it.
inline constexpr size_t max_batch_bytes = 8 * 1024 * 1024;

/// The largest Snapshot a store restores.
inline constexpr size_t max_snapshot_bytes = size_t{1} << 30;

/// Longest object id (cluster or node) the store accepts.
inline constexpr size_t max_id_size = 64;

/// True for ids the store accepts: 1 to max_id_size characters of
/// [0-9A-Za-z._-], so they are safe in logs, file names and command lines.
bool is_valid_object_id(std::string_view id);

/// Encodes `actions` as a Batch: the payload of one Raft entry.
std::vector<uint8_t> encode_batch(const std::vector<action>& actions);

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

} // namespace skep::store
