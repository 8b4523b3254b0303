#pragma once

// Heartbeats and Down detection, pure: what the leader's dispatcher knows of
// each node's last heartbeat, and the reply every manager gives. No CAF.

#include "actors/store/store.hpp"
#include "messages/envelope.hpp"

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace skep::dispatcher {

/// The period nodes are told now: the cluster's, or Swarm's 5 s before
/// the cluster object exists.
std::chrono::nanoseconds heartbeat_period(const store::store& db);

/// The reply to a heartbeat from `node`: the period to wait, the leader
/// (node id, empty when unknown), every manager's address, the role the
/// swarm gives the node; `accepted` false from a manager that does not lead.
envelope heartbeat_reply(const store::store& db, bool accepted,
                         const std::string& leader, const std::string& node);

/// When each node was last heard from, and the period it was then told: it
/// beats again within that period, whatever the swarm's period is now. A
/// node is Down after three of the periods it was told, so a change of the
/// period never marks a live node Down.
class heartbeat_table {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  /// `node` beat at `now` and was told `period`.
  void beat(const std::string& node, time_point now,
            std::chrono::nanoseconds period);

  /// `node` left the swarm: no longer watched.
  void forget(const std::string& node);

  /// The Ready nodes of `db` silent for three of their told periods at
  /// `now`. A node not heard from yet is watched from `now` at the period
  /// told now (grace for a new leader). `self` (the leader's own node) is
  /// never Down: it is alive, whatever its agent does.
  std::vector<std::string> silent(const store::store& db, time_point now,
                                  const std::string& self);

 private:
  struct seen {
    time_point at;
    std::chrono::nanoseconds period{0};
  };
  std::map<std::string, seen> seen_;
};

} // namespace skep::dispatcher
