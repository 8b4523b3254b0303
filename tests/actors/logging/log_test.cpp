// Log lines: format, level filtering, file sink.

#include "actors/logging/log.hpp"
#include "tests/support/process.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include <gtest/gtest.h>

namespace skep::log {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True when this process holds a descriptor for `path`.
bool file_is_open(const std::string& path) {
  std::error_code ec;
  for (const auto& fd :
       std::filesystem::directory_iterator("/proc/self/fd", ec))
    if (std::filesystem::read_symlink(fd.path(), ec) == path)
      return true;
  return false;
}

TEST(Log, LineCarriesUtcTimestampLevelAndActor) {
  // 2026-11-21T22:40:01.123Z
  auto line = format_line(level::warn, "reconciler/web", "slot 3 failed",
                          1'795'300'801'123);
  EXPECT_EQ(line, "2026-11-21T22:40:01.123Z WARN  reconciler/web: slot 3 "
                  "failed\n");
}

TEST(Log, RateLimitLetsABurstThroughThenCountsTheRest) {
  using namespace std::chrono_literals;
  rate_limit limit{3, 10s};
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  size_t held = 0;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(limit.allow(t0 + std::chrono::seconds{i}, &held));
  for (int i = 0; i < 1000; ++i)
    EXPECT_FALSE(limit.allow(t0 + 5s, &held));
  EXPECT_EQ(held, 0u);
  // A new period: the next line carries the count of those held back.
  EXPECT_TRUE(limit.allow(t0 + 11s, &held));
  EXPECT_EQ(held, 1000u);
}

TEST(Log, LineNamesTheNodeThatSpeaks) {
  auto line = format_line(level::info, "manager", "leading", 1'795'300'801'123,
                          "node2");
  EXPECT_EQ(line, "2026-11-21T22:40:01.123Z INFO  [node2] manager: leading\n");
}

TEST(Log, FileSinkKeepsLinesAtOrAboveTheLevel) {
  test::temp_dir dir;
  auto path = dir.path() + "/skepd.log";
  ASSERT_TRUE(configure(level::info, path));
  info("node", "started {}", 1);
  debug("node", "hidden {}", 2);
  warn("control", "dropping client: {}", "bad frame");
  error("raft", "broken chain at {}", 37);
  ASSERT_TRUE(configure(level::info, "")); // back to stderr, closes the file
  EXPECT_FALSE(file_is_open(path));
  auto text = slurp(path);
  EXPECT_NE(text.find("INFO  node: started 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("hidden"), std::string::npos) << text;
  EXPECT_NE(text.find("WARN  control: dropping client: bad frame\n"),
            std::string::npos);
  EXPECT_NE(text.find("ERROR raft: broken chain at 37\n"), std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Log, EnabledFollowsTheConfiguredLevel) {
  ASSERT_TRUE(configure(level::error, ""));
  EXPECT_TRUE(enabled(level::error));
  EXPECT_FALSE(enabled(level::warn));
  ASSERT_TRUE(configure(level::debug, ""));
  EXPECT_TRUE(enabled(level::debug));
  ASSERT_TRUE(configure(level::info, ""));
}

TEST(Log, UnwritableFileIsRefusedNamingIt) {
  auto configured = configure(level::info, "/nonexistent/dir/skepd.log");
  ASSERT_FALSE(configured);
  EXPECT_NE(configured.error().message.find("/nonexistent/dir/skepd.log"),
            std::string::npos);
}

} // namespace
} // namespace skep::log
