#pragma once

#include "actors/raft/types.hpp"

#include <functional>
#include <optional>
#include <string>

namespace skep::raft {

/// A snapshot written durably beside a storage but not yet its snapshot
/// (see log_storage::stage_snapshot).
struct staged_snapshot {
  snapshot_meta meta;
  std::uint64_t size = 0;
  /// Where the data was written (a file name the storage knows), or empty
  /// when the storage keeps `data` itself.
  std::string file;
  /// A checksum of the data, which the storage keeps with it.
  bytes digest;
  bytes data;
  /// Why the data could not be written; the snapshot is then not staged.
  std::string error;
};

/// Durable home of one member's hard state, log and latest snapshot.
///
/// The log holds entries [first_index(), last_index()]. Index first_index()-1
/// is the compaction point: its term and chain hash stay known (from the
/// snapshot or from compaction) so appends and chain checks can continue from
/// it. An empty log has first_index() == last_index() + 1.
///
/// Every call returns copies, never references into internal memory, so an
/// implementation can answer each call with a database query. Writes need not
/// be durable until sync() returns; reads must see all earlier writes.
class log_storage {
 public:
  virtual ~log_storage() = default;

  /// Last saved hard state (all zero for a fresh store).
  virtual hard_state load_hard_state() const = 0;

  /// Replaces the hard state.
  virtual void save_hard_state(const hard_state& state) = 0;

  /// Index of the first entry still in the log (compaction point + 1).
  virtual index_t first_index() const = 0;

  /// Index of the last entry, or the compaction point if the log is empty.
  virtual index_t last_index() const = 0;

  /// Term of entry `index` for index in [first_index()-1, last_index()].
  virtual std::optional<term_t> term(index_t index) const = 0;

  /// Chain hash of entry `index` for index in [first_index()-1,
  /// last_index()].
  virtual std::optional<chain_hash> hash(index_t index) const = 0;

  /// Entries in [lo, hi), requires first_index() <= lo <= hi <=
  /// last_index()+1. Stops once the payload bytes reach `max_bytes`, but
  /// returns at least one entry when lo < hi.
  virtual std::vector<entry> entries(index_t lo, index_t hi,
                                     std::uint64_t max_bytes) const = 0;

  /// Writes contiguous `batch` after removing every stored entry whose index
  /// is >= batch.front().index. Requires first_index() <= batch.front().index
  /// <= last_index() + 1. An empty batch is a no-op.
  virtual void append(const std::vector<entry>& batch) = 0;

  /// Metadata of the latest snapshot (index 0 and genesis hash if none).
  virtual snapshot_meta snapshot_metadata() const = 0;

  /// Size in bytes of the latest snapshot's data.
  virtual std::uint64_t snapshot_size() const = 0;

  /// At most `max_bytes` of the latest snapshot's data starting at `offset`.
  virtual bytes snapshot_chunk(std::uint64_t offset,
                               std::uint64_t max_bytes) const = 0;

  /// Stores `snap` as the latest snapshot. If the log holds entry
  /// snap.meta.index with the snapshot's hash, the log is kept (use
  /// compact() to drop the prefix); otherwise the whole log is discarded and
  /// the compaction point becomes the snapshot's index, term and hash.
  virtual void save_snapshot(const snapshot& snap) = 0;

  /// The whole data of the latest snapshot, checked against what was
  /// stored where the storage can (a storage_failure when it does not match).
  virtual bytes snapshot_data() const {
    return snapshot_chunk(0, snapshot_size());
  }

  /// Writing a large snapshot takes seconds, which a member cannot spend on
  /// its own thread, so it stores one in two steps. stage_snapshot returns a
  /// job, to be run once on any thread, that makes `snap`'s data durable
  /// beside the storage without changing what the storage holds. The member
  /// then hands the job's result to adopt_snapshot, which stores it as
  /// save_snapshot would (durable at the next sync), or to
  /// drop_staged_snapshot when it no longer wants it. A staged snapshot
  /// neither adopted nor dropped is removed when the storage is opened again.
  /// By default the job only holds on to the data.
  virtual std::function<staged_snapshot()> stage_snapshot(snapshot snap) {
    return [snap = std::move(snap)]() mutable {
      staged_snapshot out;
      out.meta = std::move(snap.meta);
      out.size = snap.data.size();
      out.data = std::move(snap.data);
      return out;
    };
  }
  virtual void adopt_snapshot(staged_snapshot staged) {
    save_snapshot(snapshot{std::move(staged.meta), std::move(staged.data)});
  }
  virtual void drop_staged_snapshot(const staged_snapshot& staged) {
    (void)staged;
  }

  /// Drops entries with index <= through. Requires through <= the snapshot
  /// index and through <= last_index(); smaller values than the current
  /// compaction point are ignored.
  virtual void compact(index_t through) = 0;

  /// Makes every earlier write durable.
  virtual void sync() = 0;

  /// Gives back a bounded part of the space compaction freed, as a write of
  /// the next commit: a member calls it once per tick, so that a log that
  /// once held a million tasks shrinks without holding its thread. By
  /// default there is nothing to give back.
  virtual void reclaim() {}

  /// Ends the writes made so far as one step, visible to reads and ordered
  /// after every earlier step, without waiting for the disk: a crash loses
  /// at most the latest steps, never part of one and never one before a
  /// later one. flush_job() or sync() make them durable. By default the
  /// same as sync().
  virtual void commit() { sync(); }

  /// A job, to be run on any thread (one run at a time; it holds what it
  /// needs, so it may outlive the storage), that makes every step committed
  /// before it started durable. It returns an empty string, or
  /// why the disk refused, after which no write can be trusted durable.
  /// Empty (the default) when commit() is durable by itself.
  virtual std::function<std::string()> flush_job() { return {}; }
};

/// Compacts `storage` up to its snapshot while keeping the last `tail`
/// entries before the snapshot index, so slow followers can still catch up
/// from the log instead of needing the snapshot.
void compact_keeping_tail(log_storage& storage, index_t tail);

/// Where compact_keeping_tail would compact `storage` up to (0: nowhere), so
/// a member can compact in steps of its own size.
index_t compaction_point_keeping_tail(const log_storage& storage, index_t tail);

/// Writes the initial membership of a brand-new cluster into an empty
/// `storage` as a snapshot at index 0 and syncs it. Every founding member is
/// bootstrapped with the same configuration; members that join later start
/// from empty storage and receive the log (or a snapshot) from the leader.
void bootstrap(log_storage& storage, const configuration& founders);

} // namespace skep::raft
