#include "actors/store/codec.hpp"

#include "actors/store/codec_detail.hpp"
#include "messages/message.hpp"

#include <cstring>
#include <type_traits>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>

namespace skep::store {

namespace sc = schema::store;
using detail::check_id;
using detail::invalid;
using detail::printable;
using detail::text_of;
using detail::within;

namespace detail {

std::string printable(std::string_view text) {
  std::string out{text.substr(0, max_id_size)};
  for (auto& c : out)
    if (c < 0x20 || c > 0x7e)
      c = '?';
  if (text.size() > max_id_size)
    out += "...";
  return out;
}

result<void> check_id(std::string_view what, std::string_view id) {
  if (id.empty())
    return invalid(fmt::format("{} id must not be empty", what));
  if (!is_valid_object_id(id))
    return invalid(fmt::format("{} id \"{}\" is not valid: use 1 to {} "
                               "characters of [0-9A-Za-z._-]",
                               what, printable(id), max_id_size));
  return {};
}

failure within(std::string_view context, const failure& why) {
  return fail(why.code, fmt::format("{}: {}", context, why.message));
}

} // namespace detail

namespace {

template <size_t N>
kj::ArrayPtr<const kj::byte> data_of(const std::array<uint8_t, N>& bytes) {
  return kj::arrayPtr(bytes.data(), bytes.size());
}

// Cap'n Proto enums read whatever number a sender wrote; these map the known
// ones and refuse the rest.

result<availability> availability_of(sc::Availability in) {
  switch (in) {
  case sc::Availability::ACTIVE:
    return availability::active;
  case sc::Availability::PAUSE:
    return availability::pause;
  case sc::Availability::DRAIN:
    return availability::drain;
  }
  return invalid(
    fmt::format("unknown availability {}", static_cast<uint16_t>(in)));
}

result<node_status> status_of(sc::NodeStatus in) {
  switch (in) {
  case sc::NodeStatus::UNKNOWN:
    return node_status::unknown;
  case sc::NodeStatus::READY:
    return node_status::ready;
  case sc::NodeStatus::DOWN:
    return node_status::down;
  case sc::NodeStatus::DISCONNECTED:
    return node_status::disconnected;
  }
  return invalid(
    fmt::format("unknown node status {}", static_cast<uint16_t>(in)));
}

result<ca::node_role> role_of(schema::ca::NodeRole in) {
  switch (in) {
  case schema::ca::NodeRole::WORKER:
    return ca::node_role::worker;
  case schema::ca::NodeRole::MANAGER:
    return ca::node_role::manager;
  }
  return invalid(
    fmt::format("unknown node role {}", static_cast<uint16_t>(in)));
}

sc::Availability to_schema(availability value) {
  switch (value) {
  case availability::active:
    return sc::Availability::ACTIVE;
  case availability::pause:
    return sc::Availability::PAUSE;
  case availability::drain:
    return sc::Availability::DRAIN;
  }
  return sc::Availability::ACTIVE;
}

sc::NodeStatus to_schema(node_status value) {
  switch (value) {
  case node_status::unknown:
    return sc::NodeStatus::UNKNOWN;
  case node_status::ready:
    return sc::NodeStatus::READY;
  case node_status::down:
    return sc::NodeStatus::DOWN;
  case node_status::disconnected:
    return sc::NodeStatus::DISCONNECTED;
  }
  return sc::NodeStatus::UNKNOWN;
}

result<void> check_spec(const cluster_spec& spec) {
  if (spec.dispatcher_heartbeat.count() <= 0)
    return invalid("the dispatcher heartbeat period must be positive");
  if (spec.cert_expiry.count() <= 0)
    return invalid("the certificate expiry must be positive");
  if (spec.snapshot_interval == 0)
    return invalid("the snapshot interval must be at least 1 entry");
  if (spec.heartbeat_ticks == 0)
    return invalid("the raft heartbeat must be at least 1 tick");
  if (spec.election_ticks <= spec.heartbeat_ticks)
    return invalid(fmt::format("the raft election timeout ({} ticks) must be "
                               "longer than the heartbeat ({} ticks)",
                               spec.election_ticks, spec.heartbeat_ticks));
  return {};
}

// Writes one action into `out`, one overload per kind.
struct action_writer {
  sc::Action::Builder out;

  void operator()(const create_cluster& a) {
    to_schema(a.cluster, out.initCreateCluster());
  }
  void operator()(const update_cluster& a) {
    auto w = out.initUpdateCluster();
    to_schema(a.cluster, w.initCluster());
    w.setExpectedVersion(a.expected_version);
  }
  void operator()(const put_node& a) {
    auto w = out.initPutNode();
    to_schema(a.node, w.initNode());
    w.setExpectedVersion(a.expected_version);
  }
  void operator()(const remove_node& a) {
    auto w = out.initRemoveNode();
    w.setId(a.id);
    w.setExpectedVersion(a.expected_version);
  }
  void operator()(const set_node_status& a) {
    auto w = out.initSetNodeStatus();
    w.setId(a.id);
    w.setStatus(to_schema(a.status));
    w.setMessage(a.message);
    w.setAtNanos(a.at_nanos);
  }
  void operator()(const put_service& a) {
    auto w = out.initPutService();
    to_schema(a.service, w.initService());
    w.setExpectedVersion(a.expected_version);
  }
  void operator()(const remove_service& a) {
    auto w = out.initRemoveService();
    w.setId(a.id);
    w.setExpectedVersion(a.expected_version);
  }
  void operator()(const put_task& a) {
    auto w = out.initPutTask();
    to_schema(a.task, w.initTask());
    w.setExpectedVersion(a.expected_version);
  }
  void operator()(const remove_task& a) { out.initRemoveTask().setId(a.id); }
  void operator()(const assign_task& a) {
    auto w = out.initAssignTask();
    w.setId(a.id);
    w.setNodeId(a.node_id);
    w.setAtNanos(a.at_nanos);
    w.setMessage(a.message);
  }
  void operator()(const set_task_status& a) {
    auto w = out.initSetTaskStatus();
    w.setId(a.id);
    to_schema(a.status, w.initStatus());
  }
  void operator()(const set_task_desired_state& a) {
    auto w = out.initSetTaskDesiredState();
    w.setId(a.id);
    w.setDesiredState(detail::to_schema(a.desired_state));
  }
};

// Reads the task actions; the caller handles the others.
result<action> task_action_from(sc::Action::Reader in) {
  switch (in.which()) {
  case sc::Action::PUT_TASK: {
    auto put = in.getPutTask();
    auto task = from_schema(put.getTask());
    if (!task)
      return std::move(task).error();
    return action{put_task{std::move(*task), put.getExpectedVersion()}};
  }
  case sc::Action::REMOVE_TASK: {
    remove_task out{text_of(in.getRemoveTask().getId())};
    if (auto ok = check_id("task", out.id); !ok)
      return std::move(ok).error();
    return action{std::move(out)};
  }
  case sc::Action::ASSIGN_TASK: {
    auto assign = in.getAssignTask();
    assign_task out{text_of(assign.getId()), text_of(assign.getNodeId()),
                    assign.getAtNanos(), text_of(assign.getMessage())};
    if (auto ok = validate(action{out}); !ok)
      return std::move(ok).error();
    return action{std::move(out)};
  }
  case sc::Action::SET_TASK_STATUS: {
    auto set = in.getSetTaskStatus();
    set_task_status out;
    out.id = text_of(set.getId());
    if (auto ok = check_id("task", out.id); !ok)
      return std::move(ok).error();
    auto status = from_schema(set.getStatus());
    if (!status)
      return within(fmt::format("task {}", out.id), status.error());
    out.status = std::move(*status);
    return action{std::move(out)};
  }
  case sc::Action::SET_TASK_DESIRED_STATE: {
    auto set = in.getSetTaskDesiredState();
    set_task_desired_state out;
    out.id = text_of(set.getId());
    if (auto ok = check_id("task", out.id); !ok)
      return std::move(ok).error();
    auto state = detail::task_state_of(set.getDesiredState());
    if (!state)
      return within(fmt::format("task {}", out.id), state.error());
    out.desired_state = *state;
    return action{std::move(out)};
  }
  default:
    break;
  }
  // A member added by a newer Skep: refuse rather than skip, so that no
  // manager applies half of what the proposer meant.
  return fail(errc::malformed_message,
              fmt::format("unknown action kind {}; is a manager running a "
                          "newer Skep?",
                          static_cast<uint16_t>(in.which())));
}

result<action> action_from(sc::Action::Reader in) {
  switch (in.which()) {
  case sc::Action::CREATE_CLUSTER: {
    auto cluster = from_schema(in.getCreateCluster());
    if (!cluster)
      return std::move(cluster).error();
    return action{create_cluster{std::move(*cluster)}};
  }
  case sc::Action::UPDATE_CLUSTER: {
    auto update = in.getUpdateCluster();
    auto cluster = from_schema(update.getCluster());
    if (!cluster)
      return std::move(cluster).error();
    return action{
      update_cluster{std::move(*cluster), update.getExpectedVersion()}};
  }
  case sc::Action::PUT_NODE: {
    auto put = in.getPutNode();
    auto node = from_schema(put.getNode());
    if (!node)
      return std::move(node).error();
    return action{put_node{std::move(*node), put.getExpectedVersion()}};
  }
  case sc::Action::REMOVE_NODE: {
    auto remove = in.getRemoveNode();
    remove_node out{text_of(remove.getId()), remove.getExpectedVersion()};
    if (auto ok = check_id("node", out.id); !ok)
      return std::move(ok).error();
    return action{std::move(out)};
  }
  case sc::Action::SET_NODE_STATUS: {
    auto set = in.getSetNodeStatus();
    set_node_status out;
    out.id = text_of(set.getId());
    if (auto ok = check_id("node", out.id); !ok)
      return std::move(ok).error();
    auto status = status_of(set.getStatus());
    if (!status)
      return std::move(status).error();
    out.status = *status;
    out.message = text_of(set.getMessage());
    out.at_nanos = set.getAtNanos();
    return action{std::move(out)};
  }
  case sc::Action::PUT_SERVICE: {
    auto put = in.getPutService();
    auto service = from_schema(put.getService());
    if (!service)
      return std::move(service).error();
    return action{put_service{std::move(*service), put.getExpectedVersion()}};
  }
  case sc::Action::REMOVE_SERVICE: {
    auto remove = in.getRemoveService();
    remove_service out{text_of(remove.getId()), remove.getExpectedVersion()};
    if (auto ok = check_id("service", out.id); !ok)
      return std::move(ok).error();
    return action{std::move(out)};
  }
  default:
    return task_action_from(in);
  }
}

// Checks for objects built in memory, matching what from_schema refuses.

result<void> check_labels(const std::map<std::string, std::string>& labels) {
  for (const auto& entry : labels)
    if (entry.first.empty())
      return invalid("a label key must not be empty");
  return {};
}

result<void> check(const cluster_object& cluster) {
  if (auto ok = check_id("cluster", cluster.id); !ok)
    return ok;
  if (auto ok = check_spec(cluster.spec); !ok)
    return within(fmt::format("cluster {}", cluster.id), ok.error());
  if (cluster.worker_token.empty() || cluster.manager_token.empty())
    return invalid(
      fmt::format("cluster {}: both join tokens must be set", cluster.id));
  return {};
}

bool is_known(node_status status) {
  return status == node_status::unknown || status == node_status::ready
         || status == node_status::down || status == node_status::disconnected;
}

result<void> check(const node_object& node) {
  if (auto ok = check_id("node", node.id); !ok)
    return ok;
  bool known_role
    = node.role == ca::node_role::worker || node.role == ca::node_role::manager;
  bool known_avail = node.avail == availability::active
                     || node.avail == availability::pause
                     || node.avail == availability::drain;
  if (!known_role || !known_avail || !is_known(node.status))
    return invalid(fmt::format("node {}: unknown role, availability or "
                               "status",
                               node.id));
  if (auto ok = check_labels(node.labels); !ok)
    return within(fmt::format("node {}", node.id), ok.error());
  return {};
}

// One overload per action kind, for validate(const action&).
struct action_checker {
  result<void> operator()(const create_cluster& a) { return check(a.cluster); }
  result<void> operator()(const update_cluster& a) { return check(a.cluster); }
  result<void> operator()(const put_node& a) { return check(a.node); }
  result<void> operator()(const remove_node& a) {
    return check_id("node", a.id);
  }
  result<void> operator()(const set_node_status& a) {
    if (auto ok = check_id("node", a.id); !ok)
      return ok;
    if (!is_known(a.status))
      return invalid(fmt::format("node {}: unknown status {}", a.id,
                                 static_cast<int>(a.status)));
    return {};
  }
  result<void> operator()(const put_service& a) { return validate(a.service); }
  result<void> operator()(const remove_service& a) {
    return check_id("service", a.id);
  }
  result<void> operator()(const put_task& a) { return validate(a.task); }
  result<void> operator()(const remove_task& a) {
    return check_id("task", a.id);
  }
  result<void> operator()(const assign_task& a) {
    if (auto ok = check_id("task", a.id); !ok)
      return ok;
    if (auto ok = check_id("node", a.node_id); !ok)
      return within(fmt::format("task {}", a.id), ok.error());
    if (a.message.size() > max_text_size)
      return invalid(fmt::format("task {}: the assignment message is {} "
                                 "bytes long; at most {} are allowed",
                                 a.id, a.message.size(), max_text_size));
    return {};
  }
  result<void> operator()(const set_task_status& a) {
    if (auto ok = check_id("task", a.id); !ok)
      return ok;
    if (auto ok = detail::check_status(a.status); !ok)
      return within(fmt::format("task {}", a.id), ok.error());
    return {};
  }
  result<void> operator()(const set_task_desired_state& a) {
    if (auto ok = check_id("task", a.id); !ok)
      return ok;
    if (!detail::is_known(a.desired_state))
      return invalid(fmt::format("task {}: unknown desired state {}", a.id,
                                 static_cast<int>(a.desired_state)));
    return {};
  }
};

} // namespace

result<void> validate(const action& a) {
  return std::visit(action_checker{}, a);
}

bool is_valid_object_id(std::string_view id) {
  if (id.empty() || id.size() > max_id_size)
    return false;
  for (char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

void to_schema(const cluster_object& cluster, sc::Cluster::Builder out) {
  out.setId(cluster.id);
  out.setCreatedAtNanos(cluster.created_at_nanos);
  auto spec = out.initSpec();
  spec.setTaskHistoryLimit(cluster.spec.task_history_limit);
  spec.setDispatcherHeartbeatNanos(cluster.spec.dispatcher_heartbeat.count());
  spec.setCertExpiryNanos(cluster.spec.cert_expiry.count());
  spec.setSnapshotInterval(cluster.spec.snapshot_interval);
  spec.setElectionTicks(cluster.spec.election_ticks);
  spec.setHeartbeatTicks(cluster.spec.heartbeat_ticks);
  out.setCaSecretKey(data_of(cluster.ca_secret_key));
  out.setWorkerToken(cluster.worker_token);
  out.setManagerToken(cluster.manager_token);
  out.setVersion(cluster.version);
}

void to_schema(const node_object& node, sc::Node::Builder out) {
  out.setId(node.id);
  out.setHostname(node.hostname);
  out.setRole(node.role == ca::node_role::manager
                ? schema::ca::NodeRole::MANAGER
                : schema::ca::NodeRole::WORKER);
  out.setAvailability(to_schema(node.avail));
  auto labels = out.initLabels(static_cast<unsigned>(node.labels.size()));
  unsigned i = 0;
  for (const auto& [key, value] : node.labels) {
    labels[i].setKey(key);
    labels[i].setValue(value);
    ++i;
  }
  out.setAddr(node.addr);
  out.setStatus(to_schema(node.status));
  out.setStatusMessage(node.status_message);
  out.setEngineVersion(node.engine_version);
  out.setPublicKey(data_of(node.public_key));
  out.setCreatedAtNanos(node.created_at_nanos);
  out.setUpdatedAtNanos(node.updated_at_nanos);
  out.setNanoCpus(node.capacity.nano_cpus);
  out.setMemoryBytes(node.capacity.memory_bytes);
  out.setVersion(node.version);
}

result<cluster_object> from_schema(sc::Cluster::Reader in) {
  cluster_object out;
  out.id = text_of(in.getId());
  if (auto ok = check_id("cluster", out.id); !ok)
    return std::move(ok).error();
  out.created_at_nanos = in.getCreatedAtNanos();
  auto spec = in.getSpec();
  out.spec.task_history_limit = spec.getTaskHistoryLimit();
  out.spec.dispatcher_heartbeat
    = std::chrono::nanoseconds{spec.getDispatcherHeartbeatNanos()};
  out.spec.cert_expiry = std::chrono::nanoseconds{spec.getCertExpiryNanos()};
  out.spec.snapshot_interval = spec.getSnapshotInterval();
  out.spec.election_ticks = spec.getElectionTicks();
  out.spec.heartbeat_ticks = spec.getHeartbeatTicks();
  if (auto ok = check_spec(out.spec); !ok)
    return fail(errc::invalid_argument,
                fmt::format("cluster {}: {}", out.id, ok.error().message));
  auto key = in.getCaSecretKey();
  if (key.size() != out.ca_secret_key.size())
    return invalid(fmt::format("cluster {}: the CA secret key has {} bytes, "
                               "not 64",
                               out.id, key.size()));
  std::memcpy(out.ca_secret_key.data(), key.begin(), key.size());
  out.worker_token = text_of(in.getWorkerToken());
  out.manager_token = text_of(in.getManagerToken());
  if (out.worker_token.empty() || out.manager_token.empty())
    return invalid(
      fmt::format("cluster {}: both join tokens must be set", out.id));
  out.version = in.getVersion();
  return out;
}

result<node_object> from_schema(sc::Node::Reader in) {
  node_object out;
  out.id = text_of(in.getId());
  if (auto ok = check_id("node", out.id); !ok)
    return std::move(ok).error();
  auto in_node = [&](const failure& why) {
    return fail(why.code, fmt::format("node {}: {}", out.id, why.message));
  };
  out.hostname = text_of(in.getHostname());
  auto role = role_of(in.getRole());
  if (!role)
    return in_node(role.error());
  out.role = *role;
  auto avail = availability_of(in.getAvailability());
  if (!avail)
    return in_node(avail.error());
  out.avail = *avail;
  for (auto label : in.getLabels()) {
    auto key = text_of(label.getKey());
    if (key.empty())
      return in_node(invalid("a label key must not be empty"));
    if (!out.labels.emplace(key, text_of(label.getValue())).second)
      return in_node(
        invalid(fmt::format("label {} appears twice", printable(key))));
  }
  out.addr = text_of(in.getAddr());
  auto status = status_of(in.getStatus());
  if (!status)
    return in_node(status.error());
  out.status = *status;
  out.status_message = text_of(in.getStatusMessage());
  out.engine_version = text_of(in.getEngineVersion());
  auto key = in.getPublicKey();
  if (key.size() != out.public_key.size())
    return in_node(
      invalid(fmt::format("the public key has {} bytes, not 32", key.size())));
  std::memcpy(out.public_key.data(), key.begin(), key.size());
  out.created_at_nanos = in.getCreatedAtNanos();
  out.updated_at_nanos = in.getUpdatedAtNanos();
  out.version = in.getVersion();
  out.capacity.nano_cpus = in.getNanoCpus();
  out.capacity.memory_bytes = in.getMemoryBytes();
  if (out.capacity.nano_cpus < 0 || out.capacity.memory_bytes < 0)
    return in_node(invalid("the capacity is negative"));
  return out;
}

namespace {

void set_tag(sc::Batch::Builder batch, proposal_tag tag) {
  if (tag.seq == 0)
    return;
  auto p = batch.initProposal();
  p.setProposer(tag.proposer);
  p.setSeq(tag.seq);
}

} // namespace

std::vector<uint8_t> encode_batch(const std::vector<action>& actions,
                                  proposal_tag tag) {
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<sc::Batch>();
  auto list = batch.initActions(static_cast<unsigned>(actions.size()));
  for (unsigned i = 0; i < actions.size(); ++i)
    std::visit(action_writer{list[i]}, actions[i]);
  set_tag(batch, tag);
  return message<sc::Batch>::from(builder).encode();
}

result<std::vector<uint8_t>> stamp_batch(const uint8_t* data, size_t size,
                                         proposal_tag tag) {
  auto msg = message<sc::Batch>::decode(
    data, size, read_limits_for_frames(max_batch_bytes));
  if (!msg)
    return std::move(msg).error();
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<sc::Batch>();
  batch.setActions(msg->root().getActions());
  set_tag(batch, tag);
  return message<sc::Batch>::from(builder).encode();
}

proposal_tag proposal_of(const uint8_t* data, size_t size) noexcept {
  // An entry's payload is one flat Cap'n Proto message (message::encode);
  // reading the root's tag touches a few words, each bounds-checked.
  if (size % sizeof(capnp::word) != 0 || size > max_batch_bytes
      || reinterpret_cast<uintptr_t>(data) % alignof(capnp::word) != 0)
    return {};
  try {
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(
      reinterpret_cast<const capnp::word*>(data), size / sizeof(capnp::word)));
    auto batch = reader.getRoot<sc::Batch>();
    if (!batch.hasProposal())
      return {};
    auto p = batch.getProposal();
    return {p.getProposer(), p.getSeq()};
  } catch (...) {
    return {};
  }
}

result<std::vector<action>> decode_batch(const uint8_t* data, size_t size) {
  auto msg = message<sc::Batch>::decode(
    data, size, read_limits_for_frames(max_batch_bytes));
  if (!msg)
    return std::move(msg).error();
  std::vector<action> out;
  auto actions = msg->root().getActions();
  out.reserve(actions.size());
  for (unsigned i = 0; i < actions.size(); ++i) {
    auto next = action_from(actions[i]);
    if (!next && actions.size() == 1)
      return std::move(next).error();
    if (!next)
      return fail(next.error().code,
                  fmt::format("action {} of {}: {}", i + 1, actions.size(),
                              next.error().message));
    out.push_back(std::move(*next));
  }
  return out;
}

} // namespace skep::store
