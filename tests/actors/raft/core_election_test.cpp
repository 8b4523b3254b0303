// Unit tests of elections in the Raft core, with hand-routed messages.

#include "tests/actors/raft/manual_cluster.hpp"

#include <algorithm>

#include <gtest/gtest.h>

using namespace skep::raft;
using skep::raft::testing::manual_cluster;
using skep::raft::testing::only;

namespace {

std::size_t count(const std::vector<message>& msgs, message_type type) {
  return std::count_if(msgs.begin(), msgs.end(),
                       [&](const message& m) { return m.type == type; });
}

message vote_request(node_id from, node_id to, term_t term, term_t last_term,
                     index_t last_index, bool pre = false) {
  message msg;
  msg.type = pre ? message_type::pre_vote : message_type::vote;
  msg.from = from;
  msg.to = to;
  msg.term = term;
  msg.log_term = last_term;
  msg.index = last_index;
  return msg;
}

} // namespace

TEST(RaftCore, CandidateWithMajorityOfVotesBecomesLeader) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  EXPECT_EQ(c[1].role(), role::leader);
  EXPECT_EQ(c[1].term(), 1u);
  EXPECT_EQ(c[2].leader(), 1u);
  EXPECT_EQ(c[3].leader(), 1u);
}

TEST(RaftCore, NewLeaderAppendsEmptyEntryOfItsTerm) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  auto last = c.storage(1).entries(1, 2, 1 << 20);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].type, entry_type::empty);
  EXPECT_EQ(last[0].term, 1u);
  EXPECT_EQ(c[1].commit_index(), 1u);
}

TEST(RaftCore, ElectionTimeoutIsRandomizedWithinOneToTwoTimeouts) {
  manual_cluster c({1, 2, 3});
  int ticks = 0;
  while (c.outbox.empty() && ticks < 100) {
    c.tick(2);
    ++ticks;
  }
  // Pre-votes go out between 10 and 19 ticks (election_ticks = 10).
  EXPECT_GE(ticks, 10);
  EXPECT_LT(ticks, 20);
  EXPECT_EQ(count(c.outbox, message_type::pre_vote), 2u);
}

TEST(RaftCore, PreVoteDoesNotRaiseAnyTerm) {
  manual_cluster c({1, 2, 3});
  c.tick(1, 25);
  EXPECT_EQ(c[1].term(), 0u);
  EXPECT_EQ(c[1].role(), role::pre_candidate);
  ASSERT_EQ(count(c.outbox, message_type::pre_vote), 2u);
  EXPECT_EQ(c.outbox.front().term, 1u); // asks for the next term
  c.deliver(only({1, 2}));              // node 3 unreachable
  // Node 2 granted the pre-vote, so node 1 ran the real election and won.
  EXPECT_EQ(c[1].role(), role::leader);
  EXPECT_EQ(c[2].term(), 1u);
  EXPECT_EQ(c[3].term(), 0u);
}

TEST(RaftCore, VoteIsPersistedInTheSameReadyAsTheReply) {
  manual_cluster c({1, 2, 3});
  c[2].step(vote_request(1, 2, 1, 0, 0));
  auto rd = c[2].take_ready();
  ASSERT_TRUE(rd.state.has_value());
  EXPECT_EQ(rd.state->voted_for, 1u);
  EXPECT_EQ(rd.state->term, 1u);
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].type, message_type::vote_reply);
  EXPECT_FALSE(rd.messages[0].reject);
  c[2].advance(rd);
}

TEST(RaftCore, VoteGrantedOncePerTerm) {
  manual_cluster c({1, 2, 3});
  c[2].step(vote_request(1, 2, 1, 0, 0));
  c[2].step(vote_request(3, 2, 1, 0, 0));
  auto rd = c[2].take_ready();
  ASSERT_EQ(rd.messages.size(), 2u);
  EXPECT_FALSE(rd.messages[0].reject);
  EXPECT_TRUE(rd.messages[1].reject);
  c[2].advance(rd);
}

TEST(RaftCore, CandidateWithStaleLogIsRefused) {
  core_config config;
  config.check_quorum = false; // no leader lease: the request is considered
  manual_cluster c({1, 2, 3}, config);
  c.elect(1);
  c.propose(1, {1});
  c.deliver();
  // Node 3 claims a log that ends before node 2's.
  c[2].step(vote_request(3, 2, 5, 1, 1));
  c.flush(2);
  ASSERT_FALSE(c.outbox.empty());
  EXPECT_TRUE(c.outbox.back().reject);
  EXPECT_EQ(c[2].term(), 5u); // the higher term still deposes old state
}

TEST(RaftCore, FollowerInLeaderLeaseIgnoresVoteRequests) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  c.outbox.clear();
  c[2].step(vote_request(3, 2, 2, 1, 1));
  c.flush(2);
  EXPECT_TRUE(c.outbox.empty());
  EXPECT_EQ(c[2].term(), 1u);
}

TEST(RaftCore, IsolatedLeaderStepsDownAfterElectionTimeout) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  c.outbox.clear();
  c.tick(1, 9);
  EXPECT_EQ(c[1].role(), role::leader);
  c.tick(1, 11); // no replies ever arrive
  EXPECT_EQ(c[1].role(), role::follower);
  EXPECT_EQ(c[1].leader(), 0u);
}

TEST(RaftCore, ProposalToFollowerNamesTheLeader) {
  manual_cluster c({1, 2, 3});
  auto before = c[2].propose({1});
  ASSERT_FALSE(before);
  EXPECT_EQ(code_of(before.error()), error_code::not_leader);
  EXPECT_EQ(before.error().leader_hint, 0u);
  c.elect(1);
  auto after = c[2].propose({1});
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().leader_hint, 1u);
  EXPECT_NE(after.error().message.find("node 1"), std::string::npos);
}

TEST(RaftCore, HigherTermReplyDeposesLeader) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  message reply;
  reply.type = message_type::append_reply;
  reply.from = 2;
  reply.to = 1;
  reply.term = 7;
  c[1].step(reply);
  EXPECT_EQ(c[1].role(), role::follower);
  EXPECT_EQ(c[1].term(), 7u);
}

TEST(RaftCore, TamperedLogIsDetectedAtStartAndMemberRefusesToVote) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  for (std::uint8_t i = 0; i < 5; ++i)
    c.propose(1, {i});
  c.deliver();
  ASSERT_TRUE(c.storage(2).corrupt_payload(3, {42}));
  c.start(2);
  ASSERT_TRUE(c[2].chain_fault().has_value());
  EXPECT_NE(c[2].chain_fault()->find("index 3"), std::string::npos);
  c.outbox.clear();
  c[2].step(vote_request(3, 2, 9, 9, 100));
  c.flush(2);
  ASSERT_EQ(c.outbox.size(), 1u);
  EXPECT_TRUE(c.outbox[0].reject);
  c.outbox.clear();
  c.tick(2, 100);
  EXPECT_EQ(c[2].role(), role::follower);
  EXPECT_EQ(count(c.outbox, message_type::pre_vote), 0u);
  EXPECT_EQ(count(c.outbox, message_type::vote), 0u);
  EXPECT_FALSE(c[2].verify_log().ok());
}

TEST(RaftCore, SingleVoterElectsItselfAndCommitsAfterPersisting) {
  manual_cluster c({1});
  c.tick(1, 25);
  ASSERT_EQ(c[1].role(), role::leader);
  ASSERT_TRUE(c[1].propose({7}));
  auto rd = c[1].take_ready();
  EXPECT_EQ(rd.entries.size(), 1u);
  EXPECT_TRUE(rd.committed.empty()); // not durable yet
  c.storage(1).append(rd.entries);
  c[1].advance(rd);
  auto next = c[1].take_ready();
  ASSERT_EQ(next.committed.size(), 1u);
  EXPECT_EQ(next.committed[0].payload, bytes{7});
  c[1].advance(next);
}
