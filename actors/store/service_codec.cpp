// Services and tasks in and out of messages/store.capnp, and the checks of
// everything the schema cannot express.

#include "actors/store/codec.hpp"
#include "actors/store/codec_detail.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

namespace skep::store {

namespace sc = schema::store;
using detail::check_id;
using detail::invalid;
using detail::printable;
using detail::text_of;
using detail::within;

namespace {

// The schema's enums list the C++ enumerators in the same order, so a
// number converts once it is in range.
template <class Schema, class Cpp>
constexpr bool same(Schema schema_value, Cpp cpp_value) {
  return static_cast<int>(schema_value) == static_cast<int>(cpp_value);
}
static_assert(same(sc::ServiceMode::REPLICATED, service_mode::replicated));
static_assert(same(sc::ServiceMode::GLOBAL, service_mode::global));
static_assert(same(sc::RestartCondition::NONE, restart_condition::none));
static_assert(same(sc::RestartCondition::ON_FAILURE,
                   restart_condition::on_failure));
static_assert(same(sc::RestartCondition::ANY, restart_condition::any));
static_assert(same(sc::UpdateOrder::STOP_FIRST, update_order::stop_first));
static_assert(same(sc::UpdateOrder::START_FIRST, update_order::start_first));
static_assert(same(sc::FailureAction::PAUSE, failure_action::pause));
static_assert(same(sc::FailureAction::PROCEED, failure_action::proceed));
static_assert(same(sc::FailureAction::ROLLBACK, failure_action::rollback));
static_assert(same(sc::TaskState::NEW, task_state::new_task));
static_assert(same(sc::TaskState::PENDING, task_state::pending));
static_assert(same(sc::TaskState::ASSIGNED, task_state::assigned));
static_assert(same(sc::TaskState::ACCEPTED, task_state::accepted));
static_assert(same(sc::TaskState::PREPARING, task_state::preparing));
static_assert(same(sc::TaskState::STARTING, task_state::starting));
static_assert(same(sc::TaskState::RUNNING, task_state::running));
static_assert(same(sc::TaskState::COMPLETE, task_state::complete));
static_assert(same(sc::TaskState::SHUTDOWN, task_state::shutdown));
static_assert(same(sc::TaskState::FAILED, task_state::failed));
static_assert(same(sc::TaskState::REJECTED, task_state::rejected));
static_assert(same(sc::TaskState::ORPHANED, task_state::orphaned));
static_assert(same(sc::TaskState::REMOVE, task_state::remove));

// `value` as a C++ enum whose last enumerator is `last`, or a failure
// naming `what` for a number this build does not know.
template <class Out, class In>
result<Out> enum_of(In value, Out last, const char* what) {
  auto n = static_cast<uint16_t>(value);
  if (n > static_cast<uint16_t>(last))
    return invalid(fmt::format("unknown {} {}", what, n));
  return static_cast<Out>(n);
}

// True when the C++ value is one its enum declares.
template <class Enum>
bool in_range(Enum value, Enum last) {
  auto n = static_cast<int>(value);
  return n >= 0 && n <= static_cast<int>(last);
}

template <class Enum>
auto schema_of(Enum value) {
  if constexpr (std::is_same_v<Enum, service_mode>)
    return static_cast<sc::ServiceMode>(value);
  else if constexpr (std::is_same_v<Enum, restart_condition>)
    return static_cast<sc::RestartCondition>(value);
  else if constexpr (std::is_same_v<Enum, update_order>)
    return static_cast<sc::UpdateOrder>(value);
  else
    return static_cast<sc::FailureAction>(value);
}

result<void> check_list_size(std::string_view what, size_t size) {
  if (size > max_list_size)
    return invalid(fmt::format("{} has {} entries; at most {} are allowed",
                               what, size, max_list_size));
  return {};
}

result<void> check_text(std::string_view what, std::string_view text) {
  if (text.size() > max_text_size)
    return invalid(fmt::format("{} is {} bytes long; at most {} are allowed",
                               what, text.size(), max_text_size));
  return {};
}

result<void> check_texts(std::string_view what,
                         const std::vector<std::string>& texts) {
  if (auto ok = check_list_size(what, texts.size()); !ok)
    return ok;
  for (const auto& text : texts)
    if (auto ok = check_text(fmt::format("an entry of {}", what), text); !ok)
      return ok;
  return {};
}

result<void> check_duration(std::string_view what,
                            std::chrono::nanoseconds value) {
  if (value.count() < 0)
    return invalid(fmt::format("{} must not be negative", what));
  return {};
}

result<void> check_labels(const std::map<std::string, std::string>& labels) {
  if (auto ok = check_list_size("the labels", labels.size()); !ok)
    return ok;
  for (const auto& [key, value] : labels) {
    if (key.empty())
      return invalid("a label key must not be empty");
    if (auto ok = check_text("a label key", key); !ok)
      return ok;
    if (auto ok = check_text(fmt::format("label {}", printable(key)), value);
        !ok)
      return ok;
  }
  return {};
}

result<void> check_env(const std::vector<std::string>& env) {
  if (auto ok = check_texts("the environment", env); !ok)
    return ok;
  std::set<std::string_view> keys;
  for (const auto& entry : env) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0)
      return invalid(fmt::format("environment entry \"{}\" is not KEY=VALUE "
                                 "with a non-empty KEY",
                                 printable(entry)));
    auto key = std::string_view{entry}.substr(0, eq);
    if (!keys.insert(key).second)
      return invalid(
        fmt::format("environment variable {} is set twice", printable(key)));
  }
  return {};
}

result<void> check_container(const container_spec& spec) {
  if (spec.image.empty())
    return invalid("the image must not be empty: give an image or, with the "
                   "process runtime, an executable");
  if (auto ok = check_text("the image", spec.image); !ok)
    return ok;
  if (auto ok = check_texts("the arguments", spec.args); !ok)
    return ok;
  if (auto ok = check_env(spec.env); !ok)
    return ok;
  if (auto ok = check_text("the working directory", spec.workdir); !ok)
    return ok;
  return check_duration("the stop grace period", spec.stop_grace);
}

result<void> check_resources(std::string_view what, const resources& res) {
  if (res.nano_cpus < 0 || res.memory_bytes < 0)
    return invalid(fmt::format("{} must not be negative", what));
  return {};
}

result<void> check_ports(const std::vector<port_config>& ports) {
  if (auto ok = check_list_size("the ports", ports.size()); !ok)
    return ok;
  for (const auto& port : ports) {
    if (port.target == 0)
      return invalid("a port's target must be 1 to 65535");
    if (port.protocol != "tcp" && port.protocol != "udp")
      return invalid(fmt::format("port {}: the protocol \"{}\" is neither "
                                 "tcp nor udp",
                                 port.target, printable(port.protocol)));
  }
  return {};
}

result<void> check_constraints(const std::vector<std::string>& constraints) {
  if (auto ok = check_texts("the constraints", constraints); !ok)
    return ok;
  // The scheduler parses them; here only what makes one unusable anywhere.
  for (const auto& c : constraints) {
    auto op = c.find("==");
    if (op == std::string::npos)
      op = c.find("!=");
    if (op == std::string::npos || op == 0)
      return invalid(fmt::format("constraint \"{}\" is not KEY==VALUE or "
                                 "KEY!=VALUE",
                                 printable(c)));
  }
  return {};
}

result<void> check_update(std::string_view what, const update_config& cfg) {
  auto in_config = [&](const failure& why) {
    return fail(why.code, fmt::format("{}: {}", what, why.message));
  };
  if (auto ok = check_duration("the delay", cfg.delay); !ok)
    return in_config(ok.error());
  if (auto ok = check_duration("the monitor period", cfg.monitor); !ok)
    return in_config(ok.error());
  if (!in_range(cfg.on_failure, failure_action::rollback))
    return in_config(invalid(fmt::format("unknown failure action {}",
                                         static_cast<int>(cfg.on_failure))));
  if (!std::isfinite(cfg.max_failure_ratio) || cfg.max_failure_ratio < 0
      || cfg.max_failure_ratio > 1)
    return in_config(
      invalid("the max failure ratio must be a number from 0 to 1"));
  if (!in_range(cfg.order, update_order::start_first))
    return in_config(invalid(
      fmt::format("unknown update order {}", static_cast<int>(cfg.order))));
  return {};
}

result<void> check_restart(const restart_policy& policy) {
  if (!in_range(policy.condition, restart_condition::any))
    return invalid(fmt::format("unknown restart condition {}",
                               static_cast<int>(policy.condition)));
  if (auto ok = check_duration("the restart delay", policy.delay); !ok)
    return ok;
  return check_duration("the restart window", policy.window);
}

// Readers of lists: each refuses an oversized list before allocating.

result<std::vector<std::string>> texts_of(capnp::List<capnp::Text>::Reader in,
                                          std::string_view what) {
  if (auto ok = check_list_size(what, in.size()); !ok)
    return std::move(ok).error();
  std::vector<std::string> out;
  out.reserve(in.size());
  for (auto text : in)
    out.push_back(text_of(text));
  return out;
}

result<std::map<std::string, std::string>>
labels_of(capnp::List<sc::Label>::Reader in) {
  if (auto ok = check_list_size("the labels", in.size()); !ok)
    return std::move(ok).error();
  std::map<std::string, std::string> out;
  for (auto label : in) {
    auto key = text_of(label.getKey());
    if (key.empty())
      return invalid("a label key must not be empty");
    if (!out.emplace(key, text_of(label.getValue())).second)
      return invalid(fmt::format("label {} appears twice", printable(key)));
  }
  return out;
}

result<std::vector<port_config>>
ports_of(capnp::List<sc::PortConfig>::Reader in) {
  if (auto ok = check_list_size("the ports", in.size()); !ok)
    return std::move(ok).error();
  std::vector<port_config> out;
  out.reserve(in.size());
  for (auto port : in)
    out.push_back(port_config{port.getPublished(), port.getTarget(),
                              text_of(port.getProtocol())});
  return out;
}

result<container_spec> container_of(sc::ContainerSpec::Reader in) {
  container_spec out;
  out.image = text_of(in.getImage());
  auto args = texts_of(in.getArgs(), "the arguments");
  if (!args)
    return std::move(args).error();
  out.args = std::move(*args);
  auto env = texts_of(in.getEnv(), "the environment");
  if (!env)
    return std::move(env).error();
  out.env = std::move(*env);
  out.workdir = text_of(in.getWorkdir());
  out.stop_grace = std::chrono::nanoseconds{in.getStopGraceNanos()};
  return out;
}

resources resources_of(sc::Resources::Reader in) {
  return resources{in.getNanoCpus(), in.getMemoryBytes()};
}

result<update_config> update_of(sc::UpdateConfig::Reader in) {
  update_config out;
  out.parallelism = in.getParallelism();
  out.delay = std::chrono::nanoseconds{in.getDelayNanos()};
  out.monitor = std::chrono::nanoseconds{in.getMonitorNanos()};
  auto action
    = enum_of(in.getOnFailure(), failure_action::rollback, "failure action");
  if (!action)
    return std::move(action).error();
  out.on_failure = *action;
  out.max_failure_ratio = in.getMaxFailureRatio();
  auto order
    = enum_of(in.getOrder(), update_order::start_first, "update order");
  if (!order)
    return std::move(order).error();
  out.order = *order;
  return out;
}

void write(const container_spec& spec, sc::ContainerSpec::Builder out) {
  out.setImage(spec.image);
  auto args = out.initArgs(static_cast<unsigned>(spec.args.size()));
  for (unsigned i = 0; i < spec.args.size(); ++i)
    args.set(i, spec.args[i]);
  auto env = out.initEnv(static_cast<unsigned>(spec.env.size()));
  for (unsigned i = 0; i < spec.env.size(); ++i)
    env.set(i, spec.env[i]);
  out.setWorkdir(spec.workdir);
  out.setStopGraceNanos(spec.stop_grace.count());
}

void write(const resources& res, sc::Resources::Builder out) {
  out.setNanoCpus(res.nano_cpus);
  out.setMemoryBytes(res.memory_bytes);
}

void write(const std::vector<port_config>& ports,
           capnp::List<sc::PortConfig>::Builder out) {
  for (unsigned i = 0; i < ports.size(); ++i) {
    out[i].setPublished(ports[i].published);
    out[i].setTarget(ports[i].target);
    out[i].setProtocol(ports[i].protocol);
  }
}

void write(const update_config& cfg, sc::UpdateConfig::Builder out) {
  out.setParallelism(cfg.parallelism);
  out.setDelayNanos(cfg.delay.count());
  out.setMonitorNanos(cfg.monitor.count());
  out.setOnFailure(schema_of(cfg.on_failure));
  out.setMaxFailureRatio(cfg.max_failure_ratio);
  out.setOrder(schema_of(cfg.order));
}

} // namespace

namespace detail {

result<task_state> task_state_of(sc::TaskState in) {
  return enum_of(in, task_state::remove, "task state");
}

sc::TaskState to_schema(task_state value) {
  return static_cast<sc::TaskState>(value);
}

bool is_known(task_state value) {
  return in_range(value, task_state::remove);
}

result<void> check_status(const task_status& status) {
  // remove is a desired state only: no task is ever in it.
  if (!in_range(status.state, task_state::orphaned))
    return invalid(
      fmt::format("unknown task state {}", static_cast<int>(status.state)));
  if (auto ok = check_text("the status message", status.message); !ok)
    return ok;
  if (auto ok = check_text("the status error", status.err); !ok)
    return ok;
  return check_list_size("the host ports", status.host_ports.size());
}

} // namespace detail

bool is_valid_service_name(std::string_view name) {
  if (name.empty() || name.size() > max_service_name_size)
    return false;
  auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
           || (c >= 'A' && c <= 'Z');
  };
  if (!alnum(name.front()))
    return false;
  for (char c : name)
    if (!alnum(c) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

result<void> validate(const service_spec& spec) {
  if (!is_valid_service_name(spec.name))
    return invalid(fmt::format("service name \"{}\" is not valid: use 1 to {} "
                               "characters of [A-Za-z0-9_.-], starting with a "
                               "letter or digit",
                               printable(spec.name), max_service_name_size));
  if (auto ok = check_labels(spec.labels); !ok)
    return ok;
  if (auto ok = check_container(spec.container); !ok)
    return ok;
  if (!in_range(spec.mode, service_mode::global))
    return invalid(
      fmt::format("unknown service mode {}", static_cast<int>(spec.mode)));
  if (spec.replicas > max_replicas)
    return invalid(fmt::format("{} replicas is too many; at most {} are "
                               "allowed",
                               spec.replicas, max_replicas));
  if (auto ok = check_constraints(spec.constraints); !ok)
    return ok;
  if (auto ok = check_resources("the reservations", spec.reservations); !ok)
    return ok;
  if (auto ok = check_resources("the limits", spec.limits); !ok)
    return ok;
  if (auto ok = check_restart(spec.restart); !ok)
    return ok;
  if (auto ok = check_update("the update config", spec.update); !ok)
    return ok;
  if (auto ok = check_update("the rollback config", spec.rollback); !ok)
    return ok;
  return check_ports(spec.ports);
}

result<void> validate(const service_object& service) {
  if (auto ok = check_id("service", service.id); !ok)
    return ok;
  if (auto ok = validate(service.spec); !ok)
    return within(fmt::format("service {}", service.id), ok.error());
  if (service.previous_spec)
    if (auto ok = validate(*service.previous_spec); !ok)
      return within(fmt::format("service {}: previous spec", service.id),
                    ok.error());
  return {};
}

result<void> validate(const task_object& task) {
  if (auto ok = check_id("task", task.id); !ok)
    return ok;
  auto in_task = [&](const failure& why) {
    return within(fmt::format("task {}", task.id), why);
  };
  if (auto ok = check_id("service", task.service_id); !ok)
    return in_task(ok.error());
  if (!task.node_id.empty())
    if (auto ok = check_id("node", task.node_id); !ok)
      return in_task(ok.error());
  if (task.slot > max_replicas)
    return in_task(invalid(fmt::format("slot {} is above the most replicas a "
                                       "service may have ({})",
                                       task.slot, max_replicas)));
  if (auto ok = check_container(task.container); !ok)
    return in_task(ok.error());
  if (auto ok = check_resources("the reservations", task.reservations); !ok)
    return in_task(ok.error());
  if (auto ok = check_resources("the limits", task.limits); !ok)
    return in_task(ok.error());
  if (auto ok = check_ports(task.ports); !ok)
    return in_task(ok.error());
  if (!detail::is_known(task.desired_state))
    return in_task(invalid(fmt::format("unknown desired state {}",
                                       static_cast<int>(task.desired_state))));
  if (auto ok = detail::check_status(task.status); !ok)
    return in_task(ok.error());
  return {};
}

void to_schema(const service_spec& spec, sc::ServiceSpec::Builder out) {
  out.setName(spec.name);
  auto labels = out.initLabels(static_cast<unsigned>(spec.labels.size()));
  unsigned i = 0;
  for (const auto& [key, value] : spec.labels) {
    labels[i].setKey(key);
    labels[i].setValue(value);
    ++i;
  }
  write(spec.container, out.initContainer());
  out.setMode(schema_of(spec.mode));
  out.setReplicas(spec.replicas);
  auto constraints
    = out.initConstraints(static_cast<unsigned>(spec.constraints.size()));
  for (unsigned j = 0; j < spec.constraints.size(); ++j)
    constraints.set(j, spec.constraints[j]);
  out.setMaxReplicasPerNode(spec.max_replicas_per_node);
  write(spec.reservations, out.initReservations());
  write(spec.limits, out.initLimits());
  auto restart = out.initRestart();
  restart.setCondition(schema_of(spec.restart.condition));
  restart.setDelayNanos(spec.restart.delay.count());
  restart.setMaxAttempts(spec.restart.max_attempts);
  restart.setWindowNanos(spec.restart.window.count());
  write(spec.update, out.initUpdate());
  write(spec.rollback, out.initRollback());
  write(spec.ports, out.initPorts(static_cast<unsigned>(spec.ports.size())));
}

void to_schema(const service_object& service, sc::Service::Builder out) {
  out.setId(service.id);
  to_schema(service.spec, out.initSpec());
  if (service.previous_spec)
    to_schema(*service.previous_spec, out.initPreviousSpec());
  out.setSpecVersion(service.spec_version);
  out.setCreatedAtNanos(service.created_at_nanos);
  out.setUpdatedAtNanos(service.updated_at_nanos);
  out.setVersion(service.version);
}

void to_schema(const task_status& status, sc::TaskStatus::Builder out) {
  out.setState(detail::to_schema(status.state));
  out.setAtNanos(status.at_nanos);
  out.setMessage(status.message);
  out.setErr(status.err);
  out.setExitCode(status.exit_code);
  auto ports
    = out.initHostPorts(static_cast<unsigned>(status.host_ports.size()));
  for (unsigned i = 0; i < status.host_ports.size(); ++i)
    ports.set(i, status.host_ports[i]);
}

void to_schema(const task_object& task, sc::Task::Builder out) {
  out.setId(task.id);
  out.setServiceId(task.service_id);
  out.setSlot(task.slot);
  out.setNodeId(task.node_id);
  out.setSpecVersion(task.spec_version);
  write(task.container, out.initContainer());
  write(task.reservations, out.initReservations());
  write(task.limits, out.initLimits());
  write(task.ports, out.initPorts(static_cast<unsigned>(task.ports.size())));
  out.setDesiredState(detail::to_schema(task.desired_state));
  to_schema(task.status, out.initStatus());
  out.setCreatedAtNanos(task.created_at_nanos);
  out.setVersion(task.version);
}

result<service_spec> from_schema(sc::ServiceSpec::Reader in) {
  service_spec out;
  out.name = text_of(in.getName());
  auto labels = labels_of(in.getLabels());
  if (!labels)
    return std::move(labels).error();
  out.labels = std::move(*labels);
  auto container = container_of(in.getContainer());
  if (!container)
    return std::move(container).error();
  out.container = std::move(*container);
  auto mode = enum_of(in.getMode(), service_mode::global, "service mode");
  if (!mode)
    return std::move(mode).error();
  out.mode = *mode;
  out.replicas = in.getReplicas();
  auto constraints = texts_of(in.getConstraints(), "the constraints");
  if (!constraints)
    return std::move(constraints).error();
  out.constraints = std::move(*constraints);
  out.max_replicas_per_node = in.getMaxReplicasPerNode();
  out.reservations = resources_of(in.getReservations());
  out.limits = resources_of(in.getLimits());
  auto restart = in.getRestart();
  auto condition = enum_of(restart.getCondition(), restart_condition::any,
                           "restart condition");
  if (!condition)
    return std::move(condition).error();
  out.restart.condition = *condition;
  out.restart.delay = std::chrono::nanoseconds{restart.getDelayNanos()};
  out.restart.max_attempts = restart.getMaxAttempts();
  out.restart.window = std::chrono::nanoseconds{restart.getWindowNanos()};
  auto update = update_of(in.getUpdate());
  if (!update)
    return within("the update config", update.error());
  out.update = *update;
  auto rollback = update_of(in.getRollback());
  if (!rollback)
    return within("the rollback config", rollback.error());
  out.rollback = *rollback;
  auto ports = ports_of(in.getPorts());
  if (!ports)
    return std::move(ports).error();
  out.ports = std::move(*ports);
  if (auto ok = validate(out); !ok)
    return std::move(ok).error();
  return out;
}

result<service_object> from_schema(sc::Service::Reader in) {
  service_object out;
  out.id = text_of(in.getId());
  if (auto ok = check_id("service", out.id); !ok)
    return std::move(ok).error();
  auto spec = from_schema(in.getSpec());
  if (!spec)
    return within(fmt::format("service {}", out.id), spec.error());
  out.spec = std::move(*spec);
  if (in.hasPreviousSpec()) {
    auto previous = from_schema(in.getPreviousSpec());
    if (!previous)
      return within(fmt::format("service {}: previous spec", out.id),
                    previous.error());
    out.previous_spec = std::move(*previous);
  }
  out.spec_version = in.getSpecVersion();
  out.created_at_nanos = in.getCreatedAtNanos();
  out.updated_at_nanos = in.getUpdatedAtNanos();
  out.version = in.getVersion();
  return out;
}

result<task_status> from_schema(sc::TaskStatus::Reader in) {
  task_status out;
  auto state = detail::task_state_of(in.getState());
  if (!state)
    return std::move(state).error();
  out.state = *state;
  out.at_nanos = in.getAtNanos();
  out.message = text_of(in.getMessage());
  out.err = text_of(in.getErr());
  out.exit_code = in.getExitCode();
  auto ports = in.getHostPorts();
  if (auto ok = check_list_size("the host ports", ports.size()); !ok)
    return std::move(ok).error();
  out.host_ports.reserve(ports.size());
  for (auto port : ports)
    out.host_ports.push_back(port);
  if (auto ok = detail::check_status(out); !ok)
    return std::move(ok).error();
  return out;
}

result<task_object> from_schema(sc::Task::Reader in) {
  task_object out;
  out.id = text_of(in.getId());
  if (auto ok = check_id("task", out.id); !ok)
    return std::move(ok).error();
  auto in_task = [&](const failure& why) {
    return within(fmt::format("task {}", out.id), why);
  };
  out.service_id = text_of(in.getServiceId());
  out.slot = in.getSlot();
  out.node_id = text_of(in.getNodeId());
  out.spec_version = in.getSpecVersion();
  auto container = container_of(in.getContainer());
  if (!container)
    return in_task(container.error());
  out.container = std::move(*container);
  out.reservations = resources_of(in.getReservations());
  out.limits = resources_of(in.getLimits());
  auto ports = ports_of(in.getPorts());
  if (!ports)
    return in_task(ports.error());
  out.ports = std::move(*ports);
  auto desired = detail::task_state_of(in.getDesiredState());
  if (!desired)
    return in_task(desired.error());
  out.desired_state = *desired;
  auto status = from_schema(in.getStatus());
  if (!status)
    return in_task(status.error());
  out.status = std::move(*status);
  out.created_at_nanos = in.getCreatedAtNanos();
  out.version = in.getVersion();
  if (auto ok = validate(out); !ok)
    return std::move(ok).error();
  return out;
}

} // namespace skep::store
