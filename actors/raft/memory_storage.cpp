#include "actors/raft/memory_storage.hpp"

#include <algorithm>
#include <stdexcept>

namespace skep::raft {

std::optional<term_t> memory_storage::term(index_t index) const {
  if (index == base_.index)
    return base_.term;
  if (index < base_.index || index > last_index())
    return std::nullopt;
  return log_[index - base_.index - 1].term;
}

std::optional<chain_hash> memory_storage::hash(index_t index) const {
  if (index == base_.index)
    return base_.hash;
  if (index < base_.index || index > last_index())
    return std::nullopt;
  return log_[index - base_.index - 1].hash;
}

std::vector<entry> memory_storage::entries(index_t lo, index_t hi,
                                           std::uint64_t max_bytes) const {
  if (lo < first_index() || hi > last_index() + 1 || lo > hi)
    throw std::out_of_range("memory_storage::entries: range outside the log");
  std::vector<entry> out;
  std::uint64_t size = 0;
  for (auto i = lo; i < hi; ++i) {
    auto& e = log_[i - base_.index - 1];
    if (!out.empty() && size + e.payload.size() > max_bytes)
      break;
    size += e.payload.size();
    out.push_back(e);
  }
  return out;
}

void memory_storage::append(const std::vector<entry>& batch) {
  if (batch.empty())
    return;
  auto from = batch.front().index;
  if (from < first_index() || from > last_index() + 1)
    throw std::out_of_range("memory_storage::append: gap or compacted index");
  log_.resize(from - base_.index - 1);
  log_.insert(log_.end(), batch.begin(), batch.end());
}

bytes memory_storage::snapshot_chunk(std::uint64_t offset,
                                     std::uint64_t max_bytes) const {
  auto& data = snapshot_.data;
  if (offset >= data.size())
    return {};
  auto end = offset + std::min<std::uint64_t>(max_bytes, data.size() - offset);
  return bytes(data.begin() + offset, data.begin() + end);
}

void memory_storage::save_snapshot(const snapshot& snap) {
  auto& meta = snap.meta;
  auto stored = hash(meta.index);
  snapshot_ = snap;
  if (stored && *stored == meta.hash && meta.index >= base_.index)
    return;
  base_ = base_entry{meta.index, meta.term, meta.hash};
  log_.clear();
}

void memory_storage::compact(index_t through) {
  if (through <= base_.index)
    return;
  if (through > snapshot_.meta.index || through > last_index())
    throw std::out_of_range("memory_storage::compact: beyond snapshot");
  auto& last_dropped = log_[through - base_.index - 1];
  base_entry next_base{through, last_dropped.term, last_dropped.hash};
  log_.erase(log_.begin(), log_.begin() + (through - base_.index));
  base_ = next_base;
}

bool memory_storage::corrupt_payload(index_t index, const bytes& payload) {
  if (index < first_index() || index > last_index())
    return false;
  log_[index - base_.index - 1].payload = payload;
  return true;
}

void crash_storage::save_hard_state(const hard_state& state) {
  working_.save_hard_state(state);
  pending_.emplace_back(state);
}

void crash_storage::append(const std::vector<entry>& batch) {
  if (batch.empty())
    return;
  working_.append(batch);
  pending_.emplace_back(batch);
}

void crash_storage::save_snapshot(const snapshot& snap) {
  working_.save_snapshot(snap);
  pending_.emplace_back(snap);
}

void crash_storage::compact(index_t through) {
  working_.compact(through);
  pending_.emplace_back(compaction{through});
}

void crash_storage::sync() {
  for (auto& w : pending_) {
    if (auto state = std::get_if<hard_state>(&w))
      durable_.save_hard_state(*state);
    else if (auto batch = std::get_if<std::vector<entry>>(&w))
      durable_.append(*batch);
    else if (auto snap = std::get_if<snapshot>(&w))
      durable_.save_snapshot(*snap);
    else
      durable_.compact(std::get<compaction>(w).through);
  }
  pending_.clear();
}

void crash_storage::crash() {
  pending_.clear();
  working_ = durable_;
}

bool crash_storage::corrupt_payload(index_t index, const bytes& payload) {
  auto durable_ok = durable_.corrupt_payload(index, payload);
  auto working_ok = working_.corrupt_payload(index, payload);
  return durable_ok || working_ok;
}

index_t compaction_point_keeping_tail(const log_storage& storage,
                                      index_t tail) {
  auto snap_index = storage.snapshot_metadata().index;
  auto through = std::min(snap_index, storage.last_index());
  if (through <= tail || through - tail < storage.first_index())
    return 0;
  return through - tail;
}

void compact_keeping_tail(log_storage& storage, index_t tail) {
  if (auto through = compaction_point_keeping_tail(storage, tail))
    storage.compact(through);
}

void bootstrap(log_storage& storage, const configuration& founders) {
  snapshot snap;
  snap.meta.config = founders;
  storage.save_snapshot(snap);
  storage.sync();
}

} // namespace skep::raft
