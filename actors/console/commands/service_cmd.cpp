#include "actors/console/commands/service_cmd.hpp"

#include "actors/console/control_client.hpp"
#include "actors/console/formats/service_format.hpp"
#include "config/units.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::console {

namespace {

using schema::store::ServiceSpec;

std::string str(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

} // namespace

// ---- the commands ----

namespace {

using reply_kind = schema::control::Reply::Which;
using schema::control::Reply;

constexpr std::chrono::milliseconds request_timeout{60'000};
constexpr std::chrono::seconds converge_timeout{120};
constexpr std::chrono::milliseconds poll_period{300};
/// Docker calls a service converged once its tasks ran for the update
/// monitor period (5 s by default); we wait at most this long.
constexpr std::chrono::milliseconds max_verify_wait{2'000};

int report(const failure& why) {
  std::cerr << "Error: " << why.message << "\n";
  return 1;
}

/// Sends the request `fill` builds to the node `host` names; fails unless
/// the reply is of the `expected` kind.
template <class Fill>
result<control_reply> ask(const std::optional<std::string>& host,
                          reply_kind expected, Fill&& fill) {
  auto node = resolve_node_address(host, std::getenv("SKEP_HOST"));
  if (!node)
    return node.error();
  capnp::MallocMessageBuilder builder;
  fill(builder.initRoot<schema::control::Request>());
  auto reply
    = call_node(*node, control_request::from(builder), request_timeout);
  if (!reply)
    return reply.error();
  auto which = reply->root().which();
  if (which == Reply::ERROR)
    return from_schema(reply->root().getError());
  if (which != expected)
    return fail(errc::malformed_message,
                "the node answered with something unexpected");
  return reply;
}

void set_names(capnp::List<capnp::Text>::Builder out,
               const std::vector<std::string>& names) {
  for (unsigned i = 0; i < names.size(); ++i)
    out.set(i, names[i]);
}

result<control_reply> inspect_one(const std::optional<std::string>& host,
                                  const std::string& name) {
  auto reply = ask(host, Reply::SERVICES, [&](auto req) {
    req.initServiceInspect().initNames(1).set(0, name);
  });
  if (reply && reply->root().getServices().size() != 1)
    return fail(errc::not_found, fmt::format("service {} not found", name));
  return reply;
}

result<control_reply> tasks_of(const std::optional<std::string>& host,
                               const std::string& service_id) {
  return ask(host, Reply::TASKS, [&](auto req) {
    req.initTaskList().initServices(1).set(0, service_id);
  });
}

std::set<std::string>
failed_ids(capnp::List<schema::control::TaskView>::Reader tasks) {
  std::set<std::string> out;
  for (auto v : tasks) {
    auto state = v.getTask().getStatus().getState();
    if (state == schema::store::TaskState::FAILED
        || state == schema::store::TaskState::REJECTED)
      out.insert(str(v.getTask().getId()));
  }
  return out;
}

/// Prints progress: redrawn in place on a terminal, else a line whenever
/// the overall count changes.
class progress_printer {
 public:
  explicit progress_printer(bool quiet)
    : quiet_(quiet), tty_(!quiet && ::isatty(STDOUT_FILENO) == 1) {}

  void show(const service_progress& p, const std::string& verify) {
    if (quiet_)
      return;
    auto overall = format_overall_progress(p);
    if (!tty_) {
      if (overall != last_overall_)
        std::cout << overall << "\n";
      if (!verify.empty() && verify != last_verify_)
        std::cout << verify << "\n";
      last_overall_ = overall;
      last_verify_ = verify;
      std::cout << std::flush;
      return;
    }
    std::vector<std::string> lines{overall};
    lines.insert(lines.end(), p.slot_lines.begin(), p.slot_lines.end());
    if (!verify.empty())
      lines.push_back(verify);
    std::string out;
    if (drawn_ > 0)
      out += fmt::format("\x1b[{}A", drawn_);
    drawn_ = std::max(drawn_, lines.size());
    for (size_t i = 0; i < drawn_; ++i)
      out += "\r\x1b[2K" + (i < lines.size() ? lines[i] : std::string{}) + "\n";
    std::cout << out << std::flush;
  }

 private:
  bool quiet_;
  bool tty_;
  size_t drawn_ = 0;
  std::string last_overall_;
  std::string last_verify_;
};

/// Follows service `id` until it converged (0), a slot failed 3 times in a
/// row or the timeout passed (1, the reason printed).
int watch(const std::optional<std::string>& host, const std::string& id,
          const std::set<std::string>& failed_before, bool quiet) {
  using clock = std::chrono::steady_clock;
  progress_printer out{quiet};
  auto deadline = clock::now() + converge_timeout;
  bool stable = false; // converged with the same tasks since stable_since
  clock::time_point stable_since{};
  std::string stable_ids;
  progress_rows rows; // a slot keeps its display row while we watch
  for (;;) {
    auto service = inspect_one(host, id);
    auto tasks = service ? tasks_of(host, id) : service;
    auto now = clock::now();
    if (!service || !tasks) {
      const auto& why = !service ? service.error() : tasks.error();
      bool transient
        = why.code == errc::unavailable || why.code == errc::timeout;
      if (!transient || now >= deadline)
        return report(why);
      std::this_thread::sleep_for(poll_period);
      continue;
    }
    auto view = service->root().getServices()[0];
    auto name = str(view.getService().getSpec().getName());
    auto p
      = assess_progress(view, tasks->root().getTasks(), failed_before, &rows);
    std::string verify;
    bool converged = false;
    if (p.converged && p.failure.empty()) {
      if (!stable || stable_ids != p.running_ids) {
        stable = true;
        stable_since = now;
        stable_ids = p.running_ids;
      }
      auto monitor = std::chrono::nanoseconds{
        view.getService().getSpec().getUpdate().getMonitorNanos()};
      auto wait = std::min<std::chrono::nanoseconds>(monitor, max_verify_wait);
      converged = now - stable_since >= wait;
      auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
      verify = converged
                 ? "verify: Service converged"
                 : fmt::format("verify: Waiting {} second{} to verify that "
                               "tasks are stable...",
                               seconds, seconds == 1 ? "" : "s");
    } else {
      stable = false;
    }
    out.show(p, verify);
    if (!p.failure.empty())
      return report(
        fail(errc::internal,
             fmt::format("service {} did not converge: {}", name, p.failure)));
    if (converged)
      return 0;
    if (now >= deadline)
      return report(fail(
        errc::timeout,
        fmt::format("service {} has not converged after {} ({} out of {} "
                    "tasks){}; it keeps converging in the background: see "
                    "'skep service ps {}'",
                    name, config::format_duration(converge_timeout), p.done,
                    p.total, p.reason.empty() ? "" : ": " + p.reason, name)));
    std::this_thread::sleep_for(poll_period);
  }
}

/// Reads service `name`, lets `change` edit a copy of its spec and sends it
/// back as an update. Returns the service id and the tasks that had failed
/// before, for watch().
template <class Change>
result<std::pair<std::string, std::set<std::string>>>
send_update(const std::optional<std::string>& host, const std::string& name,
            bool force, bool rollback, bool watched, Change&& change) {
  auto current = inspect_one(host, name);
  if (!current)
    return current.error();
  auto service = current->root().getServices()[0].getService();
  auto id = str(service.getId());
  // Only a progress display needs to know which tasks failed before.
  std::set<std::string> failed_before;
  if (watched) {
    auto tasks = tasks_of(host, id);
    if (!tasks)
      return tasks.error();
    failed_before = failed_ids(tasks->root().getTasks());
  }
  capnp::MallocMessageBuilder spec_message;
  spec_message.setRoot(service.getSpec());
  auto spec = spec_message.getRoot<ServiceSpec>();
  if (auto ok = change(spec); !ok)
    return std::move(ok).error();
  auto done = ask(host, Reply::DONE, [&](auto req) {
    auto u = req.initServiceUpdate();
    u.setName(id);
    u.setSpec(spec.asReader());
    u.setExpectedVersion(service.getVersion());
    u.setForce(force);
    u.setRollback(rollback);
  });
  if (!done)
    return done.error();
  return std::pair{id, std::move(failed_before)};
}

/// --env K: the value this shell has for K, as Docker does.
void env_from_shell(std::vector<std::string>& env) {
  for (auto& e : env)
    if (e.find('=') == std::string::npos)
      if (const char* value = std::getenv(e.c_str()); value != nullptr)
        e += std::string{"="} + value;
}

std::string random_suffix() {
  std::random_device rd;
  std::uniform_int_distribution<int> letter{'a', 'z'};
  std::string out;
  for (int i = 0; i < 6; ++i)
    out += static_cast<char>(letter(rd));
  return out;
}

struct ps_flags {
  bool quiet = false;
  bool no_trunc = false;
  std::vector<std::string> filters;
  std::string format;
};

void add_ps_flags(CLI::App* cmd, ps_flags& f) {
  cmd->add_flag("-q,--quiet", f.quiet, "Only task ids");
  cmd->add_flag("--no-trunc", f.no_trunc, "Do not shorten ids and errors");
  cmd
    ->add_option("-f,--filter", f.filters,
                 "desired-state=running|shutdown, or node=NODE")
    ->allow_extra_args(false)
    ->type_name("FILTER");
  cmd->add_option("--format", f.format, "Output format: json")
    ->check(CLI::IsMember({"json"}));
}

void add_rolling_flags(CLI::App* cmd, rolling_flags& f,
                       const std::string& prefix) {
  auto verb = prefix == "update" ? "an update" : "a rollback";
  cmd
    ->add_option("--" + prefix + "-parallelism", f.parallelism,
                 fmt::format("Tasks replaced at once in {} (0: all)", verb))
    ->type_name("N");
  cmd
    ->add_option("--" + prefix + "-delay", f.delay,
                 "Wait between groups of tasks")
    ->type_name("DUR");
  cmd
    ->add_option("--" + prefix + "-monitor", f.monitor,
                 "How long a new task is watched for failure")
    ->type_name("DUR");
  cmd
    ->add_option("--" + prefix + "-failure-action", f.failure_action,
                 prefix == "update" ? "pause, continue or rollback"
                                    : "pause or continue")
    ->type_name("ACTION");
  cmd
    ->add_option("--" + prefix + "-max-failure-ratio", f.max_failure_ratio,
                 "Failures tolerated, a fraction of the tasks")
    ->type_name("F");
  cmd
    ->add_option("--" + prefix + "-order", f.order, "stop-first or start-first")
    ->type_name("ORDER");
}

/// The flags create and update share, and those that differ (create sets
/// lists, update adds to and removes from them).
void add_spec_flags(CLI::App* cmd, service_flags& f, bool update) {
  auto opt = [&](const std::string& names, std::optional<std::string>& into,
                 const std::string& help, const std::string& type) {
    cmd->add_option(names, into, help)->type_name(type);
  };
  auto list = [&](const std::string& names, std::vector<std::string>& into,
                  const std::string& help, const std::string& type) {
    cmd->add_option(names, into, help)
      ->allow_extra_args(false)
      ->type_name(type);
  };
  if (update) {
    opt("--image", f.image, "The image (executable) tasks run", "IMAGE");
    opt("--replicas", f.replicas, "Number of tasks", "N");
    list("--env-add", f.env_add, "Set an environment variable", "K=V");
    list("--env-rm", f.env_rm, "Remove an environment variable", "K");
    list("--publish-add", f.publish_add, "Publish a port", "PUBLISHED:TARGET");
    list("--publish-rm", f.publish_rm, "Unpublish a port, by target", "TARGET");
    list("--constraint-add", f.constraint_add, "Add a placement constraint",
         "EXPR");
    list("--constraint-rm", f.constraint_rm, "Remove a placement constraint",
         "EXPR");
    list("--label-add", f.label_add, "Set a service label", "K=V");
    list("--label-rm", f.label_rm, "Remove a service label", "K");
  } else {
    opt("--name", f.name, "Service name (default: generated from the image)",
        "NAME");
    opt("--mode", f.mode, "replicated (default) or global", "MODE");
    opt("--replicas", f.replicas, "Number of tasks (default 1)", "N");
    list("-e,--env", f.env_add, "Set an environment variable", "K=V");
    list("-p,--publish", f.publish_add,
         "Publish a port on every node (routing mesh)",
         "PUBLISHED:TARGET[/PROTO]");
    list("--constraint", f.constraint_add,
         "Placement constraint, e.g. node.role==manager", "EXPR");
    list("-l,--label", f.label_add, "Service label", "K=V");
  }
  opt("-w,--workdir", f.workdir, "Working directory of the tasks", "DIR");
  opt("--replicas-max-per-node", f.replicas_max_per_node,
      "Tasks per node at most (0: unlimited)", "N");
  opt("--reserve-cpu", f.reserve_cpu, "CPUs set aside per task", "C");
  opt("--reserve-memory", f.reserve_memory, "Memory set aside per task", "M");
  opt("--limit-cpu", f.limit_cpu, "CPUs a task may use", "C");
  opt("--limit-memory", f.limit_memory, "Memory a task may use", "M");
  opt("--restart-condition", f.restart_condition,
      "none, on-failure or any (default any)", "COND");
  opt("--restart-delay", f.restart_delay,
      "Wait before replacing a task (default 5s)", "DUR");
  opt("--restart-max-attempts", f.restart_max_attempts,
      "Replacements allowed within the window (0: unlimited)", "N");
  opt("--restart-window", f.restart_window, "Window the attempts count over",
      "DUR");
  opt("--stop-grace-period", f.stop_grace_period,
      "Wait before killing a stopped task (default 10s)", "DUR");
  opt("--health-cmd", f.health.cmd, "Health check command (not supported yet)",
      "CMD");
  opt("--health-interval", f.health.interval, "Health check period", "DUR");
  opt("--health-timeout", f.health.timeout, "Health check timeout", "DUR");
  opt("--health-retries", f.health.retries, "Failures before unhealthy", "N");
  opt("--health-start-period", f.health.start_period,
      "Grace period before failures count", "DUR");
  add_rolling_flags(cmd, f.update, "update");
  add_rolling_flags(cmd, f.rollback, "rollback");
}

int64_t unix_nanos_now() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch())
    .count();
}

} // namespace

struct service_commands::state {
  const std::optional<std::string>* host = nullptr;

  CLI::App* create = nullptr;
  service_flags create_flags;
  bool create_detach = false;
  bool create_quiet = false;

  CLI::App* ls = nullptr;
  bool ls_quiet = false;
  std::string ls_format;

  CLI::App* ps = nullptr;
  ps_flags ps_options;
  std::vector<std::string> ps_services;

  CLI::App* inspect = nullptr;
  bool inspect_pretty = false;
  std::vector<std::string> inspect_names;

  CLI::App* scale = nullptr;
  std::vector<std::string> scale_specs;
  bool scale_detach = false;

  CLI::App* update = nullptr;
  service_flags update_flags;
  std::optional<std::string> update_args;
  bool update_force = false;
  bool update_rollback = false;
  bool update_detach = false;
  bool update_quiet = false;
  std::string update_name;

  CLI::App* rollback = nullptr;
  std::string rollback_name;
  bool rollback_detach = false;
  bool rollback_quiet = false;

  CLI::App* rm = nullptr;
  std::vector<std::string> rm_names;

  CLI::App* node_ps = nullptr;
  ps_flags node_ps_options;
  std::vector<std::string> node_ps_names;
};

namespace {

using state = service_commands::state;

int run_create(state& s) {
  const auto& host = *s.host;
  auto words = s.create->remaining();
  if (words.empty())
    return report(fail(errc::invalid_argument,
                       "service create needs an IMAGE: skep service create "
                       "[OPTIONS] IMAGE [COMMAND [ARG...]]"));
  if (words[0].size() > 1 && words[0][0] == '-')
    return report(fail(errc::invalid_argument,
                       fmt::format("unknown flag '{}' for service create; "
                                   "see 'skep service create --help'",
                                   words[0])));
  auto flags = s.create_flags;
  flags.image = words[0];
  flags.args = std::vector<std::string>(words.begin() + 1, words.end());
  if (!flags.name)
    flags.name = default_service_name(words[0], random_suffix());
  env_from_shell(flags.env_add);
  capnp::MallocMessageBuilder spec_message;
  auto spec = spec_message.initRoot<ServiceSpec>();
  if (auto ok = apply_flags(flags, spec); !ok)
    return report(ok.error());
  auto created = ask(host, Reply::CREATED,
                     [&](auto req) { req.setServiceCreate(spec.asReader()); });
  if (!created)
    return report(created.error());
  auto id = str(created->root().getCreated());
  std::cout << id << "\n" << std::flush;
  if (s.create_detach)
    return 0;
  return watch(host, id, {}, s.create_quiet);
}

int run_update(const std::optional<std::string>& host, const std::string& name,
               service_flags flags, bool force, bool rollback, bool detach,
               bool quiet) {
  if (rollback && !flags.empty())
    return report(fail(errc::invalid_argument,
                       "--rollback cannot be combined with flags that change "
                       "the service"));
  env_from_shell(flags.env_add);
  auto sent = send_update(host, name, force, rollback, !detach, [&](auto spec) {
    return rollback ? result<void>{} : apply_flags(flags, spec);
  });
  if (!sent)
    return report(sent.error());
  std::cout << name << "\n" << std::flush;
  if (detach)
    return 0;
  if (rollback && !quiet)
    std::cout << "rollback: manually requested rollback\n";
  return watch(host, sent->first, sent->second, quiet);
}

int run_scale(state& s) {
  const auto& host = *s.host;
  std::vector<std::pair<std::string, uint64_t>> targets;
  std::map<std::string, std::string> named_by_id; // nothing is sent twice
  for (const auto& text : s.scale_specs) {
    auto target = parse_scale_specifier(text);
    if (!target)
      return report(target.error());
    auto found = inspect_one(host, target->first);
    if (!found)
      return report(found.error());
    auto id = str(found->root().getServices()[0].getService().getId());
    auto [it, fresh] = named_by_id.emplace(id, target->first);
    if (!fresh)
      return report(
        fail(errc::invalid_argument,
             fmt::format("service {} is given twice ({} and {}): scale it once",
                         target->first, it->second, text)));
    targets.push_back(*target);
  }
  int rc = 0;
  std::vector<std::pair<std::string, std::set<std::string>>> scaled;
  for (const auto& target : targets) {
    const auto& name = target.first;
    auto replicas = target.second;
    auto sent = send_update(
      host, name, false, false, !s.scale_detach, [&](auto spec) {
        if (spec.getMode() != schema::store::ServiceMode::REPLICATED)
          return result<void>{fail(errc::invalid_argument,
                                   fmt::format("service {}: scale can only be "
                                               "used with replicated mode",
                                               name))};
        spec.setReplicas(replicas);
        return result<void>{};
      });
    if (!sent) {
      rc = report(sent.error());
      continue;
    }
    std::cout << fmt::format("{} scaled to {}\n", name, replicas) << std::flush;
    scaled.push_back(std::move(*sent));
  }
  if (!s.scale_detach)
    for (const auto& [id, failed_before] : scaled)
      rc = std::max(rc, watch(host, id, failed_before, false));
  return rc;
}

int run_tasks(const std::optional<std::string>& host,
              const std::vector<std::string>& services,
              std::vector<std::string> nodes, const ps_flags& options) {
  auto filters = parse_task_filters(options.filters);
  if (!filters)
    return report(filters.error());
  nodes.insert(nodes.end(), filters->nodes.begin(), filters->nodes.end());
  auto reply = ask(host, Reply::TASKS, [&](auto req) {
    auto f = req.initTaskList();
    set_names(f.initServices(static_cast<unsigned>(services.size())), services);
    set_names(f.initNodes(static_cast<unsigned>(nodes.size())), nodes);
    f.setDesiredState(filters->desired_state);
  });
  if (!reply)
    return report(reply.error());
  task_table_options table;
  table.quiet = options.quiet;
  table.no_trunc = options.no_trunc;
  table.json = options.format == "json";
  std::cout << format_task_table(reply->root().getTasks(), table,
                                 unix_nanos_now());
  return 0;
}

int run_node_ps(state& s) {
  auto nodes = s.node_ps_names;
  if (nodes.empty()) {
    auto info = ask(*s.host, Reply::INFO, [](auto req) { req.setInfo(); });
    if (!info)
      return report(info.error());
    auto id = str(info->root().getInfo().getNodeId());
    if (id.empty())
      return report(fail(errc::invalid_argument,
                         "this node is not part of a swarm; name a node"));
    nodes.push_back(id);
  }
  return run_tasks(*s.host, {}, nodes, s.node_ps_options);
}

int run_ls(state& s) {
  auto reply
    = ask(*s.host, Reply::SERVICES, [](auto req) { req.setServiceList(); });
  if (!reply)
    return report(reply.error());
  auto services = reply->root().getServices();
  if (s.ls_format == "json")
    std::cout << service_lines_json(services);
  else
    std::cout << format_service_table(services, s.ls_quiet);
  return 0;
}

int run_inspect(state& s) {
  auto reply = ask(*s.host, Reply::SERVICES, [&](auto req) {
    set_names(req.initServiceInspect().initNames(
                static_cast<unsigned>(s.inspect_names.size())),
              s.inspect_names);
  });
  if (!reply)
    return report(reply.error());
  auto services = reply->root().getServices();
  if (s.inspect_pretty)
    std::cout << format_service_pretty(services);
  else
    std::cout << service_inspect_json(services);
  return 0;
}

int run_rm(state& s) {
  auto reply = ask(*s.host, Reply::DONE, [&](auto req) {
    set_names(req.initServiceRemove().initNames(
                static_cast<unsigned>(s.rm_names.size())),
              s.rm_names);
  });
  if (!reply)
    return report(reply.error());
  for (const auto& name : s.rm_names)
    std::cout << name << "\n";
  return 0;
}

/// CLI11 2.1 cannot set a usage line: this formatter appends the operands a
/// prefix command takes (which CLI11 does not see) to it.
class operands_formatter : public CLI::Formatter {
 public:
  explicit operands_formatter(std::string operands)
    : operands_(std::move(operands)) {
    column_width(30);
  }

  std::string make_usage(const CLI::App* app, std::string name) const override {
    auto usage = CLI::Formatter::make_usage(app, std::move(name));
    while (!usage.empty() && usage.back() == '\n')
      usage.pop_back();
    return usage + " " + operands_ + "\n";
  }

 private:
  std::string operands_;
};

void register_commands(state& s, CLI::App& app, CLI::App& node) {
  auto* service = app.add_subcommand("service", "Manage services");
  service->require_subcommand(1);

  s.create = service->add_subcommand(
    "create", "Create a service: skep service create [OPTIONS] IMAGE "
              "[COMMAND [ARG...]]");
  // IMAGE and everything after it, flags included, belong to the task.
  s.create->prefix_command();
  s.create->formatter(
    std::make_shared<operands_formatter>("IMAGE [COMMAND [ARG...]]"));
  s.create->allow_extras();
  add_spec_flags(s.create, s.create_flags, false);
  s.create->add_flag("-d,--detach", s.create_detach,
                     "Return at once instead of waiting to converge");
  s.create->add_flag("-q,--quiet", s.create_quiet,
                     "Print only the id; no progress");

  s.ls = service->add_subcommand("ls", "List services");
  s.ls->add_flag("-q,--quiet", s.ls_quiet, "Only ids");
  s.ls->add_option("--format", s.ls_format, "Output format: json")
    ->check(CLI::IsMember({"json"}));

  s.ps = service->add_subcommand("ps", "List the tasks of services");
  add_ps_flags(s.ps, s.ps_options);
  s.ps->add_option("service", s.ps_services, "Service id, prefix or name")
    ->required();

  s.inspect = service->add_subcommand("inspect", "Show services in detail");
  s.inspect->add_flag("--pretty", s.inspect_pretty, "Human-readable");
  s.inspect
    ->add_option("service", s.inspect_names, "Service id, prefix or name")
    ->required();

  s.scale = service->add_subcommand("scale", "Set the replicas of services");
  s.scale->add_option("specifier", s.scale_specs, "SERVICE=REPLICAS")
    ->required();
  s.scale->add_flag("-d,--detach", s.scale_detach,
                    "Return at once instead of waiting to converge");

  s.update = service->add_subcommand("update", "Change a service");
  add_spec_flags(s.update, s.update_flags, true);
  s.update->add_option("--args", s.update_args, "The task's arguments")
    ->type_name("\"ARGS\"");
  s.update->add_flag("--force", s.update_force,
                     "Replace every task even if nothing changed");
  s.update->add_flag("--rollback", s.update_rollback,
                     "Go back to the previous spec");
  s.update->add_flag("-d,--detach", s.update_detach,
                     "Return at once instead of waiting to converge");
  s.update->add_flag("-q,--quiet", s.update_quiet, "No progress");
  s.update->add_option("service", s.update_name, "Service id, prefix or name")
    ->required();

  s.rollback = service->add_subcommand("rollback",
                                       "Go back to a service's previous spec");
  s.rollback->add_flag("-d,--detach", s.rollback_detach,
                       "Return at once instead of waiting to converge");
  s.rollback->add_flag("-q,--quiet", s.rollback_quiet, "No progress");
  s.rollback
    ->add_option("service", s.rollback_name, "Service id, prefix or name")
    ->required();

  s.rm = service->add_subcommand("rm", "Remove services");
  s.rm->add_option("service", s.rm_names, "Service id, prefix or name")
    ->required();

  s.node_ps = node.add_subcommand("ps", "List the tasks on nodes (default: "
                                        "the node answering)");
  add_ps_flags(s.node_ps, s.node_ps_options);
  s.node_ps->add_option("node", s.node_ps_names, "Node id, prefix or hostname");
}

} // namespace

service_commands::service_commands(std::unique_ptr<state> s)
  : state_(std::move(s)) {}

service_commands::service_commands(service_commands&&) noexcept = default;

service_commands::~service_commands() = default;

std::optional<int> service_commands::run() {
  auto& s = *state_;
  const auto& host = *s.host;
  if (s.create->parsed())
    return run_create(s);
  if (s.ls->parsed())
    return run_ls(s);
  if (s.ps->parsed())
    return run_tasks(host, s.ps_services, {}, s.ps_options);
  if (s.inspect->parsed())
    return run_inspect(s);
  if (s.scale->parsed())
    return run_scale(s);
  if (s.update->parsed()) {
    auto flags = s.update_flags;
    if (s.update_args) {
      auto args = split_words(*s.update_args);
      if (!args)
        return report(args.error());
      flags.args = *args;
    }
    return run_update(host, s.update_name, flags, s.update_force,
                      s.update_rollback, s.update_detach, s.update_quiet);
  }
  if (s.rollback->parsed())
    return run_update(host, s.rollback_name, {}, false, true, s.rollback_detach,
                      s.rollback_quiet);
  if (s.rm->parsed())
    return run_rm(s);
  if (s.node_ps->parsed())
    return run_node_ps(s);
  return std::nullopt;
}

service_commands add_service_commands(CLI::App& app, CLI::App& node,
                                      const std::optional<std::string>& host) {
  auto s = std::make_unique<service_commands::state>();
  s->host = &host;
  register_commands(*s, app, node);
  return service_commands{std::move(s)};
}

} // namespace skep::console
