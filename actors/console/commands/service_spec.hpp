#pragma once

// The flags of `skep service create/update` and their parsers, pure
// functions tests can call, and the spec they make.

#include "messages/result.hpp"
#include "messages/store.capnp.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skep::console {

/// --update-* or --rollback-* as typed; empty ones change nothing.
struct rolling_flags {
  std::optional<std::string> parallelism;
  std::optional<std::string> delay;
  std::optional<std::string> monitor;
  std::optional<std::string> failure_action;
  std::optional<std::string> max_failure_ratio;
  std::optional<std::string> order;
};

/// --health-* as typed: validated, then refused (not in ServiceSpec yet).
struct health_flags {
  std::optional<std::string> cmd;
  std::optional<std::string> interval;
  std::optional<std::string> timeout;
  std::optional<std::string> retries;
  std::optional<std::string> start_period;
};

/// What the create and update flags ask of a spec, as typed. Empty
/// optionals and lists change nothing; create's --env, --publish,
/// --constraint and --label fill the *_add lists.
struct service_flags {
  std::optional<std::string> name;
  std::optional<std::string> image;
  std::optional<std::vector<std::string>> args;
  std::optional<std::string> mode;
  std::optional<std::string> replicas;
  std::optional<std::string> replicas_max_per_node;
  std::optional<std::string> workdir;
  std::vector<std::string> env_add, env_rm;
  std::vector<std::string> publish_add, publish_rm;
  std::vector<std::string> constraint_add, constraint_rm;
  std::vector<std::string> label_add, label_rm;
  std::optional<std::string> reserve_cpu, reserve_memory;
  std::optional<std::string> limit_cpu, limit_memory;
  std::optional<std::string> restart_condition, restart_delay;
  std::optional<std::string> restart_max_attempts, restart_window;
  std::optional<std::string> stop_grace_period;
  rolling_flags update, rollback;
  health_flags health;

  /// True when no flag that changes the spec was given.
  bool empty() const;
};

/// One --publish value.
struct port_flag {
  uint16_t published = 0; // 0: not published on the nodes
  uint16_t target = 0;
  std::string protocol = "tcp";
};

/// Parses PUBLISHED:TARGET[/tcp|udp], TARGET[/tcp|udp] (published 0), or
/// Docker's long form published=P,target=T[,protocol=udp][,mode=ingress].
result<port_flag> parse_publish(std::string_view flag, std::string_view text);

/// Parses KEY=VALUE; with `value_optional`, a lone KEY means an empty value.
result<std::pair<std::string, std::string>>
parse_key_value(std::string_view flag, std::string_view text,
                bool value_optional);

/// Parses a decimal number of CPUs ("0.5", "2") into nano CPUs.
result<int64_t> parse_cpus(std::string_view flag, std::string_view text);

/// Parses a memory size ("64M", "1G", "512KiB") into bytes.
result<int64_t> parse_memory(std::string_view flag, std::string_view text);

/// Parses a duration ("5s", "1m30s", "300ms", "0") into nanoseconds.
result<int64_t> parse_duration_flag(std::string_view flag,
                                    std::string_view text);

/// Parses a whole number >= 0.
result<uint64_t> parse_count(std::string_view flag, std::string_view text);

/// Parses a fraction in [0, 1].
result<double> parse_ratio(std::string_view flag, std::string_view text);

/// Validates the --health-* flags, then refuses them when any is given.
result<void> check_health_flags(const health_flags& flags);

/// Writes what `flags` ask into `spec` (a new spec's defaults, or a copy of
/// the stored one). Fails naming the flag when a value does not parse or
/// flags conflict (e.g. --replicas for a global service); `spec` may then be
/// half-changed and must not be sent.
result<void> apply_flags(const service_flags& flags,
                         schema::store::ServiceSpec::Builder spec);

/// Parses SERVICE=REPLICAS as `service scale` takes it.
result<std::pair<std::string, uint64_t>>
parse_scale_specifier(std::string_view text);

/// Splits --args the way a shell would: blanks separate words, quotes
/// ('...', "...") and backslashes keep them together.
result<std::vector<std::string>> split_words(std::string_view text);

/// A service name made from `image` ("/usr/bin/python3:1" -> "python3")
/// and `suffix`: "python3-<suffix>", only [A-Za-z0-9_.-], first
/// alphanumeric, at most 63 characters.
std::string default_service_name(std::string_view image,
                                 std::string_view suffix);

/// What `service ps --filter` asked for.
struct task_filter_flags {
  std::string desired_state;      // running, shutdown or empty
  std::vector<std::string> nodes; // node=...
};

/// Parses --filter values: desired-state=running|shutdown|accepted, node=N.
result<task_filter_flags>
parse_task_filters(const std::vector<std::string>& filters);

} // namespace skep::console
