// Simulated replication: agreement, catch-up, partitions and fast
// backtracking, with the harness's invariant checks after every step.

#include "tests/actors/raft/scenario.hpp"

using namespace skep::raft;
using namespace skep::raft::sim;

TEST(RaftSimulation, BasicAgreementAppliesTheSameSequenceEverywhere) {
  for_each_seed([](std::uint64_t seed) {
    auto options = default_options(seed % 2 == 0 ? 3 : 5);
    options.payload_padding = seed % 3 == 0 ? 100 : 0; // byte batching
    cluster c(seed, options);
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader");
    SIM_REQUIRE(c, c.propose_and_commit(40) == 40, "proposals not committed");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    auto& reference = c.applied_values(1);
    SIM_REQUIRE(c, reference.size() == 40, "wrong number of applied values");
    for (auto id : c.ids())
      SIM_REQUIRE(c, c.applied_values(id) == reference,
                  "members applied different sequences");
    return c.failure();
  });
}

TEST(RaftSimulation, AgreementWithFollowerDownAndCatchUpAfterReturn) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(3));
    auto leader = c.await_leader();
    SIM_REQUIRE(c, leader != 0, "no leader");
    auto follower = leader % 3 + 1;
    c.crash(follower);
    SIM_REQUIRE(c, c.propose_and_commit(30) == 30,
                "two of three members cannot commit");
    auto before = c.applied_values(follower).size();
    c.restart(follower);
    SIM_REQUIRE(c, c.settle(), "follower did not catch up");
    SIM_REQUIRE(c, c.applied_values(follower).size() >= before + 30,
                "follower missing entries");
    return c.failure();
  });
}

TEST(RaftSimulation, NoCommitWithoutMajorityAndCorrectIndexesAfterHealing) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(5));
    auto leader = c.await_leader();
    SIM_REQUIRE(c, leader != 0, "no leader");
    SIM_REQUIRE(c, c.propose_and_commit(3) == 3, "cannot commit");
    std::vector<node_id> minority{leader, leader % 5 + 1};
    c.partition({minority});
    auto commit = c.node(leader).commit_index();
    std::vector<std::uint64_t> stranded;
    for (int i = 0; i < 5; ++i)
      if (auto value = c.propose(leader))
        stranded.push_back(*value);
    SIM_REQUIRE(c, stranded.size() == 5, "leader refused proposals");
    auto last = c.node(leader).last_index();
    c.run(8); // shorter than check-quorum: the leader still leads
    SIM_REQUIRE(c, c.node(leader).commit_index() == commit,
                "committed without a majority");
    for (auto value : stranded)
      SIM_REQUIRE(c, !c.acknowledged(value), "minority value acknowledged");
    c.heal();
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader after healing");
    SIM_REQUIRE(c, c.propose_and_commit(5) == 5, "cannot commit after heal");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    auto now_leader = c.leader();
    SIM_REQUIRE(c, c.node(now_leader).commit_index() >= last,
                "indexes did not move past the stranded entries");
    return c.failure();
  });
}

TEST(RaftSimulation, ConcurrentProposalsInOneTermGetConsecutiveIndexes) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(3));
    auto leader = c.await_leader();
    SIM_REQUIRE(c, leader != 0, "no leader");
    auto term = c.node(leader).term();
    auto first = c.node(leader).last_index() + 1;
    std::vector<std::uint64_t> values;
    for (int i = 0; i < 20; ++i) {
      auto value = c.propose(leader);
      SIM_REQUIRE(c, value.has_value(), "proposal refused");
      values.push_back(*value);
    }
    SIM_REQUIRE(c, c.node(leader).last_index() == first + 19,
                "indexes are not consecutive");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    SIM_REQUIRE(c, c.node(leader).term() == term, "term changed");
    for (auto id : c.ids())
      SIM_REQUIRE(c, c.applied_values(id) == values,
                  "values applied out of proposal order");
    return c.failure();
  });
}

TEST(RaftSimulation, PartitionedOldLeadersUncommittedEntriesAreOverwritten) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(5));
    auto old_leader = c.await_leader();
    SIM_REQUIRE(c, old_leader != 0, "no leader");
    SIM_REQUIRE(c, c.propose_and_commit(3) == 3, "cannot commit");
    std::vector<node_id> minority{old_leader, old_leader % 5 + 1};
    std::vector<node_id> majority;
    for (auto id : c.ids())
      if (id != minority[0] && id != minority[1])
        majority.push_back(id);
    c.partition({minority, majority});
    std::vector<std::uint64_t> stranded;
    for (int i = 0; i < 10; ++i)
      if (auto value = c.propose(old_leader))
        stranded.push_back(*value);
    auto new_leader = c.await_leader();
    SIM_REQUIRE(c, new_leader != 0 && new_leader != old_leader,
                "majority elected nobody");
    SIM_REQUIRE(c, c.propose_and_commit(10) == 10, "majority cannot commit");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    for (auto value : stranded)
      SIM_REQUIRE(c, !c.acknowledged(value),
                  "an entry of the deposed leader survived");
    SIM_REQUIRE(c, c.applied_values(old_leader) == c.applied_values(new_leader),
                "old leader's log was not replaced");
    return c.failure();
  });
}

TEST(RaftSimulation, FastBacktrackingAfterDivergentBurstsOnMinorityLeaders) {
  for_each_seed(
    [](std::uint64_t seed) {
      cluster c(seed, default_options(5));
      SIM_REQUIRE(c, c.await_leader() != 0, "no leader");
      for (int round = 0; round < 3; ++round) {
        auto old_leader = c.leader();
        std::vector<node_id> minority{old_leader, old_leader % 5 + 1};
        std::vector<node_id> majority;
        for (auto id : c.ids())
          if (id != minority[0] && id != minority[1])
            majority.push_back(id);
        c.partition({minority, majority});
        for (int i = 0; i < 50; ++i)
          c.propose(old_leader);
        SIM_REQUIRE(c, c.await_leader() != 0, "majority elected nobody");
        SIM_REQUIRE(c, c.propose_and_commit(50, 3000) == 50,
                    "majority cannot commit");
        auto rejections = c.append_rejections();
        SIM_REQUIRE(c, c.settle(), "no convergence");
        // One-entry-at-a-time backtracking needs at least 50 rejections per
        // diverged member (100 in all); the conflict-term hint skips a whole
        // term per round trip, leaving mostly reordering-induced rejects.
        SIM_REQUIRE(c, c.append_rejections() - rejections < 50,
                    "backtracking took too many round trips");
      }
      return c.failure();
    },
    200);
}
