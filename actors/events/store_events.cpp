#include "actors/events/store_events.hpp"

#include <fmt/format.h>

namespace skep::controlapi {

namespace {

using kind = store::change::kind;

const char* action_of(kind k) {
  switch (k) {
  case kind::node_created:
  case kind::service_created:
  case kind::task_created:
    return "create";
  case kind::node_removed:
  case kind::service_removed:
  case kind::task_removed:
    return "remove";
  default:
    return "update";
  }
}

const char* type_of(kind k) {
  switch (k) {
  case kind::node_created:
  case kind::node_updated:
  case kind::node_removed:
    return "node";
  case kind::service_created:
  case kind::service_updated:
  case kind::service_removed:
    return "service";
  case kind::task_created:
  case kind::task_updated:
  case kind::task_removed:
    return "task";
  case kind::cluster:
    break;
  }
  return "cluster";
}

} // namespace

std::string task_name(const store::store& db, const store::task_object& t) {
  const auto* s = db.service(t.service_id);
  if (s == nullptr)
    return t.id;
  if (t.slot > 0)
    return fmt::format("{}.{}", s->spec.name, t.slot);
  const auto* n = db.node(t.node_id);
  return fmt::format("{}.{}", s->spec.name, n ? n->hostname : t.node_id);
}

std::vector<event> events_of(const store::store& db,
                             const std::vector<store::change>& changes,
                             uint64_t raft_index, int64_t now_nanos) {
  std::vector<event> out;
  out.reserve(changes.size());
  for (const auto& c : changes) {
    if (c.what == kind::cluster)
      continue; // swarm settings: not an event type of `skep events`
    event e;
    e.time_nanos = now_nanos;
    e.type = type_of(c.what);
    e.action = action_of(c.what);
    e.id = c.id;
    e.raft_index = raft_index;
    if (e.type == "node") {
      if (const auto* n = db.node(c.id)) {
        e.name = n->hostname;
        e.attributes = {{"status", store::to_string(n->status)},
                        {"availability", store::to_string(n->avail)},
                        {"role", ca::to_string(n->role)}};
        if (!n->status_message.empty())
          e.attributes.emplace_back("message", n->status_message);
      }
    } else if (e.type == "service") {
      if (const auto* s = db.service(c.id)) {
        e.name = s->spec.name;
        e.service = s->spec.name;
        e.spec_version = s->spec_version;
        e.desired = desired_of(s);
      }
    } else if (const auto* t = db.task(c.id)) {
      e.name = task_name(db, *t);
      e.spec_version = t->spec_version;
      if (const auto* s = db.service(t->service_id))
        e.service = s->spec.name;
      e.attributes = {{"state", store::to_string(t->status.state)},
                      {"desired", store::to_string(t->desired_state)},
                      {std::string(attr_service_id), t->service_id}};
      if (!t->node_id.empty()) {
        e.attributes.emplace_back(attr_node, t->node_id);
        if (const auto* n = db.node(t->node_id))
          e.attributes.emplace_back(attr_hostname, n->hostname);
      }
      if (!t->status.err.empty())
        e.attributes.emplace_back("error", t->status.err);
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::pair<std::string, uint32_t>>
observed_states(const std::vector<const store::task_object*>& tasks) {
  std::map<store::task_state, uint32_t> counts;
  for (const auto* t : tasks)
    ++counts[t->status.state];
  std::vector<std::pair<std::string, uint32_t>> out;
  for (auto& [state, n] : counts)
    out.emplace_back(store::to_string(state), n);
  return out;
}

std::string desired_of(const store::service_object* service) {
  if (service == nullptr)
    return "removed";
  if (service->spec.mode == store::service_mode::global)
    return "global";
  return fmt::format("replicated {}", service->spec.replicas);
}

} // namespace skep::controlapi
