#pragma once

#include "messages/result.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace skep::raft {

/// Identifies a Raft member. 0 means "no node" (no leader, no vote).
using node_id = std::uint64_t;
using term_t = std::uint64_t;
using index_t = std::uint64_t;
using bytes = std::vector<std::uint8_t>;

/// BLAKE2b-256 digest linking an entry to all entries before it.
using chain_hash = std::array<std::uint8_t, 32>;

/// The hash "before index 1": 32 zero bytes.
inline constexpr chain_hash genesis_hash{};

/// What an entry carries. The numeric values are part of the hash encoding
/// and of the on-disk format: never renumber.
enum class entry_type : std::uint8_t {
  normal = 0,        ///< state machine command (payload is opaque)
  empty = 1,         ///< no-op appended by a new leader to commit its term
  configuration = 2, ///< membership; payload is an encoded `configuration`
};

/// One log entry. `hash` is the chain hash at `index` (see hash_chain.hpp).
struct entry {
  term_t term = 0;
  index_t index = 0;
  entry_type type = entry_type::normal;
  bytes payload;
  chain_hash hash{};

  friend bool operator==(const entry& x, const entry& y) {
    return x.term == y.term && x.index == y.index && x.type == y.type
           && x.payload == y.payload && x.hash == y.hash;
  }
};

/// State that must be on stable storage before any message that depends on it
/// leaves the node.
struct hard_state {
  term_t term = 0;
  node_id voted_for = 0;
  index_t commit = 0;

  friend bool operator==(const hard_state& x, const hard_state& y) {
    return x.term == y.term && x.voted_for == y.voted_for
           && x.commit == y.commit;
  }
  friend bool operator!=(const hard_state& x, const hard_state& y) {
    return !(x == y);
  }
};

/// Cluster membership. Both lists are sorted and disjoint. Only voters count
/// for elections and commitment; learners only receive the log.
struct configuration {
  std::vector<node_id> voters;
  std::vector<node_id> learners;

  bool is_voter(node_id id) const;
  bool is_learner(node_id id) const;
  bool is_member(node_id id) const { return is_voter(id) || is_learner(id); }
  /// Number of voters needed for a majority.
  std::size_t quorum() const { return voters.size() / 2 + 1; }

  friend bool operator==(const configuration& x, const configuration& y) {
    return x.voters == y.voters && x.learners == y.learners;
  }
};

/// Encoding of a configuration entry payload: u32 voter count, u32 learner
/// count, then each id as u64, all little-endian.
bytes encode_configuration(const configuration& config);

/// Inverse of encode_configuration. Returns false on a malformed payload.
bool decode_configuration(const bytes& payload, configuration& out);

/// Describes a state machine snapshot: the state after applying `index`.
struct snapshot_meta {
  index_t index = 0;
  term_t term = 0;
  chain_hash hash = genesis_hash; ///< chain hash of the entry at `index`
  configuration config;           ///< membership in effect at `index`
};

/// A complete snapshot: metadata plus the state machine's bytes.
struct snapshot {
  snapshot_meta meta;
  bytes data;
};

/// Kinds of messages exchanged between Raft members.
enum class message_type : std::uint8_t {
  pre_vote,
  pre_vote_reply,
  vote,
  vote_reply,
  append,
  append_reply,
  heartbeat,
  heartbeat_reply,
  install_snapshot,
  install_snapshot_reply,
  timeout_now,
};

/// Human-readable name of a message type, for logs and test failures.
const char* to_string(message_type type);

/// A message between two members. Which fields matter depends on `type`:
/// - pre_vote/vote: log_term/index describe the candidate's last entry;
///   `transfer` is set when the election was started by TimeoutNow.
/// - *_vote_reply: `reject`.
/// - append: index/log_term/prev_hash describe the entry before `entries`;
///   `commit` is the leader's commit index.
/// - append_reply: on success `index` is the follower's last matching index;
///   on reject `index` echoes the rejected prev index and conflict_term /
///   conflict_index are hints for fast backtracking.
/// - heartbeat/heartbeat_reply: `commit` and `context` (read-index round).
/// - install_snapshot: snapshot meta, `offset` of `data` in the snapshot,
///   `done` on the last chunk. The reply's `offset` is the next offset the
///   follower expects; `done` with `index` when the snapshot was installed.
struct message {
  message_type type = message_type::append;
  node_id from = 0;
  node_id to = 0;
  term_t term = 0;
  term_t log_term = 0;
  index_t index = 0;
  chain_hash prev_hash = genesis_hash;
  std::vector<entry> entries;
  index_t commit = 0;
  bool reject = false;
  term_t conflict_term = 0;
  index_t conflict_index = 0;
  std::uint64_t context = 0;
  bool transfer = false;
  snapshot_meta snapshot;
  std::uint64_t offset = 0;
  bytes data;
  bool done = false;
};

/// What can go wrong when asking the core to do something.
enum class error_code : std::uint8_t {
  none,                 ///< not a failure of the core
  not_leader,           ///< only the leader accepts this; see leader_hint
  transfer_in_progress, ///< leadership transfer running; retry later
  change_pending,       ///< a configuration change is not committed yet
  already_member,       ///< the node is already voter or learner
  unknown_node,         ///< the node is not in the configuration
  not_a_learner,        ///< promotion needs a learner
  learner_behind,       ///< the learner has not caught up yet
  not_a_voter,          ///< target of a transfer must be a voter
  last_voter,           ///< the last voter cannot be removed
  bad_index,            ///< index outside the applied, retained log
  broken_chain,         ///< this node's log failed hash verification
};

/// A failure of the core: `detail` holds the error_code (see code_of), the
/// errc is the nearest general one, and leader_hint names the leader this
/// member knows of (0 = none).
failure raft_failure(error_code code, node_id leader_hint, std::string message);

/// The error_code of a failure made by raft_failure.
error_code code_of(const failure& f);

/// A confirmed linearizable read: it may be served once the state machine has
/// applied `index`.
struct read_state {
  std::uint64_t request_id = 0;
  index_t index = 0;
};

/// Role of a member.
enum class role : std::uint8_t { follower, pre_candidate, candidate, leader };

const char* to_string(role r);

} // namespace skep::raft
