// skepd: the Skep node daemon. Parses flags and the config file, takes the
// data dir, starts the actor system with the node supervisor, serves the
// control socket, and stops cleanly on SIGTERM or SIGINT.

#include "actors/logging/log.hpp"
#include "actors/node/control_server.hpp"
#include "actors/node/data_dir.hpp"
#include "actors/node/supervisor.hpp"
#include "config/node_config.hpp"
#include "skep/build_info.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/send.hpp>

namespace {

constexpr std::string_view who = "node";

int die(const std::string& message) {
  std::cerr << "skepd: " << message << "\n";
  return 1;
}

skep::log::level to_log_level(skep::config::log_level level) {
  switch (level) {
  case skep::config::log_level::error:
    return skep::log::level::error;
  case skep::config::log_level::warn:
    return skep::log::level::warn;
  case skep::config::log_level::info:
    return skep::log::level::info;
  case skep::config::log_level::debug:
    return skep::log::level::debug;
  }
  return skep::log::level::info;
}

std::string os_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0)
    return "localhost";
  return name;
}

struct daemon_config : caf::actor_system_config {
  daemon_config() {
    skep::register_types(*this);
    load<caf::io::middleman>(); // node-to-node transport
    // Workers that sleep on a condition variable when there is nothing to
    // do. CAF's default work-stealing policy polls (spins, then naps 50 us)
    // after every message, and the managers' 50-100 ms ticks kept it
    // polling: an idle manager used a quarter of a core, which on a small
    // machine starved the Raft thread of its neighbours.
    set("scheduler.policy", caf::atom("sharing"));
  }
};

} // namespace

int main(int argc, char** argv) {
  using namespace skep;
  // skepd allocates through jemalloc (see allocator.cpp). Sanitizer builds
  // use glibc's malloc: few arenas there, or skepd's many short-lived actor
  // threads spread freed memory over one arena per thread, which RSS keeps.
  mallopt(M_ARENA_MAX, 2);
  CLI::App app{"skepd — the Skep node daemon. Run one on every machine of a "
               "swarm; drive it with `skep`.",
               "skepd"};
  app.get_formatter()->column_width(34);
  config::config_layer flags;
  for (const auto& setting : config::node_settings()) {
    std::string key{setting.key};
    std::string help{setting.help};
    if (!setting.default_text.empty())
      help += fmt::format(" (default {})", setting.default_text);
    app
      .add_option_function<std::string>(
        "--" + key,
        [&flags, key](const std::string& value) {
          flags[key] = config::setting_value{value, "--" + key};
        },
        help)
      ->type_name(std::string{setting.value_name});
  }
  std::string config_file;
  app
    .add_option("--config", config_file,
                "YAML file with the same settings as the flags")
    ->type_name("FILE");
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (show_version) {
    std::cout << fmt::format("skepd version {}, build {}\n",
                             build_info::version, build_info::git_commit);
    return 0;
  }

  config::config_layer file;
  if (!config_file.empty()) {
    auto read = config::read_config_file(config_file);
    if (!read)
      return die(read.error().message);
    file = std::move(*read);
  }
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec).string();
  auto resolved = config::resolve_node_config(file, flags, os_hostname(), cwd);
  if (!resolved)
    return die(resolved.error().message);
  auto cfg = std::move(*resolved);

  if (auto logging = log::configure(to_log_level(cfg.level), cfg.log_file);
      !logging)
    return die(logging.error().message);
  log::set_node_name(cfg.hostname);
  if (auto prepared = node::prepare_data_dir(cfg.data_dir); !prepared)
    return die(prepared.error().message);
  auto lock = node::data_dir_lock::acquire(cfg.data_dir);
  if (!lock)
    return die(lock.error().message);
  auto node_id = node::load_or_create_node_id(cfg.data_dir);
  if (!node_id)
    return die(node_id.error().message);

  // Every thread the actor system starts inherits this mask, so only the
  // main thread's sigwait sees termination signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto listen_fd = node::open_control_socket(cfg.control_socket);
  if (!listen_fd)
    return die(listen_fd.error().message);

  node::node_state state;
  state.node_id = *node_id;
  state.config = cfg;
  state.host = node::read_host_facts();
  state.started_at = std::chrono::system_clock::now();

  node::control_server_options control;
  control.socket_path = cfg.control_socket;
  control.max_frame_bytes = cfg.max_frame_bytes;
  control.request_timeout = cfg.control_timeout;
  control.frame_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
    cfg.control_timeout);

  std::atomic<bool> supervisor_failed{false};
  {
    daemon_config caf_cfg;
    caf::actor_system sys{caf_cfg};
    auto supervisor
      = node::spawn_supervisor(sys, std::move(state), *listen_fd, &control);
    // A supervisor that stops by itself failed: wake the wait below.
    supervisor->attach_functor([&supervisor_failed](const caf::error& why) {
      if (why && why != caf::exit_reason::user_shutdown) {
        supervisor_failed = true;
        ::kill(::getpid(), SIGTERM);
      }
    });
    log::info(who,
              "skepd {} started: node {} ({}), data dir {}, control "
              "socket {}, runtime {}",
              build_info::version, *node_id, cfg.hostname, cfg.data_dir,
              cfg.control_socket, config::to_string(cfg.runtime));
    int received = 0;
    sigwait(&stop_signals, &received);
    if (supervisor_failed)
      log::error(who, "the node supervisor stopped; shutting down");
    else
      log::info(who, "received {}, shutting down", strsignal(received));
    caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
    // Leaving the scope waits for every actor to finish.
  }
  if (supervisor_failed) {
    ::unlink(cfg.control_socket.c_str());
    log::error(who, "stopped after a failure");
    return 1;
  }
  log::info(who, "stopped");
  return 0;
}
