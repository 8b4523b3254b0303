#pragma once

// Where pending tasks run: filters (ready and active, constraints,
// reservations, max replicas per node) and spread (fewest tasks of the same
// service, then fewest tasks overall, then node id). Pure: no CAF, no clock.

#include "actors/store/objects.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace skep::scheduler {

/// A decision: run task `task_id` on node `node_id`.
struct placement {
  std::string task_id;
  std::string node_id;
};

/// A task no node could take, and why, in Docker's words, e.g. "no suitable
/// node (2 nodes not available for new tasks; insufficient resources on 1
/// node)".
struct unplaced_task {
  std::string task_id;
  std::string reason;
};

/// What one placer::place call decided. Every pending task appears in
/// exactly one of the two lists.
struct plan {
  std::vector<placement> placed;
  std::vector<unplaced_task> unplaced;
};

/// Returns the spec of a service, or nullptr when there is no such service.
using spec_lookup
  = std::function<const store::service_spec*(const std::string& service_id)>;

/// The scheduler's view of the cluster: the nodes and the tasks that hold a
/// place on them. Built once from the store and then kept up to date with
/// set_node/remove_node/set_task/remove_task as changes arrive; each of those
/// costs O(log) or O(1), and place() sees their effect at once.
///
/// A task holds a place (counts towards spread and max replicas per node and
/// reserves its resources) while it has a node and its state is not
/// terminal. Tasks are tracked by id, so telling the placer the same task
/// twice counts it once.
class placer {
 public:
  /// Adds `node`, or replaces what the placer knows of it (status,
  /// availability, role, labels), keeping the tasks counted on it.
  /// `capacity` is what tasks may reserve in total; 0 in a field means
  /// unknown, that is no limit.
  void set_node(const store::node_object& node, store::resources capacity = {});

  /// Stops offering node `node_id` to new tasks. The tasks counted on it stay
  /// counted until removed; set_node brings the node back. No-op for an
  /// unknown id.
  void remove_node(const std::string& node_id);

  /// Records the latest version of `task`: afterwards it holds a place on
  /// task.node_id if that is non-empty and task.status.state is not terminal,
  /// and no place otherwise. The node need not be known yet.
  void set_task(const store::task_object& task);

  /// Forgets the task `task_id` (e.g. it was deleted). No-op if unknown.
  void remove_task(const std::string& task_id);

  /// Chooses a node for each task of `pending`. Tasks with a node_id (global
  /// services) may only go to that node; the others go to the eligible node
  /// with the fewest tasks of their service, then the fewest tasks, then the
  /// smallest id. A node is eligible if it is ready and active, matches the
  /// service's constraints, has room for the task's reservations and holds
  /// fewer than max_replicas_per_node tasks of the service.
  ///
  /// Each placed task holds its place on return (as after set_task with the
  /// chosen node), so later tasks in the same call and later calls see it;
  /// if the caller fails to commit a placement it must set_task the task
  /// again as it is. A task placed before (tracked with a node) is moved.
  /// Unplaced tasks keep what they held. Tasks of an unknown service or with
  /// invalid constraints end up unplaced with a reason saying so.
  ///
  /// Requires: no task id appears twice in `pending`. The result depends
  /// only on the placer's content and the order of `pending`, not on the
  /// order nodes or tasks were added.
  plan place(const std::vector<const store::task_object*>& pending,
             const spec_lookup& spec_of);

  /// Nodes added and not removed.
  size_t node_count() const noexcept { return present_nodes_; }

  /// Tasks holding a place.
  size_t task_count() const noexcept { return tasks_.size(); }

  /// Tasks holding a place on `node_id`; 0 for an unknown node.
  uint32_t tasks_on(const std::string& node_id) const;

  /// Tasks of service `service_id` holding a place on `node_id`.
  uint32_t service_tasks_on(const std::string& node_id,
                            const std::string& service_id) const;

  /// Sum of the reservations of the tasks holding a place on `node_id`.
  store::resources reserved_on(const std::string& node_id) const;

 private:
  struct node_entry {
    store::node_object node;
    store::resources capacity;
    store::resources reserved;
    uint32_t total = 0;
    uint32_t rank = 0; ///< position by id among present nodes
    bool present = false;
  };

  struct service_counts {
    std::unordered_map<uint32_t, uint32_t> per_node;
    uint64_t total = 0;
  };

  using service_map = std::unordered_map<std::string, service_counts>;

  // Pointers into service_map stay valid across inserts (node-based map).
  struct held_place {
    uint32_t node = 0;
    service_map::value_type* service = nullptr;
    store::resources reservations;
  };

  // Which nodes pass the filters that cannot change during one place()
  // call (ready and active, constraints), for one set of constraints.
  struct eligibility {
    std::string error;             ///< non-empty: the constraints do not parse
    std::vector<uint8_t> verdict;  ///< per node, see placement.cpp
    std::vector<uint32_t> passing; ///< nodes whose verdict is pass
    uint32_t unavailable = 0;
    uint32_t unmatched = 0;
  };

  struct batch;

  uint32_t node_slot(const std::string& node_id);
  service_map::value_type& service_slot(const std::string& service_id);
  void count(const held_place& held);
  void uncount(const held_place& held, bool erase_empty_service);
  void hold(const store::task_object& task, uint32_t node,
            service_map::value_type& service);
  void refresh_ranks();
  const eligibility& eligibility_for(const std::vector<std::string>& exprs);
  bool fits(uint32_t node, const store::resources& need,
            uint64_t max_per_node) const;
  void place_preset(const store::task_object& task, const eligibility& el,
                    uint64_t max_per_node, service_map::value_type& service,
                    plan& out);
  void place_batch(const batch& b, const eligibility& el, uint64_t max_per_node,
                   service_map::value_type& service, plan& out);
  std::string explain_batch(const eligibility& el, const store::resources& need,
                            uint64_t max_per_node) const;
  void leave_unplaced(const store::task_object& task, std::string reason,
                      const service_map::value_type* current, plan& out);

  std::vector<node_entry> nodes_;
  std::unordered_map<std::string, uint32_t> node_index_;
  size_t present_nodes_ = 0;
  bool ranks_dirty_ = false;
  service_map services_;
  std::unordered_map<std::string, held_place> tasks_;

  // Scratch state of one place() call.
  std::map<std::vector<std::string>, eligibility> eligibility_;
  std::unordered_map<const store::task_object*, held_place> prior_;
  std::vector<uint32_t> service_count_; ///< per node, current service only
  struct candidate {
    uint32_t service_tasks;
    uint32_t tasks;
    uint32_t rank;
    uint32_t node;
  };
  std::vector<candidate> heap_;
};

} // namespace skep::scheduler
