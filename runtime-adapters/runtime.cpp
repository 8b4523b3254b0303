#include "runtime-adapters/runtime.hpp"

#include <set>

#include <fmt/format.h>

namespace skep::runtime {

namespace {

failure invalid(std::string why) {
  return fail(errc::invalid_argument, std::move(why));
}

// Task ids and env keys come from the store, but a message may still carry
// bytes that would garble a log line.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > 80)
    out += "...";
  return out;
}

} // namespace

bool is_valid_task_id(std::string_view id) {
  if (id.empty() || id.size() > max_task_id_size)
    return false;
  if (id == "." || id.find("..") != std::string_view::npos)
    return false;
  for (char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

result<void> check_task_id(std::string_view id) {
  if (!is_valid_task_id(id))
    return invalid(fmt::format("task id \"{}\" is not valid: use 1 to {} "
                               "characters of [0-9A-Za-z._-] without \"..\"",
                               printable(id), max_task_id_size));
  return {};
}

result<void> check_task_spec(const task_spec& spec) {
  if (auto ok = check_task_id(spec.task_id); !ok)
    return ok;
  if (spec.container.image.empty())
    return invalid(fmt::format("task {} has no image", spec.task_id));
  std::set<std::string> keys;
  for (const auto& entry : spec.container.env) {
    auto eq = entry.find('=');
    if (eq == 0 || eq == std::string::npos)
      return invalid(fmt::format("task {}: environment entry \"{}\" is not "
                                 "KEY=VALUE",
                                 spec.task_id, printable(entry)));
    if (!keys.insert(entry.substr(0, eq)).second)
      return invalid(fmt::format("task {}: environment variable {} is set "
                                 "twice",
                                 spec.task_id, printable(entry.substr(0, eq))));
  }
  for (const auto& port : spec.ports) {
    if (port.target == 0)
      return invalid(fmt::format("task {}: a published port has no target "
                                 "port",
                                 spec.task_id));
    if (port.protocol != "tcp" && port.protocol != "udp")
      return invalid(fmt::format("task {}: port {} has protocol \"{}\": use "
                                 "tcp or udp",
                                 spec.task_id, port.target,
                                 printable(port.protocol)));
  }
  if (spec.limits.memory_bytes < 0 || spec.limits.nano_cpus < 0)
    return invalid(fmt::format("task {}: resource limits must not be "
                               "negative",
                               spec.task_id));
  return {};
}

exit_status exited_with(int code) {
  return {code, 0, fmt::format("exited with code {}", code)};
}

exit_status killed_by(int signal) {
  return {128 + signal, signal, fmt::format("killed by signal {}", signal)};
}

} // namespace skep::runtime
