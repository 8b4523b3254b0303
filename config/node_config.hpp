#pragma once

#include "messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace skep::config {

/// Where a task's processes run.
enum class runtime_kind { process, runc, docker, sim };

/// How much skepd logs.
enum class log_level { error, warn, info, debug };

const char* to_string(runtime_kind kind) noexcept;
const char* to_string(log_level level) noexcept;

/// A TCP endpoint. `host` is an IP literal or a DNS name (IPv6 without
/// brackets).
struct host_port {
  std::string host;
  uint16_t port = 0;

  /// "HOST:PORT", with brackets around IPv6 hosts.
  std::string to_string() const;
};

/// Parses "HOST:PORT", "[V6]:PORT", or ":PORT" (host `default_host`). When
/// `default_port` is non-zero, a bare "HOST" is accepted too.
result<host_port> parse_host_port(std::string_view text,
                                  std::string_view default_host,
                                  uint16_t default_port);

/// Everything a node needs to start, after defaults, the config file and the
/// flags have been merged and validated.
struct node_config {
  std::string data_dir = "/var/lib/skep";
  host_port listen_addr{"0.0.0.0", 2377};
  host_port advertise_addr; ///< defaults to listen_addr
  std::string ingress_addr = "0.0.0.0";
  std::string control_socket; ///< defaults to data_dir + "/skepd.sock"
  std::string hostname;       ///< defaults to the OS hostname
  runtime_kind runtime = runtime_kind::process;
  log_level level = log_level::info;
  std::string log_file; ///< empty: standard error
  std::chrono::nanoseconds control_timeout = std::chrono::seconds{30};
  uint64_t max_frame_bytes = 4 * 1024 * 1024;
};

/// A value given for a setting, and where it came from, for error messages
/// ("--listen-addr", "/etc/skep/skepd.yaml line 3").
struct setting_value {
  std::string text;
  std::string origin;
};

/// Settings from one source, by key. Keys are the long flag names without
/// dashes, e.g. "listen-addr".
using config_layer = std::map<std::string, setting_value>;

/// One setting of the schema: its key (also the flag and YAML key), what it
/// means, and its default as text.
struct setting_info {
  std::string_view key;
  std::string_view value_name; ///< e.g. "HOST:PORT", "DUR"
  std::string_view help;
  std::string_view default_text;
};

/// The schema: every setting a node accepts, in help order.
const std::vector<setting_info>& node_settings();

/// Reads a YAML config file into a layer. Fails naming the file (and line)
/// when it cannot be read, is not a mapping, has an unknown or duplicate key,
/// or a value that is not a scalar.
result<config_layer> read_config_file(const std::string& path);

/// Like read_config_file, for YAML text already in memory; `source` names it.
result<config_layer> parse_config_yaml(std::string_view text,
                                       const std::string& source);

/// Merges defaults, then `file`, then `flags` (a flag beats the file, the
/// file beats the default), and validates every value. `os_hostname` is the
/// default hostname and `cwd` anchors relative paths. Fails on the first bad
/// value, naming the key, its origin and the reason.
result<node_config> resolve_node_config(const config_layer& file,
                                        const config_layer& flags,
                                        const std::string& os_hostname,
                                        const std::string& cwd);

} // namespace skep::config
