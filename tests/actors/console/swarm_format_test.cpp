// `skep node ls`: rows sorted by hostname as docker/cli sorts them.

#include "actors/console/formats/swarm_format.hpp"

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace skep::console {
namespace {

TEST(NodeList, HostnamesSortInNaturalOrder) {
  EXPECT_TRUE(natural_less("node2", "node10"));
  EXPECT_FALSE(natural_less("node10", "node2"));
  EXPECT_TRUE(natural_less("node", "node1"));
  EXPECT_TRUE(natural_less("a9", "b1"));
  EXPECT_TRUE(natural_less("node01", "node2"));
  EXPECT_FALSE(natural_less("node1", "node1"));
}

TEST(NodeList, TableAndJsonAreSortedByHostnameNotId) {
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initNodes(3);
  const char* ids[] = {"aaa", "bbb", "ccc"};
  const char* hosts[] = {"node10", "node2", "manager"};
  for (unsigned i = 0; i < 3; ++i) {
    list[i].setId(ids[i]);
    list[i].setHostname(hosts[i]);
    list[i].setStatus("ready");
  }
  EXPECT_EQ(format_node_table(list.asReader(), true), "ccc\nbbb\naaa\n");
  auto json = node_lines_json(list.asReader());
  auto manager = json.find("\"manager\"");
  auto node2 = json.find("\"node2\"");
  auto node10 = json.find("\"node10\"");
  ASSERT_NE(node10, std::string::npos);
  EXPECT_LT(manager, node2);
  EXPECT_LT(node2, node10);
}

} // namespace
} // namespace skep::console
