#include "actors/console/commands/logs_cmd.hpp"

#include "actors/console/control_client.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::console {

namespace {

constexpr std::chrono::milliseconds request_timeout{30'000};
constexpr std::chrono::milliseconds follow_period{500};

std::string str(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

/// Asks for the output of `name`; with `cursors`, only what came since.
result<control_reply> fetch(const node_address& node, const std::string& name,
                            int64_t tail,
                            const std::map<std::string, uint64_t>* cursors) {
  capnp::MallocMessageBuilder b;
  auto r = b.initRoot<schema::control::Request>().initServiceLogs();
  r.setName(name);
  r.setTailLines(tail);
  if (cursors != nullptr) {
    auto list = r.initFollow(static_cast<unsigned>(cursors->size()));
    unsigned i = 0;
    for (auto& [id, offset] : *cursors) {
      list[i].setTaskId(id);
      list[i].setOffset(offset);
      ++i;
    }
  }
  auto reply = call_node(node, control_request::from(b), request_timeout);
  if (!reply)
    return reply;
  auto root = reply->root();
  if (root.which() == schema::control::Reply::ERROR)
    return from_schema(root.getError());
  if (root.which() != schema::control::Reply::LOGS)
    return fail(errc::malformed_message,
                "the node answered a logs request with something else");
  return reply;
}

} // namespace

struct logs_command::state {
  CLI::App* cmd = nullptr;
  const std::optional<std::string>* host = nullptr;
  bool follow = false;
  bool timestamps = false;
  int64_t tail = -1;
  std::string name;
};

logs_command::logs_command(std::unique_ptr<state> s) : state_(std::move(s)) {}
logs_command::logs_command(logs_command&&) noexcept = default;
logs_command::~logs_command() = default;

std::string log_prefix(schema::control::TaskOutput::Reader task, size_t width) {
  auto id = str(task.getTaskId()).substr(0, 12);
  std::string name = task.getSlot() > 0
                       ? fmt::format("{}.{}.{}", str(task.getServiceName()),
                                     task.getSlot(), id)
                       : fmt::format("{}.{}", str(task.getServiceName()), id);
  auto prefix = fmt::format("{}@{}", name, str(task.getNodeHostname()));
  if (prefix.size() < width)
    prefix.append(width - prefix.size(), ' ');
  return prefix;
}

std::string prefix_lines(const std::string& prefix, std::string& partial,
                         const std::string& chunk) {
  std::string out;
  partial += chunk;
  size_t start = 0;
  for (auto nl = partial.find('\n'); nl != std::string::npos;
       nl = partial.find('\n', start)) {
    out += prefix + " | " + partial.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  partial.erase(0, start);
  return out;
}

logs_command add_logs_command(CLI::App& service,
                              const std::optional<std::string>& host) {
  auto s = std::make_unique<logs_command::state>();
  s->host = &host;
  s->cmd = service.add_subcommand(
    "logs", "Show the output of a service's tasks, or of one task");
  s->cmd->add_flag("-f,--follow", s->follow, "Keep printing new output");
  s->cmd->add_option("--tail", s->tail, "Only the last N lines of each task")
    ->check(CLI::NonNegativeNumber);
  s->cmd->add_flag("-t,--timestamps", s->timestamps,
                   "Show timestamps (not kept by the process runtime)");
  s->cmd->add_option("target", s->name, "Service (id, prefix or name) or task")
    ->required();
  return logs_command{std::move(s)};
}

std::optional<int> logs_command::run() {
  auto& s = *state_;
  if (!s.cmd->parsed())
    return std::nullopt;
  auto fail_with = [](const failure& why) {
    std::cerr << "Error: " << why.message << "\n";
    return 1;
  };
  if (s.timestamps)
    return fail_with(failure{errc::unsupported,
                             "--timestamps is not supported: the process "
                             "runtime keeps output without timestamps"});
  auto node = resolve_node_address(*s.host, std::getenv("SKEP_HOST"));
  if (!node)
    return fail_with(node.error());
  std::map<std::string, uint64_t> cursors;
  std::map<std::string, std::string> partial;
  bool first = true;
  for (;;) {
    auto reply
      = fetch(*node, s.name, first ? s.tail : -1, first ? nullptr : &cursors);
    if (!reply)
      return fail_with(reply.error());
    auto tasks = reply->root().getLogs();
    size_t width = 0;
    for (auto t : tasks)
      width = std::max(width, log_prefix(t, 0).size());
    for (auto t : tasks) {
      auto id = str(t.getTaskId());
      auto err = str(t.getError());
      if (!err.empty()) {
        if (first)
          std::cerr << log_prefix(t, width) << " | error: " << err << "\n";
        continue;
      }
      auto data = t.getOutput();
      std::string chunk(reinterpret_cast<const char*>(data.begin()),
                        data.size());
      std::cout << prefix_lines(log_prefix(t, width), partial[id], chunk);
      cursors[id] = t.getEndOffset();
    }
    if (!s.follow) {
      for (auto t : tasks) // lines without their newline yet
        if (auto& rest = partial[str(t.getTaskId())]; !rest.empty())
          std::cout << log_prefix(t, width) << " | " << rest << "\n";
      return 0;
    }
    std::cout.flush();
    first = false;
    std::this_thread::sleep_for(follow_period);
  }
}

} // namespace skep::console
