// skep: the Skep client. Talks to a node's control socket.

#include "actors/console/commands/console_cmd.hpp"
#include "actors/console/commands/events_cmd.hpp"
#include "actors/console/commands/logs_cmd.hpp"
#include "actors/console/commands/service_cmd.hpp"
#include "actors/console/control_client.hpp"
#include "actors/console/formats/info_format.hpp"
#include "actors/console/formats/swarm_format.hpp"
#include "actors/store/cluster_settings.hpp"
#include "config/units.hpp"
#include "skep/build_info.hpp"

#include <cstdlib>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <capnp/message.h>
#include <fmt/format.h>

namespace {

using namespace skep;

constexpr std::chrono::milliseconds request_timeout{60'000};

int report(const failure& why) {
  std::cerr << "Error: " << why.message << "\n";
  return 1;
}

control_request make_request(void (*fill)(schema::control::Request::Builder)) {
  capnp::MallocMessageBuilder builder;
  fill(builder.initRoot<schema::control::Request>());
  return control_request::from(builder);
}

result<console::node_address>
target(const std::optional<std::string>& host_flag) {
  return console::resolve_node_address(host_flag, std::getenv("SKEP_HOST"));
}

int run_version(const std::optional<std::string>& host_flag) {
  auto node = target(host_flag);
  if (!node)
    return report(node.error());
  auto reply = console::call_node(
    *node, make_request([](auto r) { r.setVersion(); }), request_timeout);
  if (!reply) {
    std::cout << console::format_version(nullptr);
    return report(reply.error());
  }
  auto root = reply->root();
  if (root.which() != schema::control::Reply::VERSION)
    return report(fail(errc::malformed_message,
                       "the node answered a version request with something "
                       "else"));
  auto server = root.getVersion();
  std::cout << console::format_version(&server);
  return 0;
}

int run_info(const std::optional<std::string>& host_flag,
             const std::string& format) {
  if (!format.empty() && format != "json")
    return report(fail(errc::invalid_argument,
                       fmt::format("--format \"{}\" is not supported; use "
                                   "--format json",
                                   format)));
  auto node = target(host_flag);
  if (!node)
    return report(node.error());
  auto reply = console::call_node(
    *node, make_request([](auto r) { r.setInfo(); }), request_timeout);
  if (!reply)
    return report(reply.error());
  auto root = reply->root();
  if (root.which() != schema::control::Reply::INFO)
    return report(fail(errc::malformed_message,
                       "the node answered an info request with something "
                       "else"));
  if (format == "json")
    std::cout << console::info_json(root.getInfo()) << "\n";
  else
    std::cout << console::format_info(root.getInfo());
  return 0;
}

/// Sends a request built by `fill`; prints what `print` makes of the reply
/// when it has the expected kind.
template <class Fill, class Print>
int call(const std::optional<std::string>& host_flag,
         schema::control::Reply::Which expected, Fill&& fill, Print&& print) {
  auto node = target(host_flag);
  if (!node)
    return report(node.error());
  capnp::MallocMessageBuilder builder;
  fill(builder.initRoot<schema::control::Request>());
  auto reply = console::call_node(*node, control_request::from(builder),
                                  request_timeout);
  if (!reply)
    return report(reply.error());
  auto root = reply->root();
  if (root.which() == schema::control::Reply::ERROR)
    return report(from_schema(root.getError()));
  if (root.which() != expected)
    return report(fail(errc::malformed_message,
                       "the node answered with something unexpected"));
  print(root);
  return 0;
}

/// Parses a duration flag; empty means "not given" (0).
result<int64_t> duration_flag(const std::string& name,
                              const std::string& text) {
  if (text.empty())
    return int64_t{0};
  auto d = config::parse_duration(text);
  if (!d)
    return fail(errc::invalid_argument, fmt::format("invalid {} '{}': {}", name,
                                                    text, d.error().message));
  if (d->count() <= 0)
    return fail(errc::invalid_argument,
                fmt::format("{} must be positive", name));
  return static_cast<int64_t>(d->count());
}

void set_names(capnp::List<capnp::Text>::Builder out,
               const std::vector<std::string>& names) {
  for (unsigned i = 0; i < names.size(); ++i)
    out.set(i, names[i]);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"skep — drive a Skep swarm. Talks to the skepd named by -H, "
               "$SKEP_HOST, or "
                 + std::string{console::default_host} + ".",
               "skep"};
  app.get_formatter()->column_width(30);
  std::optional<std::string> host;
  app
    .add_option("-H,--host", host,
                "Node to talk to, e.g. unix:///var/lib/skep/skepd.sock")
    ->type_name("unix://PATH");
  bool show_version = false;
  app.add_flag("-v,--version", show_version,
               "Print the client version and exit");

  auto* version
    = app.add_subcommand("version", "Show the client's and the node's version");
  auto* info
    = app.add_subcommand("info", "Show the node's identity, swarm state and "
                                 "host facts");
  std::string info_format;
  info->add_option("--format", info_format, "Output format: json")
    ->type_name("json");

  // ---- swarm ----
  // The ranges the manager enforces, so the client names them too.
  auto history_range
    = CLI::Range(int64_t{0}, int64_t{store::cluster_limits::max_task_history});
  auto snapshot_range = CLI::Range(
    uint64_t{1}, uint64_t{store::cluster_limits::max_snapshot_interval});
  auto* swarm = app.add_subcommand("swarm", "Manage the swarm");
  swarm->require_subcommand(1);
  auto* init = swarm->add_subcommand("init", "Initialize a swarm: this node "
                                             "becomes its first manager");
  std::string init_advertise, init_heartbeat, init_expiry;
  int64_t init_history = -1;
  bool init_autolock = false, init_force = false;
  init
    ->add_option("--advertise-addr", init_advertise,
                 "Address other nodes reach this one at")
    ->type_name("HOST:PORT");
  init
    ->add_option("--task-history-limit", init_history,
                 "Finished tasks kept per slot (default 5)")
    ->check(history_range);
  init
    ->add_option("--dispatcher-heartbeat", init_heartbeat,
                 "Heartbeat period (default 5s)")
    ->type_name("DUR");
  init
    ->add_option("--cert-expiry", init_expiry,
                 "Node certificate lifetime (default 2160h)")
    ->type_name("DUR");
  uint64_t init_snapshot = 0, update_snapshot = 0;
  init
    ->add_option("--snapshot-interval", init_snapshot,
                 "Raft entries between store snapshots (default 10000)")
    ->check(snapshot_range);
  init->add_flag("--autolock", init_autolock,
                 "Encrypt the Raft log at rest "
                 "(not supported yet)");
  init->add_flag("--force-new-cluster", init_force,
                 "Recover a manager whose quorum is lost");
  auto* join = swarm->add_subcommand("join", "Join a swarm as a worker or "
                                             "manager");
  std::string join_token, join_remote, join_advertise;
  join->add_option("--token", join_token, "Join token")->required();
  join
    ->add_option("--advertise-addr", join_advertise,
                 "Address other nodes reach this one at")
    ->type_name("HOST:PORT");
  join->add_option("remote", join_remote, "A manager's HOST:PORT")->required();
  auto* join_token_cmd = swarm->add_subcommand(
    "join-token", "Show (or rotate) the token that joins a worker or manager");
  bool token_quiet = false, token_rotate = false;
  std::string token_role;
  join_token_cmd->add_flag("-q,--quiet", token_quiet, "Only the token");
  join_token_cmd->add_flag("--rotate", token_rotate, "Rotate the token first");
  join_token_cmd->add_option("role", token_role, "worker or manager")
    ->required()
    ->check(CLI::IsMember({"worker", "manager"}));
  auto* leave = swarm->add_subcommand("leave", "Leave the swarm");
  bool leave_force = false;
  leave->add_flag("-f,--force", leave_force, "Leave even as a manager");

  auto* update = swarm->add_subcommand("update", "Change the swarm's settings");
  std::string update_heartbeat, update_expiry;
  int64_t update_history = -1;
  update
    ->add_option("--task-history-limit", update_history,
                 "Finished tasks kept per slot")
    ->check(history_range);
  update
    ->add_option("--dispatcher-heartbeat", update_heartbeat, "Heartbeat period")
    ->type_name("DUR");
  update
    ->add_option("--cert-expiry", update_expiry, "Node certificate lifetime")
    ->type_name("DUR");
  update
    ->add_option("--snapshot-interval", update_snapshot,
                 "Raft entries between store snapshots")
    ->check(snapshot_range);

  // ---- node ----
  auto* node = app.add_subcommand("node", "Manage swarm nodes");
  node->require_subcommand(1);
  auto* node_ls = node->add_subcommand("ls", "List the swarm's nodes");
  bool ls_quiet = false;
  std::string ls_format;
  node_ls->add_flag("-q,--quiet", ls_quiet, "Only ids");
  node_ls->add_option("--format", ls_format, "Output format: json")
    ->check(CLI::IsMember({"json"}));
  auto* node_inspect = node->add_subcommand("inspect", "Show nodes in detail");
  bool inspect_pretty = false;
  std::vector<std::string> inspect_names;
  node_inspect->add_flag("--pretty", inspect_pretty, "Human-readable");
  node_inspect->add_option("node", inspect_names, "Node id, prefix or hostname")
    ->required();
  auto* node_update = node->add_subcommand("update", "Change a node");
  std::string update_availability, update_role, update_name;
  std::vector<std::string> label_add, label_rm;
  node_update
    ->add_option("--availability", update_availability,
                 "active, pause or drain")
    ->check(CLI::IsMember({"active", "pause", "drain"}));
  node_update->add_option("--label-add", label_add, "Add a label K=V");
  node_update->add_option("--label-rm", label_rm, "Remove label K");
  node_update->add_option("--role", update_role, "worker or manager")
    ->check(CLI::IsMember({"worker", "manager"}));
  node_update->add_option("node", update_name, "Node id, prefix or hostname")
    ->required();
  auto* promote = node->add_subcommand("promote", "Make workers managers");
  auto* demote = node->add_subcommand("demote", "Make managers workers");
  std::vector<std::string> role_names;
  promote->add_option("node", role_names, "Node id, prefix or hostname")
    ->required();
  demote->add_option("node", role_names, "Node id, prefix or hostname")
    ->required();
  auto* node_rm = node->add_subcommand("rm", "Remove nodes from the swarm");
  bool rm_force = false;
  std::vector<std::string> rm_names;
  node_rm->add_flag("-f,--force", rm_force, "Remove nodes that are not down");
  node_rm->add_option("node", rm_names, "Node id, prefix or hostname")
    ->required();

  auto services = console::add_service_commands(app, *node, host);
  auto logs = console::add_logs_command(*app.get_subcommand("service"), host);
  auto events = console::add_events_command(app, host);
  auto console_cmd = console::add_console_command(app, host);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "Error: " << e.what() << "\nRun 'skep --help' for usage.\n";
    return 1;
  }
  if (show_version) {
    std::cout << fmt::format("skep version {}, build {}\n", build_info::version,
                             build_info::git_commit);
    return 0;
  }
  if (version->parsed())
    return run_version(host);
  if (info->parsed())
    return run_info(host, info_format);
  if (auto rc = services.run(); rc)
    return *rc;
  if (auto rc = logs.run(); rc)
    return *rc;
  if (auto rc = events.run(); rc)
    return *rc;
  if (auto rc = console_cmd.run(); rc)
    return *rc;
  using which = schema::control::Reply;
  if (init->parsed()) {
    auto heartbeat = duration_flag("--dispatcher-heartbeat", init_heartbeat);
    if (!heartbeat)
      return report(heartbeat.error());
    auto expiry = duration_flag("--cert-expiry", init_expiry);
    if (!expiry)
      return report(expiry.error());
    return call(
      host, which::SWARM_INIT,
      [&](auto req) {
        auto r = req.initSwarmInit();
        r.setAdvertiseAddr(init_advertise);
        r.setTaskHistoryLimit(init_history);
        r.setDispatcherHeartbeatNanos(*heartbeat);
        r.setCertExpiryNanos(*expiry);
        r.setAutolock(init_autolock);
        r.setForceNewCluster(init_force);
        r.setSnapshotInterval(init_snapshot);
      },
      [](auto reply) {
        std::cout << console::format_swarm_init(reply.getSwarmInit());
      });
  }
  if (join->parsed())
    return call(
      host, which::JOINED,
      [&](auto req) {
        auto r = req.initSwarmJoin();
        r.setToken(join_token);
        r.setRemoteAddr(join_remote);
        r.setAdvertiseAddr(join_advertise);
      },
      [](auto reply) {
        std::cout << fmt::format("This node joined a swarm as a {}.\n",
                                 reply.getJoined().getRole().cStr());
      });
  if (join_token_cmd->parsed())
    return call(
      host, which::TOKEN,
      [&](auto req) {
        auto r = req.initJoinToken();
        r.setRole(token_role);
        r.setRotate(token_rotate);
      },
      [&](auto reply) {
        if (token_rotate && !token_quiet)
          std::cout << fmt::format("Successfully rotated {} join token.\n\n",
                                   token_role);
        std::cout << console::format_join_token(reply.getToken(), token_quiet);
      });
  if (leave->parsed())
    return call(
      host, which::DONE,
      [&](auto req) { req.initSwarmLeave().setForce(leave_force); },
      [](auto) { std::cout << "Node left the swarm.\n"; });
  if (node_ls->parsed())
    return call(
      host, which::NODES, [](auto req) { req.setNodeList(); },
      [&](auto reply) {
        if (ls_format == "json")
          std::cout << console::node_lines_json(reply.getNodes());
        else
          std::cout << console::format_node_table(reply.getNodes(), ls_quiet);
      });
  if (node_inspect->parsed())
    return call(
      host, which::NODES,
      [&](auto req) {
        set_names(req.initNodeInspect().initNames(
                    static_cast<unsigned>(inspect_names.size())),
                  inspect_names);
      },
      [&](auto reply) {
        if (inspect_pretty)
          std::cout << console::format_node_pretty(reply.getNodes());
        else
          std::cout << console::node_inspect_json(reply.getNodes());
      });
  if (update->parsed()) {
    auto heartbeat = duration_flag("--dispatcher-heartbeat", update_heartbeat);
    if (!heartbeat)
      return report(heartbeat.error());
    auto expiry = duration_flag("--cert-expiry", update_expiry);
    if (!expiry)
      return report(expiry.error());
    return call(
      host, which::DONE,
      [&](auto req) {
        auto u = req.initSwarmUpdate();
        u.setTaskHistoryLimit(update_history);
        u.setDispatcherHeartbeatNanos(*heartbeat);
        u.setCertExpiryNanos(*expiry);
        u.setSnapshotInterval(update_snapshot);
      },
      [](auto) { std::cout << "Swarm updated.\n"; });
  }
  if (promote->parsed() || demote->parsed()) {
    auto role = promote->parsed() ? "manager" : "worker";
    for (auto& name : role_names) {
      auto rc = call(
        host, which::DONE,
        [&](auto req) {
          auto u = req.initNodeUpdate();
          u.setName(name);
          u.setRole(role);
        },
        [&](auto) {
          std::cout << fmt::format("Node {} {} in the swarm.\n", name,
                                   promote->parsed() ? "promoted to a manager"
                                                     : "demoted to a worker");
        });
      if (rc != 0)
        return rc;
    }
    return 0;
  }
  if (node_rm->parsed())
    return call(
      host, which::DONE,
      [&](auto req) {
        auto r = req.initNodeRemove();
        r.setForce(rm_force);
        set_names(r.initNames(static_cast<unsigned>(rm_names.size())),
                  rm_names);
      },
      [&](auto) {
        for (auto& n : rm_names)
          std::cout << n << "\n";
      });
  if (node_update->parsed()) {
    std::vector<std::pair<std::string, std::string>> adds;
    for (auto& kv : label_add) {
      auto eq = kv.find('=');
      if (kv.empty() || eq == 0)
        return report(fail(errc::invalid_argument,
                           fmt::format("invalid label '{}': use KEY=VALUE or "
                                       "KEY",
                                       kv)));
      adds.emplace_back(kv.substr(0, eq),
                        eq == std::string::npos ? "" : kv.substr(eq + 1));
    }
    return call(
      host, which::DONE,
      [&](auto req) {
        auto u = req.initNodeUpdate();
        u.setName(update_name);
        u.setAvailability(update_availability);
        u.setRole(update_role);
        auto add = u.initLabelAdd(static_cast<unsigned>(adds.size()));
        for (unsigned i = 0; i < adds.size(); ++i) {
          add[i].setKey(adds[i].first);
          add[i].setValue(adds[i].second);
        }
        set_names(u.initLabelRm(static_cast<unsigned>(label_rm.size())),
                  label_rm);
      },
      [&](auto) { std::cout << update_name << "\n"; });
  }
  std::cout << app.help();
  return 0;
}
