// Raft members as actors under the test coordinator: elections, proposals,
// reads, membership, storage failures and restarts.

#include "tests/actors/raft/actor_cluster.hpp"
#include "tests/support/process.hpp"

#include <sqlite3.h>

namespace skep::raft {
namespace {

using namespace std::chrono_literals;

using testing::RaftActor;

/// A memory storage whose sync fails once `fail` is set: a dying disk.
class failing_storage : public memory_storage {
 public:
  explicit failing_storage(std::shared_ptr<bool> fail)
    : fail_(std::move(fail)) {}
  void sync() override {
    if (*fail_)
      throw storage_failure("raft storage: sync failed: disk I/O error");
  }

 private:
  std::shared_ptr<bool> fail_;
};

TEST_F(RaftActor, ElectsALeaderOnVirtualTime) {
  start_cluster({1, 2, 3});
  auto leader = await_leader();
  ASSERT_NE(leader, 0u);
  auto st = status_of(leader);
  EXPECT_GT(st.term, 0u);
  for (node_id id : {1, 2, 3})
    if (id != leader) {
      EXPECT_EQ(status_of(id).role, role::follower);
      EXPECT_EQ(status_of(id).leader, leader);
    }
}

TEST_F(RaftActor, ProposalIsAnsweredOnceCommittedAndEveryMemberApplies) {
  start_cluster({1, 2, 3});
  auto leader = await_leader();
  ASSERT_NE(leader, 0u);
  auto first = propose(leader, "service create web");
  ASSERT_TRUE(first.ok) << first.why.message;
  auto second = propose(leader, "service scale web=3");
  ASSERT_TRUE(second.ok) << second.why.message;
  EXPECT_GT(second.index, first.index);
  advance(50ms); // a heartbeat carries the commit index to followers
  for (node_id id : {1, 2, 3})
    EXPECT_EQ(
      payloads_applied_by(id),
      (std::vector<std::string>{"service create web", "service scale web=3"}))
      << "member " << id;
}

TEST_F(RaftActor, ProposalToAFollowerNamesTheLeader) {
  start_cluster({1, 2, 3});
  auto leader = await_leader();
  ASSERT_NE(leader, 0u);
  node_id follower = leader == 1 ? 2 : 1;
  auto out = propose(follower, "x");
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.why.leader_hint, leader);
  EXPECT_EQ(code_of(out.why), error_code::not_leader);
  EXPECT_FALSE(out.why.message.empty());
}

TEST_F(RaftActor, ReadIndexIsServedAfterLeadershipIsConfirmed) {
  start_cluster({1, 2, 3});
  auto leader = await_leader();
  ASSERT_NE(leader, 0u);
  auto written = propose(leader, "a");
  ASSERT_TRUE(written.ok);
  auto read = request<outcome>(net->members.at(leader), atom::read_v);
  ASSERT_TRUE(read);
  ASSERT_TRUE(read->ok) << read->why.message;
  EXPECT_GE(read->index, written.index);
}

TEST_F(RaftActor, IsolatedLeaderIsReplacedAndItsUncommittedProposalFails) {
  start_cluster({1, 2, 3});
  auto old_leader = await_leader();
  ASSERT_NE(old_leader, 0u);
  net->isolated.insert(old_leader);
  // Accepted by the cut-off leader, but it can never commit.
  auto pending = self->request(net->members.at(old_leader), caf::infinite,
                               atom::propose_v, bytes{'l', 'o', 's', 't'});
  run();
  auto new_leader = await_leader();
  ASSERT_NE(new_leader, 0u);
  ASSERT_NE(new_leader, old_leader);
  ASSERT_TRUE(propose(new_leader, "kept").ok);
  net->isolated.clear();
  for (int i = 0; i < 100 && status_of(old_leader).role == role::leader; ++i)
    advance(50ms);
  advance(50ms);
  std::optional<outcome> lost;
  pending.receive([&](outcome& o) { lost = o; },
                  [&](caf::error& e) { FAIL() << sys.render(e); });
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->ok);
  EXPECT_NE(lost->why.message.find("lost"), std::string::npos)
    << lost->why.message;
  EXPECT_EQ(payloads_applied_by(old_leader),
            (std::vector<std::string>{"kept"}));
}

TEST_F(RaftActor, TheSinkIsToldEachLeadershipChangeWithoutAsking) {
  start_cluster({1, 2, 3});
  auto old_leader = await_leader();
  ASSERT_NE(old_leader, 0u);
  // Each member told its sink at start, and again once it knew the leader.
  for (node_id id : {1, 2, 3}) {
    const auto& told = applied.at(id)->statuses;
    ASSERT_GE(told.size(), 2u) << "member " << id;
    EXPECT_EQ(told.front().leader, 0u) << "member " << id;
    EXPECT_EQ(told.back().leader, old_leader) << "member " << id;
    EXPECT_EQ(told.back().role,
              id == old_leader ? role::leader : role::follower);
  }
  // Quiet ticks change nothing: nothing more is told.
  auto before = applied.at(old_leader)->statuses.size();
  advance(2s);
  EXPECT_EQ(applied.at(old_leader)->statuses.size(), before);
  // A new leader: the survivors are told the new term and leader, at once.
  net->isolated.insert(old_leader);
  auto new_leader = await_leader();
  ASSERT_NE(new_leader, 0u);
  ASSERT_NE(new_leader, old_leader);
  for (node_id id : {1, 2, 3}) {
    if (id == old_leader)
      continue;
    const auto& last = applied.at(id)->statuses.back();
    EXPECT_EQ(last.leader, new_leader) << "member " << id;
    EXPECT_EQ(last.term, status_of(id).term) << "member " << id;
  }
}

TEST_F(RaftActor, StorageFailureStopsTheMemberAndFailsItsRequests) {
  auto fail = std::make_shared<bool>(false);
  auto storage = std::make_unique<failing_storage>(fail);
  bootstrap(*storage, configuration{{1}, {}});
  add_member(1, std::move(storage));
  run();
  ASSERT_EQ(await_leader(), 1u);
  *fail = true;
  auto out = propose(1, "never durable");
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.why.message.find("stopped"), std::string::npos)
    << out.why.message;
  EXPECT_TRUE(payloads_applied_by(1).empty());
}

TEST_F(RaftActor, MemberOverSqliteKeepsItsLogAcrossRestart) {
  test::temp_dir dir;
  auto path = dir.path() + "/raft.db";
  ASSERT_NO_FATAL_FAILURE(start_sqlite_member(path));
  ASSERT_EQ(await_leader(), 1u);
  ASSERT_TRUE(propose(1, "durable").ok);
  auto term_before = status_of(1).term;
  stop_member(1);
  ASSERT_NO_FATAL_FAILURE(start_sqlite_member(path));
  ASSERT_EQ(await_leader(), 1u);
  EXPECT_GT(status_of(1).term, term_before);
  // The committed entry is handed to the state machine again on start.
  EXPECT_EQ(payloads_applied_by(1), (std::vector<std::string>{"durable"}));
}

TEST_F(RaftActor, LearnerJoinsIsPromotedAndLeadershipMovesToIt) {
  start_cluster({1, 2, 3});
  auto leader = await_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(propose(leader, "before").ok);
  add_member(4, std::make_unique<memory_storage>()); // empty: gets the log
  run();
  auto added = request<outcome>(net->members.at(leader), atom::add_learner_v,
                                node_id{4});
  ASSERT_TRUE(added && added->ok) << (added ? added->why.message : "no reply");
  for (int i = 0; i < 20; ++i)
    advance(50ms);
  EXPECT_EQ(payloads_applied_by(4), (std::vector<std::string>{"before"}));
  auto promoted
    = request<outcome>(net->members.at(leader), atom::promote_v, node_id{4});
  ASSERT_TRUE(promoted && promoted->ok)
    << (promoted ? promoted->why.message : "no reply");
  for (int i = 0; i < 5; ++i)
    advance(50ms);
  EXPECT_TRUE(status_of(leader).config.is_voter(4));
  auto moved
    = request<outcome>(net->members.at(leader), atom::transfer_v, node_id{4});
  ASSERT_TRUE(moved && moved->ok) << (moved ? moved->why.message : "no reply");
  for (int i = 0; i < 40 && status_of(4).role != role::leader; ++i)
    advance(50ms);
  EXPECT_EQ(status_of(4).role, role::leader);
  EXPECT_TRUE(propose(4, "after").ok);
}

TEST_F(RaftActor, RemovingTheLastVoterIsRefused) {
  auto storage = std::make_unique<memory_storage>();
  bootstrap(*storage, configuration{{1}, {}});
  add_member(1, std::move(storage));
  run();
  ASSERT_EQ(await_leader(), 1u);
  auto out = request<outcome>(net->members.at(1), atom::remove_v, node_id{1});
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->ok);
  EXPECT_FALSE(out->why.message.empty());
}

TEST_F(RaftActor, TamperedSqliteLogIsFoundAtStartAndOnRequest) {
  test::temp_dir dir;
  auto path = dir.path() + "/raft.db";
  ASSERT_NO_FATAL_FAILURE(start_sqlite_member(path));
  ASSERT_EQ(await_leader(), 1u);
  for (auto text : {"a", "b", "c"})
    ASSERT_TRUE(propose(1, text).ok);
  auto intact = request<outcome>(net->members.at(1), atom::verify_v);
  ASSERT_TRUE(intact && intact->ok);
  stop_member(1);
  // Someone edits the second entry on disk, keeping its stored hash.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE log SET payload = x'78' WHERE idx = 2",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
  }
  ASSERT_NO_FATAL_FAILURE(start_sqlite_member(path));
  auto st = status_of(1);
  EXPECT_NE(st.chain_fault.find("2"), std::string::npos) << st.chain_fault;
  // It neither leads nor votes, however long it waits.
  for (int i = 0; i < 40; ++i)
    advance(50ms);
  EXPECT_NE(status_of(1).role, role::leader);
  auto verified = request<outcome>(net->members.at(1), atom::verify_v);
  ASSERT_TRUE(verified);
  EXPECT_FALSE(verified->ok);
  EXPECT_EQ(verified->index, 2u);
}

} // namespace
} // namespace skep::raft
