#pragma once

// What `swarm init` and `swarm update` may set, checked against what a swarm
// can run before anything is written. Pure: no CAF, no I/O.

#include "actors/store/objects.hpp"
#include "messages/result.hpp"

#include <chrono>
#include <cstdint>

namespace skep::store {

/// The ranges of the settings an operator may change.
struct cluster_limits {
  /// Below a second heartbeats cost more than they tell (Swarm's floor);
  /// above an hour a lost node would go unnoticed for hours.
  static constexpr std::chrono::nanoseconds min_heartbeat
    = std::chrono::seconds{1};
  static constexpr std::chrono::nanoseconds max_heartbeat
    = std::chrono::hours{1};
  /// Stored in 32 bits.
  static constexpr int64_t max_task_history = 4'294'967'295;
  /// Beyond this the log is never compacted in practice.
  static constexpr uint64_t max_snapshot_interval = 10'000'000;
  static constexpr std::chrono::nanoseconds min_cert_expiry
    = std::chrono::minutes{1};
  /// Ten years: an expiry that does not overflow a 64-bit nanosecond clock.
  static constexpr std::chrono::nanoseconds max_cert_expiry
    = std::chrono::hours{10 * 365 * 24};
};

/// What a request asks to change; -1 (history) or 0 (the others) keeps the
/// current value, as the control schema says.
struct cluster_settings {
  int64_t task_history_limit = -1;
  int64_t dispatcher_heartbeat_nanos = 0;
  int64_t cert_expiry_nanos = 0;
  uint64_t snapshot_interval = 0;
};

/// `spec` with `change` applied, or a failure naming the flag and its range
/// (errc::invalid_argument); nothing is partly applied.
result<cluster_spec> apply_settings(cluster_spec spec,
                                    const cluster_settings& change);

} // namespace skep::store
