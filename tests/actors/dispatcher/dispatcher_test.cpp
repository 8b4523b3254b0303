// The leader's dispatcher under the test coordinator: heartbeats and Down
// detection, each node's assignment stream, and task status reports
// batched into writes, through a fake manager and a fake transport.

#include "actors/dispatcher/dispatcher.hpp"
#include "actors/store/object_id.hpp"
#include "messages/dispatcher.capnp.h"
#include "tests/support/leader_fixture.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/send.hpp>

namespace skep {
namespace {

using namespace std::chrono_literals;
using namespace test;
using store::task_object;
using store::task_state;

/// What the fake transport was asked to send.
struct sent_log {
  std::vector<envelope> envelopes;
};

caf::behavior fake_transport(caf::event_based_actor*,
                             std::shared_ptr<sent_log> log) {
  return {
    [log](atom::send, const envelope& env) { log->envelopes.push_back(env); },
  };
}

/// node-a runs t-a1 and t-a2, node-b runs t-b1; the dispatcher leads.
class DispatcherTest : public test::leader_fixture {
 protected:
  explicit DispatcherTest(std::string leader_node = "mgr")
    : sent(std::make_shared<sent_log>()) {
    put_service(make_service("web", 3));
    std::vector<store::action> tasks;
    for (auto part : {placed_task("t-a1", "web", 1, "node-a"),
                      placed_task("t-a2", "web", 2, "node-a"),
                      placed_task("t-b1", "web", 3, "node-b")})
      tasks.insert(tasks.end(), part.begin(), part.end());
    auto v = write(tasks);
    EXPECT_TRUE(v.ok) << v.error;
    transport = sys.spawn(fake_transport, sent);
    started.push_back(transport);
    dispatcher
      = subscribe(caf::actor_cast<caf::actor>(dispatcher::spawn_dispatcher(
        sys, link(), caf::actor_cast<transport::transport_actor>(transport),
        leader_node)));
    m->writes.clear();
  }

  /// A heartbeat from `node` as the transport hands it over; the reply.
  std::optional<envelope> beat(const std::string& node, uint64_t epoch = 0,
                               uint64_t sequence = 0, bool leaving = false) {
    auto env = make_envelope(schema::Envelope::Kind::REQUEST, 9,
                             actor_ref{node, "agent"},
                             actor_ref{"mgr", "dispatcher"}, [&](auto body) {
                               auto hb = body.initHeartbeat();
                               hb.setNodeId(node);
                               hb.setAssignmentsEpoch(epoch);
                               hb.setAssignmentsSequence(sequence);
                               hb.setLeaving(leaving);
                             });
    transport::inbound in{env, transport::peer_info{}};
    in.from.node_id = node;
    std::optional<envelope> out;
    auto handle = self->request(dispatcher, caf::infinite, in);
    run();
    handle.receive([&](envelope& reply) { out = std::move(reply); },
                   [&](caf::error& err) {
                     ADD_FAILURE() << "heartbeat failed: " << sys.render(err);
                   });
    return out;
  }

  store::node_status status_of_node(const std::string& id) {
    return m->db->read(
      [&](const store::store& db) { return db.node(id)->status; });
  }

  void set_period(std::chrono::nanoseconds period) {
    auto cluster
      = m->db->read([](const store::store& db) { return *db.cluster(); });
    auto version = cluster.version;
    cluster.spec.dispatcher_heartbeat = period;
    ASSERT_TRUE(write({store::update_cluster{cluster, version}}).ok);
  }

  /// A TaskStatusReport naming `claimed` as its sender, as the transport
  /// hands it over from the session of node `from`.
  static transport::inbound status_report(
    const std::string& from, const std::string& claimed,
    const std::vector<std::pair<std::string, store::task_status>>& updates) {
    auto env = make_envelope(
      schema::Envelope::Kind::REQUEST, 7, actor_ref{from, "agent"},
      actor_ref{"mgr", "dispatcher"}, [&](auto body) {
        auto r = body.initTaskStatus();
        r.setNodeId(claimed);
        auto list = r.initUpdates(static_cast<unsigned>(updates.size()));
        for (unsigned i = 0; i < updates.size(); ++i) {
          list[i].setTaskId(updates[i].first);
          store::to_schema(updates[i].second, list[i].initStatus());
        }
      });
    transport::inbound in{env, transport::peer_info{}};
    in.from.node_id = from;
    return in;
  }

  /// Hands the dispatcher a status_report() and returns its reply, once the
  /// batching window passed and the write (if any) was answered.
  std::optional<envelope> report(
    const std::string& from, const std::string& claimed,
    const std::vector<std::pair<std::string, store::task_status>>& updates) {
    std::optional<envelope> out;
    auto handle = self->request(dispatcher, caf::infinite,
                                status_report(from, claimed, updates));
    run();
    advance(20ms);
    if (self->mailbox().empty()) {
      ADD_FAILURE() << "the dispatcher did not answer";
      return out;
    }
    handle.receive([&](envelope& reply) { out = std::move(reply); },
                   [&](caf::error& err) {
                     ADD_FAILURE() << "report failed: " << sys.render(err);
                   });
    return out;
  }

  /// The Assignments of the envelope sent `i`-th.
  schema::dispatcher::Assignments::Reader assignments(size_t i) const {
    return sent->envelopes.at(i).root().getBody().getAssignments();
  }

  static std::set<std::string>
  task_ids(schema::dispatcher::Assignments::Reader a) {
    std::set<std::string> out;
    for (auto t : a.getTasks())
      out.insert(t.getId().cStr());
    return out;
  }

  std::shared_ptr<sent_log> sent;
  caf::actor transport;
  caf::actor dispatcher;
};

TEST_F(DispatcherTest, FirstHeartbeatGetsTheFullSetOfTheNodesTasks) {
  EXPECT_TRUE(sent->envelopes.empty()); // nobody asked yet
  beat("node-a", 0, 0);
  ASSERT_EQ(sent->envelopes.size(), 1u);
  auto env = sent->envelopes[0].root();
  EXPECT_EQ(std::string{env.getTarget().getNodeId().cStr()}, "node-a");
  EXPECT_EQ(std::string{env.getTarget().getName().cStr()}, "agent");
  ASSERT_EQ(env.getBody().which(), schema::Envelope::Body::ASSIGNMENTS);
  auto a = assignments(0);
  EXPECT_EQ(std::string{a.getNodeId().cStr()}, "node-a");
  EXPECT_NE(a.getEpoch(), 0u);
  EXPECT_EQ(a.getSequence(), 1u);
  EXPECT_TRUE(a.getFull());
  EXPECT_EQ(task_ids(a), (std::set<std::string>{"t-a1", "t-a2"}));
  EXPECT_EQ(a.getRemoved().size(), 0u);
}

TEST_F(DispatcherTest, TaskChangeSendsOnlyTheChangeWithTheNextSequence) {
  beat("node-a", 0, 0);
  ASSERT_EQ(sent->envelopes.size(), 1u);
  auto epoch = assignments(0).getEpoch();
  beat("node-a", epoch, 1); // up to date: nothing to send

  ASSERT_TRUE(
    write({store::set_task_desired_state{"t-a1", task_state::shutdown}}).ok);
  ASSERT_EQ(sent->envelopes.size(), 2u);
  auto a = assignments(1);
  EXPECT_FALSE(a.getFull());
  EXPECT_EQ(a.getEpoch(), epoch);
  EXPECT_EQ(a.getSequence(), 2u);
  ASSERT_EQ(task_ids(a), (std::set<std::string>{"t-a1"}));
  EXPECT_EQ(a.getTasks()[0].getDesiredState(),
            schema::store::TaskState::SHUTDOWN);
  EXPECT_EQ(a.getRemoved().size(), 0u);
}

TEST_F(DispatcherTest, FinishedTaskIsRemovedFromTheNodesSet) {
  beat("node-a", 0, 0);
  ASSERT_TRUE(write({store::set_task_status{
                      "t-a2", status_of(task_state::complete, "finished")}})
                .ok);
  ASSERT_EQ(sent->envelopes.size(), 2u);
  auto a = assignments(1);
  EXPECT_FALSE(a.getFull());
  EXPECT_EQ(a.getSequence(), 2u);
  EXPECT_EQ(a.getTasks().size(), 0u);
  ASSERT_EQ(a.getRemoved().size(), 1u);
  EXPECT_EQ(std::string{a.getRemoved()[0].cStr()}, "t-a2");
}

TEST_F(DispatcherTest, NodeBehindTwiceAtTheSameSequenceGetsAFullSet) {
  beat("node-a", 0, 0);
  auto epoch = assignments(0).getEpoch();
  ASSERT_TRUE(
    write({store::set_task_desired_state{"t-a1", task_state::shutdown}}).ok);
  ASSERT_EQ(sent->envelopes.size(), 2u);
  beat("node-a", epoch, 1); // sequence 2 may still be on its way
  EXPECT_EQ(sent->envelopes.size(), 2u);
  beat("node-a", epoch, 1); // it was lost
  ASSERT_EQ(sent->envelopes.size(), 3u);
  auto a = assignments(2);
  EXPECT_TRUE(a.getFull());
  EXPECT_EQ(a.getSequence(), 3u);
  EXPECT_EQ(task_ids(a), (std::set<std::string>{"t-a1", "t-a2"}));
}

TEST_F(DispatcherTest, HeartbeatOfAnotherEpochGetsAFullSet) {
  beat("node-a", 0, 0);
  auto epoch = assignments(0).getEpoch();
  beat("node-a", epoch ^ 2, 1); // what a previous leader's dispatcher sent
  ASSERT_EQ(sent->envelopes.size(), 2u);
  EXPECT_TRUE(assignments(1).getFull());
  EXPECT_EQ(assignments(1).getEpoch(), epoch);
  EXPECT_EQ(task_ids(assignments(1)), (std::set<std::string>{"t-a1", "t-a2"}));
}

TEST_F(DispatcherTest, NodeNotHeardFromGetsNothingUntilItsFirstHeartbeat) {
  beat("node-a", 0, 0);
  ASSERT_TRUE(
    write({store::set_task_desired_state{"t-b1", task_state::shutdown}}).ok);
  EXPECT_EQ(sent->envelopes.size(), 1u);
}

TEST_F(DispatcherTest, StatusReportBecomesOneWrite) {
  auto reply = report("node-a", "node-a",
                      {{"t-a1", status_of(task_state::running, "started")}});
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->root().getBody().which(),
            schema::Envelope::Body::TASK_STATUS_REPLY);
  EXPECT_TRUE(reply->root().getBody().getTaskStatusReply().getAccepted());

  auto writes = m->writes_by("dispatcher");
  ASSERT_EQ(writes.size(), 1u);
  ASSERT_EQ(writes[0]->actions.size(), 1u);
  const auto& set = std::get<store::set_task_status>(writes[0]->actions[0]);
  EXPECT_EQ(set.id, "t-a1");
  EXPECT_EQ(task("t-a1").status.state, task_state::running);
}

TEST_F(DispatcherTest, ReportsWithinTheWindowShareOneWrite) {
  for (auto id : {"t-a1", "t-a2"}) {
    caf::anon_send(
      dispatcher,
      status_report("node-a", "node-a",
                    {{id, status_of(task_state::running, "started")}}));
    run();
  }
  EXPECT_TRUE(m->writes_by("dispatcher").empty());
  advance(20ms);
  auto writes = m->writes_by("dispatcher");
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(count_of<store::set_task_status>(writes[0]->actions), 2u);
  EXPECT_EQ(task("t-a1").status.state, task_state::running);
  EXPECT_EQ(task("t-a2").status.state, task_state::running);
}

TEST_F(DispatcherTest, ReportOnAnotherNodesTaskIsNotRecorded) {
  auto reply = report("node-a", "node-a",
                      {{"t-b1", status_of(task_state::failed, "task failed")}});
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->root().getBody().which(),
            schema::Envelope::Body::TASK_STATUS_REPLY);
  EXPECT_TRUE(reply->root().getBody().getTaskStatusReply().getAccepted());
  EXPECT_TRUE(m->writes_by("dispatcher").empty());
  EXPECT_EQ(task("t-b1").status.state, task_state::assigned);
}

TEST_F(DispatcherTest, ReportClaimingAnotherNodeIdIsRefused) {
  auto reply = report("node-a", "node-b",
                      {{"t-b1", status_of(task_state::failed, "task failed")}});
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->root().getBody().which(), schema::Envelope::Body::ERROR);
  EXPECT_EQ(reply->root().getBody().getError().getCode(),
            schema::ErrorCode::PERMISSION_DENIED);
  EXPECT_TRUE(m->writes_by("dispatcher").empty());
  EXPECT_EQ(task("t-b1").status.state, task_state::assigned);
}

TEST_F(DispatcherTest, ReportIsAnsweredWithAnErrorWhenTheWriteIsRefused) {
  m->refuse["dispatcher"] = 1;
  auto reply = report("node-a", "node-a",
                      {{"t-a1", status_of(task_state::running, "started")}});
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->root().getBody().which(), schema::Envelope::Body::ERROR);
  EXPECT_EQ(reply->root().getBody().getError().getCode(),
            schema::ErrorCode::UNAVAILABLE);
  EXPECT_EQ(task("t-a1").status.state, task_state::assigned);
}

// -- heartbeats and Down detection (virtual time) ---------------------------

TEST_F(DispatcherTest, AHeartbeatMarksTheNodeReadyAndTellsThePeriod) {
  ASSERT_TRUE(write({store::set_node_status{"node-b", store::node_status::down,
                                            "gone", test::unix_nanos()}})
                .ok);
  auto reply = beat("node-b");
  ASSERT_TRUE(reply);
  auto r = reply->root().getBody().getHeartbeatReply();
  EXPECT_TRUE(r.getAccepted());
  EXPECT_EQ(std::string{r.getLeader().cStr()}, "mgr");
  EXPECT_EQ(r.getPeriodNanos(), 5'000'000'000);
  EXPECT_EQ(status_of_node("node-b"), store::node_status::ready);
}

TEST_F(DispatcherTest, ANodeSilentForThreePeriodsIsDown) {
  for (auto node : {"node-a", "node-b", "node-c"})
    beat(node);
  advance(14s);
  beat("node-a");
  EXPECT_EQ(status_of_node("node-b"), store::node_status::ready);
  advance(2s); // node-b and node-c: 16 s without a heartbeat
  EXPECT_EQ(status_of_node("node-a"), store::node_status::ready);
  EXPECT_EQ(status_of_node("node-b"), store::node_status::down);
  EXPECT_EQ(status_of_node("node-c"), store::node_status::down);
}

TEST_F(DispatcherTest,
       AShorterPeriodNeverMarksANodeDownThatSleepsTheLongerOne) {
  set_period(10s);
  beat("node-a"); // told 10 s
  set_period(1s);
  advance(5s); // three of the new periods, but not of what node-a was told
  EXPECT_EQ(status_of_node("node-a"), store::node_status::ready);
  auto reply = beat("node-a"); // now told 1 s
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->root().getBody().getHeartbeatReply().getPeriodNanos(),
            1'000'000'000);
  advance(4s);
  EXPECT_EQ(status_of_node("node-a"), store::node_status::down);
}

TEST_F(DispatcherTest, ALeavingNodeIsDownAtOnce) {
  beat("node-a");
  beat("node-a", 0, 0, true);
  EXPECT_EQ(status_of_node("node-a"), store::node_status::down);
  auto message = m->db->read(
    [](const store::store& db) { return db.node("node-a")->status_message; });
  EXPECT_EQ(message, "the node left the swarm");
}

class LeaderNodeDispatcherTest : public DispatcherTest {
 protected:
  LeaderNodeDispatcherTest() : DispatcherTest("node-a") {}
};

TEST_F(LeaderNodeDispatcherTest, TheLeadersOwnNodeIsNeverDown) {
  advance(30s); // nobody beat: the others go Down, the leader's own does not
  EXPECT_EQ(status_of_node("node-a"), store::node_status::ready);
  EXPECT_EQ(status_of_node("node-b"), store::node_status::down);
}

} // namespace
} // namespace skep
