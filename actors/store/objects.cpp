#include "actors/store/objects.hpp"

namespace skep::store {

const char* to_string(availability value) noexcept {
  switch (value) {
  case availability::active:
    return "active";
  case availability::pause:
    return "pause";
  case availability::drain:
    return "drain";
  }
  return "unknown";
}

const char* to_string(node_status value) noexcept {
  switch (value) {
  case node_status::unknown:
    return "unknown";
  case node_status::ready:
    return "ready";
  case node_status::down:
    return "down";
  case node_status::disconnected:
    return "disconnected";
  }
  return "unknown";
}

bool operator==(const cluster_spec& x, const cluster_spec& y) {
  return x.task_history_limit == y.task_history_limit
         && x.dispatcher_heartbeat == y.dispatcher_heartbeat
         && x.cert_expiry == y.cert_expiry
         && x.snapshot_interval == y.snapshot_interval
         && x.election_ticks == y.election_ticks
         && x.heartbeat_ticks == y.heartbeat_ticks;
}

bool operator==(const cluster_object& x, const cluster_object& y) {
  return x.id == y.id && x.created_at_nanos == y.created_at_nanos
         && x.spec == y.spec && x.ca_secret_key == y.ca_secret_key
         && x.worker_token == y.worker_token
         && x.manager_token == y.manager_token && x.version == y.version;
}

bool operator==(const node_object& x, const node_object& y) {
  return x.id == y.id && x.hostname == y.hostname && x.role == y.role
         && x.avail == y.avail && x.labels == y.labels && x.addr == y.addr
         && x.status == y.status && x.status_message == y.status_message
         && x.engine_version == y.engine_version && x.public_key == y.public_key
         && x.created_at_nanos == y.created_at_nanos
         && x.updated_at_nanos == y.updated_at_nanos && x.version == y.version
         && x.capacity == y.capacity;
}

const char* to_string(service_mode value) noexcept {
  return value == service_mode::global ? "global" : "replicated";
}

const char* to_string(restart_condition value) noexcept {
  switch (value) {
  case restart_condition::none:
    return "none";
  case restart_condition::on_failure:
    return "on-failure";
  case restart_condition::any:
    return "any";
  }
  return "unknown";
}

const char* to_string(update_order value) noexcept {
  return value == update_order::start_first ? "start-first" : "stop-first";
}

const char* to_string(failure_action value) noexcept {
  switch (value) {
  case failure_action::pause:
    return "pause";
  case failure_action::proceed:
    return "continue";
  case failure_action::rollback:
    return "rollback";
  }
  return "unknown";
}

const char* to_string(task_state value) noexcept {
  switch (value) {
  case task_state::new_task:
    return "new";
  case task_state::pending:
    return "pending";
  case task_state::assigned:
    return "assigned";
  case task_state::accepted:
    return "accepted";
  case task_state::preparing:
    return "preparing";
  case task_state::starting:
    return "starting";
  case task_state::running:
    return "running";
  case task_state::complete:
    return "complete";
  case task_state::shutdown:
    return "shutdown";
  case task_state::failed:
    return "failed";
  case task_state::rejected:
    return "rejected";
  case task_state::orphaned:
    return "orphaned";
  case task_state::remove:
    return "remove";
  }
  return "unknown";
}

bool operator==(const restart_policy& x, const restart_policy& y) {
  return x.condition == y.condition && x.delay == y.delay
         && x.max_attempts == y.max_attempts && x.window == y.window;
}

bool operator==(const update_config& x, const update_config& y) {
  return x.parallelism == y.parallelism && x.delay == y.delay
         && x.monitor == y.monitor && x.on_failure == y.on_failure
         && x.max_failure_ratio == y.max_failure_ratio && x.order == y.order;
}

bool operator==(const service_spec& x, const service_spec& y) {
  return x.name == y.name && x.labels == y.labels && x.container == y.container
         && x.mode == y.mode && x.replicas == y.replicas
         && x.constraints == y.constraints
         && x.max_replicas_per_node == y.max_replicas_per_node
         && x.reservations == y.reservations && x.limits == y.limits
         && x.restart == y.restart && x.update == y.update
         && x.rollback == y.rollback && x.ports == y.ports;
}

bool operator==(const service_object& x, const service_object& y) {
  return x.id == y.id && x.spec == y.spec && x.previous_spec == y.previous_spec
         && x.spec_version == y.spec_version
         && x.created_at_nanos == y.created_at_nanos
         && x.updated_at_nanos == y.updated_at_nanos && x.version == y.version;
}

bool operator==(const task_status& x, const task_status& y) {
  return x.state == y.state && x.at_nanos == y.at_nanos
         && x.message == y.message && x.err == y.err
         && x.exit_code == y.exit_code && x.host_ports == y.host_ports;
}

bool operator==(const task_object& x, const task_object& y) {
  return x.id == y.id && x.service_id == y.service_id && x.slot == y.slot
         && x.node_id == y.node_id && x.spec_version == y.spec_version
         && x.container == y.container && x.reservations == y.reservations
         && x.limits == y.limits && x.ports == y.ports
         && x.desired_state == y.desired_state && x.status == y.status
         && x.created_at_nanos == y.created_at_nanos && x.version == y.version;
}

} // namespace skep::store
