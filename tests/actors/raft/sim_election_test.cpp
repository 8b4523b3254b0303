// Simulated elections: every scenario runs over many seeds with the
// harness's invariant checks after every step.

#include "tests/actors/raft/scenario.hpp"

#include <algorithm>

using namespace skep::raft;
using namespace skep::raft::sim;

TEST(RaftSimulation, InitialElectionPicksOneLeaderThatStays) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(seed % 2 == 0 ? 3 : 5));
    auto leader = c.await_leader(200);
    SIM_REQUIRE(c, leader != 0, "no leader elected");
    c.run(5); // heartbeats reach the members outside the quorum
    auto term = c.node(leader).term();
    for (auto id : c.ids())
      SIM_REQUIRE(c, c.node(id).term() == term, "members disagree on term");
    c.run(150);
    SIM_REQUIRE(c, c.leader() == leader, "leader changed without faults");
    SIM_REQUIRE(c, c.node(leader).term() == term, "term changed");
    return c.failure();
  });
}

TEST(RaftSimulation, NewLeaderAfterLossAndOldLeaderReturnsWithoutDisruption) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(3));
    auto first = c.await_leader();
    SIM_REQUIRE(c, first != 0, "no first leader");
    c.isolate(first);
    auto second = c.await_leader();
    SIM_REQUIRE(c, second != 0 && second != first, "no new leader");
    // Check-quorum: the isolated leader notices it lost its majority.
    c.run(30);
    SIM_REQUIRE(c, c.node(first).role() != role::leader,
                "isolated leader did not step down");
    auto term = c.node(second).term();
    c.heal();
    c.run(100);
    SIM_REQUIRE(c, c.leader() == second, "returning node deposed the leader");
    SIM_REQUIRE(c, c.node(second).term() == term, "term was raised");
    SIM_REQUIRE(c, c.node(first).leader() == second,
                "old leader does not follow the new one");
    return c.failure();
  });
}

TEST(RaftSimulation, NoLeaderWithoutMajority) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(3));
    auto leader = c.await_leader();
    SIM_REQUIRE(c, leader != 0, "no leader");
    c.partition({{1}, {2}, {3}});
    c.run(40); // check-quorum needs one election timeout to notice
    for (int i = 0; i < 200; ++i) {
      c.tick();
      SIM_REQUIRE(c, c.leader() == 0, "a leader without a majority");
    }
    c.heal();
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader after healing");
    return c.failure();
  });
}

TEST(RaftSimulation, RepeatedElectionsWhileThreeOfSevenComeAndGo) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(7));
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader");
    for (int round = 0; round < 6; ++round) {
      auto ids = c.ids();
      for (std::size_t i = ids.size(); i > 1; --i)
        std::swap(ids[i - 1], ids[c.random(i)]);
      std::vector<node_id> away(ids.begin(), ids.begin() + 3);
      std::vector<node_id> majority(ids.begin() + 3, ids.end());
      c.partition({majority, away});
      auto leader = c.await_leader(300);
      SIM_REQUIRE(c, leader != 0, "majority of four elected nobody");
      SIM_REQUIRE(c,
                  std::find(majority.begin(), majority.end(), leader)
                    != majority.end(),
                  "leader outside the majority");
      SIM_REQUIRE(c, c.propose_and_commit(2, 300) == 2,
                  "majority cannot commit");
      c.heal();
      c.run(static_cast<int>(c.random(30)));
    }
    SIM_REQUIRE(c, c.settle(), "no convergence");
    return c.failure();
  });
}

TEST(RaftSimulation, RejoiningPartitionedNodeDoesNotDeposeHealthyLeader) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(5));
    auto leader = c.await_leader();
    SIM_REQUIRE(c, leader != 0, "no leader");
    c.run(5);
    auto term = c.node(leader).term();
    auto loner = leader % 5 + 1;
    c.isolate(loner);
    SIM_REQUIRE(c, c.propose_and_commit(5) == 5, "cannot commit");
    c.run(200); // many election timeouts: pre-votes only, no term raise
    SIM_REQUIRE(c, c.node(loner).term() == term,
                "isolated node raised its term despite pre-vote");
    c.heal();
    c.run(100);
    SIM_REQUIRE(c, c.leader() == leader, "leader was deposed");
    SIM_REQUIRE(c, c.node(leader).term() == term, "term changed");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    return c.failure();
  });
}

TEST(RaftSimulation, BrokenChainMemberRefusesToVote) {
  for_each_seed(
    [](std::uint64_t seed) {
      cluster c(seed, default_options(3));
      auto leader = c.await_leader();
      SIM_REQUIRE(c, leader != 0, "no leader");
      SIM_REQUIRE(c, c.propose_and_commit(10) == 10, "cannot commit");
      SIM_REQUIRE(c, c.settle(), "no convergence");
      auto damaged = leader % 3 + 1;
      c.crash(damaged);
      auto index = 2 + c.random(8);
      SIM_REQUIRE(c, c.storage(damaged).corrupt_payload(index, {1, 2, 3}),
                  "entry to corrupt is missing");
      c.restart(damaged);
      SIM_REQUIRE(c, c.node(damaged).chain_fault().has_value(),
                  "tampered entry not detected at start");
      // With the leader gone only the damaged member could give a vote.
      c.crash(leader);
      for (int i = 0; i < 200; ++i) {
        c.tick();
        SIM_REQUIRE(c, c.leader() == 0, "elected with a broken chain's vote");
        SIM_REQUIRE(c, c.node(damaged).role() == role::follower,
                    "broken member campaigned");
      }
      c.restart(leader);
      auto next = c.await_leader();
      SIM_REQUIRE(c, next != 0 && next != damaged,
                  "healthy member not elected");
      SIM_REQUIRE(c, c.propose_and_commit(3) == 3, "cannot commit");
      SIM_REQUIRE(c, c.applied_values(damaged).size() < index,
                  "damaged member applied its corrupt entry");
      return c.failure();
    },
    100);
}

TEST(RaftSimulation, ElectionStormWithCrashesKeepsOneLeaderPerTerm) {
  for_each_seed([](std::uint64_t seed) {
    auto options = default_options(5);
    options.raft.election_ticks = 4; // many overlapping elections
    options.raft.pre_vote = seed % 2 == 0;
    options.network = link_faults{0.05, 0.05, 0, 3, 0.1, 10};
    cluster c(seed, options);
    for (int i = 0; i < 150; ++i) {
      c.propose();
      c.run(1 + static_cast<int>(c.random(3)));
      auto id = 1 + c.random(5);
      if (c.chance(0.3)) {
        if (c.is_up(id))
          c.crash(id);
        else
          c.restart(id);
      }
    }
    for (auto id : c.ids())
      c.restart(id);
    SIM_REQUIRE(c, c.settle(), "no convergence");
    return c.failure();
  });
}
