#pragma once
// An event of the leader's event log as every leader actor passes it around
// (a write request carries the decision it carries out). The log itself, its
// filters and its wire form are in actors/events/. Pure: no CAF.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace skep::controlapi {

/// One decision inside an event: what was done (or waited for) and why.
struct decision_record {
  std::string action;  ///< create, shutdown, remove, wait, assign...
  std::string task_id; ///< empty: the whole service
  uint64_t slot = 0;   ///< 0: global service or no slot
  std::string node_id; ///< empty: no node
  std::string reason;  ///< for people
  std::string service; ///< the task's service (name); empty: the event's
};

bool operator==(const decision_record& a, const decision_record& b);

/// A plain mirror of schema::events::Event.
struct event {
  uint64_t seq = 0; ///< set by event_log::record
  int64_t time_nanos = 0;
  std::string type; ///< service, node, task, reconcile, schedule, dispatch
  std::string action;
  std::string id;
  std::string name;
  std::string service;
  uint64_t spec_version = 0;
  std::vector<std::pair<std::string, uint32_t>> observed; ///< state, count
  std::string desired;
  std::vector<decision_record> decisions;
  uint64_t raft_index = 0; ///< 0: not a write
  std::vector<std::pair<std::string, std::string>> attributes;
};

/// Field by field; for tests and de-duplication.
bool operator==(const event& a, const event& b);

/// What an event may hold. record() and from_schema() truncate to these:
/// longer strings are cut (at a UTF-8 character boundary), longer lists keep
/// their first elements. to_schema() writes no more than these either.
/// Truncating rather than rejecting keeps one oversized event from hiding the
/// rest of a batch.
struct event_limits {
  static constexpr size_t max_string_bytes = 4096;
  static constexpr size_t max_decisions = 10'000;
  static constexpr size_t max_attributes = 64;
  static constexpr size_t max_state_counts = 32;
};

/// Cuts `e` to event_limits and releases spare vector capacity.
void clamp_event(event& e);

} // namespace skep::controlapi
