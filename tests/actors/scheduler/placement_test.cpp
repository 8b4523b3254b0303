// Placement: filters (ready and active, constraints, reservations, max
// replicas per node), spread, preset nodes, unplaced reasons, keeping the
// view up to date, determinism.

#include "actors/scheduler/placement.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace skep::scheduler {
namespace {

constexpr int64_t cpu = 1'000'000'000; // one core in nano CPUs
constexpr int64_t gib = int64_t{1} << 30;

store::node_object
make_node(std::string id, store::node_status status = store::node_status::ready,
          store::availability avail = store::availability::active) {
  store::node_object n;
  n.hostname = "host-" + id;
  n.id = std::move(id);
  n.status = status;
  n.avail = avail;
  return n;
}

class Placement : public ::testing::Test {
 protected:
  // Adds a pending task of `service_id` (created with that service's current
  // reservations) and returns it; the tasks live as long as the fixture.
  const store::task_object& pending(const std::string& service_id,
                                    std::string node_id = {}) {
    store::task_object t;
    t.id = fmt::format("task-{}", tasks_.size() + 1);
    t.service_id = service_id;
    t.node_id = std::move(node_id);
    if (auto i = specs_.find(service_id); i != specs_.end())
      t.reservations = i->second.reservations;
    t.status.state = store::task_state::pending;
    tasks_.push_back(std::move(t));
    batch_.push_back(&tasks_.back());
    return tasks_.back();
  }

  void pending_n(const std::string& service_id, int n) {
    for (int i = 0; i < n; ++i)
      pending(service_id);
  }

  // A task of `service_id` already running on `node_id`.
  void running(const std::string& service_id, const std::string& node_id,
               store::resources reservations = {}) {
    store::task_object t;
    t.id = fmt::format("running-{}", ++running_count_);
    t.service_id = service_id;
    t.node_id = node_id;
    t.reservations = reservations;
    t.status.state = store::task_state::running;
    sut_.set_task(t);
  }

  plan place() {
    auto out = sut_.place(batch_, lookup());
    batch_.clear();
    return out;
  }

  spec_lookup lookup() {
    return [this](const std::string& id) -> const store::service_spec* {
      auto i = specs_.find(id);
      return i == specs_.end() ? nullptr : &i->second;
    };
  }

  // Tasks placed per node id.
  static std::map<std::string, int> per_node(const plan& p) {
    std::map<std::string, int> out;
    for (const auto& x : p.placed)
      ++out[x.node_id];
    return out;
  }

  placer sut_;
  std::map<std::string, store::service_spec> specs_{{"web", {}}, {"db", {}}};
  std::deque<store::task_object> tasks_;
  std::vector<const store::task_object*> batch_;
  int running_count_ = 0;
};

using counts = std::map<std::string, int>;

TEST_F(Placement, SpreadsSixTasksOverThreeNodesTwoEach) {
  for (auto id : {"a", "b", "c"})
    sut_.set_node(make_node(id));
  pending_n("web", 6);
  auto p = place();
  EXPECT_TRUE(p.unplaced.empty());
  EXPECT_EQ(per_node(p), (counts{{"a", 2}, {"b", 2}, {"c", 2}}));
}

TEST_F(Placement, PrefersFewestTasksOfSameServiceOverFewestOverall) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  running("web", "a");
  for (int i = 0; i < 3; ++i)
    running("db", "b");
  pending("web");
  auto p = place();
  ASSERT_EQ(p.placed.size(), 1u);
  EXPECT_EQ(p.placed[0].node_id, "b");
}

TEST_F(Placement, BreaksServiceTieByFewestTasksOverall) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  running("db", "a");
  pending("web");
  auto p = place();
  ASSERT_EQ(p.placed.size(), 1u);
  EXPECT_EQ(p.placed[0].node_id, "b");
}

TEST_F(Placement, BreaksFullTieBySmallestNodeId) {
  sut_.set_node(make_node("c"));
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  pending("web");
  auto p = place();
  ASSERT_EQ(p.placed.size(), 1u);
  EXPECT_EQ(p.placed[0].node_id, "a");
}

TEST_F(Placement, LaterServicesSeeEarlierPlacementsOfTheSameCall) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  pending("web");
  pending("db");
  auto p = place();
  EXPECT_EQ(per_node(p), (counts{{"a", 1}, {"b", 1}}));
}

TEST_F(Placement, SkipsDownNode) {
  sut_.set_node(make_node("a", store::node_status::down));
  sut_.set_node(make_node("b"));
  pending_n("web", 2);
  EXPECT_EQ(per_node(place()), (counts{{"b", 2}}));
}

TEST_F(Placement, SkipsDrainedNode) {
  sut_.set_node(
    make_node("a", store::node_status::ready, store::availability::drain));
  sut_.set_node(make_node("b"));
  pending_n("web", 2);
  EXPECT_EQ(per_node(place()), (counts{{"b", 2}}));
}

TEST_F(Placement, SkipsPausedNode) {
  sut_.set_node(
    make_node("a", store::node_status::ready, store::availability::pause));
  sut_.set_node(make_node("b"));
  pending_n("web", 2);
  EXPECT_EQ(per_node(place()), (counts{{"b", 2}}));
}

TEST_F(Placement, SkipsRemovedNode) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  sut_.remove_node("a");
  pending_n("web", 2);
  EXPECT_EQ(per_node(place()), (counts{{"b", 2}}));
  EXPECT_EQ(sut_.node_count(), 1u);
}

TEST_F(Placement, UpdatedNodeTakesEffect) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("a", store::node_status::down));
  sut_.set_node(make_node("b"));
  pending("web");
  EXPECT_EQ(per_node(place()), (counts{{"b", 1}}));
}

TEST_F(Placement, PlacesOnlyOnNodesMatchingConstraints) {
  auto a = make_node("a");
  a.labels["zone"] = "east";
  sut_.set_node(a);
  sut_.set_node(make_node("b"));
  auto c = make_node("c");
  c.labels["zone"] = "east";
  c.role = ca::node_role::manager;
  sut_.set_node(c);
  specs_["web"].constraints = {"node.labels.zone==east", "node.role!=manager"};
  pending_n("web", 3);
  EXPECT_EQ(per_node(place()), (counts{{"a", 3}}));
}

TEST_F(Placement, ReservationsExhaustNodeCapacity) {
  sut_.set_node(make_node("a"), {2 * cpu, 0});
  sut_.set_node(make_node("b"), {2 * cpu, 0});
  specs_["web"].reservations = {cpu, 0};
  pending_n("web", 5);
  auto p = place();
  EXPECT_EQ(per_node(p), (counts{{"a", 2}, {"b", 2}}));
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].task_id, "task-5");
  EXPECT_EQ(p.unplaced[0].reason,
            "no suitable node (insufficient resources on 2 nodes)");
  EXPECT_EQ(sut_.reserved_on("a").nano_cpus, 2 * cpu);
}

TEST_F(Placement, ReservationsOfAssignedTasksCount) {
  sut_.set_node(make_node("a"), {0, 4 * gib});
  sut_.set_node(make_node("b"), {0, 4 * gib});
  running("db", "a", {0, 3 * gib});
  specs_["web"].reservations = {0, 2 * gib};
  pending_n("web", 3);
  auto p = place();
  EXPECT_EQ(per_node(p), (counts{{"b", 2}}));
  EXPECT_EQ(p.unplaced.size(), 1u);
}

TEST_F(Placement, ZeroCapacityMeansUnlimited) {
  sut_.set_node(make_node("a"), {cpu, 0});
  specs_["web"].reservations = {cpu, 64 * gib};
  pending("web");
  EXPECT_EQ(per_node(place()), (counts{{"a", 1}}));
}

TEST_F(Placement, TaskWithoutReservationsFitsFullNode) {
  sut_.set_node(make_node("a"), {cpu, gib});
  running("db", "a", {cpu, gib});
  pending("web");
  EXPECT_EQ(per_node(place()), (counts{{"a", 1}}));
}

TEST_F(Placement, EachTaskIsCheckedAgainstItsOwnReservations) {
  // Tasks of one service created from different spec versions.
  sut_.set_node(make_node("a"), {2 * cpu, 0});
  sut_.set_node(make_node("b"), {cpu, 0});
  specs_["web"].reservations = {2 * cpu, 0};
  pending("web");
  specs_["web"].reservations = {cpu, 0};
  pending("web");
  auto p = place();
  EXPECT_TRUE(p.unplaced.empty());
  EXPECT_EQ(per_node(p), (counts{{"a", 1}, {"b", 1}}));
}

TEST_F(Placement, MaxReplicasPerNodeLimitsTasksOfTheService) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  running("web", "a");
  specs_["web"].max_replicas_per_node = 2;
  pending_n("web", 4);
  auto p = place();
  EXPECT_EQ(per_node(p), (counts{{"a", 1}, {"b", 2}}));
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].reason,
            "no suitable node (max replicas per node limit exceeded on 2 "
            "nodes)");
}

TEST_F(Placement, PresetNodeIdGoesOnlyToThatNode) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  running("web", "a");
  running("web", "a");
  pending("web", "a");
  auto p = place();
  ASSERT_EQ(p.placed.size(), 1u);
  EXPECT_EQ(p.placed[0].node_id, "a");
  EXPECT_EQ(sut_.service_tasks_on("a", "web"), 3u);
}

TEST_F(Placement, PresetTasksCountTowardsSpreadOfTheirService) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  pending("web");
  pending("web", "a");
  auto p = place();
  EXPECT_EQ(per_node(p), (counts{{"a", 1}, {"b", 1}}));
}

TEST_F(Placement, PresetNodeIdIsStillFiltered) {
  sut_.set_node(
    make_node("a", store::node_status::ready, store::availability::drain));
  sut_.set_node(make_node("b"));
  pending("web", "a");
  auto p = place();
  EXPECT_TRUE(p.placed.empty());
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].reason,
            "no suitable node (1 node not available for new tasks)");
}

TEST_F(Placement, PresetNodeNotInSwarmIsUnplaced) {
  sut_.set_node(make_node("a"));
  pending("web", "gone");
  auto p = place();
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].reason,
            "no suitable node (node gone is not in the swarm)");
}

TEST_F(Placement, UnplacedReasonCountsEachNodeUnderFirstFailedFilter) {
  // 2 unavailable (one also unlabelled), 1 not matching, 3 full, 1 at max.
  auto labelled
    = [](std::string id, store::node_status s = store::node_status::ready,
         store::availability a = store::availability::active) {
        auto n = make_node(std::move(id), s, a);
        n.labels["gpu"] = "yes";
        return n;
      };
  sut_.set_node(make_node("down", store::node_status::down));
  sut_.set_node(
    labelled("drain", store::node_status::ready, store::availability::drain));
  sut_.set_node(make_node("plain"));
  for (auto id : {"full-1", "full-2", "full-3"}) {
    sut_.set_node(labelled(id), {cpu, 0});
    running("db", id, {cpu, 0});
  }
  sut_.set_node(labelled("busy"), {4 * cpu, 0});
  running("web", "busy");
  specs_["web"].constraints = {"node.labels.gpu==yes"};
  specs_["web"].reservations = {cpu, 0};
  specs_["web"].max_replicas_per_node = 1;
  pending("web");
  auto p = place();
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].reason,
            "no suitable node (2 nodes not available for new tasks; "
            "scheduling constraints not satisfied on 1 node; insufficient "
            "resources on 3 nodes; max replicas per node limit exceeded on 1 "
            "node)");
}

TEST_F(Placement, UnplacedReasonWithoutNodes) {
  pending("web");
  auto p = place();
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].reason, "no suitable node (no nodes available)");
}

TEST_F(Placement, UnknownServiceLeavesTasksUnplaced) {
  sut_.set_node(make_node("a"));
  pending("ghost");
  auto p = place();
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].reason, "service ghost not found");
}

TEST_F(Placement, InvalidConstraintLeavesTasksUnplaced) {
  sut_.set_node(make_node("a"));
  specs_["web"].constraints = {"foo==1"};
  pending_n("web", 2);
  auto p = place();
  ASSERT_EQ(p.unplaced.size(), 2u);
  EXPECT_EQ(p.unplaced[1].reason.rfind("constraint \"foo==1\": unknown key", 0),
            0u);
}

TEST_F(Placement, PlacementsHoldTheirPlaceForLaterCalls) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  pending("web");
  EXPECT_EQ(per_node(place()), (counts{{"a", 1}}));
  pending("web");
  EXPECT_EQ(per_node(place()), (counts{{"b", 1}}));
  EXPECT_EQ(sut_.task_count(), 2u);
}

TEST_F(Placement, SetTaskTwiceCountsOnce) {
  sut_.set_node(make_node("a"));
  store::task_object t;
  t.id = "t1";
  t.service_id = "web";
  t.node_id = "a";
  t.reservations = {cpu, gib};
  t.status.state = store::task_state::running;
  sut_.set_task(t);
  sut_.set_task(t);
  EXPECT_EQ(sut_.tasks_on("a"), 1u);
  EXPECT_EQ(sut_.reserved_on("a").nano_cpus, cpu);
}

TEST_F(Placement, TerminalTaskReleasesItsPlace) {
  sut_.set_node(make_node("a"));
  store::task_object t;
  t.id = "t1";
  t.service_id = "web";
  t.node_id = "a";
  t.reservations = {cpu, gib};
  t.status.state = store::task_state::running;
  sut_.set_task(t);
  t.status.state = store::task_state::failed;
  sut_.set_task(t);
  EXPECT_EQ(sut_.tasks_on("a"), 0u);
  EXPECT_EQ(sut_.service_tasks_on("a", "web"), 0u);
  EXPECT_EQ(sut_.reserved_on("a"), store::resources{});
}

TEST_F(Placement, RemoveTaskReleasesItsPlace) {
  sut_.set_node(make_node("a"));
  running("web", "a");
  sut_.remove_task("running-1");
  EXPECT_EQ(sut_.tasks_on("a"), 0u);
  EXPECT_EQ(sut_.task_count(), 0u);
}

TEST_F(Placement, TaskCountedBeforeItsNodeIsKnown) {
  running("web", "late");
  sut_.set_node(make_node("late"));
  sut_.set_node(make_node("z"));
  pending("web");
  EXPECT_EQ(per_node(place()), (counts{{"z", 1}}));
}

TEST_F(Placement, PlacingATrackedTaskMovesIt) {
  sut_.set_node(make_node("a"));
  sut_.set_node(make_node("b"));
  const auto& t = pending("web");
  place();
  ASSERT_EQ(sut_.tasks_on("a"), 1u);
  sut_.remove_node("a");
  batch_.push_back(&t);
  auto p = place();
  EXPECT_EQ(per_node(p), (counts{{"b", 1}}));
  EXPECT_EQ(sut_.tasks_on("a"), 0u);
  EXPECT_EQ(sut_.task_count(), 1u);
}

TEST_F(Placement, UnplacedTrackedTaskKeepsItsPlace) {
  sut_.set_node(make_node("a"));
  const auto& t = pending("web", "a");
  sut_.set_task(t);
  sut_.set_node(make_node("a", store::node_status::down));
  batch_ = {&t};
  auto p = place();
  EXPECT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(sut_.service_tasks_on("a", "web"), 1u);
}

TEST_F(Placement, PlanDoesNotDependOnNodeOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(fmt::format("node-{:02}", i));
  specs_["web"].max_replicas_per_node = 3;
  pending_n("web", 50);
  pending_n("db", 7);
  auto batch = batch_;
  auto plan_with = [&](const std::vector<std::string>& order) {
    placer p;
    for (const auto& id : order)
      p.set_node(make_node(id));
    return p.place(batch, lookup());
  };
  auto forward = plan_with(ids);
  std::reverse(ids.begin(), ids.end());
  auto backward = plan_with(ids);
  ASSERT_EQ(forward.placed.size(), backward.placed.size());
  for (size_t i = 0; i < forward.placed.size(); ++i) {
    EXPECT_EQ(forward.placed[i].task_id, backward.placed[i].task_id);
    EXPECT_EQ(forward.placed[i].node_id, backward.placed[i].node_id);
  }
  EXPECT_EQ(forward.placed.size(), 57u);
}

TEST_F(Placement, CountsMatchTheTasksHeldAfterRandomChanges) {
  std::mt19937 rng{42};
  auto pick = [&rng](size_t n) {
    return std::uniform_int_distribution<size_t>{0, n - 1}(rng);
  };
  std::vector<std::string> node_ids;
  for (int i = 0; i < 8; ++i) {
    node_ids.push_back(fmt::format("n{}", i));
    sut_.set_node(make_node(node_ids.back()), {4 * cpu, 0});
  }
  std::vector<std::string> services{"web", "db", "api"};
  specs_["web"].max_replicas_per_node = 2;
  specs_["api"] = {};
  specs_["api"].reservations = {cpu, 0};
  std::map<std::string, store::task_object> held; // the model
  for (int round = 0; round < 300; ++round) {
    switch (pick(4)) {
    case 0: { // place a few new tasks, some bound to a node
      for (size_t k = pick(6); k > 0; --k)
        pending(services[pick(3)],
                pick(4) == 0 ? node_ids[pick(8)] : std::string{});
      auto by_id = [this](const std::string& id) {
        return *std::find_if(tasks_.begin(), tasks_.end(),
                             [&id](const auto& t) { return t.id == id; });
      };
      for (const auto& x : place().placed) {
        auto t = by_id(x.task_id);
        t.node_id = x.node_id;
        held[t.id] = t;
        if (t.service_id == "web") {
          EXPECT_LE(sut_.service_tasks_on(x.node_id, "web"), 2u);
        }
      }
      break;
    }
    case 1: // a task fails
      if (!held.empty()) {
        auto i = std::next(held.begin(), pick(held.size()));
        i->second.status.state = store::task_state::failed;
        sut_.set_task(i->second);
        held.erase(i);
      }
      break;
    case 2: // a task is deleted
      if (!held.empty()) {
        auto i = std::next(held.begin(), pick(held.size()));
        sut_.remove_task(i->first);
        held.erase(i);
      }
      break;
    case 3: // a node goes down or comes back
      sut_.set_node(make_node(node_ids[pick(8)], pick(2) == 0
                                                   ? store::node_status::down
                                                   : store::node_status::ready),
                    {4 * cpu, 0});
      break;
    }
    ASSERT_EQ(sut_.task_count(), held.size());
    for (const auto& id : node_ids) {
      uint32_t total = 0;
      std::map<std::string, uint32_t> per_service;
      int64_t cpus = 0;
      for (const auto& [_, t] : held)
        if (t.node_id == id) {
          ++total;
          ++per_service[t.service_id];
          cpus += t.reservations.nano_cpus;
        }
      ASSERT_EQ(sut_.tasks_on(id), total) << "round " << round;
      ASSERT_LE(cpus, 4 * cpu);
      ASSERT_EQ(sut_.reserved_on(id).nano_cpus, cpus);
      for (const auto& svc : services)
        ASSERT_EQ(sut_.service_tasks_on(id, svc), per_service[svc]);
    }
  }
}

} // namespace
} // namespace skep::scheduler
