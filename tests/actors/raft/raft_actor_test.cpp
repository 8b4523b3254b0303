// Raft members as actors under the test coordinator: virtual time drives
// ticks, a network actor routes messages and can cut members off.

#include "actors/raft/memory_storage.hpp"
#include "actors/raft/raft_actor.hpp"
#include "actors/raft/sqlite_storage.hpp"
#include "tests/support/actor_fixture.hpp"
#include "tests/support/process.hpp"

#include <map>
#include <memory>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <sqlite3.h>

namespace skep::raft {
namespace {

using namespace std::chrono_literals;

/// Who may talk to whom; shared by the test and its network actor.
struct network_state {
  std::map<node_id, raft_actor> members;
  std::set<node_id> isolated;
  size_t delivered = 0;
};

raft_outbox::behavior_type network(raft_outbox::pointer self,
                                   std::shared_ptr<network_state> net) {
  return {
    [self, net](message& msg) {
      if (net->isolated.count(msg.from) || net->isolated.count(msg.to))
        return; // dropped
      auto it = net->members.find(msg.to);
      if (it == net->members.end())
        return;
      ++net->delivered;
      self->send(it->second, std::move(msg));
    },
  };
}

/// What one member's state machine was handed.
struct applied_log {
  std::vector<entry> entries;
  std::optional<snapshot> restored;
};

apply_sink::behavior_type recorder(apply_sink::pointer,
                                   std::shared_ptr<applied_log> log) {
  return {
    [log](atom::apply, std::vector<entry>& batch) {
      for (auto& e : batch)
        log->entries.push_back(std::move(e));
    },
    [log](atom::restore, snapshot& snap) { log->restored = std::move(snap); },
  };
}

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

class RaftActor : public test::actor_fixture {
 protected:
  RaftActor() : net(std::make_shared<network_state>()) {
    outbox = sys.spawn(network, net);
  }

  ~RaftActor() override {
    for (auto& [id, member] : net->members)
      caf::anon_send_exit(member, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(outbox, caf::exit_reason::user_shutdown);
    run();
  }

  raft_actor_config config_for(node_id id) {
    raft_actor_config cfg;
    cfg.core.id = id;
    cfg.core.seed = 1000 + id;
    cfg.tick = 50ms;
    return cfg;
  }

  void add_member(node_id id, std::unique_ptr<log_storage> storage) {
    auto log = std::make_shared<applied_log>();
    applied[id] = log;
    net->members[id]
      = spawn_raft_scheduled(sys, config_for(id), std::move(storage), outbox,
                             sys.spawn(recorder, log));
  }

  void start_cluster(std::vector<node_id> ids) {
    configuration founders{ids, {}};
    for (auto id : ids) {
      auto storage = std::make_unique<memory_storage>();
      bootstrap(*storage, founders);
      add_member(id, std::move(storage));
    }
    run();
  }

  /// Starts member 1 alone over the SQLite file at `path`, bootstrapping the
  /// file when it is new.
  void start_sqlite_member(const std::string& path) {
    auto storage = sqlite_storage::open(path);
    ASSERT_TRUE(storage) << storage.error().message;
    if ((*storage)->snapshot_metadata().config.voters.empty())
      bootstrap(**storage, configuration{{1}, {}});
    add_member(1, std::move(*storage));
    run();
  }

  /// Stops member `id` and forgets it, as a process exit would.
  void stop_member(node_id id) {
    caf::anon_send_exit(net->members.at(id), caf::exit_reason::user_shutdown);
    run();
    net->members.erase(id);
  }

  status status_of(node_id id) {
    auto st = request<status>(net->members.at(id), atom::status_v);
    return st ? *st : status{};
  }

  /// Advances virtual time tick by tick until one reachable member leads;
  /// returns its id, or 0 when none does within `limit` ticks.
  node_id await_leader(int limit = 200) {
    for (int i = 0; i < limit; ++i) {
      for (auto& [id, member] : net->members)
        if (!net->isolated.count(id) && status_of(id).role == role::leader)
          return id;
      advance(50ms);
    }
    return 0;
  }

  outcome propose(node_id on, const std::string& text) {
    auto out = request<outcome>(net->members.at(on), atom::propose_v,
                                bytes(text.begin(), text.end()));
    return out ? *out : outcome{false, 0, 0, "no reply"};
  }

  std::vector<std::string> payloads_applied_by(node_id id) {
    std::vector<std::string> out;
    for (const auto& e : applied.at(id)->entries)
      if (e.type == entry_type::normal)
        out.emplace_back(e.payload.begin(), e.payload.end());
    return out;
  }

  std::shared_ptr<network_state> net;
  raft_outbox outbox;
  std::map<node_id, std::shared_ptr<applied_log>> applied;
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
  ASSERT_TRUE(first.ok) << first.error;
  auto second = propose(leader, "service scale web=3");
  ASSERT_TRUE(second.ok) << second.error;
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
  EXPECT_EQ(out.leader_hint, leader);
  EXPECT_FALSE(out.error.empty());
}

TEST_F(RaftActor, ReadIndexIsServedAfterLeadershipIsConfirmed) {
  start_cluster({1, 2, 3});
  auto leader = await_leader();
  ASSERT_NE(leader, 0u);
  auto written = propose(leader, "a");
  ASSERT_TRUE(written.ok);
  auto read = request<outcome>(net->members.at(leader), atom::read_v);
  ASSERT_TRUE(read);
  ASSERT_TRUE(read->ok) << read->error;
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
  EXPECT_NE(lost->error.find("lost"), std::string::npos) << lost->error;
  EXPECT_EQ(payloads_applied_by(old_leader),
            (std::vector<std::string>{"kept"}));
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
  EXPECT_NE(out.error.find("stopped"), std::string::npos) << out.error;
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

} // namespace
} // namespace skep::raft

namespace skep::raft {
namespace {

TEST_F(RaftActor, LearnerJoinsIsPromotedAndLeadershipMovesToIt) {
  start_cluster({1, 2, 3});
  auto leader = await_leader();
  ASSERT_NE(leader, 0u);
  ASSERT_TRUE(propose(leader, "before").ok);
  add_member(4, std::make_unique<memory_storage>()); // empty: gets the log
  run();
  auto added = request<outcome>(net->members.at(leader), atom::add_learner_v,
                                node_id{4});
  ASSERT_TRUE(added && added->ok) << (added ? added->error : "no reply");
  for (int i = 0; i < 20; ++i)
    advance(50ms);
  EXPECT_EQ(payloads_applied_by(4), (std::vector<std::string>{"before"}));
  auto promoted
    = request<outcome>(net->members.at(leader), atom::promote_v, node_id{4});
  ASSERT_TRUE(promoted && promoted->ok)
    << (promoted ? promoted->error : "no reply");
  for (int i = 0; i < 5; ++i)
    advance(50ms);
  EXPECT_TRUE(status_of(leader).config.is_voter(4));
  auto moved
    = request<outcome>(net->members.at(leader), atom::transfer_v, node_id{4});
  ASSERT_TRUE(moved && moved->ok) << (moved ? moved->error : "no reply");
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
  EXPECT_FALSE(out->error.empty());
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
