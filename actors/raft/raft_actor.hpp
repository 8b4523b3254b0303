#pragma once

#include "actors/raft/core.hpp"
#include "actors/raft/log_storage.hpp"
#include "messages/type_ids.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace skep::raft {

/// The answer to a request the raft actor serves: an index on success,
/// otherwise why not: a failure whose leader_hint names the member that
/// leads, when known (to retry there), and whose detail is Raft's
/// error_code when the core refused (see code_of).
struct outcome {
  bool ok = false;
  index_t index = 0;
  failure why;

  static outcome success(index_t index) { return outcome{true, index, {}}; }
  static outcome refused(failure why) {
    return outcome{false, 0, std::move(why)};
  }
  /// A refusal that is not the core's: the member stopped, a snapshot
  /// could not be written.
  static outcome refused(std::string message, node_id leader_hint = 0) {
    failure f{errc::unavailable, std::move(message)};
    f.leader_hint = leader_hint;
    return refused(std::move(f));
  }
};

/// What a member reports about itself.
struct status {
  node_id id = 0;
  raft::role role = raft::role::follower;
  term_t term = 0;
  node_id leader = 0;
  index_t commit = 0;
  index_t applied = 0;
  index_t last_index = 0;
  configuration config;
  std::string chain_fault;    ///< empty when the hash chain is intact
  index_t first_index = 0;    ///< first entry still in the log
  index_t snapshot_index = 0; ///< index of the latest stored snapshot
  /// The longest time between two ticks handled since the member started:
  /// one tick period when its thread was never busy or starved.
  std::chrono::milliseconds longest_tick_gap{0};
  /// Ticks handled since the member started.
  std::uint64_t ticks = 0;
};

/// Where a member's outgoing Raft messages go: the transport (across nodes)
/// or a test network. It receives every message with `to` set.
using raft_outbox = caf::typed_actor<caf::reacts_to<message>>;

/// Where committed entries go, in index order: the replicated state machine.
/// A snapshot replaces the whole state; the entries handed after it follow
/// its index. The sink is also told the member's status once at start and
/// whenever its role, term, leader or configuration changes, so it learns of
/// leadership changes without asking.
using apply_sink
  = caf::typed_actor<caf::reacts_to<atom::apply, std::vector<entry>>,
                     caf::reacts_to<atom::restore, snapshot>,
                     caf::reacts_to<atom::status, status>>;

/// One Raft member. It owns the core, its storage and its ticks; it persists
/// every ready batch (one sync per batch: group commit) before sending the
/// messages that vouch for it, then hands committed entries to the sink.
///
/// - propose: replies once the entry is committed and handed to the sink;
///   fails if this member does not lead or the entry is lost to a new leader.
/// - read: replies with an index once leadership is confirmed and the sink
///   has been handed every entry up to it (linearizable read).
/// - add/promote/remove, transfer: membership and leadership changes.
/// - verify: re-checks the whole stored hash chain now; fails naming the
///   first bad index (the member then refuses to vote or lead).
/// - snapshot(index, data): `data` is the state machine's state after
///   applying `index`. Stores it as this member's snapshot and replies ok
///   with `index` once it is durable; then compacts the log up to it in
///   steps, keeping the last snapshot_keep_entries entries before it (for
///   slow followers). A member on its own thread writes the data from
///   another thread, so its ticks go on meanwhile; one snapshot at a time.
///   Fails, changing nothing, when `index` is not applied yet or is older than
///   the stored snapshot; a snapshot at the stored snapshot's index is a no-op
///   (ok). Any member may snapshot, leader or not.
///
/// On start, when the storage holds a snapshot past core.applied, the member
/// first sends the sink `restore` with it, then applies only later entries.
using raft_actor = caf::typed_actor<
  caf::reacts_to<message>, caf::replies_to<atom::propose, bytes>::with<outcome>,
  caf::replies_to<atom::read>::with<outcome>,
  caf::replies_to<atom::add_learner, node_id>::with<outcome>,
  caf::replies_to<atom::promote, node_id>::with<outcome>,
  caf::replies_to<atom::remove, node_id>::with<outcome>,
  caf::replies_to<atom::transfer, node_id>::with<outcome>,
  caf::replies_to<atom::status>::with<status>,
  caf::replies_to<atom::verify>::with<outcome>,
  caf::replies_to<atom::snapshot, index_t, bytes>::with<outcome>,
  caf::reacts_to<atom::snapshot, atom::done, staged_snapshot>,
  caf::reacts_to<atom::flush, std::uint64_t, std::string>,
  caf::reacts_to<atom::tick>>;

/// How a member runs.
struct raft_actor_config {
  core_config core;
  /// Wall time of one core tick; elections take core.election_ticks of them.
  std::chrono::milliseconds tick{50};
  /// Entries kept before a snapshot's index when compacting, so followers
  /// that lag by fewer than this catch up from the log, not a snapshot.
  index_t snapshot_keep_entries = 500;
};

/// Spawns a member over `storage` (which it owns from then on), sending to
/// `outbox` and applying to `sink`, on a thread of its own (at nice -10
/// when the process may raise it) that another thread ticks. When the
/// storage has a flush job (log_storage::flush_job), the member only
/// commits each batch and a third thread fsyncs: votes, replies, its own
/// count toward commitment and the answer to a snapshot request wait for
/// that report; its ticks and heartbeats do not. Its snapshots are written
/// from another thread (see atom::snapshot), so a large snapshot does not
/// delay its heartbeats and elections either. A storage failure stops the
/// member with the failure's message as its exit reason; unanswered
/// requests then fail.
raft_actor spawn_raft(caf::actor_system& sys, raft_actor_config cfg,
                      std::unique_ptr<log_storage> storage, raft_outbox outbox,
                      apply_sink sink);

/// Like spawn_raft, but on the actor system's scheduler, so tests can run it
/// under the test coordinator with virtual time.
raft_actor spawn_raft_scheduled(caf::actor_system& sys, raft_actor_config cfg,
                                std::unique_ptr<log_storage> storage,
                                raft_outbox outbox, apply_sink sink);

} // namespace skep::raft

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::raft::message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::raft::outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::raft::status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::raft::snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::raft::staged_snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<skep::raft::entry>)
