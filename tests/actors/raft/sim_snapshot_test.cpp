// Simulated snapshots: chunked install to lagging, partitioned and restarted
// members, and restart from snapshot plus log tail.

#include "tests/actors/raft/scenario.hpp"

using namespace skep::raft;
using namespace skep::raft::sim;

namespace {

cluster_options snapshot_options(std::size_t voters) {
  auto options = default_options(voters);
  options.snapshot_every = 10;
  options.compaction_tail = 4;
  options.raft.snapshot_chunk_bytes = 48; // several chunks per snapshot
  return options;
}

} // namespace

TEST(RaftSimulation, SnapshotInstalledOnLaggingFollower) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, snapshot_options(3));
    auto leader = c.await_leader();
    SIM_REQUIRE(c, leader != 0, "no leader");
    auto follower = leader % 3 + 1;
    c.crash(follower);
    SIM_REQUIRE(c, c.propose_and_commit(60) == 60, "cannot commit");
    SIM_REQUIRE(c, c.storage(c.leader()).first_index() > 20,
                "leader did not compact its log");
    c.restart(follower);
    SIM_REQUIRE(c, c.settle(), "no convergence");
    SIM_REQUIRE(c, c.sent(message_type::install_snapshot) > 1,
                "no chunked snapshot was sent");
    SIM_REQUIRE(c, c.applied_values(follower) == c.applied_values(c.leader()),
                "follower state differs after the snapshot");
    return c.failure();
  });
}

TEST(RaftSimulation, SnapshotInstalledOnPartitionedFollowerOverLossyLinks) {
  for_each_seed([](std::uint64_t seed) {
    auto options = snapshot_options(5);
    options.network = link_faults{0.05, 0.05, 0, 2, 0.05, 15};
    cluster c(seed, options);
    auto leader = c.await_leader();
    SIM_REQUIRE(c, leader != 0, "no leader");
    auto follower = leader % 5 + 1;
    c.isolate(follower);
    SIM_REQUIRE(c, c.propose_and_commit(50, 4000) == 50, "cannot commit");
    c.heal();
    SIM_REQUIRE(c, c.propose_and_commit(5, 4000) == 5, "cannot commit");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    SIM_REQUIRE(c, c.sent(message_type::install_snapshot) > 0,
                "no snapshot was sent");
    SIM_REQUIRE(c, c.applied_values(follower) == c.applied_values(c.leader()),
                "follower state differs");
    return c.failure();
  });
}

TEST(RaftSimulation, SnapshotInstalledOnFollowerRestartedMidTransfer) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, snapshot_options(3));
    auto leader = c.await_leader();
    SIM_REQUIRE(c, leader != 0, "no leader");
    auto follower = leader % 3 + 1;
    c.crash(follower);
    SIM_REQUIRE(c, c.propose_and_commit(40) == 40, "cannot commit");
    c.restart(follower);
    c.run(1 + static_cast<int>(c.random(3)));
    c.crash(follower); // drops the partly received snapshot
    c.run(static_cast<int>(c.random(10)));
    c.restart(follower);
    SIM_REQUIRE(c, c.settle(), "no convergence");
    SIM_REQUIRE(c, c.applied_values(follower) == c.applied_values(c.leader()),
                "follower state differs");
    return c.failure();
  });
}

TEST(RaftSimulation, RestartFromSnapshotPlusLogTail) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, snapshot_options(3));
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader");
    SIM_REQUIRE(c, c.propose_and_commit(45) == 45, "cannot commit");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    auto before = c.applied_values(1);
    // A member that compacted its own log keeps a tail before the snapshot
    // (one that installed the leader's snapshot starts right after it).
    auto& leader_log = c.storage(c.leader());
    SIM_REQUIRE(c, leader_log.first_index() > 1, "log not compacted");
    SIM_REQUIRE(
      c,
      leader_log.snapshot_metadata().index + 1 - leader_log.first_index() == 4,
      "compaction did not keep a tail of 4 entries");
    for (auto id : c.ids()) {
      SIM_REQUIRE(c, c.storage(id).snapshot_metadata().index > 0,
                  "no snapshot taken");
      c.crash(id);
    }
    for (auto id : c.ids())
      c.restart(id);
    for (auto id : c.ids())
      SIM_REQUIRE(c, c.applied_values(id).size() <= before.size(),
                  "restored more than was applied");
    SIM_REQUIRE(c, c.propose_and_commit(5) == 5, "cannot commit after restart");
    SIM_REQUIRE(c, c.settle(), "no convergence after restart");
    for (auto id : c.ids())
      SIM_REQUIRE(c, c.applied_values(id).size() == before.size() + 5,
                  "values lost across restart");
    return c.failure();
  });
}

TEST(RaftSimulation, SnapshotsUnderChurnLoseNoAckedValue) {
  for_each_seed([](std::uint64_t seed) {
    auto options = snapshot_options(5);
    options.network = link_faults{0.1, 0.05, 0, 3, 0.05, 20};
    cluster c(seed, options);
    for (int iteration = 0; iteration < 25; ++iteration) {
      for (int i = 0; i < 4; ++i)
        c.propose();
      c.run(static_cast<int>(c.random(20)));
      auto id = 1 + c.random(5);
      if (c.chance(0.3) && c.live_ids().size() > 3)
        c.crash(id);
      else if (c.chance(0.5))
        c.restart(id);
      else if (c.chance(0.3))
        c.isolate(id);
      else
        c.heal();
    }
    for (auto id : c.ids())
      c.restart(id);
    SIM_REQUIRE(c, c.settle(), "no convergence");
    return c.failure();
  });
}
