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

TEST(InfoFormat, HumanBytesUsesBinaryUnits) {
  EXPECT_EQ(human_bytes(512), "512B");
  EXPECT_EQ(human_bytes(1536), "1.50KiB");
  EXPECT_EQ(human_bytes(25'325'268'992), "23.59GiB");
}

} // namespace
} // namespace skep::console
