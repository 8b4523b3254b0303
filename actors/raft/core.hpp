#pragma once

#include "actors/raft/hash_chain.hpp"
#include "actors/raft/log_storage.hpp"
#include "actors/raft/raft_log.hpp"
#include "actors/raft/types.hpp"

#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>

namespace skep::raft {

/// Tunables of one member. Times are in ticks of the caller's clock.
struct core_config {
  node_id id = 0;
  /// Followers start an election after a random timeout in
  /// [election_ticks, 2 * election_ticks).
  int election_ticks = 10;
  /// The leader sends heartbeats every heartbeat_ticks.
  int heartbeat_ticks = 1;
  /// Ask for pre-votes before raising the term (avoids disruption by
  /// members returning from a partition).
  bool pre_vote = true;
  /// A leader that has not heard from a quorum within election_ticks steps
  /// down; followers that heard from a leader recently ignore votes.
  bool check_quorum = true;
  /// Batching limits for one append message.
  std::size_t max_append_entries = 64;
  std::uint64_t max_append_bytes = 1 << 20;
  /// Pipelining: appends in flight to one follower in replicate mode.
  std::size_t max_inflight_appends = 8;
  /// Size of one InstallSnapshot chunk.
  std::uint64_t snapshot_chunk_bytes = 64 * 1024;
  /// Bytes of committed entries handed out per ready (at least one entry).
  std::uint64_t max_apply_bytes = 4 << 20;
  /// A learner may be promoted once its match index is within this many
  /// entries of the leader's last index.
  index_t catch_up_margin = 0;
  /// Index the state machine had applied when this core starts (it restored
  /// from the storage's snapshot, so usually the snapshot index). Committed
  /// entries after it are handed out again.
  index_t applied = 0;
  /// Disaster recovery: keep the log but make this member the only voter, by
  /// appending a configuration entry at start.
  bool force_new_cluster = false;
  /// Seed of the election-timeout randomness; a simulation replays from it.
  std::uint64_t seed = 0;
  /// Off: handling a ready (step 3 below) makes its writes durable. On: the
  /// caller may make them durable later, off its thread, and says so with
  /// persisted_through(); until then this member's own entries do not count
  /// toward commitment when it leads, and the caller holds back what step 4
  /// must not send before the sync.
  bool async_durability = false;
};

/// A batch of work for the caller. Handle it in this order, then call
/// core::advance with it:
/// 1. if `snapshot`: storage.save_snapshot(*snapshot);
/// 2. storage.append(entries); if `state`: storage.save_hard_state(*state);
/// 3. storage.sync() -- nothing below may happen before this returns;
/// 4. send `messages`;
/// 5. if `snapshot`: restore the state machine from it; apply `committed`
///    in order; serve `reads` whose index is applied; fail `failed_reads`.
struct ready {
  std::optional<hard_state> state;
  std::optional<raft::snapshot> snapshot;
  std::vector<entry> entries;
  std::vector<message> messages;
  std::vector<entry> committed;
  std::vector<read_state> reads;
  std::vector<std::uint64_t> failed_reads;
};

/// The Raft consensus algorithm for one member, without I/O or threads. Feed
/// it ticks, messages and requests; collect its work with take_ready(). The
/// caller must call advance() after each take_ready() before feeding it
/// anything else. It reads (never writes) `storage`, which must outlive it.
class core {
 public:
  /// Loads hard state, configuration and log from `storage` and verifies the
  /// hash chain. A member whose chain is broken stays a follower, refuses to
  /// vote, never applies the bad entry or any after it, and reports the
  /// reason through chain_fault(); an operator must repair its storage.
  core(core_config config, log_storage& storage);

  core(const core&) = delete;
  core& operator=(const core&) = delete;

  /// Advances the logical clock by one tick.
  void tick();

  /// Handles a message from another member.
  void step(const message& msg);

  /// Appends a command on the leader. Returns its index; the command is
  /// committed once it shows up in ready::committed.
  result<index_t> propose(bytes payload);

  /// Adds `id` as a learner (receives the log, does not vote).
  result<index_t> add_learner(node_id id);

  /// Makes learner `id` a voter. Refused while it lags the leader by more
  /// than catch_up_margin entries or has not answered recently.
  result<index_t> promote_learner(node_id id);

  /// Removes voter or learner `id`. A leader removing itself steps down once
  /// the change commits.
  result<index_t> remove_member(node_id id);

  /// Hands leadership to voter `target`: it is brought up to date, then told
  /// to start an election at once. Proposals are refused meanwhile; the
  /// transfer is abandoned after election_ticks.
  result<node_id> transfer_leadership(node_id target);

  /// Starts a linearizable read. Once the leader confirmed it still leads,
  /// ready::reads holds {request_id, index}; serve the read when the state
  /// machine has applied `index`. If leadership is lost first, request_id
  /// shows up in ready::failed_reads.
  result<std::uint64_t> read_index(std::uint64_t request_id);

  /// Builds a snapshot of the state after applying `index` (must be applied
  /// and still in the log). The caller stores it with save_snapshot and may
  /// then compact the log.
  result<snapshot> make_snapshot(index_t index, bytes data) const;

  /// Re-verifies the stored chain now; a failure is kept in chain_fault().
  chain_report verify_log();

  /// True when take_ready() would return work.
  bool has_ready() const;

  /// Collects outstanding work. See `ready` for the caller's duties.
  /// Calling it again before advance() is a bug (std::logic_error).
  ready take_ready();

  /// Acknowledges that `rd` (the last take_ready() result) was handled.
  void advance(const ready& rd);

  /// With core_config::async_durability: every write handed out up to
  /// entry `index` of term `term` is durable now. A report about an entry
  /// that was overwritten meanwhile (another term at `index`) is ignored:
  /// the sync that covers its replacement reports again.
  void persisted_through(index_t index, term_t term);

  /// The last entry known durable here (what this member counts as its own
  /// match when it leads).
  index_t durable_index() const { return log_.durable; }

  node_id id() const { return config_.id; }
  raft::role role() const { return role_; }
  term_t term() const { return term_; }
  node_id leader() const { return leader_; }
  index_t commit_index() const { return log_.committed; }
  index_t applied_index() const { return log_.applied; }
  index_t last_index() const { return log_.last_index(); }
  const raft::configuration& configuration() const {
    return configs_.back().second;
  }
  /// Reason this member refuses to vote or campaign, if its chain is broken.
  const std::optional<std::string>& chain_fault() const { return chain_fault_; }
  /// Target of a running leadership transfer, 0 if none.
  node_id transfer_target() const { return transferee_; }
  /// Match index of `peer` as seen by this leader (0 if unknown).
  index_t match_index(node_id peer) const;

 private:
  enum class replication_mode : std::uint8_t { probe, replicate, snapshot };

  // What the leader knows about one follower or learner.
  struct progress {
    index_t match = 0;
    index_t next = 1;
    replication_mode mode = replication_mode::probe;
    bool probe_sent = false;
    std::deque<index_t> inflight; // last index of each append in flight
    bool recent_active = false;
    index_t snapshot_index = 0;
    std::uint64_t snapshot_offset = 0;
  };

  struct pending_read {
    std::uint64_t request_id;
    index_t index;
    std::uint64_t round;
    std::set<node_id> acks;
  };

  struct incoming_snapshot {
    node_id from = 0;
    term_t term = 0;
    snapshot snap;
  };

  // core.cpp: roles and elections
  void become_follower(term_t term, node_id leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void campaign(bool pre_vote, bool transfer);
  void handle_vote_request(const message& msg);
  void handle_vote_reply(const message& msg);
  bool in_leader_lease() const;
  bool may_campaign() const;
  void reset_timers();
  void tick_leader();
  void confirm_reads();
  index_t own_match() const;
  void send(message msg);
  void fail_reads();
  void record_chain_report(const chain_report& report);
  index_t applicable_index() const;
  hard_state current_hard_state() const;

  // replication.cpp: log shipping, commitment, snapshots
  void append_own(std::vector<entry> batch);
  entry make_entry(entry_type type, bytes payload) const;
  void broadcast_append();
  void broadcast_heartbeat(std::uint64_t context);
  bool send_append(node_id to, progress& pr, bool send_if_empty);
  void send_snapshot_chunk(node_id to, progress& pr);
  void handle_append(const message& msg);
  void handle_append_reply(const message& msg);
  void handle_heartbeat(const message& msg);
  void handle_heartbeat_reply(const message& msg);
  void handle_install_snapshot(const message& msg);
  void handle_install_snapshot_reply(const message& msg);
  void reject_append(const message& msg, bool hash_mismatch);
  index_t backtrack_target(const message& reply, const progress& pr) const;
  void become_probe(progress& pr, index_t next);
  void become_replicate(progress& pr);
  bool maybe_commit();
  void commit_to(index_t index);
  void restore_snapshot(snapshot snap);

  // membership.cpp: configuration, transfer, read index
  void load_configurations();
  void apply_configuration_entries(const std::vector<entry>& batch);
  void truncate_configurations(index_t from);
  void sync_progress();
  bool change_pending() const;
  result<index_t> propose_configuration(raft::configuration next);
  void check_transfer_progress(node_id peer, const progress& pr);
  void send_timeout_now(node_id to);
  void start_waiting_reads();
  void ack_reads(node_id from, std::uint64_t context);
  void release_confirmed_reads();
  void on_commit_advanced();
  failure not_leader_error() const;

  core_config config_;
  log_storage& storage_;
  raft_log log_;
  std::mt19937_64 rng_;

  raft::role role_ = raft::role::follower;
  term_t term_ = 0;
  node_id vote_ = 0;
  node_id leader_ = 0;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;
  std::map<node_id, bool> votes_;

  // Configurations by the index of the entry that introduced them; the first
  // comes from the snapshot. The last one is in effect.
  std::vector<std::pair<index_t, raft::configuration>> configs_;
  std::map<node_id, progress> progress_;
  node_id transferee_ = 0;
  int transfer_elapsed_ = 0;

  std::uint64_t read_round_ = 0;
  std::deque<pending_read> pending_reads_;
  std::vector<std::uint64_t> waiting_reads_;
  std::vector<read_state> confirmed_reads_;
  std::vector<std::uint64_t> failed_reads_;

  std::optional<incoming_snapshot> incoming_;
  std::optional<std::string> chain_fault_;
  index_t chain_bad_index_ = 0; // entries from here on are never applied

  std::vector<message> messages_;
  hard_state persisted_state_;
  bool ready_outstanding_ = false;
};

} // namespace skep::raft
