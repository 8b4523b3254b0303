#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct sqlite3;

namespace skep::raft {

/// Copies the WAL back into the database on a thread of its own, over a
/// connection of its own, whenever the member's connection reports (through
/// its WAL hook, after a commit) that enough pages gathered. A PASSIVE
/// checkpoint never blocks the member's connection, nor waits for it. The
/// same thread removes the snapshot files the storage no longer names:
/// unlinking a file of hundreds of MB took the member's thread 56 ms.
class wal_checkpointer {
 public:
  /// Takes `db` (a connection to the database at `path`, which is in WAL
  /// mode): checkpoints once the WAL holds
  /// `after_pages`; far_behind() past `inline_pages`.
  wal_checkpointer(sqlite3* db, std::string path, int after_pages,
                   int inline_pages);

  /// Stops the thread and closes its connection.
  ~wal_checkpointer();

  wal_checkpointer(const wal_checkpointer&) = delete;
  wal_checkpointer& operator=(const wal_checkpointer&) = delete;

  /// The member's WAL hook (sqlite3_wal_hook with this as its argument):
  /// `pages` are in the WAL after a commit.
  static int on_commit(void* self, sqlite3* db, const char* name, int pages);

  /// A PASSIVE checkpoint over `db`; SQLITE_OK when it ran.
  static int checkpoint(sqlite3* db);

  /// The WAL grew so far that the member had better checkpoint itself.
  bool far_behind() const { return wal_pages_ >= inline_pages_; }
  void caught_up() { wal_pages_ = 0; }

  std::uint64_t runs() const { return runs_.load(); }

  /// Removes the file at `path` soon, and before the checkpointer is gone.
  void remove_file(std::string path);

 private:
  void run();

  sqlite3* db_;
  std::string path_;
  const int threshold_pages_;
  const int inline_pages_;
  std::atomic<int> wal_pages_{0};
  std::atomic<std::uint64_t> runs_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool wanted_ = false;
  std::vector<std::string> to_remove_;
  bool stopping_ = false;
  std::thread thread_; // last: starts once the rest is ready
};

} // namespace skep::raft
