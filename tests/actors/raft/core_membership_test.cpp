// Unit tests of membership, leadership transfer, read index and snapshots in
// the Raft core, with hand-routed messages.

#include "tests/actors/raft/manual_cluster.hpp"

#include <gtest/gtest.h>

using namespace skep::raft;
using skep::raft::testing::manual_cluster;
using skep::raft::testing::only;

TEST(RaftCore, ConfigurationTakesEffectWhenAppendedNotWhenCommitted) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  c.outbox.clear();
  auto index = c[1].add_learner(4);
  ASSERT_TRUE(index);
  c.flush(1);
  EXPECT_TRUE(c[1].configuration().is_learner(4));
  EXPECT_LT(c[1].commit_index(), *index);
  // Node 2 gets the entry but hears nothing about its commitment.
  c.deliver([](const message& m) {
    return m.to == 2 && m.type == message_type::append;
  });
  EXPECT_TRUE(c[2].configuration().is_learner(4));
  EXPECT_LT(c[2].commit_index(), *index);
}

TEST(RaftCore, OnlyOneConfigurationChangeMayBePending) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  c.outbox.clear();
  ASSERT_TRUE(c[1].add_learner(4));
  auto second = c[1].add_learner(5);
  ASSERT_FALSE(second);
  EXPECT_EQ(code_of(second.error()), error_code::change_pending);
  EXPECT_EQ(second.error().code, skep::errc::unavailable) << "retry later";
  c.flush(1);
  c.deliver();
  EXPECT_TRUE(c[1].add_learner(5));
}

TEST(RaftCore, LaggingLearnerPromotionIsRefusedWithReason) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  ASSERT_TRUE(c[1].add_learner(4));
  c.flush(1);
  c.deliver();
  auto refused = c[1].promote_learner(4);
  ASSERT_FALSE(refused);
  EXPECT_EQ(code_of(refused.error()), error_code::learner_behind);
  EXPECT_NE(refused.error().message.find("learner 4"), std::string::npos);
  auto not_learner = c[1].promote_learner(2);
  ASSERT_FALSE(not_learner);
  EXPECT_EQ(code_of(not_learner.error()), error_code::not_a_learner);
}

TEST(RaftCore, RemovingTheLastVoterIsRefused) {
  manual_cluster c({1});
  c.tick(1, 25);
  ASSERT_EQ(c[1].role(), role::leader);
  auto refused = c[1].remove_member(1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(code_of(refused.error()), error_code::last_voter);
  EXPECT_EQ(refused.error().code, skep::errc::invalid_argument);
  auto unknown = c[1].remove_member(9);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(code_of(unknown.error()), error_code::unknown_node);
  EXPECT_EQ(unknown.error().code, skep::errc::not_found);
  // A failure from elsewhere carries no Raft reason.
  EXPECT_EQ(code_of(skep::failure{skep::errc::internal, "disk"}),
            error_code::none);
}

TEST(RaftCore, TruncatedConfigurationEntryIsRolledBack) {
  manual_cluster c({1, 2, 3, 4, 5});
  c.elect(1);
  c.outbox.clear();
  ASSERT_TRUE(c[1].add_learner(6));
  c.flush(1);
  // Only node 2 gets the change; node 3 then leads without it.
  c.deliver(only({1, 2}));
  ASSERT_TRUE(c[2].configuration().is_learner(6));
  c.outbox.clear();
  c.elect(3, only({2, 3, 4, 5}));
  ASSERT_EQ(c[3].role(), role::leader);
  EXPECT_FALSE(c[2].configuration().is_learner(6));
  EXPECT_EQ(c.storage(2).term(2), c[3].term());
}

TEST(RaftCore, LeadershipTransferSendsTimeoutNowOnceTargetIsCaughtUp) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  c.propose(1, {1});
  c.deliver(only({1, 2})); // node 3 lags
  c.outbox.clear();
  ASSERT_TRUE(c[1].transfer_leadership(3));
  c.flush(1);
  for (auto& m : c.outbox)
    EXPECT_NE(m.type, message_type::timeout_now); // not caught up yet
  auto refused = c[1].propose({2});
  ASSERT_FALSE(refused);
  EXPECT_EQ(code_of(refused.error()), error_code::transfer_in_progress);
  c.deliver();
  EXPECT_EQ(c[3].role(), role::leader);
  EXPECT_EQ(c[1].role(), role::follower);
  EXPECT_EQ(c[1].leader(), 3u);
}

TEST(RaftCore, LeadershipTransferAbortsAfterElectionTimeout) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  c.outbox.clear();
  ASSERT_TRUE(c[1].transfer_leadership(2));
  c.flush(1);
  c.outbox.clear(); // TimeoutNow lost
  EXPECT_EQ(c[1].transfer_target(), 2u);
  for (int i = 0; i < 10; ++i) {
    c.tick(1);
    // Keep node 1 in quorum so only the transfer times out.
    c.deliver(only({1, 2, 3}));
    c.outbox.clear();
  }
  EXPECT_EQ(c[1].transfer_target(), 0u);
  EXPECT_EQ(c[1].role(), role::leader);
  EXPECT_TRUE(c[1].propose({3}));
}

TEST(RaftCore, TransferToNonVoterIsRefused) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  auto refused = c[1].transfer_leadership(7);
  ASSERT_FALSE(refused);
  EXPECT_EQ(code_of(refused.error()), error_code::not_a_voter);
}

TEST(RaftCore, ReadIndexNeedsAHeartbeatQuorum) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  c.outbox.clear();
  ASSERT_TRUE(c[1].read_index(77));
  c.flush(1);
  EXPECT_TRUE(c.reads.empty()); // no confirmation yet
  c.deliver(only({1, 2}));
  ASSERT_EQ(c.reads.size(), 1u);
  EXPECT_EQ(c.reads[0].request_id, 77u);
  EXPECT_EQ(c.reads[0].index, c[1].commit_index());
}

TEST(RaftCore, ReadIndexIsNotConfirmedByAMinority) {
  manual_cluster c({1, 2, 3, 4, 5});
  c.elect(1);
  c.outbox.clear();
  ASSERT_TRUE(c[1].read_index(5));
  c.flush(1);
  c.deliver(only({1, 2}));
  EXPECT_TRUE(c.reads.empty());
  auto refused = c[2].read_index(6);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().leader_hint, 1u);
}

TEST(RaftCore, LeaderSendsSnapshotInChunksAndFollowerContinuesTheChain) {
  core_config config;
  config.snapshot_chunk_bytes = 10;
  manual_cluster c({1, 2, 3}, config);
  c.elect(1);
  for (std::uint8_t i = 0; i < 8; ++i)
    c.propose(1, {i});
  c.deliver(only({1, 2})); // node 3 misses everything
  c.tick(1);
  c.deliver(only({1, 2}));
  auto applied = c[1].applied_index();
  ASSERT_EQ(applied, 9u);
  auto snap = c[1].make_snapshot(applied, bytes(35, 0x5a));
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->meta.hash, *c.storage(1).hash(applied));
  c.storage(1).save_snapshot(*snap);
  c.storage(1).compact(applied);
  c.outbox.clear();
  std::size_t chunks = 0;
  c.tick(1);
  c.deliver([&](const message& m) {
    if (m.type == message_type::install_snapshot)
      ++chunks;
    return true;
  });
  EXPECT_EQ(chunks, 4u); // 35 bytes in chunks of 10
  EXPECT_EQ(c.storage(3).snapshot_metadata().index, applied);
  EXPECT_EQ(c.storage(3).snapshot_size(), 35u);
  EXPECT_EQ(c[3].commit_index(), applied);
  // New entries chain onto the snapshot's hash on the restored member.
  c.propose(1, {42});
  c.deliver();
  EXPECT_EQ(c[3].last_index(), applied + 1);
  EXPECT_EQ(c.storage(3).hash(applied + 1), c.storage(1).hash(applied + 1));
}

TEST(RaftCore, SnapshotChunkOutOfOrderIsRefusedWithExpectedOffset) {
  manual_cluster c({1, 2});
  c.elect(1);
  message chunk;
  chunk.type = message_type::install_snapshot;
  chunk.from = 1;
  chunk.to = 2;
  chunk.term = c[1].term();
  chunk.snapshot.index = 50;
  chunk.snapshot.term = 1;
  chunk.offset = 10;
  chunk.data = bytes(10, 1);
  c[2].step(chunk);
  auto rd = c[2].take_ready();
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_TRUE(rd.messages[0].reject);
  EXPECT_EQ(rd.messages[0].offset, 0u);
  EXPECT_FALSE(rd.snapshot.has_value());
  c[2].advance(rd);
}

TEST(RaftCore, SnapshotOutsideAppliedLogIsRefused) {
  manual_cluster c({1});
  c.tick(1, 25);
  auto refused = c[1].make_snapshot(50, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(code_of(refused.error()), error_code::bad_index);
}

TEST(RaftCore, ForcedNewClusterMakesSelfTheOnlyVoterAndKeepsTheLog) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  for (std::uint8_t i = 0; i < 4; ++i)
    c.propose(1, {i});
  c.deliver();
  core_config config;
  config.force_new_cluster = true;
  c.start(2, config);
  EXPECT_EQ(c[2].configuration().voters, std::vector<node_id>{2});
  c.tick(2, 25);
  EXPECT_EQ(c[2].role(), role::leader);
  EXPECT_TRUE(c[2].propose({9}));
  c.flush(2);
  EXPECT_EQ(c[2].commit_index(), c[2].last_index());
  EXPECT_EQ(c.storage(2).hash(5), c.storage(1).hash(5));
}
