#include "actors/store/cluster_settings.hpp"

#include <fmt/format.h>

namespace skep::store {

namespace {

using namespace std::chrono;

/// "1s", "1h", "87600h": how the ranges print.
std::string text_of(nanoseconds d) {
  if (d % hours{1} == nanoseconds{0})
    return fmt::format("{}h", duration_cast<hours>(d).count());
  if (d % minutes{1} == nanoseconds{0})
    return fmt::format("{}m", duration_cast<minutes>(d).count());
  return fmt::format("{}s", duration_cast<seconds>(d).count());
}

result<nanoseconds> duration_in(const char* flag, int64_t nanos,
                                nanoseconds min, nanoseconds max) {
  nanoseconds d{nanos};
  if (d < min || d > max)
    return fail(errc::invalid_argument,
                fmt::format("{} must be between {} and {}", flag, text_of(min),
                            text_of(max)));
  return d;
}

} // namespace

result<cluster_spec> apply_settings(cluster_spec spec,
                                    const cluster_settings& change) {
  using limits = cluster_limits;
  if (change.task_history_limit != -1) {
    if (change.task_history_limit < 0
        || change.task_history_limit > limits::max_task_history)
      return fail(errc::invalid_argument,
                  fmt::format("--task-history-limit must be between 0 and {}",
                              limits::max_task_history));
    spec.task_history_limit = static_cast<uint32_t>(change.task_history_limit);
  }
  if (change.dispatcher_heartbeat_nanos != 0) {
    auto d
      = duration_in("--dispatcher-heartbeat", change.dispatcher_heartbeat_nanos,
                    limits::min_heartbeat, limits::max_heartbeat);
    if (!d)
      return std::move(d).error();
    spec.dispatcher_heartbeat = *d;
  }
  if (change.cert_expiry_nanos != 0) {
    auto d = duration_in("--cert-expiry", change.cert_expiry_nanos,
                         limits::min_cert_expiry, limits::max_cert_expiry);
    if (!d)
      return std::move(d).error();
    spec.cert_expiry = *d;
  }
  if (change.snapshot_interval != 0) {
    if (change.snapshot_interval > limits::max_snapshot_interval)
      return fail(errc::invalid_argument,
                  fmt::format("--snapshot-interval must be between 1 and {}",
                              limits::max_snapshot_interval));
    spec.snapshot_interval = change.snapshot_interval;
  }
  return spec;
}

} // namespace skep::store
