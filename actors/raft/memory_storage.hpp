#pragma once

#include "actors/raft/log_storage.hpp"

#include <variant>

namespace skep::raft {

/// log_storage kept in memory. Writes are "durable" immediately; sync() does
/// nothing. Copyable, so tests can snapshot a whole store.
class memory_storage : public log_storage {
 public:
  hard_state load_hard_state() const override { return hard_state_; }
  void save_hard_state(const hard_state& state) override {
    hard_state_ = state;
  }
  index_t first_index() const override { return base_.index + 1; }
  index_t last_index() const override { return base_.index + log_.size(); }
  std::optional<term_t> term(index_t index) const override;
  std::optional<chain_hash> hash(index_t index) const override;
  std::vector<entry> entries(index_t lo, index_t hi,
                             std::uint64_t max_bytes) const override;
  void append(const std::vector<entry>& batch) override;
  snapshot_meta snapshot_metadata() const override { return snapshot_.meta; }
  std::uint64_t snapshot_size() const override { return snapshot_.data.size(); }
  bytes snapshot_chunk(std::uint64_t offset,
                       std::uint64_t max_bytes) const override;
  void save_snapshot(const snapshot& snap) override;
  void compact(index_t through) override;
  void sync() override {}

  /// Simulates disk corruption: replaces the payload of entry `index` while
  /// keeping its stored hash. Returns false if the entry is not in the log.
  bool corrupt_payload(index_t index, const bytes& payload);

 private:
  // The compaction point: last entry dropped from the front of the log.
  struct base_entry {
    index_t index = 0;
    term_t term = 0;
    chain_hash hash = genesis_hash;
  };

  hard_state hard_state_;
  base_entry base_;
  std::vector<entry> log_;
  snapshot snapshot_;
};

/// log_storage that models a disk with a volatile write cache: writes are
/// visible to reads at once but become durable only when sync() is called.
/// crash() drops every write made after the last sync().
class crash_storage : public log_storage {
 public:
  hard_state load_hard_state() const override {
    return working_.load_hard_state();
  }
  void save_hard_state(const hard_state& state) override;
  index_t first_index() const override { return working_.first_index(); }
  index_t last_index() const override { return working_.last_index(); }
  std::optional<term_t> term(index_t index) const override {
    return working_.term(index);
  }
  std::optional<chain_hash> hash(index_t index) const override {
    return working_.hash(index);
  }
  std::vector<entry> entries(index_t lo, index_t hi,
                             std::uint64_t max_bytes) const override {
    return working_.entries(lo, hi, max_bytes);
  }
  void append(const std::vector<entry>& batch) override;
  snapshot_meta snapshot_metadata() const override {
    return working_.snapshot_metadata();
  }
  std::uint64_t snapshot_size() const override {
    return working_.snapshot_size();
  }
  bytes snapshot_chunk(std::uint64_t offset,
                       std::uint64_t max_bytes) const override {
    return working_.snapshot_chunk(offset, max_bytes);
  }
  void save_snapshot(const snapshot& snap) override;
  void compact(index_t through) override;
  void sync() override;

  /// Loses every write since the last sync(), as a power failure would.
  void crash();

  /// Number of writes waiting for sync().
  std::size_t unsynced_writes() const { return pending_.size(); }

  /// Simulates corruption of durable data (see memory_storage).
  bool corrupt_payload(index_t index, const bytes& payload);

 private:
  struct compaction {
    index_t through;
  };
  using write
    = std::variant<hard_state, std::vector<entry>, snapshot, compaction>;

  memory_storage durable_;
  memory_storage working_;
  std::vector<write> pending_;
};

} // namespace skep::raft
