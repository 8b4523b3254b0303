#pragma once

#include "actors/agent/task_runner.hpp"
#include "actors/ca/certificate.hpp"
#include "actors/transport/transport_actor.hpp"
#include "messages/type_ids.hpp"
#include "runtime-adapters/runtime.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace skep::agent {

/// (node id, HOST:PORT) of a manager.
using manager_list = std::vector<std::pair<std::string, std::string>>;

/// How a node's agent keeps in touch with the swarm.
struct agent_config {
  std::string node_id;
  transport::transport_actor transport;
  /// This node's manager actor, when it is a manager (a node does not dial
  /// itself); null on workers.
  caf::actor local_manager;
  /// Managers to start from (swarm.state); the dispatcher's replies keep
  /// the list current.
  manager_list managers;
  /// Called (in the agent) when the managers change, to persist them.
  std::function<void(const manager_list&)> managers_changed;
  /// The role this node's certificate gives it now.
  std::string role = "worker";
  /// This node's certificate, checked against `ca_key` to renew it in time:
  /// once less than a third of its lifetime is left.
  ca::certificate_fields certificate;
  ca::public_key ca_key{};
  /// Told (atom::certify, certificate) when the CA issued a new certificate:
  /// in a new role the swarm gave the node, or a renewal before expiry.
  caf::actor supervisor;
  /// Until the first reply tells the cluster's period.
  std::chrono::nanoseconds period = std::chrono::seconds{5};
  /// Runs this node's tasks; null: the node takes no tasks.
  std::shared_ptr<runtime::adapter> runtime;
  /// Tests: the task starters run on the scheduler instead of threads of
  /// their own (see spawn_task_starter).
  bool starters_on_scheduler = false;
};

/// The agent's messages: what the transport hands it (assignments, task
/// log requests), its runners' reports, the node's `swarm leave` (true once
/// a manager knows), and its own timers.
using agent_actor = caf::typed_actor<
  caf::replies_to<transport::inbound>::with<envelope>,
  caf::reacts_to<atom::report, std::string, store::task_status>,
  caf::replies_to<atom::leave>::with<bool>, caf::reacts_to<atom::tick>,
  caf::reacts_to<atom::reap>, caf::reacts_to<atom::flush>>;

/// The agent: sends a heartbeat to the leader's dispatcher every period
/// (with ±10 % jitter), follows the leader a follower points to, and fails
/// over to the next manager when the current one does not answer.
///
/// It also runs the node's tasks: the leader's dispatcher sends it
/// Assignments (a full set, then changes, numbered; a gap makes the next
/// heartbeat ask for a full set), it keeps one task runner per task, reaps
/// exited processes for them, and reports their state changes to the
/// dispatcher until accepted. At start it kills what a previous run of the
/// node left running, so no task runs twice.
agent_actor spawn_agent(caf::actor_system& sys, agent_config cfg);

} // namespace skep::agent
