// The manager, the composition root of a manager node, under the test
// coordinator: three managers over in-memory Raft logs, joined by a fake
// transport that delivers envelopes between them in virtual time and can
// cut one off. What only the whole manager shows: a follower forwards a
// write, a proposal is answered with the store's verdict once applied, and
// leadership changes start and stop the leader-only actors.

#include "actors/manager/manager.hpp"
#include "actors/raft/memory_storage.hpp"
#include "actors/raft/raft_wire.hpp"
#include "actors/store/codec.hpp"
#include "actors/transport/transport_actor.hpp"
#include "messages/control.capnp.h"
#include "tests/support/actor_fixture.hpp"
#include "tests/support/leader_fixture.hpp"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

namespace skep::test {
namespace {

using namespace std::chrono_literals;
using controlapi::manager_info;

/// Which actor each node routed each name to, and which nodes are cut off.
struct fake_network {
  std::map<std::pair<std::string, std::string>, caf::actor> routes;
  std::set<std::string> cut;
  /// Nodes whose Raft member hears nothing (their replica falls behind).
  std::set<std::string> raft_deaf;
  bool blocked(const std::string& from, const envelope& env) const {
    auto target = to_actor_ref(env.root().getTarget());
    auto to = target.node_id.empty() ? from : target.node_id;
    if (target.name == "raft" && raft_deaf.count(to) > 0)
      return true;
    return from != to && (cut.count(from) > 0 || cut.count(to) > 0);
  }
  /// The actor `target` names, as seen from node `from`; null when unknown.
  caf::actor find(const std::string& from, const envelope& env) const {
    auto target = to_actor_ref(env.root().getTarget());
    auto node = target.node_id.empty() ? from : target.node_id;
    auto it = routes.find({node, target.name});
    return it == routes.end() ? caf::actor{} : it->second;
  }
};

/// One node's transport: what the real one does for a manager (route, send,
/// call), with every sender a manager, and nothing on a wire.
caf::behavior fake_transport(caf::event_based_actor* self, std::string node,
                             std::shared_ptr<fake_network> net) {
  self->set_default_handler(caf::drop);
  auto from = transport::peer_info{node, ca::node_role::manager, {}, false};
  return {
    [=](atom::route, const std::string& name, caf::actor& a) {
      net->routes[{node, name}] = std::move(a);
    },
    [=](atom::send, const envelope& env) {
      auto dest = net->find(node, env);
      if (dest && !net->blocked(node, env))
        self->send(dest, transport::inbound{env, from});
    },
    // Dialing, forgetting and revoking: there is no wire to act on.
    [](atom::peer, const std::string&, const std::string&, uint16_t) {},
    [](atom::forget, const std::string&) {},
    [](atom::revoke, const std::string&) {},
    [=](atom::call, const envelope& env,
        caf::timespan timeout) -> caf::result<envelope> {
      auto dest = net->find(node, env);
      if (!dest || net->blocked(node, env))
        return make_error_envelope(
          0, failure{errc::unavailable, "the node cannot be reached"});
      auto rp = self->make_response_promise<envelope>();
      self->request(dest, timeout, transport::inbound{env, from})
        .then([=](envelope& reply) mutable { rp.deliver(std::move(reply)); },
              [=](caf::error& err) mutable {
                rp.deliver(make_error_envelope(
                  0, failure{errc::unavailable, caf::to_string(err)}));
              });
      return rp;
    },
  };
}

store::node_object manager_node(const std::string& id) {
  auto n = make_node(id);
  n.role = ca::node_role::manager;
  n.addr = "127.0.0.1:2377";
  return n;
}

control_request node_update(const std::string& name,
                            const std::string& availability) {
  capnp::MallocMessageBuilder b;
  auto u = b.initRoot<schema::control::Request>().initNodeUpdate();
  u.setName(name);
  u.setAvailability(availability);
  return control_request::from(b);
}

control_request node_inspect(const std::string& name) {
  capnp::MallocMessageBuilder b;
  auto names = b.initRoot<schema::control::Request>().initNodeInspect();
  names.initNames(1).set(0, name);
  return control_request::from(b);
}

control_request raw_propose(const std::vector<uint8_t>& batch) {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Request>().setPropose(
    kj::arrayPtr(batch.data(), batch.size()));
  return control_request::from(b);
}

class ManagerActor : public actor_fixture {
 protected:
  const std::vector<std::string> ids{"mgr-a", "mgr-b", "mgr-c"};

  ManagerActor() : net(std::make_shared<fake_network>()) {
    // As after `swarm init` on mgr-a and two `swarm join`s as managers:
    // mgr-a alone bootstraps Raft, and adds the others (learners first)
    // once the store names them managers.
    raft::configuration founders{{raft::member_id_of(ids[0])}, {}};
    std::vector<store::action> init{store::create_cluster{make_cluster()}};
    for (const auto& id : ids)
      init.emplace_back(store::put_node{manager_node(id), 0});
    auto init_batch = store::encode_batch(init);
    for (const auto& id : ids) {
      auto transport = sys.spawn(fake_transport, id, net);
      transports.push_back(transport);
      controlapi::manager_config mc;
      mc.node_id = id;
      mc.hostname = "host-" + id;
      mc.advertise_addr = "127.0.0.1:2377";
      mc.transport = caf::actor_cast<transport::transport_actor>(transport);
      mc.raft.core.seed = raft::member_id_of(id);
      mc.raft.tick = 50ms;
      mc.raft_on_scheduler = true;
      auto storage = std::make_unique<raft::memory_storage>();
      if (id == ids[0]) {
        mc.init_batch = init_batch;
        raft::bootstrap(*storage, founders);
      }
      managers[id] = controlapi::spawn_manager(sys, mc, std::move(storage));
    }
    run();
  }

  ~ManagerActor() override {
    for (auto& [id, m] : managers)
      caf::anon_send_exit(m, caf::exit_reason::user_shutdown);
    for (auto& t : transports)
      caf::anon_send_exit(t, caf::exit_reason::user_shutdown);
    run();
  }

  manager_info info(const std::string& id) {
    auto got = request<manager_info>(managers.at(id), atom::status_v);
    return got ? *got : manager_info{};
  }

  /// Advances virtual time until `pred` holds, tick by tick; false when it
  /// did not within `limit`.
  template <class Pred>
  bool await(Pred pred, caf::timespan limit = 30s) {
    for (caf::timespan waited{0}; waited < limit; waited += 50ms) {
      if (pred())
        return true;
      advance(50ms);
    }
    return pred();
  }

  /// The manager every reachable manager names as leader, once it has
  /// started its leader actors and created the swarm.
  std::string await_leader() {
    std::string leader;
    bool settled = await([&] {
      leader.clear();
      for (const auto& id : ids) {
        if (net->cut.count(id))
          continue;
        auto i = info(id);
        if (i.leader.empty() || (!leader.empty() && i.leader != leader)
            || i.cluster_id.empty())
          return false;
        leader = i.leader;
      }
      return net->cut.count(leader) == 0 && info(leader).leader_actors == 3;
    });
    return settled ? leader : std::string{};
  }

  /// Sends a request to `dest` and moves virtual time on until it is
  /// answered; nothing when it failed or no answer came within 30 s.
  template <class Reply, class Handle, class... Ts>
  std::optional<Reply> ask(const Handle& dest, Ts&&... xs) {
    std::optional<Reply> out;
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    if (!await([&] { return !self->mailbox().empty(); })) {
      ADD_FAILURE() << "no answer within 30 s of virtual time";
      return out;
    }
    handle.receive([&](Reply& r) { out = std::move(r); },
                   [&](caf::error& err) {
                     ADD_FAILURE() << "request failed: " << sys.render(err);
                   });
    return out;
  }

  /// What `id` answers to `node inspect NAME`: its availability there.
  std::string availability_on(const std::string& id, const std::string& name) {
    auto reply = request<control_reply>(managers.at(id), node_inspect(name));
    if (!reply || reply->root().which() != schema::control::Reply::NODES
        || reply->root().getNodes().size() != 1)
      return "?";
    auto text = reply->root().getNodes()[0].getAvailability();
    return std::string(text.begin(), text.size());
  }

  std::shared_ptr<fake_network> net;
  std::vector<caf::actor> transports;
  std::map<std::string, controlapi::manager_actor> managers;
};

std::string error_of(const control_reply& reply) {
  if (reply.root().which() != schema::control::Reply::ERROR)
    return {};
  auto m = reply.root().getError().getMessage();
  return std::string(m.begin(), m.size());
}

TEST_F(ManagerActor, OneLeaderRunsTheLeaderActorsAndTheFollowersNone) {
  auto leader = await_leader();
  ASSERT_FALSE(leader.empty());
  for (const auto& id : ids)
    EXPECT_EQ(info(id).leader_actors, id == leader ? 3u : 0u) << id;
}

TEST_F(ManagerActor,
       AWriteOnAFollowerIsForwardedAndItsReplyWaitsForTheReplica) {
  auto leader = await_leader();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(await([&] { return info(leader).voters == 3; }));
  auto follower = leader == ids[0] ? ids[1] : ids[0];
  // The follower's replica stops following; the leader and the third
  // manager still commit.
  net->raft_deaf.insert(follower);
  auto handle = self->request(managers.at(follower), caf::infinite,
                              node_update(ids[2], "drain"));
  await([] { return false; }, 2s);
  EXPECT_TRUE(self->mailbox().empty())
    << "the follower answered before its replica had the change";
  EXPECT_EQ(availability_on(leader, ids[2]), "drain");
  EXPECT_EQ(availability_on(follower, ids[2]), "active");
  net->raft_deaf.clear();
  ASSERT_TRUE(await([&] { return !self->mailbox().empty(); }));
  std::optional<control_reply> reply;
  handle.receive([&](control_reply& r) { reply = std::move(r); },
                 [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->root().which(), schema::control::Reply::DONE)
    << error_of(*reply);
  // Answered once its own replica had the change: a read right after the
  // reply, on that follower, sees it.
  EXPECT_EQ(availability_on(follower, ids[2]), "drain");
}

TEST_F(ManagerActor, TheStoresVerdictOnAForwardedProposalReachesTheProposer) {
  auto leader = await_leader();
  ASSERT_FALSE(leader.empty());
  auto follower = leader == ids[0] ? ids[1] : ids[0];
  auto forwarded = [&](std::vector<store::action> actions) {
    auto env = make_control_request_envelope(
      1, {follower, "controlapi"}, {leader, "controlapi"},
      raw_propose(store::encode_batch(actions)));
    auto reply = ask<envelope>(
      managers.at(leader),
      transport::inbound{
        env, transport::peer_info{follower, ca::node_role::manager}});
    EXPECT_TRUE(reply);
    if (!reply)
      return std::string{"no reply"};
    auto body = reply->root().getBody();
    EXPECT_EQ(body.which(), schema::Envelope::Body::CONTROL_REPLY);
    if (body.which() != schema::Envelope::Body::CONTROL_REPLY)
      return std::string{"not a control reply"};
    auto r = control_reply::from(body.getControlReply());
    return r.root().which() == schema::control::Reply::DONE ? std::string{}
                                                            : error_of(r);
  };
  // Committed, then refused by the store: a stale expected version.
  auto stale = manager_node(ids[2]);
  stale.avail = store::availability::pause;
  auto refused = forwarded({store::put_node{stale, 12345}});
  EXPECT_NE(refused.find("version"), std::string::npos) << refused;
  EXPECT_EQ(availability_on(leader, ids[2]), "active");
  // Committed and applied.
  EXPECT_EQ(forwarded({store::set_node_status{ids[2], store::node_status::ready,
                                              "seen", unix_nanos()}}),
            "");
}

TEST_F(ManagerActor, ARawProposalFromALocalClientIsRefusedAndChangesNothing) {
  auto leader = await_leader();
  ASSERT_FALSE(leader.empty());
  auto drained = manager_node(ids[2]);
  drained.avail = store::availability::drain;
  auto reply = request<control_reply>(
    managers.at(leader),
    raw_propose(store::encode_batch({store::put_node{drained, 0}})));
  ASSERT_TRUE(reply);
  EXPECT_NE(error_of(*reply).find("only from another manager"),
            std::string::npos)
    << error_of(*reply);
  await([] { return false; }, 1s);
  EXPECT_EQ(availability_on(leader, ids[2]), "active");
}

TEST_F(ManagerActor, ALeadershipChangeStopsAndStartsTheLeaderActors) {
  auto old_leader = await_leader();
  ASSERT_FALSE(old_leader.empty());
  // Every manager a voter first: the other two then make a quorum.
  ASSERT_TRUE(await([&] { return info(old_leader).voters == 3; }));
  net->cut.insert(old_leader);
  auto new_leader = await_leader();
  ASSERT_FALSE(new_leader.empty());
  EXPECT_NE(new_leader, old_leader);
  EXPECT_EQ(info(new_leader).leader_actors, 3u);
  // Back on the network, the old leader learns of the new term and stops
  // its leader actors.
  net->cut.clear();
  EXPECT_TRUE(await([&] {
    auto i = info(old_leader);
    return i.leader == new_leader && i.leader_actors == 0;
  }));
  // The new leader takes writes, from the old leader too.
  auto reply
    = ask<control_reply>(managers.at(old_leader), node_update(ids[2], "pause"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->root().which(), schema::control::Reply::DONE)
    << error_of(*reply);
  EXPECT_EQ(availability_on(new_leader, ids[2]), "pause");
}

} // namespace
} // namespace skep::test
