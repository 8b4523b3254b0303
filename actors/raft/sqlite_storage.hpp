#pragma once

#include "actors/raft/log_storage.hpp"
#include "messages/result.hpp"

#include <memory>
#include <stdexcept>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace skep::raft {

class wal_checkpointer;

/// Raised when the database fails underneath a running member (disk full, I/O
/// error, corruption found by SQLite). Raft cannot go on safely after that:
/// the raft actor stops the member and reports the message.
class storage_failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// log_storage in one SQLite database file, opened in WAL mode, in pages of
/// 16 KiB (a database made by an earlier build keeps its page size).
///
/// Group commit: the first write after a commit opens a transaction; every
/// later write joins it; commit() commits it, appending its pages to the WAL
/// (synchronous=NORMAL: no fsync), and sync() commits and then fsyncs the
/// WAL, however many entries were appended. The WAL only grows by whole
/// commits and SQLite's recovery keeps its longest valid prefix, so a crash
/// loses the latest commits and never an earlier one: flush_job() fsyncs the
/// WAL from another thread, through a descriptor of its own, while the
/// member goes on committing. Writes not yet committed are rolled back when
/// the storage is destroyed or the process dies, exactly as the interface
/// allows.
///
/// Committing writes the transaction's pages to the WAL; copying the WAL back
/// into the database (a checkpoint: thousands of page reads and writes once
/// a few MiB have gathered) is done by a thread of the storage's own, over a
/// connection of its own, so a member's commit stays one WAL append. Only
/// when that thread falls far behind does a commit checkpoint itself.
///
/// Schema (version 1; see schema_sql in the .cpp):
///   meta(key TEXT PRIMARY KEY, value)              schema version, ids
///   hard_state(id=0, term, voted_for, commit_index)
///   log(idx INTEGER PRIMARY KEY, term, type, payload BLOB, hash BLOB)
///   base(id=0, idx, term, hash)                    the compaction point
///   snapshot(id=0, idx, term, hash, config BLOB, file, size, digest)
/// Unsigned 64-bit values are stored bit-for-bit in SQLite's signed INTEGER.
///
/// A snapshot's data is a file of its own in PATH-snapshots/ (version 1 kept
/// it in the database; such a database is converted once when opened), with
/// its size and BLAKE2b-256 digest in the database. A new snapshot's file is
/// written and synced before the row that names it commits, and the file it
/// replaces is removed after; files no row names (a crash in between) are
/// removed when the database is opened. So a snapshot is staged on another
/// thread (stage_snapshot) and the member only commits a row.
class sqlite_storage : public log_storage {
 public:
  /// Opens (creating when missing) the database at `path`. Fails naming the
  /// file when it cannot be opened, is not a Skep Raft database, or has a
  /// schema version this build does not know.
  static result<std::unique_ptr<sqlite_storage>> open(const std::string& path);

  /// Removes the database at `path` with its WAL, shared memory and
  /// snapshot files (a node leaving the swarm). Missing files are fine;
  /// fails naming the first file that could not be removed.
  static result<void> remove(const std::string& path);

  ~sqlite_storage() override;
  sqlite_storage(const sqlite_storage&) = delete;
  sqlite_storage& operator=(const sqlite_storage&) = delete;

  hard_state load_hard_state() const override;
  void save_hard_state(const hard_state& state) override;
  index_t first_index() const override { return base_index_ + 1; }
  index_t last_index() const override { return last_index_; }
  std::optional<term_t> term(index_t index) const override;
  std::optional<chain_hash> hash(index_t index) const override;
  std::vector<entry> entries(index_t lo, index_t hi,
                             std::uint64_t max_bytes) const override;
  void append(const std::vector<entry>& batch) override;
  snapshot_meta snapshot_metadata() const override;
  std::uint64_t snapshot_size() const override;
  bytes snapshot_chunk(std::uint64_t offset,
                       std::uint64_t max_bytes) const override;
  bytes snapshot_data() const override;
  void save_snapshot(const snapshot& snap) override;
  std::function<staged_snapshot()> stage_snapshot(snapshot snap) override;
  void adopt_snapshot(staged_snapshot staged) override;
  void drop_staged_snapshot(const staged_snapshot& staged) override;
  void compact(index_t through) override;
  void sync() override;
  void commit() override;
  void reclaim() override;
  std::function<std::string()> flush_job() override;

  /// Number of commits (by commit() or sync()) that wrote something.
  std::uint64_t commits() const noexcept;

  /// Checkpoints run by the storage's own thread, and by commits
  /// themselves because that thread fell behind.
  std::uint64_t background_checkpoints() const noexcept;
  std::uint64_t inline_checkpoints() const noexcept {
    return inline_checkpoints_;
  }

 private:
  struct statements;

  /// The snapshot's file as recorded (empty name: no snapshot yet).
  struct stored_file {
    std::string name;
    std::uint64_t size = 0;
    bytes digest;
  };

  struct wal_file;

  sqlite_storage(sqlite3* db, std::unique_ptr<statements> stmts,
                 std::string snapshot_dir,
                 std::unique_ptr<wal_checkpointer> checkpoints,
                 std::shared_ptr<wal_file> wal);
  void begin_if_needed();
  /// Commits the open transaction, if any (commit() and sync()).
  void commit_transaction();
  /// Removes the replaced snapshot files whose successor is durable: on
  /// this thread (sync(), which waits for the disk anyway), or by the
  /// checkpointer's (commit(), which must not).
  void remove_replaced_files(bool here);
  void load_cached_bounds();
  stored_file snapshot_file() const;
  void remove_unused_snapshot_files();

  sqlite3* db_;
  std::unique_ptr<statements> stmts_;
  std::string snapshot_dir_;
  std::unique_ptr<wal_checkpointer> checkpointer_;
  /// The WAL, opened once more to fsync it (sync() and flush jobs), with
  /// how many commits were made and how many of them are durable.
  std::shared_ptr<wal_file> wal_;
  std::uint64_t inline_checkpoints_ = 0;
  /// Pages incremental_vacuum gives back per reclaim() (1 MiB of them).
  int vacuum_pages_ = 64;
  /// Snapshot files replaced by the commit of the given number: removed
  /// once that commit is durable.
  std::vector<std::pair<std::uint64_t, std::string>> unused_files_;
  bool in_transaction_ = false;
  /// Entries or a snapshot were dropped and not all their pages given
  /// back yet (see reclaim()).
  bool freed_pages_ = false;
  index_t base_index_ = 0;
  term_t base_term_ = 0;
  chain_hash base_hash_ = genesis_hash;
  index_t last_index_ = 0;
};

} // namespace skep::raft
