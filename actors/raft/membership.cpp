// Configuration changes, leadership transfer, read index and snapshots.

#include "actors/raft/core.hpp"

#include <algorithm>

namespace skep::raft {

namespace {

void insert_sorted(std::vector<node_id>& ids, node_id id) {
  ids.insert(std::upper_bound(ids.begin(), ids.end(), id), id);
}

void erase_id(std::vector<node_id>& ids, node_id id) {
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
}

} // namespace

void core::load_configurations() {
  auto meta = storage_.snapshot_metadata();
  configs_.clear();
  configs_.emplace_back(meta.index, meta.config);
  constexpr std::uint64_t batch_bytes = 1 << 20;
  auto next = log_.first_index();
  auto last = log_.last_index();
  while (next <= last) {
    auto batch = log_.entries(next, last + 1, batch_bytes);
    for (auto& e : batch) {
      raft::configuration config;
      if (e.type == entry_type::configuration
          && decode_configuration(e.payload, config))
        configs_.emplace_back(e.index, std::move(config));
    }
    next = batch.back().index + 1;
  }
}

void core::apply_configuration_entries(const std::vector<entry>& batch) {
  bool changed = false;
  for (auto& e : batch) {
    raft::configuration config;
    if (e.type == entry_type::configuration
        && decode_configuration(e.payload, config)) {
      configs_.emplace_back(e.index, std::move(config));
      changed = true;
    }
  }
  if (changed)
    sync_progress();
}

void core::truncate_configurations(index_t from) {
  bool changed = false;
  while (configs_.size() > 1 && configs_.back().first >= from) {
    configs_.pop_back();
    changed = true;
  }
  if (changed)
    sync_progress();
}

void core::sync_progress() {
  if (role_ != raft::role::leader)
    return;
  auto& config = configuration();
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (config.is_member(it->first))
      ++it;
    else
      it = progress_.erase(it);
  }
  auto add = [&](node_id id) {
    if (id == config_.id || progress_.count(id) > 0)
      return;
    progress p;
    p.next = log_.last_index() + 1;
    p.recent_active = true;
    progress_.emplace(id, p);
  };
  for (auto id : config.voters)
    add(id);
  for (auto id : config.learners)
    add(id);
  if (transferee_ != 0 && !config.is_voter(transferee_))
    transferee_ = 0;
}

bool core::change_pending() const {
  return configs_.back().first > log_.committed;
}

failure core::not_leader_error() const {
  if (leader_ == 0)
    return raft_failure(
      error_code::not_leader, 0,
      "node " + std::to_string(config_.id)
        + " is not the leader and knows no leader; retry after "
          "the election");
  return raft_failure(error_code::not_leader, leader_,
                      "node " + std::to_string(config_.id)
                        + " is not the leader; send the request to node "
                        + std::to_string(leader_));
}

result<index_t> core::propose(bytes payload) {
  if (role_ != raft::role::leader)
    return not_leader_error();
  if (transferee_ != 0)
    return raft_failure(error_code::transfer_in_progress, leader_,
                        "leadership is moving to node "
                          + std::to_string(transferee_)
                          + "; retry on the new leader");
  append_own({make_entry(entry_type::normal, std::move(payload))});
  broadcast_append();
  return log_.last_index();
}

result<index_t> core::propose_configuration(raft::configuration next) {
  if (role_ != raft::role::leader)
    return not_leader_error();
  if (transferee_ != 0)
    return raft_failure(
      error_code::transfer_in_progress, leader_,
      "leadership is moving; retry the change on the new leader");
  if (change_pending())
    return raft_failure(error_code::change_pending, leader_,
                        "configuration entry "
                          + std::to_string(configs_.back().first)
                          + " is not committed yet; retry once it is");
  append_own(
    {make_entry(entry_type::configuration, encode_configuration(next))});
  broadcast_append();
  return log_.last_index();
}

result<index_t> core::add_learner(node_id id) {
  if (configuration().is_member(id))
    return raft_failure(error_code::already_member, leader_,
                        "node " + std::to_string(id) + " is already a member");
  auto next = configuration();
  insert_sorted(next.learners, id);
  return propose_configuration(std::move(next));
}

result<index_t> core::promote_learner(node_id id) {
  if (role_ != raft::role::leader)
    return not_leader_error();
  if (!configuration().is_learner(id))
    return raft_failure(error_code::not_a_learner, leader_,
                        "node " + std::to_string(id)
                          + " is not a learner; add it as a learner first");
  auto& pr = progress_.at(id);
  auto last = log_.last_index();
  if (pr.match + config_.catch_up_margin < last || !pr.recent_active)
    return raft_failure(error_code::learner_behind, leader_,
                        "learner " + std::to_string(id)
                          + " has replicated up to " + std::to_string(pr.match)
                          + " of " + std::to_string(last)
                          + "; promote it once it has caught up");
  auto next = configuration();
  erase_id(next.learners, id);
  insert_sorted(next.voters, id);
  return propose_configuration(std::move(next));
}

result<index_t> core::remove_member(node_id id) {
  if (!configuration().is_member(id))
    return raft_failure(error_code::unknown_node, leader_,
                        "node " + std::to_string(id) + " is not a member");
  auto next = configuration();
  erase_id(next.learners, id);
  erase_id(next.voters, id);
  if (next.voters.empty())
    return raft_failure(error_code::last_voter, leader_,
                        "node " + std::to_string(id)
                          + " is the last voter; a cluster needs one");
  return propose_configuration(std::move(next));
}

result<node_id> core::transfer_leadership(node_id target) {
  if (role_ != raft::role::leader)
    return not_leader_error();
  if (target == config_.id)
    return target;
  if (!configuration().is_voter(target))
    return raft_failure(error_code::not_a_voter, leader_,
                        "node " + std::to_string(target)
                          + " is not a voter and cannot lead");
  if (transferee_ == target)
    return target;
  transferee_ = target;
  transfer_elapsed_ = 0;
  auto& pr = progress_.at(target);
  if (pr.match == log_.last_index())
    send_timeout_now(target);
  else
    send_append(target, pr, true);
  return target;
}

void core::check_transfer_progress(node_id peer, const progress& pr) {
  if (peer == transferee_ && pr.match == log_.last_index())
    send_timeout_now(peer);
}

void core::send_timeout_now(node_id to) {
  message msg;
  msg.type = message_type::timeout_now;
  msg.to = to;
  send(std::move(msg));
}

result<std::uint64_t> core::read_index(std::uint64_t request_id) {
  if (role_ != raft::role::leader)
    return not_leader_error();
  if (log_.term(log_.committed) != term_) {
    // Our commit index may lag until an entry of this term commits.
    waiting_reads_.push_back(request_id);
    return request_id;
  }
  ++read_round_;
  pending_reads_.push_back(
    pending_read{request_id, log_.committed, read_round_, {config_.id}});
  confirm_reads();
  if (!pending_reads_.empty())
    broadcast_heartbeat(read_round_);
  return request_id;
}

void core::start_waiting_reads() {
  if (waiting_reads_.empty() || log_.term(log_.committed) != term_)
    return;
  ++read_round_;
  for (auto id : waiting_reads_)
    pending_reads_.push_back(
      pending_read{id, log_.committed, read_round_, {config_.id}});
  waiting_reads_.clear();
  confirm_reads();
  if (!pending_reads_.empty())
    broadcast_heartbeat(read_round_);
}

void core::ack_reads(node_id from, std::uint64_t context) {
  if (context == 0 || !configuration().is_voter(from))
    return;
  for (auto& read : pending_reads_)
    if (read.round <= context)
      read.acks.insert(from);
  confirm_reads();
}

void core::confirm_reads() {
  auto& config = configuration();
  while (!pending_reads_.empty()) {
    auto& read = pending_reads_.front();
    auto votes = std::count_if(read.acks.begin(), read.acks.end(),
                               [&](node_id id) { return config.is_voter(id); });
    if (static_cast<std::size_t>(votes) < config.quorum())
      break;
    confirmed_reads_.push_back(read_state{read.request_id, read.index});
    pending_reads_.pop_front();
  }
}

void core::on_commit_advanced() {
  if (role_ != raft::role::leader)
    return;
  if (!configuration().is_voter(config_.id) && !change_pending()) {
    // Our removal is committed: leave the cluster's leadership.
    become_follower(term_, 0);
    return;
  }
  start_waiting_reads();
}

result<snapshot> core::make_snapshot(index_t index, bytes data) const {
  if (index > log_.applied || index + 1 < log_.first_index()
      || index < configs_.front().first || !log_.term(index))
    return raft_failure(error_code::bad_index, leader_,
                        "snapshot index " + std::to_string(index)
                          + " must be applied and still in the log (applied "
                          + std::to_string(log_.applied) + ")");
  snapshot snap;
  snap.meta.index = index;
  snap.meta.term = *log_.term(index);
  snap.meta.hash = *log_.hash(index);
  for (auto& [from, config] : configs_)
    if (from <= index)
      snap.meta.config = config;
  snap.data = std::move(data);
  return snap;
}

chain_report core::verify_log() {
  auto report = verify_chain(storage_);
  record_chain_report(report);
  return report;
}

} // namespace skep::raft
