#include "actors/scheduler/placement.hpp"

#include "actors/store/constraints.hpp"

#include <algorithm>
#include <numeric>
#include <string_view>

#include <fmt/format.h>

namespace skep::scheduler {

namespace {

// eligibility::verdict values.
constexpr uint8_t pass = 0;
constexpr uint8_t unavailable = 1; // not ready, not active, or removed
constexpr uint8_t unmatched = 2;   // fails the constraints

// Nodes counted under the first filter they fail, in filter order.
struct failure_counts {
  uint32_t unavailable = 0;
  uint32_t unmatched = 0;
  uint32_t no_room = 0;
  uint32_t at_max = 0;
};

std::string nodes(uint32_t n) {
  return n == 1 ? std::string{"1 node"} : fmt::format("{} nodes", n);
}

// SwarmKit's filter explanations, joined as its scheduler does.
std::string explain(const failure_counts& c) {
  std::string parts;
  auto add = [&parts](std::string part) {
    if (!parts.empty())
      parts += "; ";
    parts += part;
  };
  if (c.unavailable > 0)
    add(nodes(c.unavailable) + " not available for new tasks");
  if (c.unmatched > 0)
    add("scheduling constraints not satisfied on " + nodes(c.unmatched));
  if (c.no_room > 0)
    add("insufficient resources on " + nodes(c.no_room));
  if (c.at_max > 0)
    add("max replicas per node limit exceeded on " + nodes(c.at_max));
  if (parts.empty())
    return "no suitable node (no nodes available)";
  return "no suitable node (" + parts + ")";
}

bool fits_one(int64_t reserved, int64_t need, int64_t capacity) {
  return need == 0 || capacity == 0 || reserved + need <= capacity;
}

// A candidate node for a batch: the smaller key is preferred.
template <class Candidate>
bool worse(const Candidate& x, const Candidate& y) {
  if (x.service_tasks != y.service_tasks)
    return x.service_tasks > y.service_tasks;
  if (x.tasks != y.tasks)
    return x.tasks > y.tasks;
  return x.rank > y.rank;
}

} // namespace

// Tasks of one service with the same reservations: a node that has no room
// for one of them has no room for the next one either.
struct placer::batch {
  store::resources need;
  std::vector<const store::task_object*> tasks;
};

// -- keeping the view up to date ---------------------------------------------

uint32_t placer::node_slot(const std::string& node_id) {
  auto [i, added]
    = node_index_.try_emplace(node_id, static_cast<uint32_t>(nodes_.size()));
  if (added) {
    nodes_.emplace_back();
    nodes_.back().node.id = node_id;
  }
  return i->second;
}

placer::service_map::value_type&
placer::service_slot(const std::string& service_id) {
  return *services_.try_emplace(service_id).first;
}

void placer::set_node(const store::node_object& node,
                      store::resources capacity) {
  auto& entry = nodes_[node_slot(node.id)];
  entry.node = node;
  entry.capacity = capacity;
  if (!entry.present) {
    entry.present = true;
    ++present_nodes_;
    ranks_dirty_ = true;
  }
}

void placer::remove_node(const std::string& node_id) {
  auto i = node_index_.find(node_id);
  if (i == node_index_.end() || !nodes_[i->second].present)
    return;
  nodes_[i->second].present = false;
  --present_nodes_;
  ranks_dirty_ = true;
}

void placer::count(const held_place& held) {
  auto& node = nodes_[held.node];
  ++node.total;
  node.reserved.nano_cpus += held.reservations.nano_cpus;
  node.reserved.memory_bytes += held.reservations.memory_bytes;
  ++held.service->second.per_node[held.node];
  ++held.service->second.total;
}

void placer::uncount(const held_place& held, bool erase_empty_service) {
  auto& node = nodes_[held.node];
  --node.total;
  node.reserved.nano_cpus -= held.reservations.nano_cpus;
  node.reserved.memory_bytes -= held.reservations.memory_bytes;
  auto& counts = held.service->second;
  auto i = counts.per_node.find(held.node);
  if (--i->second == 0)
    counts.per_node.erase(i);
  if (--counts.total == 0 && erase_empty_service)
    services_.erase(held.service->first);
}

void placer::set_task(const store::task_object& task) {
  auto i = tasks_.find(task.id);
  if (i != tasks_.end()) {
    uncount(i->second, true);
    tasks_.erase(i);
  }
  if (task.node_id.empty() || store::is_terminal(task.status.state))
    return;
  held_place held{node_slot(task.node_id), &service_slot(task.service_id),
                  task.reservations};
  count(held);
  tasks_.emplace(task.id, held);
}

void placer::remove_task(const std::string& task_id) {
  auto i = tasks_.find(task_id);
  if (i == tasks_.end())
    return;
  uncount(i->second, true);
  tasks_.erase(i);
}

void placer::hold(const store::task_object& task, uint32_t node,
                  service_map::value_type& service) {
  held_place held{node, &service, task.reservations};
  count(held);
  tasks_.insert_or_assign(task.id, held);
  ++service_count_[node]; // `service` is the one place() works on
}

uint32_t placer::tasks_on(const std::string& node_id) const {
  auto i = node_index_.find(node_id);
  return i == node_index_.end() ? 0 : nodes_[i->second].total;
}

uint32_t placer::service_tasks_on(const std::string& node_id,
                                  const std::string& service_id) const {
  auto n = node_index_.find(node_id);
  auto s = services_.find(service_id);
  if (n == node_index_.end() || s == services_.end())
    return 0;
  auto c = s->second.per_node.find(n->second);
  return c == s->second.per_node.end() ? 0 : c->second;
}

store::resources placer::reserved_on(const std::string& node_id) const {
  auto i = node_index_.find(node_id);
  return i == node_index_.end() ? store::resources{}
                                : nodes_[i->second].reserved;
}

// -- placing -----------------------------------------------------------------

void placer::refresh_ranks() {
  if (!ranks_dirty_)
    return;
  std::vector<uint32_t> order;
  order.reserve(present_nodes_);
  for (uint32_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].present)
      order.push_back(i);
  std::sort(order.begin(), order.end(), [this](uint32_t x, uint32_t y) {
    return nodes_[x].node.id < nodes_[y].node.id;
  });
  for (uint32_t r = 0; r < order.size(); ++r)
    nodes_[order[r]].rank = r;
  ranks_dirty_ = false;
}

const placer::eligibility&
placer::eligibility_for(const std::vector<std::string>& exprs) {
  auto [i, added] = eligibility_.try_emplace(exprs);
  auto& el = i->second;
  if (!added)
    return el;
  auto parsed = parse_constraints(exprs);
  if (!parsed) {
    el.error = parsed.error().message;
    return el;
  }
  el.verdict.resize(nodes_.size(), unavailable);
  for (uint32_t n = 0; n < nodes_.size(); ++n) {
    const auto& entry = nodes_[n];
    if (!entry.present)
      continue; // removed nodes are not counted in explanations
    if (entry.node.status != store::node_status::ready
        || entry.node.avail != store::availability::active) {
      ++el.unavailable;
    } else if (!matches(*parsed, entry.node)) {
      el.verdict[n] = unmatched;
      ++el.unmatched;
    } else {
      el.verdict[n] = pass;
      el.passing.push_back(n);
    }
  }
  return el;
}

bool placer::fits(uint32_t node, const store::resources& need,
                  uint64_t max_per_node) const {
  const auto& entry = nodes_[node];
  return fits_one(entry.reserved.nano_cpus, need.nano_cpus,
                  entry.capacity.nano_cpus)
         && fits_one(entry.reserved.memory_bytes, need.memory_bytes,
                     entry.capacity.memory_bytes)
         && (max_per_node == 0 || service_count_[node] < max_per_node);
}

std::string placer::explain_batch(const eligibility& el,
                                  const store::resources& need,
                                  uint64_t max_per_node) const {
  failure_counts counts;
  counts.unavailable = el.unavailable;
  counts.unmatched = el.unmatched;
  for (auto n : el.passing) {
    if (!fits(n, need, 0))
      ++counts.no_room;
    else if (!fits(n, need, max_per_node))
      ++counts.at_max;
  }
  return explain(counts);
}

void placer::leave_unplaced(const store::task_object& task, std::string reason,
                            const service_map::value_type* current, plan& out) {
  // A task that held a place before this call keeps it.
  if (!prior_.empty()) {
    auto i = prior_.find(&task);
    if (i != prior_.end()) {
      count(i->second);
      tasks_.insert_or_assign(task.id, i->second);
      if (i->second.service == current)
        ++service_count_[i->second.node];
    }
  }
  out.unplaced.push_back({task.id, std::move(reason)});
}

void placer::place_preset(const store::task_object& task, const eligibility& el,
                          uint64_t max_per_node,
                          service_map::value_type& service, plan& out) {
  auto i = node_index_.find(task.node_id);
  if (i == node_index_.end() || !nodes_[i->second].present) {
    leave_unplaced(task,
                   fmt::format("no suitable node (node {} is not in the swarm)",
                               task.node_id),
                   &service, out);
    return;
  }
  auto n = i->second;
  failure_counts counts;
  if (el.verdict[n] == unavailable)
    counts.unavailable = 1;
  else if (el.verdict[n] == unmatched)
    counts.unmatched = 1;
  else if (!fits(n, task.reservations, 0))
    counts.no_room = 1;
  else if (!fits(n, task.reservations, max_per_node))
    counts.at_max = 1;
  else {
    hold(task, n, service);
    out.placed.push_back({task.id, task.node_id});
    return;
  }
  leave_unplaced(task, explain(counts), &service, out);
}

void placer::place_batch(const batch& b, const eligibility& el,
                         uint64_t max_per_node,
                         service_map::value_type& service, plan& out) {
  // Only the chosen node's key changes after a placement, so the heap stays
  // exact: pop the best node, place, and push it back while it still fits.
  heap_.clear();
  for (auto n : el.passing)
    if (fits(n, b.need, max_per_node))
      heap_.push_back({service_count_[n], nodes_[n].total, nodes_[n].rank, n});
  auto cmp = [](const candidate& x, const candidate& y) { return worse(x, y); };
  std::make_heap(heap_.begin(), heap_.end(), cmp);
  for (size_t t = 0; t < b.tasks.size(); ++t) {
    if (heap_.empty()) {
      auto reason = explain_batch(el, b.need, max_per_node);
      for (; t < b.tasks.size(); ++t)
        leave_unplaced(*b.tasks[t], reason, &service, out);
      return;
    }
    std::pop_heap(heap_.begin(), heap_.end(), cmp);
    auto n = heap_.back().node;
    heap_.pop_back();
    const auto& task = *b.tasks[t];
    hold(task, n, service);
    out.placed.push_back({task.id, nodes_[n].node.id});
    if (fits(n, b.need, max_per_node)) {
      heap_.push_back({service_count_[n], nodes_[n].total, nodes_[n].rank, n});
      std::push_heap(heap_.begin(), heap_.end(), cmp);
    }
  }
}

plan placer::place(const std::vector<const store::task_object*>& pending,
                   const spec_lookup& spec_of) {
  plan out;
  out.placed.reserve(pending.size());
  refresh_ranks();
  eligibility_.clear();
  prior_.clear();
  service_count_.assign(nodes_.size(), 0);
  tasks_.reserve(tasks_.size() + pending.size());

  // Group by service (in order of first appearance), and within a service
  // by reservations; release what re-placed tasks held so far.
  struct group {
    const std::string* service_id;
    std::vector<const store::task_object*> preset;
    std::vector<batch> batches;
  };
  std::vector<group> groups;
  std::unordered_map<std::string_view, size_t> group_of;
  for (const auto* task : pending) {
    if (!tasks_.empty()) {
      auto i = tasks_.find(task->id);
      if (i != tasks_.end()) {
        uncount(i->second, false);
        prior_.emplace(task, i->second);
        tasks_.erase(i);
      }
    }
    auto [g, added] = group_of.try_emplace(task->service_id, groups.size());
    if (added)
      groups.push_back({&task->service_id, {}, {}});
    auto& grp = groups[g->second];
    if (!task->node_id.empty()) {
      grp.preset.push_back(task);
      continue;
    }
    auto b = std::find_if(
      grp.batches.begin(), grp.batches.end(),
      [task](const batch& x) { return x.need == task->reservations; });
    if (b == grp.batches.end())
      b = grp.batches.insert(grp.batches.end(), batch{task->reservations, {}});
    b->tasks.push_back(task);
  }

  for (const auto& grp : groups) {
    const auto* spec = spec_of(*grp.service_id);
    std::string error;
    if (spec == nullptr)
      error = fmt::format("service {} not found", *grp.service_id);
    const eligibility* el = nullptr;
    if (spec != nullptr) {
      el = &eligibility_for(spec->constraints);
      error = el->error;
    }
    if (!error.empty()) {
      for (const auto* task : grp.preset)
        leave_unplaced(*task, error, nullptr, out);
      for (const auto& b : grp.batches)
        for (const auto* task : b.tasks)
          leave_unplaced(*task, error, nullptr, out);
      continue;
    }
    auto& service = service_slot(*grp.service_id);
    for (const auto& [n, c] : service.second.per_node)
      service_count_[n] = c;
    for (const auto* task : grp.preset)
      place_preset(*task, *el, spec->max_replicas_per_node, service, out);
    for (const auto& b : grp.batches)
      place_batch(b, *el, spec->max_replicas_per_node, service, out);
    for (const auto& [n, c] : service.second.per_node)
      service_count_[n] = 0;
  }
  // Services that ended up holding nothing (all their tasks unplaced).
  for (const auto& grp : groups) {
    auto i = services_.find(*grp.service_id);
    if (i != services_.end() && i->second.total == 0)
      services_.erase(i);
  }
  eligibility_.clear();
  prior_.clear();
  return out;
}

} // namespace skep::scheduler
