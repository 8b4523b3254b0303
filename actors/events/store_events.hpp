#pragma once
// Events from the store: what an applied Raft entry changed (service, node
// and task events), and the summaries decision events carry (a service's
// tasks by state, its desired state). Pure: no CAF.

#include "actors/events/event_log.hpp"
#include "actors/store/store.hpp"

#include <string>
#include <vector>

namespace skep::controlapi {

/// One event per change of the entry at `raft_index`, read from `db` as it
/// is after the entry: type service|node|task, action create|update|remove,
/// the object's id and name, and attributes (a task's state, desired state,
/// node and hostname; a node's status, availability and role). A removed
/// object is gone from `db`: its event has only the id.
std::vector<event> events_of(const store::store& db,
                             const std::vector<store::change>& changes,
                             uint64_t raft_index, int64_t now_nanos);

/// A service's tasks counted by state, in task-state order.
std::vector<std::pair<std::string, uint32_t>>
observed_states(const std::vector<const store::task_object*>& tasks);

/// "replicated 6", "global", or "removed" for nullptr.
std::string desired_of(const store::service_object* service);

/// NAME.SLOT for replicated tasks, NAME.NODE for global ones; the id when
/// the service is gone.
std::string task_name(const store::store& db, const store::task_object& t);

} // namespace skep::controlapi
