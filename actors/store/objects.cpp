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
         && x.updated_at_nanos == y.updated_at_nanos && x.version == y.version;
}

} // namespace skep::store
