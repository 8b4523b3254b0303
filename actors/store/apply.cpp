#include "actors/store/apply.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace skep::store::detail {

namespace {

// Objects a batch in progress put (a value) or removed (nullopt), by id.
template <class T>
using overlay = std::map<std::string, std::optional<T>, std::less<>>;

// The changes of a batch in progress, over the committed state: nothing
// touches the store until every action succeeded. It holds only what the
// batch touched, so its cost follows the batch, not the store.
class staging {
 public:
  explicit staging(const objects& base) : base_(base) {}

  const cluster_object* cluster() const {
    if (cluster_)
      return &*cluster_;
    return base_.cluster ? &*base_.cluster : nullptr;
  }

  const node_object* node(std::string_view id) const {
    if (auto i = nodes_.find(id); i != nodes_.end())
      return i->second ? &*i->second : nullptr;
    auto j = base_.nodes.find(id);
    return j != base_.nodes.end() ? &j->second : nullptr;
  }

  const service_object* service(std::string_view id) const {
    if (auto i = services_.find(id); i != services_.end())
      return i->second ? &*i->second : nullptr;
    return base_.service(id);
  }

  const service_object* service_named(std::string_view name) const {
    if (auto i = names_.find(name); i != names_.end())
      return service(i->second);
    auto* committed = base_.service_named(name);
    // A staged put or remove of that service has given the name up; had
    // the put kept it, names_ would hold it.
    if (committed && services_.count(committed->id) > 0)
      return nullptr;
    return committed;
  }

  const task_object* task(std::string_view id) const {
    if (auto i = tasks_.find(id); i != tasks_.end())
      return i->second ? &*i->second : nullptr;
    return base_.task(id);
  }

  // A staged copy of the task to change in place, or nullptr when there is
  // no such task. Copies the committed task on first use only.
  task_object* edit_task(std::string_view id) {
    auto i = tasks_.find(id);
    if (i == tasks_.end()) {
      auto* committed = base_.task(id);
      if (!committed)
        return nullptr;
      i = tasks_.emplace(std::string{id}, *committed).first;
    }
    return i->second ? &*i->second : nullptr;
  }

  void put_cluster(cluster_object cluster) { cluster_ = std::move(cluster); }

  void put_node(node_object node) {
    auto id = node.id;
    nodes_.insert_or_assign(std::move(id), std::move(node));
  }

  void remove_node(std::string_view id) {
    nodes_.insert_or_assign(std::string{id}, std::nullopt);
  }

  void put_service(service_object service) {
    drop_staged_name(service.id);
    names_.insert_or_assign(service.spec.name, service.id);
    auto id = service.id;
    services_.insert_or_assign(std::move(id), std::move(service));
  }

  void remove_service(std::string_view id) {
    drop_staged_name(id);
    services_.insert_or_assign(std::string{id}, std::nullopt);
  }

  void put_task(task_object task) {
    auto id = task.id;
    tasks_.insert_or_assign(std::move(id), std::move(task));
  }

  void remove_task(std::string_view id) {
    tasks_.insert_or_assign(std::string{id}, std::nullopt);
  }

  void commit_to(objects& state) && {
    if (cluster_)
      state.cluster = std::move(cluster_);
    for (auto& [id, node] : nodes_) {
      if (node)
        state.nodes.insert_or_assign(id, std::move(*node));
      else
        state.nodes.erase(id);
    }
    for (auto& [id, service] : services_) {
      if (service)
        state.put_service(std::move(*service));
      else
        state.erase_service(id);
    }
    for (auto& [id, task] : tasks_) {
      if (task)
        state.put_task(std::move(*task));
      else
        state.erase_task(id);
    }
  }

 private:
  void drop_staged_name(std::string_view id) {
    auto i = services_.find(id);
    if (i == services_.end() || !i->second)
      return;
    auto name = names_.find(i->second->spec.name);
    if (name != names_.end() && name->second == id)
      names_.erase(name);
  }

  const objects& base_;
  std::optional<cluster_object> cluster_;
  overlay<node_object> nodes_;
  overlay<service_object> services_;
  // The names of the services put in this batch, to their ids.
  std::map<std::string, std::string, std::less<>> names_;
  overlay<task_object> tasks_;
};

failure out_of_sequence(const std::string& what, uint64_t stored,
                        uint64_t expected) {
  return fail(errc::invalid_argument,
              fmt::format("update out of sequence: {} is at version {}, not "
                          "{}; read it again and retry",
                          what, stored, expected));
}

failure no_swarm() {
  return fail(errc::not_found, "there is no swarm yet: create one with `skep "
                               "swarm init`");
}

failure not_found(std::string_view what, std::string_view id) {
  return fail(errc::not_found, fmt::format("{} {} not found", what, id));
}

using outcome = result<std::optional<change>>;

outcome changed(change::kind what, std::string id) {
  return std::optional<change>{change{what, std::move(id)}};
}

// A conditional action that does not apply: no change, no failure.
outcome skipped() {
  return std::optional<change>{};
}

// Checks one action against the staged state and stages its effect. Takes
// the action by reference to move the objects it carries into staging.
struct action_applier {
  staging& state;
  uint64_t index;

  outcome operator()(create_cluster& a) {
    if (auto existing = state.cluster())
      return fail(errc::already_exists,
                  fmt::format("a swarm already exists (cluster {}); leave it "
                              "before creating another",
                              existing->id));
    auto id = a.cluster.id;
    a.cluster.version = index;
    state.put_cluster(std::move(a.cluster));
    return changed(change::kind::cluster, std::move(id));
  }

  outcome operator()(update_cluster& a) {
    auto current = state.cluster();
    if (!current)
      return no_swarm();
    if (a.expected_version != current->version)
      return out_of_sequence("cluster " + current->id, current->version,
                             a.expected_version);
    if (a.cluster.id != current->id)
      return fail(errc::invalid_argument,
                  fmt::format("the cluster id cannot change (from {} to {})",
                              current->id, a.cluster.id));
    if (a.cluster.created_at_nanos != current->created_at_nanos)
      return fail(errc::invalid_argument,
                  fmt::format("cluster {}: the creation time cannot change",
                              current->id));
    auto id = a.cluster.id;
    a.cluster.version = index;
    state.put_cluster(std::move(a.cluster));
    return changed(change::kind::cluster, std::move(id));
  }

  outcome operator()(put_node& a) {
    if (!state.cluster())
      return no_swarm();
    auto current = state.node(a.node.id);
    if (a.expected_version == 0 && current)
      return fail(errc::already_exists,
                  fmt::format("node {} already exists", a.node.id));
    if (a.expected_version != 0) {
      if (!current)
        return not_found("node", a.node.id);
      if (a.expected_version != current->version)
        return out_of_sequence("node " + a.node.id, current->version,
                               a.expected_version);
      if (a.node.created_at_nanos != current->created_at_nanos)
        return fail(
          errc::invalid_argument,
          fmt::format("node {}: the join time cannot change", a.node.id));
    }
    auto what
      = current ? change::kind::node_updated : change::kind::node_created;
    auto id = a.node.id;
    a.node.version = index;
    state.put_node(std::move(a.node));
    return changed(what, std::move(id));
  }

  outcome operator()(remove_node& a) {
    if (!state.cluster())
      return no_swarm();
    auto current = state.node(a.id);
    if (!current)
      return not_found("node", a.id);
    if (a.expected_version != 0 && a.expected_version != current->version)
      return out_of_sequence("node " + a.id, current->version,
                             a.expected_version);
    state.remove_node(a.id);
    return changed(change::kind::node_removed, a.id);
  }

  outcome operator()(set_node_status& a) {
    if (!state.cluster())
      return no_swarm();
    auto current = state.node(a.id);
    if (!current)
      return not_found("node", a.id);
    auto node = *current;
    node.status = a.status;
    node.status_message = a.message;
    node.updated_at_nanos = a.at_nanos;
    node.version = index;
    state.put_node(std::move(node));
    return changed(change::kind::node_updated, a.id);
  }

  outcome operator()(put_service& a) {
    if (!state.cluster())
      return no_swarm();
    const auto& id = a.service.id;
    auto current = state.service(id);
    if (a.expected_version == 0 && current)
      return fail(errc::already_exists,
                  fmt::format("service {} already exists", id));
    if (a.expected_version != 0) {
      if (!current)
        return not_found("service", id);
      if (a.expected_version != current->version)
        return out_of_sequence("service " + id, current->version,
                               a.expected_version);
      if (a.service.created_at_nanos != current->created_at_nanos)
        return fail(
          errc::invalid_argument,
          fmt::format("service {}: the creation time cannot change", id));
    }
    const auto& name = a.service.spec.name;
    if (auto other = state.service_named(name); other && other->id != id)
      return fail(errc::already_exists,
                  fmt::format("service name {} is already in use by service "
                              "{}; choose another name",
                              name, other->id));
    auto what
      = current ? change::kind::service_updated : change::kind::service_created;
    auto out = id;
    a.service.version = index;
    state.put_service(std::move(a.service));
    return changed(what, std::move(out));
  }

  outcome operator()(remove_service& a) {
    if (!state.cluster())
      return no_swarm();
    auto current = state.service(a.id);
    if (!current)
      return not_found("service", a.id);
    if (a.expected_version != 0 && a.expected_version != current->version)
      return out_of_sequence("service " + a.id, current->version,
                             a.expected_version);
    state.remove_service(a.id);
    return changed(change::kind::service_removed, a.id);
  }

  outcome operator()(put_task& a) {
    if (!state.cluster())
      return no_swarm();
    const auto& id = a.task.id;
    auto current = state.task(id);
    if (a.expected_version == 0) {
      if (current)
        return fail(errc::already_exists,
                    fmt::format("task {} already exists", id));
      if (!state.service(a.task.service_id))
        return fail(
          errc::not_found,
          fmt::format("task {}: service {} not found", id, a.task.service_id));
    } else {
      if (!current)
        return not_found("task", id);
      if (a.expected_version != current->version)
        return out_of_sequence("task " + id, current->version,
                               a.expected_version);
      if (a.task.service_id != current->service_id)
        return fail(errc::invalid_argument,
                    fmt::format("task {}: the service cannot change (from {} "
                                "to {})",
                                id, current->service_id, a.task.service_id));
    }
    auto what
      = current ? change::kind::task_updated : change::kind::task_created;
    auto out = id;
    a.task.version = index;
    state.put_task(std::move(a.task));
    return changed(what, std::move(out));
  }

  outcome operator()(remove_task& a) {
    if (!state.task(a.id))
      return skipped();
    state.remove_task(a.id);
    return changed(change::kind::task_removed, a.id);
  }

  outcome operator()(assign_task& a) {
    auto current = state.task(a.id);
    if (!current || current->status.state != task_state::pending
        || current->desired_state > task_state::running
        || !state.node(a.node_id))
      return skipped();
    auto task = state.edit_task(a.id);
    task->node_id = a.node_id;
    task->status.state = task_state::assigned;
    task->status.at_nanos = a.at_nanos;
    task->status.message = std::move(a.message);
    task->status.err.clear();
    task->version = index;
    return changed(change::kind::task_updated, a.id);
  }

  outcome operator()(set_task_status& a) {
    auto current = state.task(a.id);
    if (!current || a.status.state < current->status.state)
      return skipped();
    // Still in the same state: it entered it when it first said so.
    if (a.status.state == current->status.state)
      a.status.at_nanos = current->status.at_nanos;
    if (a.status == current->status)
      return skipped();
    auto task = state.edit_task(a.id);
    task->status = std::move(a.status);
    task->version = index;
    return changed(change::kind::task_updated, a.id);
  }

  outcome operator()(set_task_desired_state& a) {
    auto current = state.task(a.id);
    if (!current || a.desired_state <= current->desired_state)
      return skipped();
    auto task = state.edit_task(a.id);
    task->desired_state = a.desired_state;
    task->version = index;
    return changed(change::kind::task_updated, a.id);
  }
};

} // namespace

result<std::vector<change>> apply_actions(objects& state, uint64_t index,
                                          std::vector<action> actions) {
  staging staged{state};
  std::vector<change> changes;
  changes.reserve(actions.size());
  for (size_t i = 0; i < actions.size(); ++i) {
    auto done = std::visit(action_applier{staged, index}, actions[i]);
    if (!done) {
      if (actions.size() == 1)
        return std::move(done).error();
      return fail(done.error().code,
                  fmt::format("action {} of {}: {}", i + 1, actions.size(),
                              done.error().message));
    }
    if (*done)
      changes.push_back(std::move(**done));
  }
  std::move(staged).commit_to(state);
  return changes;
}

} // namespace skep::store::detail
