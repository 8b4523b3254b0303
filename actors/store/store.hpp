#pragma once

#include "actors/store/codec.hpp"
#include "actors/store/objects.hpp"
#include "actors/store/state.hpp"
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
  enum class kind {
    cluster,
    node_created,
    node_updated,
    node_removed,
    service_created,
    service_updated,
    service_removed,
    task_created,
    task_updated,
    task_removed,
  };
  kind what = kind::cluster;
  std::string id; ///< the id of the cluster, node, service or task
};

/// The replicated state machine: the cluster, its nodes, services and tasks
/// as of the last committed Raft entry applied. Pure (no CAF, no I/O, no
/// clock): every manager applies the same entries in the same order and reaches
/// the same state, down to the bytes of its snapshot.
///
/// Each `normal` Raft entry carries one Batch (encode_batch). A batch is
/// applied all-or-nothing, its actions in order, each seeing the ones before
/// it. Every object's `version` is the Raft index of the entry that last
/// changed it, so the version a client read is the expected version it
/// sends back (optimistic concurrency).
///
/// Rules a batch must follow, else it changes nothing:
/// - create_cluster only when no cluster exists; every other action only
///   when one does (the conditional ones below are skipped: no tasks).
/// - update_cluster: expected_version is the cluster's version; id and
///   created_at_nanos stay as they are.
/// - put_node: expected_version 0 creates a node that must not exist; any
///   other value replaces a node at exactly that version, keeping its
///   created_at_nanos.
/// - remove_node: the node exists and, unless expected_version is 0, is at
///   that version.
/// - set_node_status: the node exists; sets status, status_message and
///   updated_at_nanos whatever the version.
/// - put_service: expected_version 0 creates a service that must not exist;
///   any other value replaces a service at exactly that version, keeping its
///   created_at_nanos. Either way no other service may have its spec.name
///   (`already_exists`).
/// - remove_service: the service exists and, unless expected_version is 0,
///   is at that version. Its tasks stay, for the reaper.
/// - put_task: expected_version 0 creates a task that must not exist, of a
///   service that exists; any other value replaces a task at exactly that
///   version, keeping its service_id (its service may be gone by then).
///
/// The other task actions are conditional: when they do not apply they are
/// skipped, changing nothing, reporting no change and failing nothing, so
/// one stale decision of a racing scheduler, dispatcher or reaper never
/// fails the batch around it.
/// - remove_task applies when the task exists.
/// - assign_task applies when the task exists, its status is pending, its
///   desired state is at most running and the node exists. It sets node_id,
///   status.state = assigned, status.at_nanos and status.message, and clears
///   status.err (why it was stuck pending).
/// - set_task_status applies when the task exists and the new state is not
///   before the current one. The same state keeps at_nanos and takes
///   message, err, exit_code and host_ports; a status identical to the
///   stored one is skipped.
/// - set_task_desired_state applies when the task exists and the new desired
///   state is after the current one.
///
/// A batch costs memory and time in proportion to what it touches, not to
/// the size of the store. The const members change nothing (no caches), so
/// any number of threads may read at once while nobody applies or restores.
class store {
 public:
  /// Applies the committed entry at `index` (an encoded Batch) and returns
  /// what changed, one change per action applied (none for skipped ones).
  /// Requires index > applied_index(): else fails with `internal` and changes
  /// nothing at all.
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
  /// rules as above, and the same field checks as decode_batch (validate),
  /// so it refuses exactly what a follower decoding the bytes refuses.
  result<std::vector<change>> apply(uint64_t index,
                                    const std::vector<action>& actions);

  /// Everything the store holds, as an encoded Snapshot. Two stores with
  /// the same contents return the same bytes.
  std::vector<uint8_t> snapshot() const;

  /// Replaces everything with the contents of a snapshot() output. Fails,
  /// changing nothing, when the bytes are not a valid Snapshot within
  /// max_snapshot_bytes, an object fails the checks of from_schema, the ids
  /// of nodes, services or tasks are not strictly ascending, two services
  /// share a name, a version is 0 or above the applied index, or there are
  /// objects but no cluster. Tasks may name services that are gone.
  result<void> restore(const uint8_t* data, size_t size);

  /// The index of the last entry applied (or restored); 0 at first.
  uint64_t applied_index() const noexcept { return applied_index_; }

  /// The swarm, or nullptr before `swarm init` committed.
  const cluster_object* cluster() const noexcept {
    return state_.cluster ? &*state_.cluster : nullptr;
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

  // Services and tasks. Every pointer returned below stays valid until the
  // next apply() or restore().

  /// The service with exactly this id, or nullptr.
  const service_object* service(std::string_view id) const;

  /// Every service, sorted by id.
  std::vector<const service_object*> services() const;

  /// Resolves what an operator typed: an exact service id, else an exact
  /// name (names are unique), else a unique id prefix. Fails with
  /// `not_found` ("service X not found") when nothing matches and with
  /// `invalid_argument` when the name is empty or a prefix of several ids
  /// ("service name X is ambiguous: matches ID1, ID2...").
  result<const service_object*> find_service(std::string_view name) const;

  /// The task with exactly this id, or nullptr.
  const task_object* task(std::string_view id) const;

  /// Every task, sorted by id.
  std::vector<const task_object*> tasks() const;

  /// The tasks whose service_id is `service_id` (the service may be gone),
  /// sorted by slot, then created_at_nanos, then id.
  std::vector<const task_object*>
  tasks_of_service(std::string_view service_id) const;

  /// The tasks whose node_id is `node_id`, sorted by id. An empty node_id
  /// gives the tasks not placed yet.
  std::vector<const task_object*> tasks_on_node(std::string_view node_id) const;

  /// The tasks of one slot of a service (for a global service, slot 0 holds
  /// them all), sorted by created_at_nanos, then id.
  std::vector<const task_object*> tasks_in_slot(std::string_view service_id,
                                                uint64_t slot) const;

  /// Resolves an exact task id, else a unique id prefix; fails as
  /// find_service does ("task X not found", "task name X is ambiguous...").
  result<const task_object*> find_task(std::string_view name) const;

 private:
  detail::objects state_;
  uint64_t applied_index_ = 0;
};

} // namespace skep::store
