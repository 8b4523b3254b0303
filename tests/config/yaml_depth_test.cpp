// YAML from outside is refused by its nesting depth before a parser
// recurses into it.

#include "config/node_config.hpp"
#include "config/yaml_depth.hpp"

#include <string>

#include <gtest/gtest.h>

namespace skep::config {
namespace {

TEST(YamlDepth, CountsFlowAndBlockNesting) {
  EXPECT_EQ(yaml_nesting_depth("a: 1\nb: 2\n", 100), 1u);
  EXPECT_EQ(yaml_nesting_depth("a:\n  b:\n    c: 1\n", 100), 3u);
  EXPECT_EQ(yaml_nesting_depth("a: [1, [2, {x: 3}]]\n", 100), 4u);
  EXPECT_EQ(yaml_nesting_depth("- - - x\n", 100), 4u);
  EXPECT_EQ(yaml_nesting_depth("a: \"[[[[\" # [[[\n", 100), 1u);
}

TEST(YamlDepth, AHundredThousandLevelsAreRefusedNamingTheLimit) {
  auto deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto checked = check_yaml_depth(deep, 32, "skepd.yaml");
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message.find("nested more than 32 levels"),
            std::string::npos)
    << checked.error().message;
  auto parsed = parse_config_yaml("log-level: [" + deep + "]", "skepd.yaml");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("32 levels"), std::string::npos)
    << parsed.error().message;
  EXPECT_EQ(parsed.error().message.find("bad file"), std::string::npos);
}

} // namespace
} // namespace skep::config
