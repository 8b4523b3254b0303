#include "actors/raft/core.hpp"

#include <algorithm>
#include <stdexcept>

namespace skep::raft {

core::core(core_config config, log_storage& storage)
  : config_(config), storage_(storage), log_(storage),
    rng_(config.seed ^ (config.id * 0x9e3779b97f4a7c15ULL)) {
  auto state = storage_.load_hard_state();
  term_ = state.term;
  vote_ = state.voted_for;
  persisted_state_ = state;
  auto snapshot_index = storage_.snapshot_metadata().index;
  log_.committed
    = std::min(std::max(state.commit, snapshot_index), log_.last_index());
  log_.applied = std::min(std::max(config_.applied, storage_.first_index() - 1),
                          log_.committed);
  load_configurations();
  record_chain_report(verify_chain(storage_));
  if (config_.force_new_cluster) {
    raft::configuration solo;
    solo.voters = {config_.id};
    term_ = std::max(term_, log_.last_term());
    append_own(
      {make_entry(entry_type::configuration, encode_configuration(solo))});
  }
  reset_timers();
}

void core::record_chain_report(const chain_report& report) {
  if (report.ok()) {
    chain_fault_.reset();
    chain_bad_index_ = 0;
    return;
  }
  chain_fault_ = "log hash chain broken at index "
                 + std::to_string(report.first_bad_index) + ": "
                 + report.reason;
  chain_bad_index_ = report.first_bad_index;
}

index_t core::applicable_index() const {
  auto applicable = std::min(log_.committed, log_.last_index());
  if (chain_bad_index_ != 0)
    applicable = std::min(applicable, chain_bad_index_ - 1);
  return applicable;
}

void core::reset_timers() {
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  // Plain modulo keeps the sequence identical across standard libraries.
  randomized_timeout_ = config_.election_ticks
                        + static_cast<int>(rng_() % config_.election_ticks);
}

hard_state core::current_hard_state() const {
  return hard_state{term_, vote_, log_.committed};
}

index_t core::own_match() const {
  auto& unstable = log_.unstable_entries();
  auto written
    = unstable.empty() ? log_.last_index() : unstable.front().index - 1;
  return std::min(written, log_.durable);
}

index_t core::match_index(node_id peer) const {
  if (peer == config_.id)
    return own_match();
  auto i = progress_.find(peer);
  return i == progress_.end() ? 0 : i->second.match;
}

void core::send(message msg) {
  msg.from = config_.id;
  if (msg.term == 0)
    msg.term = term_;
  messages_.push_back(std::move(msg));
}

bool core::in_leader_lease() const {
  return config_.check_quorum && leader_ != 0
         && election_elapsed_ < config_.election_ticks;
}

bool core::may_campaign() const {
  return configuration().is_voter(config_.id) && !chain_fault_
         && !log_.unstable_snapshot();
}

void core::fail_reads() {
  for (auto& read : pending_reads_)
    failed_reads_.push_back(read.request_id);
  pending_reads_.clear();
  failed_reads_.insert(failed_reads_.end(), waiting_reads_.begin(),
                       waiting_reads_.end());
  waiting_reads_.clear();
}

void core::become_follower(term_t term, node_id leader) {
  if (role_ == raft::role::leader)
    fail_reads();
  if (term != term_) {
    term_ = term;
    vote_ = 0;
  }
  role_ = raft::role::follower;
  leader_ = leader;
  votes_.clear();
  progress_.clear();
  transferee_ = 0;
  reset_timers();
}

void core::become_pre_candidate() {
  role_ = raft::role::pre_candidate;
  leader_ = 0;
  votes_.clear();
  // The term stays: a pre-vote that fails must not disturb anybody.
}

void core::become_candidate() {
  term_ += 1;
  vote_ = config_.id;
  role_ = raft::role::candidate;
  leader_ = 0;
  votes_.clear();
  reset_timers();
}

void core::become_leader() {
  role_ = raft::role::leader;
  leader_ = config_.id;
  votes_.clear();
  transferee_ = 0;
  reset_timers();
  progress_.clear();
  sync_progress();
  for (auto& [peer, pr] : progress_)
    pr.recent_active = true;
  // An entry of the new term lets earlier entries commit (Raft 5.4.2).
  append_own({make_entry(entry_type::empty, {})});
  broadcast_append();
}

void core::campaign(bool pre_vote, bool transfer) {
  term_t vote_term;
  if (pre_vote) {
    become_pre_candidate();
    vote_term = term_ + 1;
  } else {
    become_candidate();
    vote_term = term_;
  }
  votes_[config_.id] = true;
  if (configuration().quorum() <= 1) {
    if (pre_vote)
      campaign(false, transfer);
    else
      become_leader();
    return;
  }
  for (auto voter : configuration().voters) {
    if (voter == config_.id)
      continue;
    message msg;
    msg.type = pre_vote ? message_type::pre_vote : message_type::vote;
    msg.to = voter;
    msg.term = vote_term;
    msg.log_term = log_.last_term();
    msg.index = log_.last_index();
    msg.transfer = transfer;
    send(std::move(msg));
  }
}

void core::tick() {
  if (role_ == raft::role::leader) {
    tick_leader();
    return;
  }
  ++election_elapsed_;
  if (may_campaign() && election_elapsed_ >= randomized_timeout_) {
    election_elapsed_ = 0;
    campaign(config_.pre_vote, false);
  }
}

void core::tick_leader() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (transferee_ != 0 && ++transfer_elapsed_ >= config_.election_ticks)
    transferee_ = 0; // the target did not take over in time
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      std::size_t active = configuration().is_voter(config_.id) ? 1 : 0;
      for (auto& [peer, pr] : progress_) {
        if (pr.recent_active && configuration().is_voter(peer))
          ++active;
        pr.recent_active = false;
      }
      if (active < configuration().quorum()) {
        become_follower(term_, 0);
        return;
      }
    }
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat(pending_reads_.empty() ? 0 : read_round_);
  }
}

void core::step(const message& msg) {
  if (msg.term > term_) {
    bool vote_request
      = msg.type == message_type::vote || msg.type == message_type::pre_vote;
    if (vote_request && !msg.transfer && in_leader_lease())
      return; // we heard from a live leader: do not help depose it
    bool from_leader = msg.type == message_type::append
                       || msg.type == message_type::heartbeat
                       || msg.type == message_type::install_snapshot;
    if (msg.type == message_type::pre_vote
        || (msg.type == message_type::pre_vote_reply && !msg.reject)) {
      // Pre-votes are asked and granted for a future term: no term change.
    } else {
      become_follower(msg.term, from_leader ? msg.from : 0);
    }
  } else if (msg.term < term_) {
    if (msg.type == message_type::append
        || msg.type == message_type::heartbeat) {
      // Tell a stale leader about the newer term so it steps down.
      message reply;
      reply.type = message_type::append_reply;
      reply.to = msg.from;
      reply.index = 0;
      send(std::move(reply));
    } else if (msg.type == message_type::pre_vote) {
      message reply;
      reply.type = message_type::pre_vote_reply;
      reply.to = msg.from;
      reply.reject = true;
      send(std::move(reply));
    }
    return;
  }
  switch (msg.type) {
  case message_type::pre_vote:
  case message_type::vote:
    handle_vote_request(msg);
    break;
  case message_type::pre_vote_reply:
  case message_type::vote_reply:
    handle_vote_reply(msg);
    break;
  case message_type::append:
  case message_type::heartbeat:
  case message_type::install_snapshot:
    if (role_ == raft::role::leader)
      break; // impossible: one leader per term
    if (role_ != raft::role::follower || leader_ != msg.from)
      become_follower(term_, msg.from);
    election_elapsed_ = 0;
    if (msg.type == message_type::append)
      handle_append(msg);
    else if (msg.type == message_type::heartbeat)
      handle_heartbeat(msg);
    else
      handle_install_snapshot(msg);
    break;
  case message_type::append_reply:
    if (role_ == raft::role::leader)
      handle_append_reply(msg);
    break;
  case message_type::heartbeat_reply:
    if (role_ == raft::role::leader)
      handle_heartbeat_reply(msg);
    break;
  case message_type::install_snapshot_reply:
    if (role_ == raft::role::leader)
      handle_install_snapshot_reply(msg);
    break;
  case message_type::timeout_now:
    if (role_ != raft::role::leader && may_campaign())
      campaign(false, true);
    break;
  }
}

void core::handle_vote_request(const message& msg) {
  bool pre = msg.type == message_type::pre_vote;
  bool can_vote = vote_ == msg.from || (vote_ == 0 && leader_ == 0)
                  || (pre && msg.term > term_);
  auto last_term = log_.last_term();
  bool up_to_date
    = msg.log_term > last_term
      || (msg.log_term == last_term && msg.index >= log_.last_index());
  bool grant = can_vote && up_to_date && !chain_fault_;
  message reply;
  reply.type = pre ? message_type::pre_vote_reply : message_type::vote_reply;
  reply.to = msg.from;
  reply.reject = !grant;
  reply.term = grant ? msg.term : term_;
  if (grant && !pre) {
    election_elapsed_ = 0;
    vote_ = msg.from;
  }
  send(std::move(reply));
}

void core::handle_vote_reply(const message& msg) {
  bool pre = msg.type == message_type::pre_vote_reply;
  if ((pre && role_ != raft::role::pre_candidate)
      || (!pre && role_ != raft::role::candidate))
    return;
  if (!configuration().is_voter(msg.from))
    return;
  votes_[msg.from] = !msg.reject;
  std::size_t granted = 0;
  std::size_t rejected = 0;
  for (auto& [voter, yes] : votes_)
    (yes ? granted : rejected) += 1;
  auto quorum = configuration().quorum();
  if (granted >= quorum) {
    if (pre)
      campaign(false, false);
    else
      become_leader();
  } else if (rejected >= quorum) {
    become_follower(term_, 0);
  }
}

bool core::has_ready() const {
  if (current_hard_state() != persisted_state_ || log_.unstable_snapshot()
      || !log_.unstable_entries().empty() || !messages_.empty()
      || !failed_reads_.empty())
    return true;
  if (log_.applied < applicable_index())
    return true;
  for (auto& read : confirmed_reads_)
    if (read.index <= log_.applied)
      return true;
  return false;
}

ready core::take_ready() {
  if (ready_outstanding_)
    throw std::logic_error("raft: take_ready called before advance");
  ready rd;
  auto state = current_hard_state();
  if (state != persisted_state_)
    rd.state = state;
  rd.snapshot = log_.unstable_snapshot();
  rd.entries = log_.unstable_entries();
  rd.messages = std::move(messages_);
  messages_.clear();
  auto applicable = applicable_index();
  if (log_.applied < applicable)
    rd.committed
      = log_.entries(log_.applied + 1, applicable + 1, config_.max_apply_bytes);
  auto applied
    = rd.committed.empty() ? log_.applied : rd.committed.back().index;
  auto serve = std::stable_partition(
    confirmed_reads_.begin(), confirmed_reads_.end(),
    [&](const read_state& read) { return read.index > applied; });
  rd.reads.assign(serve, confirmed_reads_.end());
  confirmed_reads_.erase(serve, confirmed_reads_.end());
  rd.failed_reads = std::move(failed_reads_);
  failed_reads_.clear();
  ready_outstanding_ = true;
  return rd;
}

void core::advance(const ready& rd) {
  ready_outstanding_ = false;
  if (rd.snapshot || !rd.entries.empty())
    log_.mark_stable();
  if (rd.state)
    persisted_state_ = *rd.state;
  if (!rd.committed.empty())
    log_.applied = std::max(log_.applied, rd.committed.back().index);
  if (!config_.async_durability)
    log_.durable = log_.last_index();
  // The leader counts its own entries only once they are on disk.
  if (role_ == raft::role::leader && maybe_commit())
    broadcast_append();
}

void core::persisted_through(index_t index, term_t term) {
  if (index <= log_.durable || index > log_.last_index())
    return;
  if (!log_.unstable_entries().empty()
      && index >= log_.unstable_entries().front().index)
    return; // not even written yet: a report about another entry
  if (log_.term(index) != term)
    return; // overwritten since the sync began
  log_.durable = index;
  if (role_ == raft::role::leader && maybe_commit())
    broadcast_append();
}

} // namespace skep::raft
