// The node's data dir: identity that survives restarts, exclusive use,
// atomic writes, refusal of a damaged id.

#include "actors/node/data_dir.hpp"
#include "tests/support/process.hpp"

#include <fstream>
#include <iterator>
#include <sys/stat.h>

#include <gtest/gtest.h>

namespace skep::node {
namespace {

TEST(DataDir, CreatesMissingDirectoryPrivately) {
  test::temp_dir tmp;
  auto dir = tmp.path() + "/a/b";
  ASSERT_TRUE(prepare_data_dir(dir));
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(DataDir, RefusesAFileInPlaceOfTheDirectory) {
  test::temp_dir tmp;
  auto path = tmp.path() + "/file";
  std::ofstream{path} << "x";
  auto prepared = prepare_data_dir(path);
  ASSERT_FALSE(prepared);
  EXPECT_NE(prepared.error().message.find(path), std::string::npos);
}

TEST(DataDir, NodeIdIsCreatedOnceAndKept) {
  test::temp_dir tmp;
  auto first = load_or_create_node_id(tmp.path());
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(is_valid_node_id(*first));
  auto second = load_or_create_node_id(tmp.path());
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);
  test::temp_dir other;
  auto third = load_or_create_node_id(other.path());
  ASSERT_TRUE(third);
  EXPECT_NE(*first, *third);
}

TEST(DataDir, DamagedNodeIdIsRefused) {
  test::temp_dir tmp;
  std::ofstream{tmp.path() + "/node-id"} << "not-an-id\n";
  auto id = load_or_create_node_id(tmp.path());
  ASSERT_FALSE(id);
  EXPECT_NE(id.error().message.find("damaged"), std::string::npos);
}

TEST(DataDir, SecondLockOnTheSameDirIsRefused) {
  test::temp_dir tmp;
  auto first = data_dir_lock::acquire(tmp.path());
  ASSERT_TRUE(first);
  auto second = data_dir_lock::acquire(tmp.path());
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("in use by another skepd"),
            std::string::npos);
}

TEST(DataDir, LockIsFreeAgainAfterRelease) {
  test::temp_dir tmp;
  {
    auto first = data_dir_lock::acquire(tmp.path());
    ASSERT_TRUE(first);
  }
  EXPECT_TRUE(data_dir_lock::acquire(tmp.path()));
}

TEST(DataDir, AtomicWriteReplacesContentAndLeavesNoTemporary) {
  test::temp_dir tmp;
  auto path = tmp.path() + "/state";
  ASSERT_TRUE(write_file_atomically(path, "one", 0600));
  ASSERT_TRUE(write_file_atomically(path, "two", 0600));
  std::ifstream in{path};
  std::string content;
  in >> content;
  EXPECT_EQ(content, "two");
  struct stat st;
  EXPECT_NE(::stat((path + ".tmp").c_str(), &st), 0);
}

TEST(DataDir, AtomicWriteOfALargeFileKeepsEveryByte) {
  // Larger than the chunks it is written and flushed in, and not a multiple.
  test::temp_dir tmp;
  auto path = tmp.path() + "/snapshot";
  std::string data(10 * (1 << 20) + 12345, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>((i * 2654435761u) >> 13);
  ASSERT_TRUE(write_file_atomically(path, data.data(), data.size(), 0600));
  std::ifstream in{path, std::ios::binary};
  std::string back{std::istreambuf_iterator<char>(in), {}};
  EXPECT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data);
}

TEST(NodeId, Validation) {
  EXPECT_TRUE(is_valid_node_id("0123456789abcdefghijklmno"));
  EXPECT_FALSE(is_valid_node_id("0123456789abcdefghijklmn"));
  EXPECT_FALSE(is_valid_node_id("0123456789ABCDEFGHIJKLMNO"));
  EXPECT_FALSE(is_valid_node_id("0123456789abcdefghijklmn-"));
}

} // namespace
} // namespace skep::node
