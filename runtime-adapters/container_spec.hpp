#pragma once
// What a task runs, what it may use and the ports it publishes: part of a
// service's spec in the store, and what every runtime adapter is given.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace skep::runtime {

/// CPU in billionths of a core, memory in bytes; 0 means none.
struct resources {
  int64_t nano_cpus = 0;
  int64_t memory_bytes = 0;
};

/// One published port: PUBLISHED on every node (routing mesh) to TARGET in
/// the task. With the process runtime TARGET names the variable
/// SKEP_PORT_<TARGET> that carries the host port the task must listen on.
struct port_config {
  uint16_t published = 0;       ///< 0: none (task-only)
  uint16_t target = 0;          ///< > 0
  std::string protocol = "tcp"; ///< "tcp" or "udp"
};

/// What runs in each task. With the process runtime `image` is an
/// executable (a name on PATH or an absolute path) and `args` its arguments.
struct container_spec {
  std::string image; ///< non-empty
  std::vector<std::string> args;
  std::vector<std::string> env; ///< "KEY=VALUE", KEY non-empty and unique
  std::string workdir;          ///< empty: the task's own directory
  /// SIGTERM, then SIGKILL after this long.
  std::chrono::nanoseconds stop_grace = std::chrono::seconds{10};
};

inline bool operator==(const resources& x, const resources& y) {
  return x.nano_cpus == y.nano_cpus && x.memory_bytes == y.memory_bytes;
}
inline bool operator!=(const resources& x, const resources& y) {
  return !(x == y);
}
inline bool operator==(const port_config& x, const port_config& y) {
  return x.published == y.published && x.target == y.target
         && x.protocol == y.protocol;
}
inline bool operator!=(const port_config& x, const port_config& y) {
  return !(x == y);
}
inline bool operator==(const container_spec& x, const container_spec& y) {
  return x.image == y.image && x.args == y.args && x.env == y.env
         && x.workdir == y.workdir && x.stop_grace == y.stop_grace;
}
inline bool operator!=(const container_spec& x, const container_spec& y) {
  return !(x == y);
}

} // namespace skep::runtime
