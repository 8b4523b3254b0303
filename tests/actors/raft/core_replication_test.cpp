// Unit tests of log replication in the Raft core, with hand-routed messages.

#include "tests/actors/raft/manual_cluster.hpp"

#include <gtest/gtest.h>

using namespace skep::raft;
using skep::raft::testing::manual_cluster;
using skep::raft::testing::only;

namespace {

// Builds a sealed chain of entries with the given terms, from index 1.
std::vector<entry> chain_of_terms(const std::vector<term_t>& terms) {
  std::vector<entry> out;
  auto prev = genesis_hash;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    entry e;
    e.term = terms[i];
    e.index = i + 1;
    e.payload = {static_cast<std::uint8_t>(i)};
    seal_entry(e, prev);
    prev = e.hash;
    out.push_back(e);
  }
  return out;
}

message append_after(const entry& prev, term_t term,
                     std::vector<entry> entries = {}) {
  message msg;
  msg.type = message_type::append;
  msg.from = 1;
  msg.to = 2;
  msg.term = term;
  msg.index = prev.index;
  msg.log_term = prev.term;
  msg.prev_hash = prev.hash;
  msg.entries = std::move(entries);
  return msg;
}

// A follower (node 2 of {1,2,3}) whose storage holds `terms`.
struct follower_with_log {
  explicit follower_with_log(const std::vector<term_t>& terms,
                             bool async_durability = false)
    : log(chain_of_terms(terms)) {
    configuration config;
    config.voters = {1, 2, 3};
    bootstrap(storage, config);
    storage.append(log);
    hard_state state;
    state.term = terms.back();
    storage.save_hard_state(state);
    core_config cfg;
    cfg.id = 2;
    cfg.async_durability = async_durability;
    raft.emplace(cfg, storage);
  }

  message step(const message& msg) {
    raft->step(msg);
    auto rd = raft->take_ready();
    storage.append(rd.entries);
    raft->advance(rd);
    EXPECT_EQ(rd.messages.size(), 1u);
    return rd.messages.empty() ? message{} : rd.messages.back();
  }

  std::vector<entry> log;
  memory_storage storage;
  std::optional<core> raft;
};

} // namespace

TEST(RaftCore, FollowerRejectsAppendWithBrokenHashChain) {
  follower_with_log f({1, 1, 2});
  auto prev = f.log[2];
  prev.hash[0] ^= 0xff; // same index and term, different history
  auto reply = f.step(append_after(prev, 2, {}));
  EXPECT_TRUE(reply.reject);
  EXPECT_EQ(reply.index, 3u);
  EXPECT_EQ(reply.conflict_term, 0u);
  EXPECT_EQ(reply.conflict_index, 3u); // back off one entry at a time
  EXPECT_EQ(f.storage.last_index(), 3u);
}

TEST(RaftCore, FollowerDropsEntriesThatDoNotExtendTheChain) {
  follower_with_log f({1, 1});
  entry forged;
  forged.term = 2;
  forged.index = 3;
  forged.payload = {9};
  seal_entry(forged, genesis_hash); // sealed against the wrong predecessor
  f.raft->step(append_after(f.log[1], 2, {forged}));
  auto rd = f.raft->take_ready();
  EXPECT_TRUE(rd.entries.empty());
  EXPECT_EQ(f.raft->last_index(), 2u);
  f.raft->advance(rd);
}

TEST(RaftCore, FollowerAcceptsAppendThatExtendsItsChain) {
  follower_with_log f({1, 1});
  auto more = chain_of_terms({1, 1, 2, 2});
  auto reply = f.step(append_after(f.log[1], 2, {more[2], more[3]}));
  EXPECT_FALSE(reply.reject);
  EXPECT_EQ(reply.index, 4u);
  EXPECT_EQ(f.storage.hash(4), more[3].hash);
}

TEST(RaftCore, RejectCarriesConflictTermAndItsFirstIndex) {
  follower_with_log f({1, 1, 2, 2, 2});
  auto leader_log = chain_of_terms({1, 1, 3, 3, 3});
  auto reply = f.step(append_after(leader_log[4], 3));
  EXPECT_TRUE(reply.reject);
  EXPECT_EQ(reply.conflict_term, 2u);
  EXPECT_EQ(reply.conflict_index, 3u);
}

TEST(RaftCore, RejectFromShortLogPointsPastItsEnd) {
  follower_with_log f({1, 1});
  auto leader_log = chain_of_terms({1, 1, 1, 1, 1, 1});
  auto reply = f.step(append_after(leader_log[5], 1));
  EXPECT_TRUE(reply.reject);
  EXPECT_EQ(reply.conflict_term, 0u);
  EXPECT_EQ(reply.conflict_index, 3u);
}

TEST(RaftCore, ConflictingSuffixIsReplacedByLeadersEntries) {
  follower_with_log f({1, 1, 2, 2});
  auto leader_log = chain_of_terms({1, 1, 3});
  auto reply = f.step(append_after(leader_log[1], 3, {leader_log[2]}));
  EXPECT_FALSE(reply.reject);
  EXPECT_EQ(f.storage.last_index(), 3u);
  EXPECT_EQ(f.storage.term(3), 3u);
  EXPECT_EQ(f.storage.hash(3), leader_log[2].hash);
}

TEST(RaftCore, LeaderBacktracksOverWholeTermsInOneRoundTrip) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  // Node 1 leads term 1; node 3 misses 30 entries.
  for (std::uint8_t i = 0; i < 30; ++i)
    c.propose(1, {i});
  c.deliver(only({1, 2}));
  c.outbox.clear();
  std::size_t rejects = 0;
  c.tick(1);
  c.deliver([&](const message& m) {
    if (m.type == message_type::append_reply && m.reject)
      ++rejects;
    return true;
  });
  EXPECT_EQ(c[3].last_index(), c[1].last_index());
  EXPECT_LE(rejects, 1u);
}

TEST(RaftCore, LeaderCommitsOnlyThroughAnEntryOfItsOwnTerm) {
  // Figure 8 of the Raft paper, scripted.
  core_config config;
  config.max_append_entries = 1;
  manual_cluster c({1, 2, 3, 4, 5}, config);
  c.elect(1);           // term 1, empty entry at index 1 everywhere
  c.propose(1, {0xaa}); // index 2, term 1: reaches node 2 only
  c.deliver(only({1, 2}));
  ASSERT_EQ(c[2].last_index(), 2u);
  ASSERT_EQ(c[1].commit_index(), 1u);
  c.outbox.clear();
  auto votes_only = [](const message& m) {
    return only({3, 4, 5})(m)
           && (m.type == message_type::vote
               || m.type == message_type::vote_reply);
  };
  c.elect(5, votes_only); // term 2: node 5 appends index 2 of term 2 alone
  ASSERT_EQ(c[5].role(), role::leader);
  ASSERT_EQ(c[5].term(), 2u);
  c.outbox.clear();
  // Node 1 hears of term 2, then wins term 3 with nodes 2 and 3.
  message heartbeat;
  heartbeat.type = message_type::heartbeat;
  heartbeat.from = 5;
  heartbeat.to = 1;
  heartbeat.term = 2;
  c[1].step(heartbeat);
  c.flush(1);
  c.outbox.clear();
  bool held_back = false;
  c.elect(1, [&](const message& m) {
    if (!only({1, 2, 3})(m))
      return false;
    // Node 3 gets the term-1 entry at index 2 but not the term-3 entry.
    if (m.to == 3 && m.type == message_type::append && !m.entries.empty()
        && m.entries.front().index == 3 && c[3].last_index() == 2) {
      held_back = true;
      return false;
    }
    return true;
  });
  ASSERT_EQ(c[1].role(), role::leader);
  ASSERT_EQ(c[1].term(), 3u);
  ASSERT_TRUE(held_back);
  EXPECT_EQ(c[3].last_index(), 2u);
  EXPECT_EQ(c[1].match_index(3), 2u);
  // Index 2 is on nodes 1, 2 and 3, a majority, but it is of term 1.
  EXPECT_EQ(c[1].commit_index(), 1u);
  // Had it been committed, node 5 (last term 2) could still win and erase it.
  c.outbox.clear();
  heartbeat.from = 1;
  heartbeat.to = 5;
  heartbeat.term = 3;
  c[5].step(heartbeat);
  c.flush(5);
  c.outbox.clear();
  c.elect(5, only({3, 4, 5}));
  EXPECT_EQ(c[5].role(), role::leader);
  EXPECT_EQ(c[3].term(), 4u);
  EXPECT_EQ(c[3].last_index(), 3u);
  EXPECT_EQ(c.storage(3).term(2), 2u); // index 2 of term 1 is gone
}

TEST(RaftCore, AppendsAreBatchedByEntryCountAndBytes) {
  core_config config;
  config.max_append_entries = 3;
  config.max_append_bytes = 250;
  manual_cluster c({1, 2}, config);
  c.elect(1);
  c.outbox.clear();
  for (int i = 0; i < 9; ++i)
    c.propose(1, bytes(100, 1));
  for (auto& m : c.outbox) {
    if (m.type != message_type::append)
      continue;
    EXPECT_LE(m.entries.size(), 2u); // 3 entries would be 300 bytes
  }
  c.deliver();
  c.tick(1); // the heartbeat carries the final commit index
  c.deliver();
  EXPECT_EQ(c[2].last_index(), c[1].last_index());
  EXPECT_EQ(c[2].commit_index(), c[1].commit_index());
}

TEST(RaftCore, ReplicatingFollowerGetsPipelinedAppendsUpToInflightLimit) {
  core_config config;
  config.max_inflight_appends = 3;
  manual_cluster c({1, 2}, config);
  c.elect(1); // node 2 is now in replicate mode
  c.outbox.clear();
  for (std::uint8_t i = 0; i < 6; ++i)
    c.propose(1, {i});
  std::size_t appends = 0;
  for (auto& m : c.outbox)
    if (m.type == message_type::append && !m.entries.empty())
      ++appends;
  EXPECT_EQ(appends, 3u); // sent without waiting for any reply
  c.deliver();
  EXPECT_EQ(c[2].last_index(), 7u);
  EXPECT_EQ(c[1].commit_index(), 7u);
}

TEST(RaftCore, CommittedEntriesAreAppliedInOrderOnEveryMember) {
  manual_cluster c({1, 2, 3});
  c.elect(1);
  for (std::uint8_t i = 0; i < 10; ++i)
    c.propose(1, {i});
  c.deliver();
  c.tick(1);
  c.deliver();
  for (node_id id : {1, 2, 3}) {
    auto& applied = c.applied(id);
    ASSERT_EQ(applied.size(), 11u);
    for (std::size_t i = 0; i < applied.size(); ++i)
      EXPECT_EQ(applied[i].index, i + 1);
  }
}

// ---- durability reported after the write (core_config::async_durability)

TEST(RaftCore, ALoneLeaderCommitsOnlyOnceItsEntryIsDurable) {
  core_config cfg;
  cfg.async_durability = true;
  manual_cluster c({1}, cfg);
  c.tick(1, 25);
  ASSERT_EQ(c[1].role(), role::leader);
  // Its first entry of the term, written but not reported durable.
  EXPECT_LT(c[1].commit_index(), c[1].last_index());
  c[1].persisted_through(c[1].last_index(), c[1].term());
  c.flush(1);
  EXPECT_EQ(c[1].commit_index(), c[1].last_index());
  auto index = c.propose(1, {7});
  ASSERT_TRUE(index);
  EXPECT_LT(c[1].commit_index(), *index) << "committed before its sync";
  EXPECT_EQ(c[1].durable_index(), *index - 1);
  c[1].persisted_through(*index, c[1].term());
  c.flush(1);
  EXPECT_EQ(c[1].commit_index(), *index);
  ASSERT_FALSE(c.applied(1).empty());
  EXPECT_EQ(c.applied(1).back().payload, (bytes{7}));
}

TEST(RaftCore, ALeaderWaitingForItsSyncNeedsAQuorumWithoutItself) {
  core_config cfg;
  cfg.async_durability = true;
  manual_cluster c({1, 2, 3}, cfg);
  c.elect(1);
  for (auto id : {1, 2, 3})
    c[id].persisted_through(c[id].last_index(), c[id].term());
  c.flush(1);
  c.deliver();
  auto index = c.propose(1, {9});
  ASSERT_TRUE(index);
  // Only node 2 gets (and acknowledges) the entry: with the leader's own
  // copy not yet durable, that is one of three.
  c.deliver(only({1, 2}));
  EXPECT_LT(c[1].commit_index(), *index);
  c[1].persisted_through(*index, c[1].term());
  c.flush(1);
  EXPECT_EQ(c[1].commit_index(), *index);
}

TEST(RaftCore, ADurabilityReportAboutAnOverwrittenEntryIsIgnored) {
  follower_with_log f({1, 1, 2, 2}, true);
  EXPECT_EQ(f.raft->durable_index(), 4u) << "what was stored at start";
  auto leader_log = chain_of_terms({1, 1, 3});
  f.step(append_after(leader_log[1], 3, {leader_log[2]}));
  EXPECT_EQ(f.raft->durable_index(), 2u) << "entry 3 was replaced";
  f.raft->persisted_through(4, 2); // a sync that began before the append
  f.raft->persisted_through(3, 2);
  EXPECT_EQ(f.raft->durable_index(), 2u);
  f.raft->persisted_through(3, 3);
  EXPECT_EQ(f.raft->durable_index(), 3u);
}
