// The cluster's ready handling and the invariant checks run after each step.

#include "tests/actors/raft/sim_cluster.hpp"

#include <algorithm>

namespace skep::raft::sim {

namespace {

std::vector<std::uint64_t> values_of(const bytes& data) {
  std::vector<std::uint64_t> values;
  for (std::size_t pos = 0; pos + 8 <= data.size(); pos += 8)
    values.push_back(
      decode_value(bytes(data.begin() + pos, data.begin() + pos + 8)));
  return values;
}

bytes data_of(const std::vector<std::uint64_t>& values) {
  bytes data;
  for (auto v : values) {
    auto part = encode_value(v, 0);
    data.insert(data.end(), part.begin(), part.end());
  }
  return data;
}

std::string name(node_id id) {
  return "node " + std::to_string(id);
}

} // namespace

void cluster::process_ready(node_id id) {
  auto& n = nodes_.at(id);
  while (n.raft && n.raft->has_ready() && ok()) {
    auto rd = n.raft->take_ready();
    for (auto& e : rd.entries) {
      auto [it, fresh]
        = entry_hash_.emplace(std::pair{e.index, e.term}, e.hash);
      if (!fresh && it->second != e.hash)
        fail(name(id) + " persists entry " + std::to_string(e.index)
             + " of term " + std::to_string(e.term)
             + " with a hash other members have not");
    }
    // Persist, and only then let anything leave the node.
    if (rd.snapshot)
      n.storage.save_snapshot(*rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.state)
      n.storage.save_hard_state(*rd.state);
    if (n.crash_on_sync) {
      crash(id);
      return;
    }
    n.storage.sync();
    if (rd.state) {
      if (rd.state->commit < n.synced_commit)
        fail(name(id) + " persisted a lower commit index");
      n.synced_commit = rd.state->commit;
    }
    for (auto& msg : rd.messages)
      send(msg);
    if (rd.snapshot)
      restore_state_machine(id, *rd.snapshot);
    for (auto& e : rd.committed)
      apply_entry(id, e);
    for (auto& r : rd.reads) {
      auto it = pending_reads_.find(r.request_id);
      if (it == pending_reads_.end())
        continue;
      if (r.index < it->second)
        fail(name(id) + " confirmed read " + std::to_string(r.request_id)
             + " at index " + std::to_string(r.index)
             + " before acknowledged writes up to "
             + std::to_string(it->second));
      if (n.applied < r.index)
        fail(name(id) + " released a read before applying its index");
      pending_reads_.erase(it);
      ++reads_served_;
    }
    for (auto request : rd.failed_reads)
      pending_reads_.erase(request);
    n.raft->advance(rd);
    maybe_snapshot(id);
    check_node(id);
  }
}

void cluster::record_committed(index_t index, const chain_hash& hash,
                               const char* where, node_id id) {
  if (index == 0)
    return;
  auto [it, fresh] = committed_.emplace(index, hash);
  if (!fresh && it->second != hash)
    fail(name(id) + " " + where + " index " + std::to_string(index)
         + " with a different hash than another member committed");
  max_committed_ = std::max(max_committed_, index);
}

void cluster::apply_entry(node_id id, const entry& e) {
  auto& n = nodes_.at(id);
  if (e.index != n.applied + 1) {
    fail(name(id) + " applied " + std::to_string(e.index) + " after "
         + std::to_string(n.applied));
    return;
  }
  record_committed(e.index, e.hash, "applied", id);
  n.applied = e.index;
  if (e.type != entry_type::normal)
    return;
  auto value = decode_value(e.payload);
  if (proposed_.count(value) == 0)
    fail(name(id) + " applied value " + std::to_string(value)
         + " nobody proposed");
  n.values.push_back(value);
  auto pos = n.values.size() - 1;
  if (pos < applied_values_.size()) {
    if (applied_values_[pos] != value)
      fail(name(id) + " applied value " + std::to_string(value)
           + " at position " + std::to_string(pos) + " where others applied "
           + std::to_string(applied_values_[pos]));
  } else {
    applied_values_.push_back(value);
  }
  acked_.emplace(value, e.index);
}

void cluster::restore_state_machine(node_id id, const snapshot& snap) {
  auto& n = nodes_.at(id);
  n.values = values_of(snap.data);
  n.applied = snap.meta.index;
  n.last_snapshot = snap.meta.index;
  record_committed(snap.meta.index, snap.meta.hash, "restored snapshot at", id);
  for (std::size_t pos = 0; pos < n.values.size(); ++pos) {
    if (pos >= applied_values_.size()) {
      applied_values_.push_back(n.values[pos]);
    } else if (applied_values_[pos] != n.values[pos]) {
      fail(name(id) + " restored a snapshot that differs at position "
           + std::to_string(pos));
      return;
    }
  }
}

void cluster::maybe_snapshot(node_id id) {
  auto& n = nodes_.at(id);
  if (options_.snapshot_every == 0 || !n.raft
      || n.applied < n.last_snapshot + options_.snapshot_every)
    return;
  auto snap = n.raft->make_snapshot(n.applied, data_of(n.values));
  if (!snap) {
    fail(name(id) + " could not snapshot: " + snap.error().message);
    return;
  }
  n.storage.save_snapshot(*snap);
  compact_keeping_tail(n.storage, options_.compaction_tail);
  n.storage.sync();
  n.last_snapshot = n.applied;
}

void cluster::check_node(node_id id) {
  auto& n = nodes_.at(id);
  if (!n.raft)
    return;
  auto& r = *n.raft;
  if (r.commit_index() < n.commit_seen)
    fail(name(id) + " commit index went back from "
         + std::to_string(n.commit_seen) + " to "
         + std::to_string(r.commit_index()));
  for (auto i = n.commit_seen + 1; i <= r.commit_index(); ++i)
    if (auto h = n.storage.hash(i))
      record_committed(i, *h, "committed", id);
  n.commit_seen = std::max(n.commit_seen, r.commit_index());
  if (r.role() != role::leader)
    return;
  auto [it, fresh] = leader_of_term_.emplace(r.term(), id);
  if (!fresh && it->second != id)
    fail("two leaders in term " + std::to_string(r.term()) + ": "
         + std::to_string(it->second) + " and " + std::to_string(id));
  if (n.leader_checked_term == r.term())
    return;
  n.leader_checked_term = r.term();
  if (max_committed_ == 0)
    return;
  // Leader completeness: the new leader holds every committed entry.
  auto c = max_committed_;
  if (n.storage.first_index() > c + 1)
    return; // compacted past it, so it committed it itself
  auto h = n.storage.hash(c);
  if (!h || *h != committed_.at(c))
    fail(name(id) + " became leader of term " + std::to_string(r.term())
         + " without committed entry " + std::to_string(c) + " (last "
         + std::to_string(n.storage.last_index()) + ")");
}

} // namespace skep::raft::sim
