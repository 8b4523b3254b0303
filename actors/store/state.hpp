#pragma once

// The committed contents of a store and the indexes over them. Internal to
// actors/store: store.hpp is the interface.

#include "actors/store/objects.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace skep::store::detail {

/// Probes for equal_range on the task indexes.
struct service_probe {
  std::string_view service_id;
};
struct slot_probe {
  std::string_view service_id;
  uint64_t slot = 0;
};
struct node_probe {
  std::string_view node_id;
};

/// Orders tasks by service id, slot, created_at_nanos, id; a probe selects
/// the tasks of a service or of one of its slots.
struct by_service_slot {
  using is_transparent = void;
  bool operator()(const task_object* x, const task_object* y) const;
  bool operator()(const task_object* x, const service_probe& y) const;
  bool operator()(const service_probe& x, const task_object* y) const;
  bool operator()(const task_object* x, const slot_probe& y) const;
  bool operator()(const slot_probe& x, const task_object* y) const;
};

/// Orders tasks by node id, then id; a probe selects a node's tasks.
struct by_node {
  using is_transparent = void;
  bool operator()(const task_object* x, const task_object* y) const;
  bool operator()(const task_object* x, const node_probe& y) const;
  bool operator()(const node_probe& x, const task_object* y) const;
};

using node_map = std::map<std::string, node_object, std::less<>>;
using service_map = std::map<std::string, service_object, std::less<>>;
using task_map = std::map<std::string, task_object, std::less<>>;
using tasks_by_service = std::set<const task_object*, by_service_slot>;
using tasks_by_node = std::set<const task_object*, by_node>;

/// Everything a store holds. Services and tasks change only through the
/// member functions, which keep the indexes in step: the service names, and
/// the tasks by service (and slot) and by node. The indexes point into the
/// maps' nodes, which std::map never moves, so a move keeps them valid and
/// a copy rebuilds them.
class objects {
 public:
  objects() = default;
  objects(const objects& other);
  objects& operator=(const objects& other);
  objects(objects&&) = default;
  objects& operator=(objects&&) = default;

  std::optional<cluster_object> cluster;
  node_map nodes;

  const service_map& services() const noexcept { return services_; }
  const task_map& tasks() const noexcept { return tasks_; }
  const tasks_by_service& by_service() const noexcept { return by_service_; }
  const tasks_by_node& by_node() const noexcept { return by_node_; }

  const service_object* service(std::string_view id) const;

  /// The service whose spec.name is `name`, or nullptr.
  const service_object* service_named(std::string_view name) const;

  const task_object* task(std::string_view id) const;

  /// Creates or replaces the service with this id. Requires that, once all
  /// the puts and erases of a batch are done, no two services share a name
  /// (the puts of one batch may come in any order).
  void put_service(service_object service);

  /// Deletes the service, if there is one; its tasks stay.
  void erase_service(std::string_view id);

  /// Creates or replaces the task with this id.
  void put_task(task_object task);

  /// Deletes the task, if there is one.
  void erase_task(std::string_view id);

 private:
  void index_all();

  service_map services_;
  std::map<std::string, std::string, std::less<>> service_names_; // -> id
  task_map tasks_;
  tasks_by_service by_service_;
  tasks_by_node by_node_;
};

} // namespace skep::store::detail
