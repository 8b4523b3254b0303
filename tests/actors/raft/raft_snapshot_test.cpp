// Snapshots through the raft actor: compaction keeping a tail, refusals,
// restart from a snapshot, and a lagging follower caught up by
// InstallSnapshot.

#include "tests/actors/raft/actor_cluster.hpp"
#include "tests/support/process.hpp"

namespace skep::raft {
namespace {

using namespace std::chrono_literals;

class RaftSnapshot : public testing::RaftActor {
 protected:
  raft_actor_config keeping(node_id id, index_t tail) {
    auto cfg = config_for(id);
    cfg.snapshot_keep_entries = tail;
    return cfg;
  }

  /// Starts a cluster of memory-backed members that keep `tail` entries
  /// before their snapshots.
  void start_cluster_keeping(std::vector<node_id> ids, index_t tail) {
    configuration founders{ids, {}};
    for (auto id : ids) {
      auto storage = std::make_unique<memory_storage>();
      bootstrap(*storage, founders);
      add_member(id, std::move(storage), keeping(id, tail));
    }
    run();
  }

  void propose_all(node_id on, std::vector<std::string> texts) {
    for (auto& text : texts) {
      auto out = propose(on, text);
      ASSERT_TRUE(out.ok) << text << ": " << out.why.message;
    }
  }

  static std::string text_of(const bytes& data) {
    return std::string(data.begin(), data.end());
  }
};

TEST_F(RaftSnapshot, SnapshotCompactsTheLogKeepingATailAndTheChainVerifies) {
  start_cluster_keeping({1}, 3);
  ASSERT_EQ(await_leader(), 1u);
  ASSERT_NO_FATAL_FAILURE(
    propose_all(1, {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}));
  auto before = status_of(1);
  ASSERT_EQ(before.applied, before.last_index);
  ASSERT_EQ(before.first_index, 1u);
  auto k = before.last_index - 2;
  auto out = snapshot_at(1, k, "state");
  ASSERT_TRUE(out.ok) << out.why.message;
  EXPECT_EQ(out.index, k);
  auto after = status_of(1);
  EXPECT_EQ(after.snapshot_index, k);
  EXPECT_EQ(after.first_index, k - 3 + 1); // a tail of 3 before k
  EXPECT_EQ(after.last_index, before.last_index);
  EXPECT_EQ(after.applied, before.applied);
  auto verified = verify(1);
  EXPECT_TRUE(verified.ok) << verified.why.message;
  EXPECT_EQ(verified.index, before.last_index);
  // The chain goes on from the compacted log.
  ASSERT_TRUE(propose(1, "k").ok);
  verified = verify(1);
  EXPECT_TRUE(verified.ok) << verified.why.message;
  EXPECT_EQ(verified.index, before.last_index + 1);
}

TEST_F(RaftSnapshot, SnapshotOfAnUnappliedIndexIsRefused) {
  start_cluster_keeping({1}, 3);
  ASSERT_EQ(await_leader(), 1u);
  ASSERT_NO_FATAL_FAILURE(propose_all(1, {"a", "b"}));
  auto before = status_of(1);
  auto out = snapshot_at(1, before.applied + 1, "future");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.why.message.find("applied only up to index "
                                 + std::to_string(before.applied)),
            std::string::npos)
    << out.why.message;
  EXPECT_EQ(out.why.code, skep::errc::invalid_argument);
  auto after = status_of(1);
  EXPECT_EQ(after.snapshot_index, before.snapshot_index);
  EXPECT_EQ(after.first_index, before.first_index);
}

TEST_F(RaftSnapshot, SnapshotOlderThanTheStoredOneIsRefused) {
  start_cluster_keeping({1}, 0);
  ASSERT_EQ(await_leader(), 1u);
  ASSERT_NO_FATAL_FAILURE(propose_all(1, {"a", "b", "c", "d"}));
  auto k = status_of(1).applied;
  ASSERT_TRUE(snapshot_at(1, k, "abcd").ok);
  EXPECT_EQ(status_of(1).first_index, k + 1);
  auto older = snapshot_at(1, k - 1, "abc");
  EXPECT_FALSE(older.ok);
  EXPECT_NE(older.why.message.find("already compacted"), std::string::npos)
    << older.why.message;
  // The same index again changes nothing and succeeds.
  auto again = snapshot_at(1, k, "abcd");
  EXPECT_TRUE(again.ok) << again.why.message;
  EXPECT_EQ(again.index, k);
  EXPECT_EQ(status_of(1).snapshot_index, k);
}

TEST_F(RaftSnapshot, RestartedMemberRestoresTheSnapshotThenAppliesOnlyLater) {
  test::temp_dir dir;
  auto path = dir.path() + "/raft.db";
  ASSERT_NO_FATAL_FAILURE(start_sqlite_member(path, keeping(1, 2)));
  ASSERT_EQ(await_leader(), 1u);
  ASSERT_NO_FATAL_FAILURE(propose_all(1, {"a", "b", "c", "d", "e"}));
  auto k = status_of(1).applied;
  ASSERT_TRUE(snapshot_at(1, k, "abcde").ok);
  ASSERT_NO_FATAL_FAILURE(propose_all(1, {"f", "g"}));
  auto last = status_of(1).last_index;
  stop_member(1);

  ASSERT_NO_FATAL_FAILURE(start_sqlite_member(path, keeping(1, 2)));
  auto& log = *applied.at(1);
  ASSERT_EQ(log.restores, 1);
  EXPECT_EQ(log.entries_before_restore, 0u); // restored before any entry
  ASSERT_TRUE(log.restored);
  EXPECT_EQ(log.restored->meta.index, k);
  EXPECT_EQ(text_of(log.restored->data), "abcde");
  EXPECT_EQ(log.restored->meta.config.voters, std::vector<node_id>{1});
  ASSERT_EQ(await_leader(), 1u);
  auto st = status_of(1);
  EXPECT_EQ(st.snapshot_index, k);
  EXPECT_EQ(st.first_index, k - 2 + 1); // the tail is kept, not replayed
  EXPECT_EQ(st.applied, st.last_index);
  EXPECT_GT(st.last_index, last); // the new term's empty entry
  ASSERT_FALSE(log.entries.empty());
  EXPECT_EQ(log.entries.front().index, k + 1);
  for (std::size_t i = 1; i < log.entries.size(); ++i)
    EXPECT_EQ(log.entries[i].index, log.entries[i - 1].index + 1);
  EXPECT_EQ(payloads_applied_by(1), (std::vector<std::string>{"f", "g"}));
  auto verified = verify(1);
  EXPECT_TRUE(verified.ok) << verified.why.message;
}

TEST_F(RaftSnapshot, FollowerBehindTheCompactionPointGetsTheSnapshot) {
  start_cluster_keeping({1, 2, 3}, 2);
  auto leader = await_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(propose(leader, "a").ok);
  advance(50ms); // the commit reaches the followers
  node_id behind = leader % 3 + 1;
  ASSERT_EQ(payloads_applied_by(behind), std::vector<std::string>{"a"});
  net->isolated.insert(behind);
  ASSERT_NO_FATAL_FAILURE(
    propose_all(leader, {"b", "c", "d", "e", "f", "g", "h", "i"}));
  auto k = status_of(leader).applied;
  ASSERT_TRUE(snapshot_at(leader, k, "abcdefghi").ok);
  auto lagging = status_of(behind);
  ASSERT_GT(status_of(leader).first_index, lagging.last_index + 1)
    << "the entries the follower needs must be compacted away";
  auto handed_before = applied.at(behind)->entries.size();

  net->isolated.clear();
  for (int i = 0; i < 40 && status_of(behind).applied < k; ++i)
    advance(50ms);
  auto& log = *applied.at(behind);
  ASSERT_EQ(log.restores, 1);
  EXPECT_EQ(log.entries_before_restore, handed_before);
  EXPECT_EQ(log.restored->meta.index, k);
  EXPECT_EQ(text_of(log.restored->data), "abcdefghi");
  EXPECT_EQ(status_of(behind).snapshot_index, k);
  EXPECT_EQ(status_of(behind).leader, leader);
  // It follows the log again after the snapshot.
  ASSERT_TRUE(propose(leader, "j").ok);
  advance(50ms);
  EXPECT_EQ(status_of(behind).applied, status_of(leader).applied);
  for (auto i = handed_before; i < log.entries.size(); ++i)
    EXPECT_GT(log.entries[i].index, k);
  EXPECT_EQ(payloads_applied_by(behind), (std::vector<std::string>{"a", "j"}));
  auto verified = verify(behind);
  EXPECT_TRUE(verified.ok) << verified.why.message;
}

} // namespace
} // namespace skep::raft
