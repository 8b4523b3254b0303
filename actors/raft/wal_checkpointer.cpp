#include "actors/raft/wal_checkpointer.hpp"

#include "actors/logging/log.hpp"

#include <pthread.h>
#include <unistd.h>
#include <utility>

#include <sqlite3.h>

namespace skep::raft {

wal_checkpointer::wal_checkpointer(sqlite3* db, std::string path,
                                   int after_pages, int inline_pages)
  : db_(db), path_(std::move(path)), threshold_pages_(after_pages),
    inline_pages_(inline_pages), thread_([this] { run(); }) {}

wal_checkpointer::~wal_checkpointer() {
  {
    std::lock_guard<std::mutex> lock{mu_};
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  for (const auto& file : to_remove_)
    ::unlink(file.c_str());
  sqlite3_close(db_);
}

void wal_checkpointer::remove_file(std::string path) {
  {
    std::lock_guard<std::mutex> lock{mu_};
    to_remove_.push_back(std::move(path));
  }
  wake_.notify_one();
}

int wal_checkpointer::checkpoint(sqlite3* db) {
  int frames = 0;
  int copied = 0;
  return sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                   &frames, &copied);
}

int wal_checkpointer::on_commit(void* self, sqlite3*, const char*, int pages) {
  auto* c = static_cast<wal_checkpointer*>(self);
  c->wal_pages_ = pages;
  if (pages >= c->threshold_pages_) {
    {
      std::lock_guard<std::mutex> lock{c->mu_};
      c->wanted_ = true;
    }
    c->wake_.notify_one();
  }
  return SQLITE_OK;
}

void wal_checkpointer::run() {
  pthread_setname_np(pthread_self(), "skep-raft-wal");
  std::string last_error;
  std::unique_lock<std::mutex> lock{mu_};
  for (;;) {
    wake_.wait(lock,
               [this] { return wanted_ || stopping_ || !to_remove_.empty(); });
    if (stopping_)
      return;
    auto files = std::move(to_remove_);
    to_remove_.clear();
    bool wanted = std::exchange(wanted_, false);
    lock.unlock();
    for (const auto& file : files)
      ::unlink(file.c_str());
    if (!wanted) {
      lock.lock();
      continue;
    }
    auto rc = checkpoint(db_);
    if (rc == SQLITE_OK) {
      runs_.fetch_add(1);
      last_error.clear();
    } else if (rc != SQLITE_BUSY) {
      // The member's own writes fail soon after if the disk really is
      // gone; until then, say it once.
      std::string why = sqlite3_errmsg(db_);
      if (why != last_error)
        log::warn("raft", "cannot checkpoint the WAL of {}: {}", path_, why);
      last_error = std::move(why);
    }
    lock.lock();
  }
}

} // namespace skep::raft
