// skep: the Skep client. Talks to a node's control socket.

#include "actors/console/control_client.hpp"
#include "actors/console/info_format.hpp"
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
  std::cout << app.help();
  return 0;
}
