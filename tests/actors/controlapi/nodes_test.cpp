// Node labels: what `node update --label-add` may store.

#include "actors/controlapi/nodes.hpp"

#include <gtest/gtest.h>

namespace skep::controlapi {
namespace {

TEST(NodeLabels, OrdinaryLabelsPass) {
  EXPECT_TRUE(check_node_labels({{"zone", "eu-1"}, {"ssd", ""}}));
}

TEST(NodeLabels, HugeKeysValuesAndCountsAreRefused) {
  auto why = [](const std::map<std::string, std::string>& labels) {
    auto r = check_node_labels(labels);
    EXPECT_FALSE(r);
    return r ? std::string{} : r.error().message;
  };
  EXPECT_NE(why({{std::string(70 * 1024, 'k'), "v"}}).find("at most 256"),
            std::string::npos);
  EXPECT_NE(why({{"k", std::string(5000, 'v')}}).find("at most 4096"),
            std::string::npos);
  std::map<std::string, std::string> many;
  for (int i = 0; i < 2000; ++i)
    many["label" + std::to_string(i)] = "x";
  EXPECT_NE(why(many).find("at most 256 labels"), std::string::npos);
  std::map<std::string, std::string> heavy;
  for (int i = 0; i < 100; ++i)
    heavy["label" + std::to_string(i)] = std::string(1000, 'x');
  EXPECT_NE(why(heavy).find("bytes in all"), std::string::npos);
  EXPECT_NE(why({{"", "v"}}).find("empty"), std::string::npos);
  EXPECT_NE(why({{"a\nb", "v"}}).find("control character"), std::string::npos);
  EXPECT_NE(why({{"a=b", "v"}}).find("'='"), std::string::npos);
  EXPECT_NE(why({{"a", "x\ny"}}).find("control character"), std::string::npos);
}

} // namespace
} // namespace skep::controlapi
