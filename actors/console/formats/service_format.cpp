#include "actors/console/formats/service_format.hpp"

#include "actors/console/formats/swarm_format.hpp"
#include "config/units.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace skep::console {

namespace {

using json = nlohmann::ordered_json;
using schema::store::TaskState;

std::string str(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

std::string dump(const json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string rfc3339(int64_t nanos) {
  std::time_t secs = static_cast<std::time_t>(nanos / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, nanos % 1'000'000'000);
}

/// Docker's Ellipsis: at most `width` characters (UTF-8 aware), the last
/// one "…" when something was cut.
std::string ellipsis(const std::string& text, size_t width) {
  std::vector<size_t> starts; // byte offset of each character
  for (size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80)
      starts.push_back(i);
  if (starts.size() <= width)
    return text;
  return text.substr(0, starts[width - 1]) + "\xE2\x80\xA6";
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const char* mode_name(schema::store::ServiceMode mode) {
  return mode == schema::store::ServiceMode::GLOBAL ? "global" : "replicated";
}

const char* condition_name(schema::store::RestartCondition c) {
  switch (c) {
  case schema::store::RestartCondition::NONE:
    return "none";
  case schema::store::RestartCondition::ON_FAILURE:
    return "on-failure";
  default:
    return "any";
  }
}

const char* failure_action_name(schema::store::FailureAction a) {
  switch (a) {
  case schema::store::FailureAction::PROCEED:
    return "continue";
  case schema::store::FailureAction::ROLLBACK:
    return "rollback";
  default:
    return "pause";
  }
}

const char* order_name(schema::store::UpdateOrder o) {
  return o == schema::store::UpdateOrder::START_FIRST ? "start-first"
                                                      : "stop-first";
}

/// Go's %v of a float: "0", "0.5", "1".
std::string go_float(double v) {
  return fmt::format("{}", v);
}

/// Docker's units.BytesSize: "64MiB", "1.5GiB".
std::string docker_bytes(int64_t bytes) {
  constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  auto value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.4g}{}", value, units[unit]);
}

std::string duration_text(int64_t nanos) {
  return config::format_duration(std::chrono::nanoseconds{nanos});
}

json text_list(capnp::List<capnp::Text>::Reader list) {
  auto out = json::array();
  for (auto t : list)
    out.push_back(str(t));
  return out;
}

json resources_json(schema::store::Resources::Reader r) {
  auto out = json::object();
  if (r.getNanoCpus() != 0)
    out["NanoCPUs"] = r.getNanoCpus();
  if (r.getMemoryBytes() != 0)
    out["MemoryBytes"] = r.getMemoryBytes();
  return out;
}

json rolling_json(schema::store::UpdateConfig::Reader u) {
  return json{{"Parallelism", u.getParallelism()},
              {"Delay", u.getDelayNanos()},
              {"FailureAction", failure_action_name(u.getOnFailure())},
              {"Monitor", u.getMonitorNanos()},
              {"MaxFailureRatio", u.getMaxFailureRatio()},
              {"Order", order_name(u.getOrder())}};
}

json spec_json(schema::store::ServiceSpec::Reader spec) {
  auto labels = json::object();
  for (auto l : spec.getLabels())
    labels[str(l.getKey())] = str(l.getValue());
  auto c = spec.getContainer();
  json container{{"Image", str(c.getImage())}};
  if (c.getArgs().size() > 0)
    container["Args"] = text_list(c.getArgs());
  if (c.getEnv().size() > 0)
    container["Env"] = text_list(c.getEnv());
  if (c.getWorkdir().size() > 0)
    container["Dir"] = str(c.getWorkdir());
  container["StopGracePeriod"] = c.getStopGraceNanos();
  auto restart = spec.getRestart();
  auto placement = json::object();
  if (spec.getConstraints().size() > 0)
    placement["Constraints"] = text_list(spec.getConstraints());
  if (spec.getMaxReplicasPerNode() > 0)
    placement["MaxReplicas"] = spec.getMaxReplicasPerNode();
  json task_template{
    {"ContainerSpec", container},
    {"Resources",
     {{"Limits", resources_json(spec.getLimits())},
      {"Reservations", resources_json(spec.getReservations())}}},
    {"RestartPolicy",
     {{"Condition", condition_name(restart.getCondition())},
      {"Delay", restart.getDelayNanos()},
      {"MaxAttempts", restart.getMaxAttempts()},
      {"Window", restart.getWindowNanos()}}},
    {"Placement", placement}};
  json mode;
  if (spec.getMode() == schema::store::ServiceMode::GLOBAL)
    mode["Global"] = json::object();
  else
    mode["Replicated"] = {{"Replicas", spec.getReplicas()}};
  auto ports = json::array();
  for (auto p : spec.getPorts())
    ports.push_back({{"Protocol", str(p.getProtocol())},
                     {"TargetPort", p.getTarget()},
                     {"PublishedPort", p.getPublished()},
                     {"PublishMode", "ingress"}});
  json endpoint{{"Mode", "vip"}};
  if (!ports.empty())
    endpoint["Ports"] = ports;
  return json{{"Name", str(spec.getName())},
              {"Labels", labels},
              {"TaskTemplate", task_template},
              {"Mode", mode},
              {"UpdateConfig", rolling_json(spec.getUpdate())},
              {"RollbackConfig", rolling_json(spec.getRollback())},
              {"EndpointSpec", endpoint}};
}

std::string task_ports(schema::store::Task::Reader t) {
  auto ports = t.getPorts();
  auto host = t.getStatus().getHostPorts();
  std::string out;
  for (unsigned i = 0; i < host.size() && i < ports.size(); ++i) {
    if (!out.empty())
      out += ", ";
    out += fmt::format("*:{}->{}/{}", host[i], ports[i].getTarget(),
                       str(ports[i].getProtocol()));
  }
  return out;
}

/// One task as `service ps` shows it, before sorting.
struct task_row {
  std::string service; // name, or id when the service is gone
  uint64_t slot = 0;   // 0: global
  std::string node_id; // for global tasks' names
  int64_t created = 0; // newest first within a slot
  std::string id;
  schema::control::TaskView::Reader view;

  std::string name() const {
    return slot != 0 ? fmt::format("{}.{}", service, slot)
                     : fmt::format("{}.{}", service, node_id);
  }
};

std::vector<task_row>
sorted_rows(capnp::List<schema::control::TaskView>::Reader tasks) {
  std::vector<task_row> rows;
  for (auto v : tasks) {
    auto t = v.getTask();
    auto service = str(v.getServiceName());
    if (service.empty())
      service = str(t.getServiceId());
    rows.push_back(task_row{service, t.getSlot(), str(t.getNodeId()),
                            t.getCreatedAtNanos(), str(t.getId()), v});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
    if (x.service != y.service)
      return x.service < y.service;
    if (x.slot != y.slot)
      return x.slot < y.slot;
    // A slot's tasks may run on different nodes: only a global service's
    // tasks are named (and grouped) by node.
    if (x.slot == 0 && x.node_id != y.node_id)
      return x.node_id < y.node_id;
    if (x.created != y.created)
      return x.created > y.created;
    return x.id < y.id;
  });
  return rows;
}

std::string current_state(schema::store::TaskStatus::Reader status,
                          int64_t now_nanos) {
  auto state = title_case(task_state_name(status.getState()));
  if (status.getAtNanos() == 0)
    return state;
  return fmt::format("{} {} ago", state,
                     lower(human_duration(now_nanos - status.getAtNanos())));
}

bool failed(TaskState s) {
  return s == TaskState::FAILED || s == TaskState::REJECTED;
}

std::string error_of(schema::store::Task::Reader t) {
  auto err = str(t.getStatus().getErr());
  if (!err.empty())
    return err;
  if (t.getStatus().getState() == TaskState::FAILED)
    return fmt::format("task: non-zero exit ({})", t.getStatus().getExitCode());
  return task_state_name(t.getStatus().getState());
}

std::string progress_bar(TaskState s) {
  constexpr int width = 50;
  auto step = static_cast<int>(s) + 1; // new .. running: 1 .. 7
  auto filled = width * step / (static_cast<int>(TaskState::RUNNING) + 1);
  return "[" + std::string(static_cast<size_t>(filled - 1), '=') + ">"
         + std::string(static_cast<size_t>(width - filled), ' ') + "]";
}

/// What one slot's (or node's) tasks, newest first, say.
struct slot_assessment {
  bool done = false;
  std::string line_state;
  std::string done_id;
  std::string reason;
  std::string failure;
};

slot_assessment
assess_slot(const std::vector<schema::store::Task::Reader>& newest_first,
            uint64_t spec_version, const std::set<std::string>& failed_before,
            const std::string& label) {
  slot_assessment a;
  const schema::store::Task::Reader* current = nullptr;
  for (const auto& t : newest_first)
    if (t.getDesiredState() <= TaskState::RUNNING) {
      current = &t;
      break;
    }
  if (current != nullptr) {
    auto state = current->getStatus().getState();
    auto err = str(current->getStatus().getErr());
    a.done = state == TaskState::RUNNING
             && current->getSpecVersion() == spec_version;
    if (a.done)
      a.done_id = str(current->getId());
    // An outdated task waits to be replaced: its slot shows nothing yet.
    bool outdated = current->getSpecVersion() != spec_version;
    if (!outdated && state <= TaskState::RUNNING && err.empty())
      a.line_state
        = fmt::format("{:<10}{}", task_state_name(state), progress_bar(state));
    else if (!outdated)
      a.line_state = error_of(*current);
    if (!a.done && !err.empty())
      a.reason = err;
  }
  // Failures in a row: skip replacements that have not run yet, then count.
  size_t i = 0;
  while (i < newest_first.size()
         && newest_first[i].getStatus().getState() < TaskState::RUNNING)
    ++i;
  size_t run = 0;
  std::string last_error;
  for (; i < newest_first.size(); ++i) {
    const auto& t = newest_first[i];
    if (!failed(t.getStatus().getState())
        || failed_before.count(str(t.getId())) > 0)
      break;
    if (run == 0)
      last_error = error_of(t);
    ++run;
  }
  if (run > 0 && a.reason.empty() && !a.done)
    a.reason = last_error;
  if (run >= 3)
    a.failure
      = fmt::format("{}: {} tasks failed in a row: {}", label, run, last_error);
  return a;
}

} // namespace

std::string render_table(const std::vector<std::vector<std::string>>& rows,
                         size_t gap) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(width[i] - row[i].size() + gap, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string task_state_name(TaskState state) {
  switch (state) {
  case TaskState::NEW:
    return "new";
  case TaskState::PENDING:
    return "pending";
  case TaskState::ASSIGNED:
    return "assigned";
  case TaskState::ACCEPTED:
    return "accepted";
  case TaskState::PREPARING:
    return "preparing";
  case TaskState::STARTING:
    return "starting";
  case TaskState::RUNNING:
    return "running";
  case TaskState::COMPLETE:
    return "complete";
  case TaskState::SHUTDOWN:
    return "shutdown";
  case TaskState::FAILED:
    return "failed";
  case TaskState::REJECTED:
    return "rejected";
  case TaskState::ORPHANED:
    return "orphaned";
  case TaskState::REMOVE:
    return "remove";
  }
  return "unknown";
}

std::string human_duration(int64_t nanos) {
  constexpr int64_t second = 1'000'000'000;
  auto seconds = std::max<int64_t>(nanos, 0) / second;
  if (seconds < 1)
    return "Less than a second";
  if (seconds == 1)
    return "1 second";
  if (seconds < 60)
    return fmt::format("{} seconds", seconds);
  auto minutes = seconds / 60;
  if (minutes == 1)
    return "About a minute";
  if (minutes < 60)
    return fmt::format("{} minutes", minutes);
  auto hours = static_cast<int64_t>(
    std::llround(static_cast<double>(nanos) / (3600.0 * second)));
  if (hours == 1)
    return "About an hour";
  if (hours < 48)
    return fmt::format("{} hours", hours);
  if (hours < 24 * 7 * 2)
    return fmt::format("{} days", hours / 24);
  if (hours < 24 * 30 * 2)
    return fmt::format("{} weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2)
    return fmt::format("{} months", hours / 24 / 30);
  return fmt::format("{} years", seconds / 3600 / 24 / 365);
}

std::string short_id(const std::string& id) {
  return id.substr(0, 12);
}

std::string
format_service_ports(capnp::List<schema::store::PortConfig>::Reader ports) {
  std::string out;
  for (auto p : ports) {
    if (!out.empty())
      out += ", ";
    if (p.getPublished() == 0)
      out += fmt::format("{}/{}", p.getTarget(), str(p.getProtocol()));
    else
      out += fmt::format("*:{}->{}/{}", p.getPublished(), p.getTarget(),
                         str(p.getProtocol()));
  }
  return out;
}

namespace {

std::string replicas_text(schema::control::ServiceView::Reader v) {
  auto text = fmt::format("{}/{}", v.getRunningTasks(), v.getDesiredTasks());
  auto max = v.getService().getSpec().getMaxReplicasPerNode();
  if (max > 0)
    text += fmt::format(" (max {} per node)", max);
  return text;
}

} // namespace

std::string
format_service_table(capnp::List<schema::control::ServiceView>::Reader services,
                     bool quiet) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"});
  std::string ids;
  for (auto v : services) {
    auto s = v.getService();
    auto spec = s.getSpec();
    ids += short_id(str(s.getId())) + "\n";
    rows.push_back({short_id(str(s.getId())), str(spec.getName()),
                    mode_name(spec.getMode()), replicas_text(v),
                    str(spec.getContainer().getImage()),
                    format_service_ports(spec.getPorts())});
  }
  return quiet ? ids : render_table(rows);
}

std::string
service_lines_json(capnp::List<schema::control::ServiceView>::Reader services) {
  std::string out;
  for (auto v : services) {
    auto s = v.getService();
    auto spec = s.getSpec();
    json j{{"ID", short_id(str(s.getId()))},
           {"Name", str(spec.getName())},
           {"Mode", mode_name(spec.getMode())},
           {"Replicas", replicas_text(v)},
           {"Image", str(spec.getContainer().getImage())},
           {"Ports", format_service_ports(spec.getPorts())}};
    out += dump(j) + "\n";
  }
  return out;
}

std::string
format_task_table(capnp::List<schema::control::TaskView>::Reader tasks,
                  const task_table_options& options, int64_t now_nanos) {
  auto rows = sorted_rows(tasks);
  auto id_of = [&](const task_row& r) {
    return options.no_trunc ? r.id : short_id(r.id);
  };
  std::string out;
  if (options.quiet) {
    for (const auto& r : rows)
      out += id_of(r) + "\n";
    return out;
  }
  std::vector<std::vector<std::string>> table;
  table.push_back({"ID", "NAME", "IMAGE", "NODE", "DESIRED STATE",
                   "CURRENT STATE", "ERROR", "PORTS"});
  std::string previous;
  for (const auto& r : rows) {
    auto t = r.view.getTask();
    auto name = r.name();
    auto shown_name = name == previous ? " \\_ " + name : name;
    previous = name;
    auto node = str(r.view.getNodeHostname());
    if (node.empty())
      node = str(t.getNodeId());
    auto err = str(t.getStatus().getErr());
    if (!options.no_trunc)
      err = ellipsis(err, 30);
    if (!err.empty())
      err = "\"" + err + "\"";
    std::vector<std::string> row{
      id_of(r),
      shown_name,
      str(t.getContainer().getImage()),
      node,
      title_case(task_state_name(t.getDesiredState())),
      current_state(t.getStatus(), now_nanos),
      err,
      task_ports(t)};
    if (options.json)
      out += dump(json{{"ID", row[0]},
                       {"Name", name},
                       {"Image", row[2]},
                       {"Node", row[3]},
                       {"DesiredState", row[4]},
                       {"CurrentState", row[5]},
                       {"Error", row[6]},
                       {"Ports", row[7]}})
             + "\n";
    else
      table.push_back(std::move(row));
  }
  return options.json ? out : render_table(table);
}

std::string service_inspect_json(
  capnp::List<schema::control::ServiceView>::Reader services) {
  auto all = json::array();
  for (auto v : services) {
    auto s = v.getService();
    json j{{"ID", str(s.getId())},
           {"Version", {{"Index", s.getVersion()}}},
           {"CreatedAt", rfc3339(s.getCreatedAtNanos())},
           {"UpdatedAt", rfc3339(s.getUpdatedAtNanos())},
           {"Spec", spec_json(s.getSpec())}};
    if (s.hasPreviousSpec())
      j["PreviousSpec"] = spec_json(s.getPreviousSpec());
    all.push_back(std::move(j));
  }
  return dump(all, 4) + "\n";
}

namespace {

std::string rolling_pretty(schema::store::UpdateConfig::Reader u,
                           const char* order_label) {
  std::string out;
  out += fmt::format(" Parallelism:\t{}\n", u.getParallelism());
  if (u.getDelayNanos() != 0)
    out += fmt::format(" Delay:\t\t{}\n", duration_text(u.getDelayNanos()));
  out
    += fmt::format(" On failure:\t{}\n", failure_action_name(u.getOnFailure()));
  if (u.getMonitorNanos() != 0)
    out += fmt::format(" Monitoring Period: {}\n",
                       duration_text(u.getMonitorNanos()));
  out += fmt::format(" Max failure ratio: {}\n",
                     go_float(u.getMaxFailureRatio()));
  out += fmt::format(" {:<19}{}\n", std::string{order_label} + ":",
                     order_name(u.getOrder()));
  return out;
}

std::string resources_pretty(const char* title,
                             schema::store::Resources::Reader r) {
  if (r.getNanoCpus() == 0 && r.getMemoryBytes() == 0)
    return "";
  std::string out = fmt::format(" {}:\n", title);
  if (r.getNanoCpus() != 0)
    out += fmt::format("  CPU:\t\t{}\n",
                       go_float(static_cast<double>(r.getNanoCpus()) / 1e9));
  if (r.getMemoryBytes() != 0)
    out += fmt::format("  Memory:\t{}\n", docker_bytes(r.getMemoryBytes()));
  return out;
}

std::string joined(capnp::List<capnp::Text>::Reader list) {
  std::string out;
  for (auto t : list)
    out += (out.empty() ? "" : " ") + str(t);
  return out;
}

std::string service_pretty(schema::control::ServiceView::Reader v) {
  auto s = v.getService();
  auto spec = s.getSpec();
  std::string out;
  out += fmt::format("ID:\t\t{}\n", str(s.getId()));
  out += fmt::format("Name:\t\t{}\n", str(spec.getName()));
  if (spec.getLabels().size() > 0) {
    out += "Labels:\n";
    for (auto l : spec.getLabels())
      out
        += fmt::format(" {}{}\n", str(l.getKey()),
                       l.getValue().size() > 0 ? "=" + str(l.getValue()) : "");
  }
  if (spec.getMode() == schema::store::ServiceMode::GLOBAL) {
    out += "Service Mode:\tGlobal\n";
  } else {
    out += "Service Mode:\tReplicated\n";
    out += fmt::format(" Replicas:\t{}\n", spec.getReplicas());
  }
  out += "Placement:\n";
  if (spec.getConstraints().size() > 0) {
    std::string list;
    for (auto c : spec.getConstraints())
      list += (list.empty() ? "" : " ") + str(c);
    out += fmt::format(" Constraints:\t[{}]\n", list);
  }
  if (spec.getMaxReplicasPerNode() > 0)
    out += fmt::format(" Max Replicas Per Node:  {}\n",
                       spec.getMaxReplicasPerNode());
  out += "UpdateConfig:\n" + rolling_pretty(spec.getUpdate(), "Update order");
  out += "RollbackConfig:\n"
         + rolling_pretty(spec.getRollback(), "Rollback order");
  auto c = spec.getContainer();
  out += "ContainerSpec:\n";
  out += fmt::format(" Image:\t\t{}\n", str(c.getImage()));
  if (c.getArgs().size() > 0)
    out += fmt::format(" Args:\t\t{}\n", joined(c.getArgs()));
  if (c.getEnv().size() > 0)
    out += fmt::format(" Env:\t\t{}\n", joined(c.getEnv()));
  if (c.getWorkdir().size() > 0)
    out += fmt::format(" Dir:\t\t{}\n", str(c.getWorkdir()));
  auto resources = resources_pretty("Reservations", spec.getReservations())
                   + resources_pretty("Limits", spec.getLimits());
  if (!resources.empty())
    out += "Resources:\n" + resources;
  out += "Endpoint Mode:\tvip\n";
  if (spec.getPorts().size() > 0) {
    out += "Ports:\n";
    for (auto p : spec.getPorts())
      out += fmt::format(" PublishedPort = {}\n  Protocol = {}\n"
                         "  TargetPort = {}\n  PublishMode = ingress\n",
                         p.getPublished(), str(p.getProtocol()), p.getTarget());
  }
  return out;
}

} // namespace

std::string format_service_pretty(
  capnp::List<schema::control::ServiceView>::Reader services) {
  std::string out;
  for (auto v : services) {
    if (!out.empty())
      out += "\n";
    out += service_pretty(v);
  }
  return out;
}

service_progress
assess_progress(schema::control::ServiceView::Reader view,
                capnp::List<schema::control::TaskView>::Reader tasks,
                const std::set<std::string>& failed_before,
                progress_rows* rows) {
  constexpr uint64_t max_slot_lines = 20;
  auto s = view.getService();
  auto spec = s.getSpec();
  auto name = str(spec.getName());
  bool global = spec.getMode() == schema::store::ServiceMode::GLOBAL;
  // Tasks per slot (global: per node), newest first.
  std::map<std::string, std::vector<schema::store::Task::Reader>> by_node;
  std::map<uint64_t, std::vector<schema::store::Task::Reader>> by_slot;
  for (auto v : tasks) {
    auto t = v.getTask();
    if (t.getServiceId() != s.getId())
      continue;
    if (global)
      by_node[str(t.getNodeId())].push_back(t);
    else
      by_slot[t.getSlot()].push_back(t);
  }
  auto newest_first = [](auto& list) {
    std::stable_sort(list.begin(), list.end(), [](auto x, auto y) {
      return x.getCreatedAtNanos() > y.getCreatedAtNanos();
    });
  };
  service_progress p;
  // One slot (global: node) towards the totals; no more than `total` done.
  auto count = [&](const slot_assessment& a) {
    if (a.done && p.done < p.total) {
      ++p.done;
      p.running_ids += a.done_id + " ";
    }
    if (p.reason.empty())
      p.reason = a.reason;
    if (p.failure.empty())
      p.failure = a.failure;
  };
  if (global) {
    for (auto& [node, list] : by_node) {
      newest_first(list);
      bool live = std::any_of(list.begin(), list.end(), [](auto t) {
        return t.getDesiredState() <= TaskState::RUNNING;
      });
      auto a = assess_slot(list, s.getSpecVersion(), failed_before,
                           fmt::format("{}.{}", name, node));
      if (!live && a.failure.empty())
        continue;
      ++p.total;
      count(a);
      p.slot_lines.push_back(
        fmt::format("{}: {}", short_id(node), a.line_state));
    }
  } else {
    // As docker/cli: slots are sparse after a scale-down (it stops tasks on
    // the busiest nodes), so count the slots that have a wanted task, map
    // them to display rows, and count those running the current spec.
    p.total = spec.getReplicas();
    progress_rows local_rows;
    auto& row_of = rows != nullptr ? *rows : local_rows;
    std::map<uint64_t, slot_assessment> live;
    for (auto& [slot, list] : by_slot) {
      newest_first(list);
      bool wanted = std::any_of(list.begin(), list.end(), [](auto t) {
        return t.getDesiredState() <= TaskState::RUNNING;
      });
      if (wanted)
        live.emplace(slot, assess_slot(list, s.getSpecVersion(), failed_before,
                                       fmt::format("{}.{}", name, slot)));
    }
    // Rows of slots that are gone are free again; a new slot takes the
    // lowest free row. Rows beyond the replica count are not shown.
    for (auto it = row_of.begin(); it != row_of.end();)
      it = live.count(it->first) > 0 ? std::next(it) : row_of.erase(it);
    std::set<uint64_t> used;
    for (auto& [slot, row] : row_of)
      used.insert(row);
    uint64_t next_row = 1;
    for (auto& [slot, a] : live) {
      if (row_of.count(slot) > 0)
        continue;
      while (used.count(next_row) > 0)
        ++next_row;
      row_of[slot] = next_row;
      used.insert(next_row);
    }
    std::map<uint64_t, std::string> lines;
    for (auto& [slot, a] : live) {
      count(a);
      auto row = row_of[slot];
      if (row <= p.total)
        lines[row] = a.line_state;
    }
    if (p.total <= max_slot_lines)
      for (uint64_t row = 1; row <= p.total; ++row)
        p.slot_lines.push_back(
          fmt::format("{}/{}: {}", row, p.total, lines[row]));
  }
  p.converged = p.done == p.total;
  if (p.total > max_slot_lines)
    p.slot_lines.clear();
  for (auto& line : p.slot_lines)
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
  return p;
}

std::string format_overall_progress(const service_progress& progress) {
  return fmt::format("overall progress: {} out of {} tasks", progress.done,
                     progress.total);
}

} // namespace skep::console
