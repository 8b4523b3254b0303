// Simulated membership changes, leadership transfer, linearizable reads and
// disaster recovery under faults.

#include "tests/actors/raft/scenario.hpp"

using namespace skep::raft;
using namespace skep::raft::sim;

namespace {

// Retries `change` on the current leader until it is accepted and the
// resulting configuration entry is committed. A refusal saying the change is
// already in the log (done by an earlier attempt) counts as accepted.
bool change_membership(
  cluster& c, const std::function<skep::result<index_t>(core&)>& change,
  int max_ticks = 3000) {
  index_t index = 0;
  node_id at = 0;
  term_t term = 0;
  return c.run_until(
    [&] {
      if (index != 0 && c.is_up(at) && c.node(at).term() == term
          && c.node(at).commit_index() >= index)
        return true;
      auto leader = c.leader();
      if (leader == 0)
        return false;
      if (index != 0 && c.is_up(at) && c.node(at).term() == term)
        return false; // still waiting for the commit
      auto& lead = c.node(leader);
      auto outcome = change(lead);
      if (outcome) {
        index = *outcome;
      } else if (code_of(outcome.error()) == error_code::already_member
                 || code_of(outcome.error()) == error_code::unknown_node
                 || code_of(outcome.error()) == error_code::not_a_learner) {
        index = lead.last_index();
      } else {
        return false;
      }
      at = leader;
      term = lead.term();
      return false;
    },
    max_ticks);
}

bool caught_up(cluster& c, node_id id) {
  auto leader = c.leader();
  return leader != 0 && c.is_up(id)
         && c.node(id).commit_index() == c.node(leader).commit_index();
}

} // namespace

TEST(RaftSimulation, LearnersCatchUpGetPromotedAndMembersLeaveUnderFaults) {
  for_each_seed([](std::uint64_t seed) {
    auto options = default_options(3);
    options.network = link_faults{0.05, 0.02, 0, 2, 0, 0};
    options.snapshot_every = 10;
    cluster c(seed, options);
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader");
    SIM_REQUIRE(c, c.propose_and_commit(25) == 25, "cannot commit");
    for (node_id learner : {4, 5}) {
      c.add_empty_node(learner);
      SIM_REQUIRE(
        c,
        change_membership(c, [&](core& l) { return l.add_learner(learner); }),
        "learner not added");
      SIM_REQUIRE(c, !c.node(c.leader()).configuration().is_voter(learner),
                  "learner counted as voter");
      SIM_REQUIRE(c, c.run_until([&] { return caught_up(c, learner); }, 2000),
                  "learner did not catch up");
      SIM_REQUIRE(c,
                  change_membership(
                    c, [&](core& l) { return l.promote_learner(learner); }),
                  "learner not promoted");
      c.propose();
    }
    auto leaving = 1 + c.random(3);
    SIM_REQUIRE(
      c,
      change_membership(c, [&](core& l) { return l.remove_member(leaving); }),
      "member not removed");
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader after removal");
    SIM_REQUIRE(c, c.propose_and_commit(5) == 5, "cannot commit at the end");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    auto& config = c.node(c.leader()).configuration();
    SIM_REQUIRE(c, config.voters.size() == 4 && !config.is_member(leaving),
                "unexpected final configuration");
    for (auto id : config.voters)
      SIM_REQUIRE(c, c.node(id).configuration() == config,
                  "members disagree on the configuration");
    return c.failure();
  });
}

TEST(RaftSimulation, LaggingLearnerIsNotPromotedUntilCaughtUp) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(3));
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader");
    c.add_empty_node(4);
    SIM_REQUIRE(c,
                change_membership(c, [](core& l) { return l.add_learner(4); }),
                "learner not added");
    c.isolate(4);
    SIM_REQUIRE(c, c.propose_and_commit(20) == 20, "cannot commit");
    auto refused = c.node(c.leader()).promote_learner(4);
    SIM_REQUIRE(
      c, !refused && code_of(refused.error()) == error_code::learner_behind,
      "lagging learner was promoted");
    c.heal();
    SIM_REQUIRE(c, c.run_until([&] { return caught_up(c, 4); }, 2000),
                "learner did not catch up");
    SIM_REQUIRE(
      c, change_membership(c, [](core& l) { return l.promote_learner(4); }),
      "caught-up learner not promoted");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    return c.failure();
  });
}

TEST(RaftSimulation, LeadershipTransferUnderFaults) {
  for_each_seed([](std::uint64_t seed) {
    auto options = default_options(5);
    options.network = link_faults{0.05, 0.02, 0, 2, 0, 0};
    cluster c(seed, options);
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader");
    for (int round = 0; round < 3; ++round) {
      auto from = c.leader();
      auto target = (from + c.random(4)) % 5 + 1;
      SIM_REQUIRE(c, c.propose_and_commit(5) == 5, "cannot commit");
      bool moved = c.run_until(
        [&] {
          auto leader = c.leader();
          if (leader == target)
            return true;
          if (leader != 0 && c.node(leader).transfer_target() == 0) {
            c.node(leader).transfer_leadership(target);
            if (c.node(leader).transfer_target() == target) {
              auto refused = c.node(leader).propose({0});
              if (refused
                  || code_of(refused.error())
                       != error_code::transfer_in_progress)
                c.fail("proposal accepted during leadership transfer");
            }
          }
          return false;
        },
        2000);
      SIM_REQUIRE(c, moved, "leadership never reached the target");
    }
    SIM_REQUIRE(c, c.settle(), "no convergence");
    return c.failure();
  });
}

TEST(RaftSimulation, ReadIndexIsLinearizableUnderFaults) {
  for_each_seed([](std::uint64_t seed) {
    auto options = default_options(5);
    options.network = link_faults{0.05, 0.02, 0, 2, 0.02, 10};
    cluster c(seed, options);
    for (int iteration = 0; iteration < 30; ++iteration) {
      c.propose();
      c.read();
      c.run(static_cast<int>(c.random(8)));
      auto leader = c.leader();
      if (leader != 0 && c.chance(0.1)) {
        c.crash(leader);
        c.run(static_cast<int>(c.random(20)));
        c.restart(leader);
      } else if (leader != 0 && c.chance(0.15)) {
        // A deposed leader that has not noticed yet must not serve reads.
        c.isolate(leader);
        c.run(static_cast<int>(c.random(6)));
        c.propose();
        c.run(static_cast<int>(c.random(20)));
        c.read(leader);
        c.run(static_cast<int>(c.random(5)));
        c.heal();
      }
    }
    SIM_REQUIRE(c, c.settle(), "no convergence");
    c.read();
    c.run(5);
    SIM_REQUIRE(c, c.reads_served() > 0, "no read was served");
    return c.failure();
  });
}

TEST(RaftSimulation, ForcedNewClusterRecoversFromTheLog) {
  for_each_seed([](std::uint64_t seed) {
    cluster c(seed, default_options(3));
    SIM_REQUIRE(c, c.await_leader() != 0, "no leader");
    SIM_REQUIRE(c, c.propose_and_commit(10) == 10, "cannot commit");
    SIM_REQUIRE(c, c.settle(), "no convergence");
    auto survivor = 1 + c.random(3);
    auto before = c.applied_values(survivor);
    for (auto id : c.ids())
      c.crash(id);
    c.restart(survivor, true);
    SIM_REQUIRE(c, c.await_leader() == survivor, "survivor did not lead");
    auto& config = c.node(survivor).configuration();
    SIM_REQUIRE(c, config.voters == std::vector<node_id>{survivor},
                "configuration not rewritten to the survivor");
    SIM_REQUIRE(c, c.propose_and_commit(3) == 3, "survivor cannot commit");
    SIM_REQUIRE(c, c.applied_values(survivor).size() == before.size() + 3,
                "log not kept");
    return c.failure();
  });
}
