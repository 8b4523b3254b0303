#pragma once

#include "actors/store/codec.hpp"
#include "actors/store/objects.hpp"
#include "messages/result.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skep::store {

/// What one applied action changed, for whoever watches the store.
struct change {
  enum class kind { cluster, node_created, node_updated, node_removed };
  kind what = kind::cluster;
  std::string id; ///< the cluster's or the node's id
};

/// The replicated state machine: the cluster and its nodes as of the last
/// committed Raft entry applied. Pure (no CAF, no I/O, no clock): every
/// manager applies the same entries in the same order and reaches the same
/// state, down to the bytes of its snapshot.
///
/// Each `normal` Raft entry carries one Batch (encode_batch). A batch is
/// applied all-or-nothing, its actions in order, each seeing the ones before
/// it. Every object's `version` is the Raft index of the entry that last
/// changed it, so the version a client read is the expected version it
/// sends back (optimistic concurrency).
///
/// Rules a batch must follow, else it changes nothing:
/// - create_cluster only when no cluster exists; every other action only
///   when one does.
/// - update_cluster: expected_version is the cluster's version; id and
///   created_at_nanos stay as they are.
/// - put_node: expected_version 0 creates a node that must not exist; any
///   other value replaces a node at exactly that version, keeping its
///   created_at_nanos.
/// - remove_node: the node exists and, unless expected_version is 0, is at
///   that version.
/// - set_node_status: the node exists; sets status, status_message and
///   updated_at_nanos whatever the version.
class store {
 public:
  /// Applies the committed entry at `index` (an encoded Batch) and returns
  /// what changed, one change per action. Requires index > applied_index():
  /// else fails with `internal` and changes nothing at all.
  ///
  /// A batch that fails (bytes that are not a valid Batch, a version
  /// conflict, an unknown node, a second create_cluster...) changes no
  /// object and returns the failure naming why; applied_index() still moves
  /// to `index`, because Raft considers the entry applied. The caller logs
  /// the failure and answers the proposer with it. Version conflicts fail
  /// with `invalid_argument` and a message saying to read and retry.
  result<std::vector<change>> apply(uint64_t index, const uint8_t* data,
                                    size_t size);

  /// Applies already decoded actions as the entry at `index`; the same
  /// rules as above. For proposers that hold the actions in memory.
  result<std::vector<change>> apply(uint64_t index,
                                    const std::vector<action>& actions);

  /// Everything the store holds, as an encoded Snapshot. Two stores with
  /// the same contents return the same bytes.
  std::vector<uint8_t> snapshot() const;

  /// Replaces everything with the contents of a snapshot() output. Fails,
  /// changing nothing, when the bytes are not a valid Snapshot within
  /// max_snapshot_bytes, an object fails the checks of from_schema, node
  /// ids are not strictly ascending, a version is 0 or above the applied
  /// index, or there are nodes but no cluster.
  result<void> restore(const uint8_t* data, size_t size);

  /// The index of the last entry applied (or restored); 0 at first.
  uint64_t applied_index() const noexcept { return applied_index_; }

  /// The swarm, or nullptr before `swarm init` committed.
  const cluster_object* cluster() const noexcept {
    return cluster_ ? &*cluster_ : nullptr;
  }

  /// The node with exactly this id, or nullptr.
  const node_object* node(std::string_view id) const;

  /// Every node, sorted by id. Pointers stay valid until the next apply()
  /// or restore().
  std::vector<const node_object*> nodes() const;

  /// Resolves what an operator typed, as Docker does: an exact node id,
  /// else an exact hostname (which must be unique), else a unique id prefix.
  /// Fails with `not_found` ("node X not found") when nothing matches and
  /// with `invalid_argument` when the name is empty or matches several nodes
  /// ("node name X is ambiguous: matches ID1, ID2...").
  result<const node_object*> find_node(std::string_view name) const;

 private:
  using node_map = std::map<std::string, node_object, std::less<>>;

  std::optional<cluster_object> cluster_;
  node_map nodes_;
  uint64_t applied_index_ = 0;
};

} // namespace skep::store
