#include "actors/raft/types.hpp"

#include <algorithm>

namespace skep::raft {

namespace {

void put_le(bytes& out, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i)
    out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

std::uint64_t get_le(const bytes& in, std::size_t pos, int width) {
  std::uint64_t value = 0;
  for (int i = 0; i < width; ++i)
    value |= static_cast<std::uint64_t>(in[pos + i]) << (8 * i);
  return value;
}

} // namespace

bool configuration::is_voter(node_id id) const {
  return std::binary_search(voters.begin(), voters.end(), id);
}

bool configuration::is_learner(node_id id) const {
  return std::binary_search(learners.begin(), learners.end(), id);
}

bytes encode_configuration(const configuration& config) {
  bytes out;
  put_le(out, config.voters.size(), 4);
  put_le(out, config.learners.size(), 4);
  for (auto id : config.voters)
    put_le(out, id, 8);
  for (auto id : config.learners)
    put_le(out, id, 8);
  return out;
}

bool decode_configuration(const bytes& payload, configuration& out) {
  if (payload.size() < 8)
    return false;
  auto voters = get_le(payload, 0, 4);
  auto learners = get_le(payload, 4, 4);
  if (payload.size() != 8 + 8 * (voters + learners))
    return false;
  configuration config;
  std::size_t pos = 8;
  for (std::uint64_t i = 0; i < voters; ++i, pos += 8)
    config.voters.push_back(get_le(payload, pos, 8));
  for (std::uint64_t i = 0; i < learners; ++i, pos += 8)
    config.learners.push_back(get_le(payload, pos, 8));
  if (!std::is_sorted(config.voters.begin(), config.voters.end())
      || !std::is_sorted(config.learners.begin(), config.learners.end()))
    return false;
  out = std::move(config);
  return true;
}

const char* to_string(message_type type) {
  switch (type) {
  case message_type::pre_vote:
    return "pre_vote";
  case message_type::pre_vote_reply:
    return "pre_vote_reply";
  case message_type::vote:
    return "vote";
  case message_type::vote_reply:
    return "vote_reply";
  case message_type::append:
    return "append";
  case message_type::append_reply:
    return "append_reply";
  case message_type::heartbeat:
    return "heartbeat";
  case message_type::heartbeat_reply:
    return "heartbeat_reply";
  case message_type::install_snapshot:
    return "install_snapshot";
  case message_type::install_snapshot_reply:
    return "install_snapshot_reply";
  case message_type::timeout_now:
    return "timeout_now";
  }
  return "unknown";
}

const char* to_string(role r) {
  switch (r) {
  case role::follower:
    return "follower";
  case role::pre_candidate:
    return "pre_candidate";
  case role::candidate:
    return "candidate";
  case role::leader:
    return "leader";
  }
  return "unknown";
}

failure raft_failure(error_code code, node_id leader_hint,
                     std::string message) {
  auto general = errc::invalid_argument; // the request cannot be done as is
  switch (code) {
  case error_code::not_leader:
  case error_code::transfer_in_progress:
  case error_code::change_pending:
  case error_code::learner_behind:
    general = errc::unavailable; // retry, here or at the leader
    break;
  case error_code::already_member:
    general = errc::already_exists;
    break;
  case error_code::unknown_node:
    general = errc::not_found;
    break;
  case error_code::none:
  case error_code::broken_chain:
    general = errc::internal;
    break;
  default:
    break;
  }
  failure out{general, std::move(message)};
  out.leader_hint = leader_hint;
  out.detail = static_cast<std::uint16_t>(code);
  return out;
}

error_code code_of(const failure& f) {
  if (f.detail > static_cast<std::uint16_t>(error_code::broken_chain))
    return error_code::none;
  return static_cast<error_code>(f.detail);
}

} // namespace skep::raft
