#pragma once

#include "actors/raft/core.hpp"
#include "actors/raft/memory_storage.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace skep::raft::sim {

/// Faults applied to each message on a link, drawn from the cluster's seed.
struct link_faults {
  double drop = 0;        ///< probability a message is lost
  double duplicate = 0;   ///< probability a message is delivered twice
  int min_delay = 0;      ///< ticks, inclusive
  int max_delay = 1;      ///< ticks, inclusive
  double long_delay = 0;  ///< probability of a long delay (reordering)
  int long_delay_max = 0; ///< upper bound of a long delay in ticks
};

/// How a simulated cluster is built.
struct cluster_options {
  std::size_t voters = 3;
  link_faults network;
  core_config raft; ///< id, seed and applied are set per node
  /// Take a state machine snapshot every this many applied entries (0: never).
  index_t snapshot_every = 0;
  /// Entries kept before the snapshot index when compacting.
  index_t compaction_tail = 4;
  /// Extra payload bytes per proposal (exercises byte batching).
  std::size_t payload_padding = 0;
};

/// A deterministic Raft cluster in one process: members with crash-injecting
/// storage, a simulated network and virtual time, all driven by one seed.
/// After every delivered message, tick and handled ready it checks the Raft
/// invariants; the first violation is kept in failure().
class cluster {
 public:
  cluster(std::uint64_t seed, cluster_options options);

  /// One tick of virtual time: ticks every live member, then delivers due
  /// messages (in random order) until the network is quiet for this tick.
  void tick();

  /// Runs `ticks` ticks (stops early on an invariant violation).
  void run(int ticks);

  /// Runs until `done` holds or `max_ticks` passed; returns done().
  bool run_until(const std::function<bool()>& done, int max_ticks);

  /// The live leader with the highest term, or 0. A leader cut off from its
  /// quorum still counts until check-quorum makes it step down.
  node_id leader() const;

  /// Runs until some live member leads and a quorum of its configuration
  /// follows it in its term; returns that leader or 0 after max_ticks.
  node_id await_leader(int max_ticks = 400);

  /// Proposes a fresh value at `at` (0: the current leader). Returns the
  /// value, or nullopt if the member refused.
  std::optional<std::uint64_t> propose(node_id at = 0);

  /// Proposes through the leader (retrying elections) until `count` new
  /// values are acknowledged or max_ticks pass. Returns how many were.
  std::size_t propose_and_commit(std::size_t count, int max_ticks = 2000);

  /// True once a member applied `value`.
  bool acknowledged(std::uint64_t value) const {
    return acked_.count(value) > 0;
  }
  std::size_t acknowledged_count() const { return acked_.size(); }

  /// Stops `id`; unsynced writes are lost.
  void crash(node_id id);

  /// The next ready of `id` is written but the node crashes before sync.
  void crash_before_next_sync(node_id id) {
    nodes_.at(id).crash_on_sync = true;
  }

  /// Starts a crashed member again from its durable storage; with
  /// `force_new_cluster` it becomes the only voter (disaster recovery).
  void restart(node_id id, bool force_new_cluster = false);

  /// Adds a member with empty storage that is not in any configuration yet.
  void add_empty_node(node_id id);

  bool is_up(node_id id) const { return nodes_.at(id).raft.has_value(); }

  /// Splits the network: members in different groups cannot talk. Members
  /// not listed form their own group each.
  void partition(const std::vector<std::vector<node_id>>& groups);

  /// Cuts `id` off from everybody.
  void isolate(node_id id);

  /// True if no partition separates `a` and `b`.
  bool connected(node_id a, node_id b) const;

  /// Removes all partitions.
  void heal();

  /// Faults for every link without an override.
  void set_network(const link_faults& faults) { options_.network = faults; }

  /// Faults on the directed link from -> to.
  void set_link(node_id from, node_id to, const link_faults& faults) {
    links_[{from, to}] = faults;
  }
  void clear_links() { links_.clear(); }

  core& node(node_id id) { return *nodes_.at(id).raft; }
  const core& node(node_id id) const { return *nodes_.at(id).raft; }
  crash_storage& storage(node_id id) { return nodes_.at(id).storage; }

  /// Values applied by `id`, in order.
  const std::vector<std::uint64_t>& applied_values(node_id id) const {
    return nodes_.at(id).values;
  }

  std::vector<node_id> ids() const;
  std::vector<node_id> live_ids() const;

  /// Highest index known committed on any member.
  index_t max_commit() const { return max_committed_; }

  /// True when every live member applied every entry up to max_commit().
  bool converged() const;

  /// Heals, clears faults and runs until converged; then checks that every
  /// acknowledged value is applied on every live member.
  bool settle(int max_ticks = 3000);

  /// Starts a linearizable read on the leader; the harness checks that its
  /// index covers everything acknowledged before the call.
  bool read(node_id at = 0);
  std::size_t reads_served() const { return reads_served_; }

  /// Messages of `type` handed to the network so far.
  std::size_t sent(message_type type) const {
    auto i = sent_.find(type);
    return i == sent_.end() ? 0 : i->second;
  }
  /// Append rejections handed to the network so far.
  std::size_t append_rejections() const { return append_rejections_; }

  std::uint64_t now() const { return now_; }
  std::mt19937_64& rng() { return rng_; }
  std::uint64_t random(std::uint64_t bound) { return rng_() % bound; }
  bool chance(double p);

  bool ok() const { return failure_.empty(); }
  const std::string& failure() const { return failure_; }
  void fail(const std::string& what);

 private:
  struct sim_node {
    crash_storage storage;
    std::optional<core> raft;
    std::vector<std::uint64_t> values;
    index_t applied = 0;
    index_t last_snapshot = 0;
    index_t commit_seen = 0;
    index_t synced_commit = 0;
    term_t leader_checked_term = 0;
    bool crash_on_sync = false;
  };

  struct in_flight {
    std::uint64_t deliver_at;
    message msg;
  };

  void start(node_id id, bool force_new_cluster = false);
  void process_ready(node_id id);
  void deliver(message msg);
  void send(const message& msg);
  const link_faults& faults(node_id from, node_id to) const;
  void check_node(node_id id);
  void check_committed(node_id id);
  void apply_entry(node_id id, const entry& e);
  void restore_state_machine(node_id id, const snapshot& snap);
  void maybe_snapshot(node_id id);
  void record_committed(index_t index, const chain_hash& hash,
                        const char* where, node_id id);

  cluster_options options_;
  std::mt19937_64 rng_;
  std::uint64_t now_ = 0;
  std::map<node_id, sim_node> nodes_;
  std::vector<in_flight> network_;
  std::map<std::pair<node_id, node_id>, link_faults> links_;
  std::map<node_id, int> group_;
  std::uint64_t next_value_ = 1;
  std::set<std::uint64_t> proposed_;
  std::map<std::uint64_t, index_t> acked_;
  std::map<std::uint64_t, index_t> pending_reads_; // id -> required index
  std::uint64_t next_read_ = 1;
  std::size_t reads_served_ = 0;
  // Invariant bookkeeping.
  std::map<term_t, node_id> leader_of_term_;
  std::map<std::pair<index_t, term_t>, chain_hash> entry_hash_;
  std::map<index_t, chain_hash> committed_; // hash of each committed index
  index_t max_committed_ = 0;
  std::vector<std::uint64_t> applied_values_; // canonical applied sequence
  std::map<message_type, std::size_t> sent_;
  std::size_t append_rejections_ = 0;
  std::string failure_;
};

/// Seeds per scenario: SKEP_RAFT_SEEDS if set, else `fallback`.
int seed_count(int fallback = 200);

/// Payload of a simulated proposal: value as u64 little-endian + padding.
bytes encode_value(std::uint64_t value, std::size_t padding);
std::uint64_t decode_value(const bytes& payload);

} // namespace skep::raft::sim
