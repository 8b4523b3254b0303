// `swarm init` and `swarm update` settings: ranges checked against what a
// swarm can run and what the store holds, nothing applied by halves.

#include "actors/store/cluster_settings.hpp"

#include <gtest/gtest.h>

namespace skep::store {
namespace {

using namespace std::chrono_literals;

std::string refusal(const cluster_settings& change) {
  auto out = apply_settings(cluster_spec{}, change);
  EXPECT_FALSE(out);
  return out ? std::string{} : out.error().message;
}

TEST(ClusterSettings, UnchangedWhenNothingIsAsked) {
  auto out = apply_settings(cluster_spec{}, cluster_settings{});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, cluster_spec{});
}

TEST(ClusterSettings, HistoryLimitMustFitItsThirtyTwoBits) {
  EXPECT_EQ(refusal({4'294'967'296, 0, 0, 0}),
            "--task-history-limit must be between 0 and 4294967295");
  EXPECT_NE(refusal({-2, 0, 0, 0}).find("between 0 and"), std::string::npos);
  auto max = apply_settings(cluster_spec{}, {4'294'967'295, 0, 0, 0});
  ASSERT_TRUE(max);
  EXPECT_EQ(max->task_history_limit, 4'294'967'295u);
  EXPECT_EQ(apply_settings(cluster_spec{}, {0, 0, 0, 0})->task_history_limit,
            0u);
}

TEST(ClusterSettings, HeartbeatBetweenASecondAndAnHour) {
  EXPECT_EQ(refusal({-1, 500'000'000, 0, 0}),
            "--dispatcher-heartbeat must be between 1s and 1h");
  EXPECT_NE(refusal({-1, 9999LL * 3600 * 1'000'000'000, 0, 0}).find("1h"),
            std::string::npos);
  EXPECT_NE(refusal({-1, -5, 0, 0}).find("between"), std::string::npos);
  auto ok = apply_settings(cluster_spec{}, {-1, 1'000'000'000, 0, 0});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->dispatcher_heartbeat, 1s);
}

TEST(ClusterSettings, SnapshotIntervalAndCertExpiryAreBounded) {
  EXPECT_NE(refusal({-1, 0, 0, 4'294'967'296}).find("between 1 and 10000000"),
            std::string::npos);
  EXPECT_NE(refusal({-1, 0, 30'000'000'000, 0}).find("between 1m and 87600h"),
            std::string::npos);
}

TEST(ClusterSettings, ARefusalChangesNothingElse) {
  cluster_spec spec;
  spec.task_history_limit = 7;
  auto out = apply_settings(spec, {9, 500'000'000, 0, 0});
  EXPECT_FALSE(out);
  EXPECT_EQ(spec.task_history_limit, 7u);
}

} // namespace
} // namespace skep::store
