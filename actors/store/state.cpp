#include "actors/store/state.hpp"

#include <tuple>
#include <utility>

namespace skep::store::detail {

namespace {

// The key the service index sorts on.
auto service_key(const task_object& t) {
  return std::tie(t.service_id, t.slot, t.created_at_nanos, t.id);
}

bool same_service_key(const task_object& x, const task_object& y) {
  return service_key(x) == service_key(y);
}

bool same_node_key(const task_object& x, const task_object& y) {
  return x.node_id == y.node_id && x.id == y.id;
}

} // namespace

bool by_service_slot::operator()(const task_object* x,
                                 const task_object* y) const {
  return service_key(*x) < service_key(*y);
}

bool by_service_slot::operator()(const task_object* x,
                                 const service_probe& y) const {
  return x->service_id < y.service_id;
}

bool by_service_slot::operator()(const service_probe& x,
                                 const task_object* y) const {
  return x.service_id < y->service_id;
}

bool by_service_slot::operator()(const task_object* x,
                                 const slot_probe& y) const {
  int c = x->service_id.compare(y.service_id);
  return c < 0 || (c == 0 && x->slot < y.slot);
}

bool by_service_slot::operator()(const slot_probe& x,
                                 const task_object* y) const {
  int c = y->service_id.compare(x.service_id);
  return c > 0 || (c == 0 && x.slot < y->slot);
}

bool by_node::operator()(const task_object* x, const task_object* y) const {
  return std::tie(x->node_id, x->id) < std::tie(y->node_id, y->id);
}

bool by_node::operator()(const task_object* x, const node_probe& y) const {
  return x->node_id < y.node_id;
}

bool by_node::operator()(const node_probe& x, const task_object* y) const {
  return x.node_id < y->node_id;
}

objects::objects(const objects& other)
  : cluster(other.cluster), nodes(other.nodes), services_(other.services_),
    service_names_(other.service_names_), tasks_(other.tasks_) {
  index_all();
}

objects& objects::operator=(const objects& other) {
  if (this != &other) {
    objects copy{other};
    *this = std::move(copy);
  }
  return *this;
}

void objects::index_all() {
  by_service_.clear();
  by_node_.clear();
  for (const auto& entry : tasks_) {
    by_service_.insert(&entry.second);
    by_node_.insert(&entry.second);
  }
}

const service_object* objects::service(std::string_view id) const {
  auto i = services_.find(id);
  return i != services_.end() ? &i->second : nullptr;
}

const service_object* objects::service_named(std::string_view name) const {
  auto i = service_names_.find(name);
  return i != service_names_.end() ? service(i->second) : nullptr;
}

const task_object* objects::task(std::string_view id) const {
  auto i = tasks_.find(id);
  return i != tasks_.end() ? &i->second : nullptr;
}

void objects::put_service(service_object service) {
  auto i = services_.find(service.id);
  if (i != services_.end()) {
    // Another service of the same batch may already have taken the old
    // name: drop it only while it is still ours.
    auto name = service_names_.find(i->second.spec.name);
    if (name != service_names_.end() && name->second == service.id)
      service_names_.erase(name);
    service_names_.insert_or_assign(service.spec.name, service.id);
    i->second = std::move(service);
    return;
  }
  service_names_.insert_or_assign(service.spec.name, service.id);
  auto id = service.id;
  services_.emplace(std::move(id), std::move(service));
}

void objects::erase_service(std::string_view id) {
  auto i = services_.find(id);
  if (i == services_.end())
    return;
  auto name = service_names_.find(i->second.spec.name);
  if (name != service_names_.end() && name->second == i->first)
    service_names_.erase(name);
  services_.erase(i);
}

void objects::put_task(task_object task) {
  auto i = tasks_.find(task.id);
  if (i == tasks_.end()) {
    auto id = task.id;
    auto& stored = tasks_.emplace(std::move(id), std::move(task)).first->second;
    by_service_.insert(&stored);
    by_node_.insert(&stored);
    return;
  }
  // A set must not see the key of an element change: take the task out of
  // the indexes whose key changes, and put it back once replaced. Most
  // updates (status, assignment) leave the service index alone.
  auto& stored = i->second;
  bool service_moves = !same_service_key(stored, task);
  bool node_moves = !same_node_key(stored, task);
  if (service_moves)
    by_service_.erase(&stored);
  if (node_moves)
    by_node_.erase(&stored);
  stored = std::move(task);
  if (service_moves)
    by_service_.insert(&stored);
  if (node_moves)
    by_node_.insert(&stored);
}

void objects::erase_task(std::string_view id) {
  auto i = tasks_.find(id);
  if (i == tasks_.end())
    return;
  by_service_.erase(&i->second);
  by_node_.erase(&i->second);
  tasks_.erase(i);
}

} // namespace skep::store::detail
