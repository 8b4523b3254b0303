// Unit tests of memory_storage and crash_storage.

#include "actors/raft/hash_chain.hpp"
#include "actors/raft/memory_storage.hpp"

#include <gtest/gtest.h>

using namespace skep::raft;

namespace {

std::vector<entry> sealed(index_t from, std::size_t count, term_t term,
                          chain_hash prev) {
  std::vector<entry> out;
  for (std::size_t i = 0; i < count; ++i) {
    entry e;
    e.term = term;
    e.index = from + i;
    e.payload = bytes(10, static_cast<std::uint8_t>(e.index));
    seal_entry(e, prev);
    prev = e.hash;
    out.push_back(e);
  }
  return out;
}

} // namespace

TEST(MemoryStorage, AppendReplacesTheConflictingSuffix) {
  memory_storage s;
  s.append(sealed(1, 5, 1, genesis_hash));
  s.append(sealed(3, 1, 2, *s.hash(2)));
  EXPECT_EQ(s.last_index(), 3u);
  EXPECT_EQ(s.term(3), 2u);
  EXPECT_FALSE(s.term(4).has_value());
}

TEST(MemoryStorage, AppendWithGapIsABug) {
  memory_storage s;
  EXPECT_THROW(s.append(sealed(3, 1, 1, genesis_hash)), std::out_of_range);
}

TEST(MemoryStorage, EntriesStopAtByteLimitButReturnOne) {
  memory_storage s;
  s.append(sealed(1, 5, 1, genesis_hash));
  EXPECT_EQ(s.entries(1, 6, 25).size(), 2u);
  EXPECT_EQ(s.entries(1, 6, 1).size(), 1u);
  EXPECT_EQ(s.entries(2, 4, 1000).size(), 2u);
}

TEST(MemoryStorage, CompactionKeepsTermAndHashOfTheCompactionPoint) {
  memory_storage s;
  s.append(sealed(1, 10, 1, genesis_hash));
  auto hash6 = *s.hash(6);
  snapshot snap;
  snap.meta.index = 8;
  snap.meta.term = 1;
  snap.meta.hash = *s.hash(8);
  s.save_snapshot(snap);
  EXPECT_EQ(s.first_index(), 1u); // matching snapshot keeps the log
  compact_keeping_tail(s, 2);
  EXPECT_EQ(s.first_index(), 7u);
  EXPECT_EQ(s.hash(6), hash6);
  EXPECT_EQ(s.term(6), 1u);
  EXPECT_FALSE(s.term(5).has_value());
  EXPECT_TRUE(verify_chain(s).ok());
}

TEST(MemoryStorage, ForeignSnapshotReplacesTheWholeLog) {
  memory_storage s;
  s.append(sealed(1, 4, 1, genesis_hash));
  snapshot snap;
  snap.meta.index = 20;
  snap.meta.term = 3;
  snap.meta.hash[0] = 7;
  snap.data = {1, 2, 3};
  s.save_snapshot(snap);
  EXPECT_EQ(s.first_index(), 21u);
  EXPECT_EQ(s.last_index(), 20u);
  EXPECT_EQ(s.hash(20), snap.meta.hash);
  EXPECT_EQ(s.snapshot_chunk(1, 10), (bytes{2, 3}));
}

TEST(CrashStorage, CrashLosesWritesAfterTheLastSync) {
  crash_storage s;
  s.append(sealed(1, 3, 1, genesis_hash));
  s.save_hard_state({1, 2, 3});
  s.sync();
  s.append(sealed(4, 2, 1, *s.hash(3)));
  s.save_hard_state({2, 0, 5});
  EXPECT_EQ(s.last_index(), 5u); // visible before sync
  EXPECT_EQ(s.unsynced_writes(), 2u);
  s.crash();
  EXPECT_EQ(s.last_index(), 3u);
  EXPECT_EQ(s.load_hard_state(), (hard_state{1, 2, 3}));
}

TEST(CrashStorage, SyncedTruncationSurvivesCrash) {
  crash_storage s;
  s.append(sealed(1, 5, 1, genesis_hash));
  s.sync();
  s.append(sealed(2, 1, 2, *s.hash(1)));
  s.sync();
  s.crash();
  EXPECT_EQ(s.last_index(), 2u);
  EXPECT_EQ(s.term(2), 2u);
}

TEST(CrashStorage, UnsyncedSnapshotAndCompactionAreLost) {
  crash_storage s;
  s.append(sealed(1, 5, 1, genesis_hash));
  s.sync();
  snapshot snap;
  snap.meta.index = 4;
  snap.meta.term = 1;
  snap.meta.hash = *s.hash(4);
  s.save_snapshot(snap);
  s.compact(4);
  EXPECT_EQ(s.first_index(), 5u);
  s.crash();
  EXPECT_EQ(s.first_index(), 1u);
  EXPECT_EQ(s.snapshot_metadata().index, 0u);
}
