#include "actors/raft/raft_log.hpp"

#include <algorithm>
#include <stdexcept>

namespace skep::raft {

raft_log::raft_log(log_storage& storage)
  : durable(storage.last_index()), storage_(storage),
    offset_(storage.last_index() + 1) {}

index_t raft_log::first_index() const {
  if (unstable_snapshot_)
    return unstable_snapshot_->meta.index + 1;
  return storage_.first_index();
}

index_t raft_log::last_index() const {
  if (!unstable_.empty())
    return unstable_.back().index;
  return offset_ - 1;
}

std::optional<term_t> raft_log::term(index_t index) const {
  if (index >= offset_) {
    if (index > last_index())
      return std::nullopt;
    return unstable_[index - offset_].term;
  }
  if (unstable_snapshot_) {
    if (index == unstable_snapshot_->meta.index)
      return unstable_snapshot_->meta.term;
    return std::nullopt;
  }
  return storage_.term(index);
}

std::optional<chain_hash> raft_log::hash(index_t index) const {
  if (index >= offset_) {
    if (index > last_index())
      return std::nullopt;
    return unstable_[index - offset_].hash;
  }
  if (unstable_snapshot_) {
    if (index == unstable_snapshot_->meta.index)
      return unstable_snapshot_->meta.hash;
    return std::nullopt;
  }
  return storage_.hash(index);
}

bool raft_log::matches(index_t index, term_t t, const chain_hash& h) const {
  auto my_term = term(index);
  if (!my_term || *my_term != t)
    return false;
  return *hash(index) == h;
}

std::vector<entry> raft_log::entries(index_t lo, index_t hi,
                                     std::uint64_t max_bytes) const {
  std::vector<entry> out;
  if (lo >= hi)
    return out;
  if (lo < first_index() || hi > last_index() + 1)
    throw std::out_of_range("raft_log::entries: range outside the log");
  std::uint64_t size = 0;
  if (lo < offset_) {
    out = storage_.entries(lo, std::min(hi, offset_), max_bytes);
    for (auto& e : out)
      size += e.payload.size();
    if (out.back().index + 1 < std::min(hi, offset_))
      return out; // byte limit reached inside storage
  }
  for (auto i = std::max(lo, offset_); i < hi; ++i) {
    auto& e = unstable_[i - offset_];
    if (!out.empty() && size + e.payload.size() > max_bytes)
      break;
    size += e.payload.size();
    out.push_back(e);
  }
  return out;
}

void raft_log::append(std::vector<entry> batch) {
  if (batch.empty())
    return;
  auto from = batch.front().index;
  if (from < first_index() || from > last_index() + 1)
    throw std::out_of_range("raft_log::append: gap or compacted index");
  if (from <= durable)
    durable = from - 1; // what replaces them is not durable yet
  if (from >= offset_) {
    unstable_.resize(from - offset_);
  } else {
    // Overwrites persisted entries: the caller's storage.append truncates.
    unstable_.clear();
    offset_ = from;
  }
  for (auto& e : batch)
    unstable_.push_back(std::move(e));
}

void raft_log::restore(snapshot snap) {
  durable = std::min(durable, snap.meta.index);
  offset_ = snap.meta.index + 1;
  unstable_.clear();
  committed = snap.meta.index;
  applied = snap.meta.index;
  unstable_snapshot_ = std::move(snap);
}

void raft_log::mark_stable() {
  unstable_snapshot_.reset();
  unstable_.clear();
  offset_ = storage_.last_index() + 1;
}

} // namespace skep::raft
