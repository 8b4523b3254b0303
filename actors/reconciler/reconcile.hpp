#pragma once

// One service's reconciliation: from the service, its tasks and the nodes, the
// store actions that move the tasks towards the spec (Docker Swarm's
// semantics). Pure: no CAF, no clock; the caller gives the time and fresh ids.
//
// Tasks are grouped by slot (replicated) or by node (global). A group's
// occupant is a task whose desired state is at most running; a group without
// one is free. A finished occupant keeps its group until the restart policy
// replaces it, so a task that is not restarted (condition none, max attempts)
// still counts towards the replicas. Everything, including a rolling update's
// progress, is derived from the tasks: there is no other state.

#include "actors/store/codec.hpp"
#include "actors/store/objects.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace skep::reconciler {

/// One thing decided and why, for events and logs. Besides one decision per
/// action there are decisions without an action that say why the service is
/// not converged (a wait, a restart given up, a paused update); they repeat on
/// every call until the cause goes away, so a caller logs only changes.
struct decision {
  /// "create", "shutdown", "remove", "wait", "no-restart", "restart-limit",
  /// "update-paused" or "update-rollback".
  std::string action;
  /// The task acted on or waited for (the new task's id for "create"); empty
  /// for decisions about the whole service.
  std::string task_id;
  uint64_t slot = 0;
  /// The task's node, if it has one.
  std::string node_id;
  /// For people, e.g. "task t1 failed (exit 1), restart policy any".
  std::string reason;
};

/// What one reconcile call decided.
struct plan {
  /// To propose in one batch, in this order. Empty when converged.
  std::vector<store::action> actions;
  std::vector<decision> decisions;
  /// Reconcile again at this time (a restart delay or an update delay ends)
  /// even if nothing changes before; always after `now_nanos`.
  std::optional<int64_t> wake_at_nanos;
  /// The batch limit (inputs::max_actions) held actions back: reconcile
  /// again once these are applied.
  bool more = false;
};

/// A snapshot of what one service's reconciliation depends on. Pointers must
/// stay valid during the call; none of them is null.
struct inputs {
  /// nullptr: the service was removed.
  const store::service_object* service = nullptr;
  /// Every task of the service, in any state.
  std::vector<const store::task_object*> tasks;
  /// Every node of the swarm.
  std::vector<const store::node_object*> nodes;
  /// Global mode: true if the service's constraints allow a task on the node
  /// (the scheduler's matcher). Empty: every node is eligible.
  std::function<bool(const store::node_object&)> eligible;
  /// Finished tasks kept per slot (global: per node).
  uint32_t task_history_limit = 5;
  /// The caller's clock, Unix nanoseconds; tasks created get it.
  int64_t now_nanos = 0;
  /// A fresh, valid task id per call; called once per task created, in the
  /// order of the actions.
  std::function<std::string()> new_task_id;
  /// At most this many actions per call, so that a service of a million
  /// replicas is written (and placed, and applied) in batches; the caller
  /// reconciles again once they are applied (plan::more).
  size_t max_actions = 50000;
};

/// Decides what moves the tasks of `in.service` towards its spec:
/// - replicated: `replicas` occupied slots; missing ones are created in the
///   lowest free slots, extra ones shut down from the nodes with the most
///   tasks of the service (never-run tasks first, then finished ones);
/// - global: one occupant per node that is not down or removed, not drained
///   and eligible; tasks elsewhere are shut down;
/// - a finished occupant is replaced in its group per the restart policy
///   (condition, delay from its status time, max attempts counted within the
///   window that ends when it finished);
/// - a task on a node that is removed, down or drained is shut down and (in
///   replicated mode) replaced at once in its slot; paused nodes keep theirs;
/// - tasks from an older spec_version are replaced by a rolling update
///   (parallelism, delay, order, monitor, failure action);
/// - finished tasks beyond the history limit are removed, oldest first;
/// - a removed service's running tasks are shut down and its finished ones
///   removed.
/// A task that never ran (new or pending) is removed instead of shut down.
/// At most `max_actions` actions are planned (`more` says when some were held
/// back). Deterministic, and idempotent: once the actions are applied, calls
/// at the same time return the held-back actions and then none.
plan reconcile(const inputs& in);

} // namespace skep::reconciler
