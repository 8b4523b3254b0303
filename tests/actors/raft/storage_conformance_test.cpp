// One behaviour suite for every log_storage: memory_storage and
// sqlite_storage must agree on every call. SQLite-only tests follow: what
// survives a reopen, a crash, and tampering.

#include "actors/raft/hash_chain.hpp"
#include "actors/raft/memory_storage.hpp"
#include "actors/raft/sqlite_storage.hpp"
#include "tests/support/process.hpp"

#include <algorithm>
#include <csignal>
#include <dirent.h>
#include <functional>
#include <memory>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace skep::raft {
namespace {

/// Builds entries [from, to] of `term` that chain from `prev`.
std::vector<entry> chain(index_t from, index_t to, term_t term, chain_hash prev,
                         size_t payload_size = 8) {
  std::vector<entry> out;
  for (auto i = from; i <= to; ++i) {
    entry e;
    e.term = term;
    e.index = i;
    e.payload = bytes(payload_size, static_cast<uint8_t>(i));
    seal_entry(e, prev);
    prev = e.hash;
    out.push_back(std::move(e));
  }
  return out;
}

struct storage_kind {
  const char* name;
  std::function<std::unique_ptr<log_storage>(const std::string& dir)> make;
};

class StorageConformance : public ::testing::TestWithParam<storage_kind> {
 protected:
  StorageConformance() : store(GetParam().make(dir.path())) {}
  test::temp_dir dir;
  std::unique_ptr<log_storage> store;
};

TEST_P(StorageConformance, FreshStoreIsEmpty) {
  EXPECT_EQ(store->load_hard_state(), hard_state{});
  EXPECT_EQ(store->first_index(), 1u);
  EXPECT_EQ(store->last_index(), 0u);
  EXPECT_EQ(store->term(0), term_t{0});
  EXPECT_EQ(store->hash(0), genesis_hash);
  EXPECT_FALSE(store->term(1));
  EXPECT_EQ(store->snapshot_metadata().index, 0u);
  EXPECT_EQ(store->snapshot_size(), 0u);
}

TEST_P(StorageConformance, HardStateRoundTrips) {
  hard_state hs{7, 3, 42};
  store->save_hard_state(hs);
  store->sync();
  EXPECT_EQ(store->load_hard_state(), hs);
}

TEST_P(StorageConformance, AppendedEntriesReadBackExactly) {
  auto batch = chain(1, 10, 2, genesis_hash);
  store->append(batch);
  EXPECT_EQ(store->last_index(), 10u);
  EXPECT_EQ(store->entries(1, 11, UINT64_MAX), batch);
  EXPECT_EQ(store->term(5), term_t{2});
  EXPECT_EQ(store->hash(10), batch.back().hash);
  EXPECT_FALSE(store->term(11));
  EXPECT_TRUE(verify_chain(*store).ok());
}

TEST_P(StorageConformance, EntriesStopAtByteBudgetButReturnAtLeastOne) {
  store->append(chain(1, 10, 1, genesis_hash, 100));
  EXPECT_EQ(store->entries(1, 11, 250).size(), 2u);
  EXPECT_EQ(store->entries(3, 11, 10).size(), 1u);
  EXPECT_TRUE(store->entries(4, 4, 10).empty());
}

TEST_P(StorageConformance, AppendOverlappingTheTailReplacesIt) {
  auto first = chain(1, 10, 1, genesis_hash);
  store->append(first);
  auto diverged = chain(6, 8, 2, first[4].hash);
  store->append(diverged);
  EXPECT_EQ(store->last_index(), 8u);
  EXPECT_EQ(store->term(6), term_t{2});
  EXPECT_EQ(store->term(5), term_t{1});
  EXPECT_FALSE(store->term(9));
  EXPECT_TRUE(verify_chain(*store).ok());
}

TEST_P(StorageConformance, AppendWithAGapIsABug) {
  store->append(chain(1, 3, 1, genesis_hash));
  EXPECT_THROW(store->append(chain(5, 6, 1, genesis_hash)), std::out_of_range);
}

TEST_P(StorageConformance, SnapshotMatchingTheLogKeepsItAndCompactDropsPrefix) {
  auto log = chain(1, 20, 3, genesis_hash);
  store->append(log);
  snapshot snap;
  snap.meta = {15, 3, log[14].hash, configuration{{1, 2, 3}, {4}}};
  snap.data = bytes(1000, 0x5a);
  store->save_snapshot(snap);
  EXPECT_EQ(store->last_index(), 20u); // log kept
  store->compact(12);
  EXPECT_EQ(store->first_index(), 13u);
  EXPECT_EQ(store->term(12), term_t{3});
  EXPECT_EQ(store->hash(12), log[11].hash);
  EXPECT_FALSE(store->term(11));
  EXPECT_EQ(store->entries(13, 21, UINT64_MAX).size(), 8u);
  auto meta = store->snapshot_metadata();
  EXPECT_EQ(meta.index, 15u);
  EXPECT_EQ(meta.config, (configuration{{1, 2, 3}, {4}}));
  EXPECT_TRUE(verify_chain(*store).ok());
  EXPECT_THROW(store->compact(16), std::out_of_range); // beyond the snapshot
}

TEST_P(StorageConformance, SnapshotFromElsewhereReplacesTheLog) {
  store->append(chain(1, 5, 1, genesis_hash));
  snapshot snap;
  chain_hash foreign{};
  foreign[0] = 0xee;
  snap.meta = {50, 4, foreign, configuration{{1, 2, 3}, {}}};
  snap.data = {1, 2, 3};
  store->save_snapshot(snap);
  EXPECT_EQ(store->first_index(), 51u);
  EXPECT_EQ(store->last_index(), 50u);
  EXPECT_EQ(store->term(50), term_t{4});
  EXPECT_EQ(store->hash(50), foreign);
  // The log continues from the snapshot's hash.
  store->append(chain(51, 52, 4, foreign));
  EXPECT_TRUE(verify_chain(*store).ok());
}

TEST_P(StorageConformance, SnapshotChunksReassembleTheData) {
  snapshot snap;
  snap.meta.config = configuration{{1}, {}};
  for (int i = 0; i < 10'000; ++i)
    snap.data.push_back(static_cast<uint8_t>(i * 7));
  store->save_snapshot(snap);
  EXPECT_EQ(store->snapshot_size(), 10'000u);
  bytes joined;
  for (uint64_t off = 0; off < store->snapshot_size(); off += 3000) {
    auto chunk = store->snapshot_chunk(off, 3000);
    joined.insert(joined.end(), chunk.begin(), chunk.end());
  }
  EXPECT_EQ(joined, snap.data);
  EXPECT_TRUE(store->snapshot_chunk(10'000, 10).empty());
}

TEST_P(StorageConformance, CompactionKeepsTheRequestedTail) {
  auto log = chain(1, 100, 1, genesis_hash);
  store->append(log);
  snapshot snap;
  snap.meta = {90, 1, log[89].hash, configuration{{1}, {}}};
  store->save_snapshot(snap);
  compact_keeping_tail(*store, 25);
  EXPECT_EQ(store->first_index(), 66u);
  EXPECT_EQ(store->last_index(), 100u);
  EXPECT_TRUE(verify_chain(*store).ok());
}

TEST_P(StorageConformance, BootstrapRecordsTheFounders) {
  bootstrap(*store, configuration{{1, 2, 3}, {}});
  EXPECT_EQ(store->snapshot_metadata().config, (configuration{{1, 2, 3}, {}}));
  EXPECT_EQ(store->last_index(), 0u);
}

std::unique_ptr<log_storage> make_memory(const std::string&) {
  return std::make_unique<memory_storage>();
}

std::unique_ptr<log_storage> make_sqlite(const std::string& dir) {
  auto store = sqlite_storage::open(dir + "/raft.db");
  if (!store)
    throw std::runtime_error(store.error().message);
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(AllStorages, StorageConformance,
                         ::testing::Values(storage_kind{"memory", make_memory},
                                           storage_kind{"sqlite", make_sqlite}),
                         [](const auto& info) {
                           return std::string{info.param.name};
                         });

// --- SQLite only ----------------------------------------------------------

class SqliteStorage : public ::testing::Test {
 protected:
  std::string path() const { return dir.path() + "/raft.db"; }
  std::unique_ptr<sqlite_storage> open() {
    auto store = sqlite_storage::open(path());
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }
  test::temp_dir dir;
};

TEST_F(SqliteStorage, EverythingSyncedSurvivesReopen) {
  auto log = chain(1, 30, 2, genesis_hash);
  {
    auto store = open();
    store->save_hard_state({5, 2, 25});
    store->append(log);
    snapshot snap;
    snap.meta = {20, 2, log[19].hash, configuration{{1, 2}, {3}}};
    snap.data = {9, 8, 7};
    store->save_snapshot(snap);
    store->compact(10);
    store->sync();
  }
  auto store = open();
  EXPECT_EQ(store->load_hard_state(), (hard_state{5, 2, 25}));
  EXPECT_EQ(store->first_index(), 11u);
  EXPECT_EQ(store->last_index(), 30u);
  EXPECT_EQ(store->hash(10), log[9].hash);
  EXPECT_EQ(store->entries(11, 31, UINT64_MAX),
            std::vector<entry>(log.begin() + 10, log.end()));
  EXPECT_EQ(store->snapshot_metadata().config, (configuration{{1, 2}, {3}}));
  EXPECT_EQ(store->snapshot_chunk(0, 100), (bytes{9, 8, 7}));
  EXPECT_TRUE(verify_chain(*store).ok());
}

TEST_F(SqliteStorage, UnsyncedWritesAreLostOnClose) {
  auto log = chain(1, 20, 1, genesis_hash);
  {
    auto store = open();
    store->append(std::vector<entry>(log.begin(), log.begin() + 10));
    store->save_hard_state({1, 1, 10});
    store->sync();
    store->append(std::vector<entry>(log.begin() + 10, log.end()));
    store->save_hard_state({2, 0, 20});
  }
  auto store = open();
  EXPECT_EQ(store->last_index(), 10u);
  EXPECT_EQ(store->load_hard_state(), (hard_state{1, 1, 10}));
}

TEST_F(SqliteStorage, KilledProcessKeepsExactlyWhatItSynced) {
  auto log = chain(1, 200, 1, genesis_hash);
  pid_t child = ::fork();
  if (child == 0) {
    auto store = sqlite_storage::open(path());
    if (!store)
      ::_exit(2);
    (*store)->append(std::vector<entry>(log.begin(), log.begin() + 150));
    (*store)->sync();
    (*store)->append(std::vector<entry>(log.begin() + 150, log.end()));
    ::raise(SIGKILL); // dies with an open transaction
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto store = open();
  EXPECT_EQ(store->last_index(), 150u);
  EXPECT_TRUE(verify_chain(*store).ok());
}

TEST_F(SqliteStorage, ManyAppendsShareOneCommit) {
  auto store = open();
  auto log = chain(1, 1000, 1, genesis_hash);
  for (const auto& e : log)
    store->append({e});
  store->save_hard_state({1, 1, 1000});
  store->sync();
  EXPECT_EQ(store->commits(), 1u);
  store->sync(); // nothing pending: no commit
  EXPECT_EQ(store->commits(), 1u);
}

TEST_F(SqliteStorage, TamperedPayloadIsFoundByChainVerification) {
  {
    auto store = open();
    store->append(chain(1, 50, 1, genesis_hash));
    store->sync();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE log SET payload = x'deadbeef' WHERE idx = 37",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = open();
  auto report = verify_chain(*store);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.first_bad_index, 37u);
  EXPECT_FALSE(report.reason.empty());
}

TEST_F(SqliteStorage, CompactionGivesTheSpaceBack) {
  auto file_bytes = [&] {
    struct stat st {};
    uint64_t total = 0;
    for (auto suffix : {"", "-wal"})
      if (::stat((path() + suffix).c_str(), &st) == 0)
        total += static_cast<uint64_t>(st.st_size);
    return total;
  };
  auto store = open();
  // About 40 MB of entries, as a service of many tasks writes them.
  auto prev = genesis_hash;
  std::vector<entry> log;
  for (index_t i = 1; i <= 400; ++i) {
    entry e;
    e.term = 1;
    e.index = i;
    e.payload = bytes(100'000, static_cast<uint8_t>(i));
    seal_entry(e, prev);
    prev = e.hash;
    store->append({e});
    log.push_back(e);
    if (i % 50 == 0)
      store->sync();
  }
  store->sync();
  store.reset(); // a checkpoint on close moves the WAL into the file
  store = open();
  auto full = file_bytes();
  EXPECT_GT(full, 40'000'000u);
  snapshot snap;
  snap.meta = {400, 1, log.back().hash, configuration{{1}, {}}};
  snap.data = {1, 2, 3};
  store->save_snapshot(snap);
  store->compact(399);
  // Each reclaim gives back at most 1 MiB, so that none stalls the member.
  store->reclaim();
  store->sync();
  store.reset();
  store = open();
  EXPECT_GT(file_bytes(), full - 2'000'000u) << "more than 1 MiB given back";
  for (int i = 0; i < 48; ++i) {
    store->reclaim();
    store->commit();
  }
  store->sync();
  store.reset();
  store = open();
  EXPECT_LT(file_bytes(), full / 4) << "the compacted log's pages were kept";
  EXPECT_EQ(store->first_index(), 400u);
}

TEST_F(SqliteStorage, TheStoragesOwnThreadCopiesTheWalBack) {
  auto db_file_bytes = [&] {
    struct stat st {};
    return ::stat(path().c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size)
                                            : 0u;
  };
  auto store = open();
  auto empty = db_file_bytes();
  // 24 MiB in 1 MiB entries, one commit each, as large task batches come.
  auto log = chain(1, 24, 1, genesis_hash, 1 << 20);
  for (const auto& e : log) {
    store->append({e});
    store->sync();
  }
  // Only a checkpoint writes to the database file itself in WAL mode.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (db_file_bytes() < empty + (4u << 20)
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(db_file_bytes(), empty + (4u << 20))
    << "no checkpoint copied the WAL back";
  EXPECT_GE(store->background_checkpoints(), 1u);
  EXPECT_EQ(store->inline_checkpoints(), 0u)
    << "the member's sync checkpointed itself";
  store.reset();
  store = open();
  EXPECT_EQ(store->last_index(), 24u);
  EXPECT_EQ(store->entries(24, 25, 0).at(0).payload, log.back().payload);
  EXPECT_TRUE(verify_chain(*store).ok());
}

TEST_F(SqliteStorage, ANewDatabaseHasSixteenKibPages) {
  open().reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 16384);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SqliteStorage, RefusesADatabaseThatIsNotSkeps) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = sqlite_storage::open(path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("not a Skep raft database"),
            std::string::npos);
}

TEST_F(SqliteStorage, RefusesAFileThatIsNotADatabase) {
  {
    std::FILE* f = std::fopen(path().c_str(), "w");
    std::fputs("this is not sqlite, just some text long enough to matter....\n",
               f);
    std::fclose(f);
  }
  auto store = sqlite_storage::open(path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find(path()), std::string::npos);
}

// --- Snapshot files --------------------------------------------------------

snapshot snapshot_of(index_t index, const chain_hash& hash, bytes data) {
  snapshot snap;
  snap.meta = {index, 1, hash, configuration{{1}, {}}};
  snap.data = std::move(data);
  return snap;
}

TEST_F(SqliteStorage,
       AReplacedSnapshotFileStaysUntilAFlushMadeItsSuccessorDurable) {
  auto log = chain(1, 10, 1, genesis_hash);
  auto snaps = path() + "-snapshots";
  {
    auto store = open();
    store->append(log);
    store->save_snapshot(snapshot_of(5, log[4].hash, bytes(1000, 5)));
    store->sync();
    ASSERT_TRUE(store->flush_job())
      << "a sqlite storage's commits are not durable alone";
    store->save_snapshot(snapshot_of(8, log[7].hash, bytes(1000, 8)));
    store->commit();
    store->commit();
  } // closing hands nothing more to the storage's thread, and joins it
  EXPECT_EQ(test::files_in(snaps).size(), 2u)
    << "a file was removed while the row replacing it might still be lost";
  auto store = open(); // the row naming snapshot 8 is durable now
  EXPECT_EQ(test::files_in(snaps).size(), 1u);
  auto flush = store->flush_job();
  store->save_snapshot(snapshot_of(9, log[8].hash, bytes(1000, 9)));
  store->commit();
  EXPECT_EQ(flush(), "");
  store->commit(); // nothing to write: it hands the old file to be removed
  EXPECT_EQ(store->snapshot_data(), bytes(1000, 9));
  store.reset();
  auto names = test::files_in(snaps);
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].rfind("snap-0000000000000009-", 0), 0u) << names[0];
}

TEST_F(SqliteStorage, SnapshotDataIsAFileBesideTheDatabaseWithItsChecksum) {
  auto log = chain(1, 10, 1, genesis_hash);
  auto snaps = path() + "-snapshots";
  {
    auto store = open();
    store->append(log);
    store->save_snapshot(snapshot_of(5, log[4].hash, bytes(70'000, 7)));
    store->sync();
    ASSERT_EQ(test::files_in(snaps).size(), 1u);
    // The next snapshot replaces the file once it is durable.
    store->save_snapshot(snapshot_of(8, log[7].hash, bytes(50'000, 8)));
    store->sync();
  }
  auto names = test::files_in(snaps);
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].rfind("snap-0000000000000008-", 0), 0u) << names[0];
  auto store = open();
  EXPECT_EQ(store->snapshot_size(), 50'000u);
  EXPECT_EQ(store->snapshot_data(), bytes(50'000, 8));
  EXPECT_EQ(store->snapshot_chunk(49'990, 100), bytes(10, 8));
  store.reset();

  // One byte changed on disk: the restore finds it.
  auto file = snaps + "/" + names[0];
  std::FILE* f = std::fopen(file.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 1234, SEEK_SET);
  std::fputc(9, f);
  std::fclose(f);
  store = open();
  try {
    store->snapshot_data();
    ADD_FAILURE() << "a damaged snapshot was read back";
  } catch (const storage_failure& e) {
    EXPECT_NE(std::string{e.what()}.find("checksum"), std::string::npos)
      << e.what();
    EXPECT_NE(std::string{e.what()}.find(names[0]), std::string::npos)
      << e.what();
  }
}

TEST_F(SqliteStorage, AStagedSnapshotChangesNothingUntilAdoptedAndIsGoneIfNot) {
  auto log = chain(1, 10, 1, genesis_hash);
  auto snaps = path() + "-snapshots";
  {
    auto store = open();
    store->append(log);
    store->save_snapshot(snapshot_of(4, log[3].hash, bytes{4, 4}));
    store->sync();
    // Staged on another thread, as the raft member does.
    auto job = store->stage_snapshot(snapshot_of(9, log[8].hash, bytes{9}));
    staged_snapshot staged;
    std::thread writer{[&] { staged = job(); }};
    writer.join();
    ASSERT_TRUE(staged.error.empty()) << staged.error;
    EXPECT_EQ(test::files_in(snaps).size(), 2u);
    EXPECT_EQ(store->snapshot_metadata().index, 4u);
    EXPECT_EQ(store->snapshot_data(), (bytes{4, 4}));
    // Adopted but never synced: the process dies here.
    store->adopt_snapshot(staged);
    EXPECT_EQ(store->snapshot_metadata().index, 9u);
  }
  auto store = open();
  EXPECT_EQ(store->snapshot_metadata().index, 4u);
  EXPECT_EQ(store->snapshot_data(), (bytes{4, 4}));
  EXPECT_EQ(test::files_in(snaps).size(), 1u)
    << "the unadopted file is removed";

  auto job = store->stage_snapshot(snapshot_of(9, log[8].hash, bytes{9}));
  auto staged = job();
  store->adopt_snapshot(staged);
  store->sync();
  EXPECT_EQ(store->snapshot_data(), (bytes{9}));
  EXPECT_EQ(test::files_in(snaps), std::vector<std::string>{staged.file});
  // A staged snapshot the member no longer wants is removed at once.
  auto unwanted = store->stage_snapshot(snapshot_of(10, log[9].hash, {1}))();
  store->drop_staged_snapshot(unwanted);
  EXPECT_EQ(test::files_in(snaps), std::vector<std::string>{staged.file});
}

TEST_F(SqliteStorage, AVersion1DatabaseIsConvertedKeepingItsSnapshot) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    const char* v1 = R"sql(
      PRAGMA journal_mode = WAL;
      CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY NOT NULL);
      CREATE TABLE hard_state (id INTEGER PRIMARY KEY CHECK (id = 0),
        term INTEGER NOT NULL, voted_for INTEGER NOT NULL,
        commit_index INTEGER NOT NULL);
      CREATE TABLE log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL,
        type INTEGER NOT NULL, payload BLOB NOT NULL, hash BLOB NOT NULL);
      CREATE TABLE base (id INTEGER PRIMARY KEY CHECK (id = 0),
        idx INTEGER NOT NULL, term INTEGER NOT NULL, hash BLOB NOT NULL);
      CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 0),
        idx INTEGER NOT NULL, term INTEGER NOT NULL, hash BLOB NOT NULL,
        config BLOB NOT NULL, data BLOB NOT NULL);
      PRAGMA application_id = 1399547248; -- "Skep"
      PRAGMA user_version = 1;
    )sql";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
    sqlite3_stmt* put = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "INSERT INTO snapshot VALUES (0, 7, 3, ?, ?, "
                                 "?)",
                                 -1, &put, nullptr),
              SQLITE_OK);
    chain_hash hash{};
    hash.fill(0xab);
    auto config = encode_configuration(configuration{{1, 2}, {}});
    bytes data(3000, 0x5a);
    sqlite3_bind_blob(put, 1, hash.data(), static_cast<int>(hash.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_blob(put, 2, config.data(), static_cast<int>(config.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_blob(put, 3, data.data(), static_cast<int>(data.size()),
                      SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(put), SQLITE_DONE);
    sqlite3_finalize(put);
    sqlite3_close(db);
  }
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto meta = store->snapshot_metadata();
  EXPECT_EQ(meta.index, 7u);
  EXPECT_EQ(meta.term, 3u);
  EXPECT_EQ(meta.config, (configuration{{1, 2}, {}}));
  EXPECT_EQ(store->snapshot_data(), bytes(3000, 0x5a));
  EXPECT_EQ(test::files_in(path() + "-snapshots").size(), 1u);
  store.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* version = nullptr;
  ASSERT_EQ(
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version, nullptr),
    SQLITE_OK);
  ASSERT_EQ(sqlite3_step(version), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(version, 0), 2);
  sqlite3_finalize(version);
  sqlite3_close(db);
}

TEST_F(SqliteStorage, RemoveTakesTheDatabaseAndItsSnapshots) {
  {
    auto store = open();
    auto log = chain(1, 3, 1, genesis_hash);
    store->append(log);
    store->save_snapshot(snapshot_of(3, log[2].hash, bytes{1, 2}));
    store->sync();
  }
  ASSERT_TRUE(sqlite_storage::remove(path()));
  EXPECT_TRUE(test::files_in(dir.path()).empty())
    << "left behind: " << test::files_in(dir.path()).front();
  EXPECT_TRUE(sqlite_storage::remove(path())) << "nothing left is fine";
}

} // namespace
} // namespace skep::raft
