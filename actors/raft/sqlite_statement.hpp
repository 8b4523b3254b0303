#pragma once
// A prepared SQLite statement that resets itself, and the few calls around
// it that the Raft log's storage runs; only sqlite_storage.cpp includes
// this header. Every failure is a storage_failure naming the SQL.

#include "actors/raft/sqlite_storage.hpp"

#include <cstring>
#include <string>

#include <fmt/format.h>
#include <sqlite3.h>

namespace skep::raft::sqlite_detail {

[[noreturn]] inline void raise(sqlite3* db, const char* what) {
  throw storage_failure(
    fmt::format("raft storage: {} failed: {}", what, sqlite3_errmsg(db)));
}

inline int64_t to_db(uint64_t x) {
  int64_t out;
  std::memcpy(&out, &x, sizeof(out));
  return out;
}

inline uint64_t from_db(int64_t x) {
  uint64_t out;
  std::memcpy(&out, &x, sizeof(out));
  return out;
}

// A prepared statement that resets itself after each use.
class statement {
 public:
  statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_,
                           nullptr)
        != SQLITE_OK)
      raise(db, sql);
  }
  ~statement() { sqlite3_finalize(stmt_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  statement& bind(int i, uint64_t x) {
    sqlite3_bind_int64(stmt_, i, to_db(x));
    return *this;
  }
  statement& bind(int i, const std::string& text) {
    sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT,
                        SQLITE_UTF8);
    return *this;
  }
  statement& bind(int i, const uint8_t* data, size_t size) {
    // A zero-length blob must still be a blob, not NULL.
    static const uint8_t empty = 0;
    sqlite3_bind_blob64(stmt_, i, size == 0 ? &empty : data, size,
                        SQLITE_TRANSIENT);
    return *this;
  }

  /// Steps once; true when a row is available.
  bool step() {
    auto rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW)
      return true;
    if (rc != SQLITE_DONE)
      raise(db_, sqlite3_sql(stmt_));
    return false;
  }
  void run() {
    step();
    reset();
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string text(int col) const {
    auto* p = sqlite3_column_text(stmt_, col);
    auto n = static_cast<size_t>(sqlite3_column_bytes(stmt_, col));
    return p == nullptr ? std::string{}
                        : std::string(reinterpret_cast<const char*>(p), n);
  }
  bool is_null(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  uint64_t u64(int col) const {
    return from_db(sqlite3_column_int64(stmt_, col));
  }
  bytes blob(int col) const {
    auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    auto n = static_cast<size_t>(sqlite3_column_bytes(stmt_, col));
    return p == nullptr ? bytes{} : bytes(p, p + n);
  }
  chain_hash hash(int col) const {
    chain_hash out{};
    auto b = blob(col);
    if (b.size() != out.size())
      throw storage_failure(fmt::format(
        "raft storage: a stored chain hash has {} bytes, not 32", b.size()));
    std::memcpy(out.data(), b.data(), out.size());
    return out;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when a read scope ends, even on an exception.
struct reset_on_exit {
  statement& s;
  ~reset_on_exit() { s.reset(); }
};

inline void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    throw storage_failure(fmt::format("raft storage: {}: {}", sql, msg));
  }
}

inline int pragma_int(sqlite3* db, const char* pragma) {
  statement s{db, pragma};
  reset_on_exit guard{s};
  return s.step() ? static_cast<int>(s.u64(0)) : 0;
}

} // namespace skep::raft::sqlite_detail
