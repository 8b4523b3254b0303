#include "actors/dispatcher/heartbeats.hpp"

#include "messages/dispatcher.capnp.h"

namespace skep::dispatcher {

std::chrono::nanoseconds heartbeat_period(const store::store& db) {
  const auto* cluster = db.cluster();
  return cluster ? cluster->spec.dispatcher_heartbeat : std::chrono::seconds{5};
}

envelope heartbeat_reply(const store::store& db, bool accepted,
                         const std::string& leader, const std::string& node) {
  std::vector<const store::node_object*> managers;
  for (const auto* n : db.nodes())
    if (n->role == ca::node_role::manager)
      managers.push_back(n);
  return make_envelope(
    schema::Envelope::Kind::REPLY, 0, {}, {}, [&](auto body) {
      auto r = body.initHeartbeatReply();
      r.setPeriodNanos(heartbeat_period(db).count());
      r.setLeader(leader);
      r.setAccepted(accepted);
      if (const auto* n = db.node(node))
        r.setRole(ca::to_string(n->role));
      auto list = r.initManagers(static_cast<unsigned>(managers.size()));
      for (unsigned i = 0; i < managers.size(); ++i) {
        list[i].setNodeId(managers[i]->id);
        list[i].setAddr(managers[i]->addr);
      }
    });
}

void heartbeat_table::beat(const std::string& node, time_point now,
                           std::chrono::nanoseconds period) {
  seen_[node] = {now, period};
}

void heartbeat_table::forget(const std::string& node) {
  seen_.erase(node);
}

std::vector<std::string> heartbeat_table::silent(const store::store& db,
                                                 time_point now,
                                                 const std::string& self) {
  std::vector<std::string> out;
  for (const auto* n : db.nodes()) {
    auto it = seen_.find(n->id);
    if (it == seen_.end()) {
      seen_[n->id] = {now, heartbeat_period(db)};
      continue;
    }
    if (n->id == self)
      continue;
    if (n->status == store::node_status::ready
        && now - it->second.at > 3 * it->second.period)
      out.push_back(n->id);
  }
  return out;
}

} // namespace skep::dispatcher
