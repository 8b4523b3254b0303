#pragma once

#include "tests/actors/raft/sim_cluster.hpp"

#include <functional>
#include <string>

#include <gtest/gtest.h>

namespace skep::raft::sim {

/// Runs `body` once per seed (seed_count() seeds). `body` returns an empty
/// string on success or what went wrong; the first failing seed is reported
/// so the run can be replayed.
inline void
for_each_seed(const std::function<std::string(std::uint64_t seed)>& body,
              int fallback = 200) {
  auto seeds = seed_count(fallback);
  for (int seed = 1; seed <= seeds; ++seed) {
    auto what = body(static_cast<std::uint64_t>(seed));
    if (!what.empty()) {
      ADD_FAILURE() << "seed " << seed << ": " << what;
      return;
    }
  }
}

/// Options most scenarios share: small batches and chunks so batching,
/// pipelining and chunked snapshots are exercised.
inline cluster_options default_options(std::size_t voters) {
  cluster_options options;
  options.voters = voters;
  options.raft.election_ticks = 10;
  options.raft.heartbeat_ticks = 1;
  options.raft.max_append_entries = 8;
  options.raft.max_append_bytes = 512;
  options.raft.max_inflight_appends = 4;
  options.raft.snapshot_chunk_bytes = 64;
  options.network.min_delay = 0;
  options.network.max_delay = 1;
  return options;
}

} // namespace skep::raft::sim

/// Inside a scenario body: stop with the harness failure or `what`.
#define SIM_REQUIRE(c, cond, what)                                             \
  do {                                                                         \
    if (!(c).ok())                                                             \
      return (c).failure();                                                    \
    if (!(cond))                                                               \
      return std::string(what) + " [" #cond "]";                               \
  } while (false)
