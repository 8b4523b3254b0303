#include "actors/raft/raft_bridge.hpp"

#include "actors/logging/log.hpp"
#include "actors/raft/raft_wire.hpp"
#include "actors/transport/transport_actor.hpp"

#include <map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace skep::raft {

namespace {

constexpr std::string_view who = "raft-bridge";

struct bridge_state {
  transport::transport_actor transport;
  caf::actor member;
  std::string self_node;
  std::map<node_id, std::string> nodes; ///< member id -> node id
  static inline const char* name = "raft-bridge";
};

caf::behavior bridge(caf::stateful_actor<bridge_state>* self,
                     transport::transport_actor transport,
                     std::string self_node) {
  self->state.transport = std::move(transport);
  self->state.self_node = std::move(self_node);
  self->state.nodes[member_id_of(self->state.self_node)]
    = self->state.self_node;
  return {
    [=](atom::apply, caf::actor member) { self->state.member = member; },
    [=](atom::peer, const std::string& node) {
      self->state.nodes[member_id_of(node)] = node;
    },
    [=](const message& m) {
      auto& st = self->state;
      auto it = st.nodes.find(m.to);
      if (it == st.nodes.end()) {
        log::debug(who, "no node known for member {:016x}; {} dropped", m.to,
                   to_string(m.type));
        return;
      }
      auto env
        = make_envelope(schema::Envelope::Kind::ONE_WAY, 0,
                        actor_ref{"", "raft"}, actor_ref{it->second, "raft"},
                        [&](auto body) { to_wire(m, body.initRaft()); });
      self->send(st.transport, atom::send_v, env);
    },
    [=](const transport::inbound& in) {
      auto& st = self->state;
      auto body = in.env.root().getBody();
      if (body.which() != schema::Envelope::Body::RAFT || !st.member)
        return;
      auto m = from_wire(body.getRaft());
      if (!m) {
        log::warn(who, "from node {}: {}", in.from.node_id, m.error().message);
        return;
      }
      auto expected = member_id_of(in.from.node_id);
      if (m->from != expected) {
        log::warn(who,
                  "node {} sent a raft message as member {:016x}; it is "
                  "member {:016x}",
                  in.from.node_id, m->from, expected);
        return;
      }
      st.nodes[expected] = in.from.node_id;
      self->send(st.member, std::move(*m));
    },
  };
}

} // namespace

caf::actor spawn_raft_bridge(caf::actor_system& sys,
                             transport::transport_actor transport,
                             std::string self_node, bool on_scheduler) {
  if (on_scheduler)
    return sys.spawn(bridge, std::move(transport), std::move(self_node));
  // A thread of its own, as the member has, so Raft messages do not wait
  // behind the scheduler's other work. It was needed when task runners
  // forked on the scheduler: a hundred forks at once delayed heartbeat
  // replies past the election timeout. A start is now a clone of about
  // 2.5 ms (bench_task_start), and is it still needed? Measured with
  // `bench_failover --trials 0 --loaded 150` (3 managers and a worker,
  // services of 100 tasks created, scaled, updated and removed without
  // pause): on the scheduler, 0 elections, 9.3 writes/s, create -> 100
  // Running 459 ms median; on its own thread, 0 elections, 10.1 writes/s,
  // 443 ms. No longer needed for leadership to hold, then; kept for that
  // small margin, at the cost of one thread. Since then a task's prepare
  // and start run on the agent's task starters (agent/task_runner.hpp), not
  // on the scheduler at all, so nothing blocks the scheduler for long: the
  // bridge could join it once bench_failover shows no loss.
  return sys.spawn<caf::detached>(bridge, std::move(transport),
                                  std::move(self_node));
}

} // namespace skep::raft
