// skep's output: `info --format json` keys, and bytes that are not UTF-8.

#include "actors/console/formats/info_format.hpp"

#include <capnp/message.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skep::console {
namespace {

TEST(InfoFormat, JsonSurvivesPathsThatAreNotUtf8) {
  capnp::MallocMessageBuilder builder;
  auto info = builder.initRoot<schema::control::NodeInfo>();
  info.setNodeId("abcdefghijklmnopqrstuvwxy");
  const char latin1_path[] = "/srv/sk\xe9p"; // é in Latin-1
  info.setDataDir(kj::StringPtr(latin1_path));
  std::string text;
  ASSERT_NO_THROW(text = info_json(info.asReader()));
  auto json = nlohmann::json::parse(text);
  EXPECT_EQ(json["ID"], "abcdefghijklmnopqrstuvwxy");
  EXPECT_EQ(json["DataDir"].get<std::string>().rfind("/srv/sk", 0), 0u);
  EXPECT_EQ(json["Swarm"]["LocalNodeState"], "inactive");
}

TEST(InfoFormat, TheLongestTickGapIsShownOnlyWhenTheMemberAnswered) {
  capnp::MallocMessageBuilder builder;
  auto info = builder.initRoot<schema::control::NodeInfo>();
  info.setLocalNodeState(schema::control::LocalNodeState::ACTIVE);
  info.setControlAvailable(true);
  auto swarm = info.initSwarm();
  swarm.setRaftLongestTickGapNanos(233'400'000);
  auto text = format_info(info.asReader());
  EXPECT_NE(text.find("   Longest Tick Gap: 233ms\n"), std::string::npos)
    << text;
  auto json = nlohmann::json::parse(info_json(info.asReader()));
  EXPECT_EQ(json["Swarm"]["Raft"]["LongestTickGap"], 233'400'000);
  // 0: the member did not answer in time, so there is no figure to show.
  swarm.setRaftLongestTickGapNanos(0);
  text = format_info(info.asReader());
  EXPECT_EQ(text.find("Longest Tick Gap"), std::string::npos) << text;
  EXPECT_NE(text.find("Election Tick"), std::string::npos) << text;
}

TEST(InfoFormat, HumanBytesUsesBinaryUnits) {
  EXPECT_EQ(human_bytes(512), "512B");
  EXPECT_EQ(human_bytes(1536), "1.50KiB");
  EXPECT_EQ(human_bytes(25'325'268'992), "23.59GiB");
}

} // namespace
} // namespace skep::console
