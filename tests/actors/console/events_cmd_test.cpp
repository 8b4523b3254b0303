// `skep events` options: what it asks the leader for.

#include "actors/console/commands/events_cmd.hpp"

#include <gtest/gtest.h>

namespace skep::console {
namespace {

constexpr int64_t now = 1'800'000'000'000'000'000;

TEST(EventsOptions, WithoutSinceOrUntilOnlyNewEventsShow) {
  auto opts = make_event_stream_options("", "", {}, now);
  ASSERT_TRUE(opts);
  EXPECT_EQ(opts->since_nanos, now);
  EXPECT_EQ(opts->until_nanos, 0);
}

TEST(EventsOptions, UntilAloneReplaysFromTheOldestKept) {
  auto opts = make_event_stream_options("", "0s", {}, now);
  ASSERT_TRUE(opts);
  EXPECT_EQ(opts->since_nanos, 0);
  EXPECT_EQ(opts->until_nanos, now);
}

TEST(EventsOptions, SinceIsTaken) {
  auto opts = make_event_stream_options("10s", "", {}, now);
  ASSERT_TRUE(opts);
  EXPECT_EQ(opts->since_nanos, now - 10'000'000'000);
}

} // namespace
} // namespace skep::console
