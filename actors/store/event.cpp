#include "actors/store/event.hpp"

#include <tuple>

namespace skep::controlapi {

namespace {

/// Cuts `s` to `max` bytes without splitting a UTF-8 character.
void clip(std::string& s, size_t max = event_limits::max_string_bytes) {
  if (s.size() <= max)
    return;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80)
    --end;
  s.resize(end);
}

} // namespace

bool operator==(const decision_record& a, const decision_record& b) {
  return std::tie(a.action, a.task_id, a.slot, a.node_id, a.reason, a.service)
         == std::tie(b.action, b.task_id, b.slot, b.node_id, b.reason,
                     b.service);
}

bool operator==(const event& a, const event& b) {
  return std::tie(a.seq, a.time_nanos, a.type, a.action, a.id, a.name,
                  a.service, a.spec_version, a.observed, a.desired, a.decisions,
                  a.raft_index, a.attributes)
         == std::tie(b.seq, b.time_nanos, b.type, b.action, b.id, b.name,
                     b.service, b.spec_version, b.observed, b.desired,
                     b.decisions, b.raft_index, b.attributes);
}

void clamp_event(event& e) {
  for (auto* s : {&e.type, &e.action, &e.id, &e.name, &e.service, &e.desired})
    clip(*s);
  if (e.observed.size() > event_limits::max_state_counts)
    e.observed.resize(event_limits::max_state_counts);
  for (auto& [state, count] : e.observed)
    clip(state);
  if (e.decisions.size() > event_limits::max_decisions)
    e.decisions.resize(event_limits::max_decisions);
  for (auto& d : e.decisions)
    for (auto* s : {&d.action, &d.task_id, &d.node_id, &d.reason, &d.service})
      clip(*s);
  if (e.attributes.size() > event_limits::max_attributes)
    e.attributes.resize(event_limits::max_attributes);
  for (auto& [k, v] : e.attributes) {
    clip(k);
    clip(v);
  }
  // The ring keeps thousands of these: no spare capacity.
  e.observed.shrink_to_fit();
  e.decisions.shrink_to_fit();
  e.attributes.shrink_to_fit();
}

} // namespace skep::controlapi
