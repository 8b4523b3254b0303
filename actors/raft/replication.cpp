// Log shipping on the leader, log matching on followers, commitment and
// snapshot transfer.

#include "actors/raft/core.hpp"

#include <algorithm>
#include <stdexcept>

namespace skep::raft {

entry core::make_entry(entry_type type, bytes payload) const {
  entry e;
  e.term = term_;
  e.index = log_.last_index() + 1;
  e.type = type;
  e.payload = std::move(payload);
  seal_entry(e, log_.last_hash());
  return e;
}

void core::append_own(std::vector<entry> batch) {
  apply_configuration_entries(batch);
  log_.append(std::move(batch));
  sync_progress();
}

void core::broadcast_append() {
  for (auto& [peer, pr] : progress_)
    send_append(peer, pr, false);
}

void core::broadcast_heartbeat(std::uint64_t context) {
  for (auto& [peer, pr] : progress_) {
    message msg;
    msg.type = message_type::heartbeat;
    msg.to = peer;
    // Never tell a follower to commit beyond what it is known to hold.
    msg.commit = std::min(pr.match, log_.committed);
    msg.context = context;
    send(std::move(msg));
  }
}

bool core::send_append(node_id to, progress& pr, bool send_if_empty) {
  if (pr.mode == replication_mode::snapshot)
    return false;
  if (pr.mode == replication_mode::probe && pr.probe_sent)
    return false;
  if (pr.mode == replication_mode::replicate
      && pr.inflight.size() >= config_.max_inflight_appends)
    return false;
  auto prev = pr.next - 1;
  auto prev_term = log_.term(prev);
  if (!prev_term || pr.next < log_.first_index()) {
    // The entries this follower needs were compacted away.
    pr.mode = replication_mode::snapshot;
    pr.inflight.clear();
    pr.snapshot_index = 0;
    pr.snapshot_offset = 0;
    send_snapshot_chunk(to, pr);
    return true;
  }
  auto last = log_.last_index();
  std::vector<entry> batch;
  if (pr.next <= last)
    batch = log_.entries(
      pr.next, std::min(last + 1, pr.next + config_.max_append_entries),
      config_.max_append_bytes);
  if (batch.empty() && !send_if_empty)
    return false;
  message msg;
  msg.type = message_type::append;
  msg.to = to;
  msg.index = prev;
  msg.log_term = *prev_term;
  msg.prev_hash = *log_.hash(prev);
  msg.commit = log_.committed;
  if (pr.mode == replication_mode::replicate && !batch.empty()) {
    // Pipelining: assume success and move on.
    pr.next = batch.back().index + 1;
    pr.inflight.push_back(batch.back().index);
  } else if (pr.mode == replication_mode::probe) {
    pr.probe_sent = true;
  }
  msg.entries = std::move(batch);
  send(std::move(msg));
  return true;
}

void core::send_snapshot_chunk(node_id to, progress& pr) {
  auto meta = storage_.snapshot_metadata();
  if (meta.index != pr.snapshot_index) {
    pr.snapshot_index = meta.index;
    pr.snapshot_offset = 0;
  }
  auto size = storage_.snapshot_size();
  message msg;
  msg.type = message_type::install_snapshot;
  msg.to = to;
  msg.offset = pr.snapshot_offset;
  msg.data
    = storage_.snapshot_chunk(pr.snapshot_offset, config_.snapshot_chunk_bytes);
  msg.done = pr.snapshot_offset + msg.data.size() >= size;
  msg.snapshot = std::move(meta);
  send(std::move(msg));
}

void core::become_probe(progress& pr, index_t next) {
  pr.mode = replication_mode::probe;
  pr.next = std::max(next, pr.match + 1);
  pr.probe_sent = false;
  pr.inflight.clear();
}

void core::become_replicate(progress& pr) {
  pr.mode = replication_mode::replicate;
  pr.next = pr.match + 1;
  pr.probe_sent = false;
  pr.inflight.clear();
}

void core::reject_append(const message& msg, bool hash_mismatch) {
  message reply;
  reply.type = message_type::append_reply;
  reply.to = msg.from;
  reply.reject = true;
  reply.index = msg.index;
  auto last = log_.last_index();
  if (hash_mismatch) {
    // Same term, different history: step back one entry at a time.
    reply.conflict_term = 0;
    reply.conflict_index = msg.index;
  } else if (msg.index > last) {
    reply.conflict_term = 0;
    reply.conflict_index = last + 1;
  } else {
    // Skip the whole conflicting term in one round trip.
    auto conflict_term = *log_.term(msg.index);
    auto first = msg.index;
    while (first > log_.committed + 1 && log_.term(first - 1) == conflict_term)
      --first;
    reply.conflict_term = conflict_term;
    reply.conflict_index = first;
  }
  send(std::move(reply));
}

void core::handle_append(const message& msg) {
  message reply;
  reply.type = message_type::append_reply;
  reply.to = msg.from;
  if (msg.index < log_.committed) {
    reply.index = log_.committed;
    send(std::move(reply));
    return;
  }
  if (!log_.matches(msg.index, msg.log_term, msg.prev_hash)) {
    reject_append(msg, log_.term(msg.index) == msg.log_term);
    return;
  }
  // Entries must extend the chain the leader vouched for.
  auto prev_hash = msg.prev_hash;
  auto expected_index = msg.index + 1;
  for (auto& e : msg.entries) {
    if (e.index != expected_index++ || !entry_follows(e, prev_hash))
      return; // corrupt message: drop it, the leader will retry
    prev_hash = e.hash;
  }
  std::size_t keep = 0;
  while (keep < msg.entries.size()) {
    auto& e = msg.entries[keep];
    if (!log_.matches(e.index, e.term, e.hash))
      break;
    ++keep;
  }
  if (keep < msg.entries.size()) {
    auto from = msg.entries[keep].index;
    if (from <= log_.committed)
      throw std::logic_error("raft: leader tried to overwrite committed entry "
                             + std::to_string(from));
    if (from <= log_.last_index())
      truncate_configurations(from);
    std::vector<entry> batch(msg.entries.begin() + keep, msg.entries.end());
    apply_configuration_entries(batch);
    log_.append(std::move(batch));
  }
  auto last_new = msg.index + msg.entries.size();
  commit_to(std::min(msg.commit, last_new));
  reply.index = last_new;
  send(std::move(reply));
}

index_t core::backtrack_target(const message& reply, const progress& pr) const {
  index_t next = reply.conflict_index;
  if (reply.conflict_term != 0) {
    // Continue after our last entry of the follower's conflicting term.
    auto i = std::min(reply.index, log_.last_index());
    while (i + 1 >= log_.first_index() && i > 0) {
      auto t = log_.term(i);
      if (!t || *t < reply.conflict_term)
        break;
      if (*t == reply.conflict_term) {
        next = i + 1;
        break;
      }
      --i;
    }
  }
  next = std::min(next, reply.index);
  return std::max<index_t>({next, pr.match + 1, 1});
}

void core::handle_append_reply(const message& msg) {
  auto it = progress_.find(msg.from);
  if (it == progress_.end())
    return;
  auto& pr = it->second;
  pr.recent_active = true;
  if (msg.reject) {
    if (pr.mode == replication_mode::replicate) {
      if (msg.index <= pr.match)
        return; // stale
      become_probe(pr, backtrack_target(msg, pr));
    } else if (pr.mode == replication_mode::probe) {
      if (msg.index + 1 != pr.next)
        return; // stale
      become_probe(pr, backtrack_target(msg, pr));
    } else {
      return;
    }
    send_append(msg.from, pr, true);
    return;
  }
  while (!pr.inflight.empty() && pr.inflight.front() <= msg.index)
    pr.inflight.pop_front();
  bool progressed = msg.index > pr.match;
  if (progressed)
    pr.match = msg.index;
  if (pr.mode == replication_mode::probe && msg.index >= pr.match)
    become_replicate(pr); // the probe found where the logs agree
  else if (pr.mode == replication_mode::snapshot && progressed)
    become_probe(pr, pr.match + 1);
  pr.next = std::max(pr.next, msg.index + 1);
  if (maybe_commit())
    broadcast_append();
  // Committing may have ended this member's leadership (its own removal) or
  // dropped the peer, which invalidates `pr`: look the peer up again.
  if (role_ != raft::role::leader)
    return;
  it = progress_.find(msg.from);
  if (it == progress_.end())
    return;
  auto& current = it->second;
  while (send_append(msg.from, current, false)) {
    if (current.mode != replication_mode::replicate)
      break;
  }
  check_transfer_progress(msg.from, current);
}

void core::handle_heartbeat(const message& msg) {
  commit_to(std::min(msg.commit, log_.last_index()));
  message reply;
  reply.type = message_type::heartbeat_reply;
  reply.to = msg.from;
  reply.context = msg.context;
  send(std::move(reply));
}

void core::handle_heartbeat_reply(const message& msg) {
  auto it = progress_.find(msg.from);
  if (it == progress_.end())
    return;
  auto& pr = it->second;
  pr.recent_active = true;
  if (pr.mode == replication_mode::probe)
    pr.probe_sent = false;
  else if (pr.mode == replication_mode::replicate
           && pr.inflight.size() >= config_.max_inflight_appends)
    pr.inflight.pop_front();
  if (pr.mode == replication_mode::snapshot)
    send_snapshot_chunk(msg.from, pr); // retransmit a possibly lost chunk
  else if (pr.match < log_.last_index())
    send_append(msg.from, pr, true);
  ack_reads(msg.from, msg.context);
}

void core::handle_install_snapshot(const message& msg) {
  message reply;
  reply.type = message_type::install_snapshot_reply;
  reply.to = msg.from;
  reply.snapshot.index = msg.snapshot.index;
  auto& meta = msg.snapshot;
  if (meta.index <= log_.committed) {
    reply.done = true;
    reply.index = log_.committed;
    send(std::move(reply));
    return;
  }
  bool same = incoming_ && incoming_->from == msg.from
              && incoming_->term == msg.term
              && incoming_->snap.meta.index == meta.index
              && incoming_->snap.meta.hash == meta.hash;
  if (!same) {
    incoming_.reset();
    if (msg.offset == 0)
      incoming_ = incoming_snapshot{msg.from, msg.term, snapshot{meta, {}}};
  }
  auto received = incoming_ ? incoming_->snap.data.size() : 0;
  if (msg.offset != received) {
    reply.reject = true;
    reply.offset = received;
    send(std::move(reply));
    return;
  }
  auto& data = incoming_->snap.data;
  data.insert(data.end(), msg.data.begin(), msg.data.end());
  reply.offset = data.size();
  if (msg.done) {
    auto snap = std::move(incoming_->snap);
    incoming_.reset();
    restore_snapshot(std::move(snap));
    reply.done = true;
    reply.index = meta.index;
  }
  send(std::move(reply));
}

void core::restore_snapshot(snapshot snap) {
  auto& meta = snap.meta;
  if (log_.matches(meta.index, meta.term, meta.hash)) {
    // We hold the snapshot's entry: the log after it stays valid.
    commit_to(meta.index);
    return;
  }
  configs_.clear();
  configs_.emplace_back(meta.index, meta.config);
  log_.restore(std::move(snap));
  sync_progress();
}

void core::handle_install_snapshot_reply(const message& msg) {
  auto it = progress_.find(msg.from);
  if (it == progress_.end())
    return;
  auto& pr = it->second;
  pr.recent_active = true;
  if (msg.done) {
    if (msg.index > pr.match)
      pr.match = msg.index;
    if (pr.mode == replication_mode::snapshot) {
      become_probe(pr, pr.match + 1);
      send_append(msg.from, pr, true);
    }
    if (maybe_commit())
      broadcast_append();
    return;
  }
  if (pr.mode != replication_mode::snapshot
      || msg.snapshot.index != pr.snapshot_index)
    return;
  if (msg.reject) {
    // The follower lost or never got earlier chunks; the next heartbeat
    // reply retransmits from where it is.
    pr.snapshot_offset = msg.offset;
    return;
  }
  if (msg.offset <= pr.snapshot_offset)
    return; // duplicate acknowledgement
  pr.snapshot_offset = msg.offset;
  send_snapshot_chunk(msg.from, pr);
}

bool core::maybe_commit() {
  auto& voters = configuration().voters;
  if (voters.empty())
    return false;
  std::vector<index_t> matches;
  for (auto voter : voters)
    matches.push_back(match_index(voter));
  std::sort(matches.begin(), matches.end(), std::greater<index_t>());
  auto candidate = matches[configuration().quorum() - 1];
  if (candidate <= log_.committed || log_.term(candidate) != term_)
    return false;
  commit_to(candidate);
  return true;
}

void core::commit_to(index_t index) {
  if (index <= log_.committed)
    return;
  log_.committed = index;
  on_commit_advanced();
}

} // namespace skep::raft
