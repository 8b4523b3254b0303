#pragma once

#include "actors/raft/log_storage.hpp"
#include "actors/raft/types.hpp"

#include <optional>

namespace skep::raft {

/// The log as the core sees it: entries already in `log_storage` plus an
/// unstable suffix (and possibly a received snapshot) that the caller has not
/// persisted yet. Reads below the unstable offset go to storage; reads at or
/// above it go to the unstable part, which shadows storage.
class raft_log {
 public:
  explicit raft_log(log_storage& storage);

  /// First index with an entry (compaction or snapshot point + 1).
  index_t first_index() const;

  /// Last index (the compaction or snapshot point if no entries).
  index_t last_index() const;

  /// Term at `index` in [first_index()-1, last_index()], else nullopt.
  std::optional<term_t> term(index_t index) const;

  /// Chain hash at `index` in [first_index()-1, last_index()], else nullopt.
  std::optional<chain_hash> hash(index_t index) const;

  term_t last_term() const { return *term(last_index()); }
  chain_hash last_hash() const { return *hash(last_index()); }

  /// True if this log holds an entry at `index` with this term and hash.
  bool matches(index_t index, term_t t, const chain_hash& h) const;

  /// Entries in [lo, hi) bounded by `max_bytes` (at least one if lo < hi).
  /// Requires first_index() <= lo.
  std::vector<entry> entries(index_t lo, index_t hi,
                             std::uint64_t max_bytes) const;

  /// Appends `batch` (already sealed) after dropping every entry with index
  /// >= batch.front().index. Requires first_index() <= front <= last+1.
  void append(std::vector<entry> batch);

  /// Replaces the whole log by `snap`; entries after it are dropped.
  void restore(snapshot snap);

  /// Unstable entries, in index order, to hand to the caller for persisting.
  const std::vector<entry>& unstable_entries() const { return unstable_; }

  /// A received snapshot the caller has not persisted yet.
  const std::optional<snapshot>& unstable_snapshot() const {
    return unstable_snapshot_;
  }

  /// Called once the caller persisted everything unstable.
  void mark_stable();

  index_t committed = 0;
  index_t applied = 0;
  /// The last entry known durable (see core::persisted_through); entries
  /// replaced by append() are not.
  index_t durable = 0;

 private:
  log_storage& storage_;
  std::optional<snapshot> unstable_snapshot_;
  std::vector<entry> unstable_;
  index_t offset_; // index of unstable_.front() (or where it would go)
};

} // namespace skep::raft
