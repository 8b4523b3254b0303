#pragma once

#include "config/node_config.hpp"
#include "messages/envelope.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace skep::node {

/// Facts about the machine a node runs on, reported by `skep info`.
struct host_facts {
  uint32_t cpus = 0;
  uint64_t memory_bytes = 0;
  std::string operating_system;
  std::string kernel_version;
  std::string arch;
};

/// Reads the facts of the machine this process runs on.
host_facts read_host_facts();

/// What a node knows about itself; owned by the node supervisor.
struct node_state {
  std::string node_id;
  config::node_config config;
  host_facts host;
  /// Wall-clock start, reported as "started at".
  std::chrono::system_clock::time_point started_at;
};

/// Answers a control request from the node's own state. Pure: `uptime` and
/// `actors` come from the caller so tests can fix them. Requests this node
/// does not handle get an `unsupported` error reply.
control_reply handle_control_request(const node_state& state,
                                     const control_request& request,
                                     std::chrono::nanoseconds uptime,
                                     const std::vector<std::string>& actors);

} // namespace skep::node
