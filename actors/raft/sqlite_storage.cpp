#include "actors/raft/sqlite_storage.hpp"

#include "actors/logging/files.hpp"
#include "actors/raft/sqlite_statement.hpp"
#include "actors/raft/wal_checkpointer.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sodium.h>
#include <sqlite3.h>

namespace skep::raft {

using namespace sqlite_detail;

namespace {

// PRAGMA application_id: "Skep" in ASCII. PRAGMA user_version: the schema.
constexpr int application_id = 0x536B6570;
constexpr int schema_version = 2;

// Pages of a new database. A commit writes each page it touched to the WAL
// with one write() and a checkpoint copies them back one by one, so a large
// entry (a 2,000-task batch is about 800 KB) costs a quarter of the system
// calls of SQLite's default 4 KiB pages; a small commit writes a few pages.
constexpr int page_bytes = 16 * 1024;
// The storage's own thread checkpoints once this much WAL has gathered;
// a commit checkpoints itself only when the WAL grew past the second figure
// (the thread fell far behind).
constexpr int checkpoint_after_bytes = 4 << 20;
constexpr int checkpoint_inline_bytes = 64 << 20;
// incremental_vacuum gives back at most this much per reclaim(): moving a
// page costs reads and writes of the pages that point to it, and 4 MiB took
// a member's thread for up to 150 ms under a 1,000,000-task create.
constexpr int reclaim_bytes = 1 << 20;

constexpr const char* schema_sql_format = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY NOT NULL
);
CREATE TABLE hard_state (
  id           INTEGER PRIMARY KEY CHECK (id = 0),
  term         INTEGER NOT NULL,
  voted_for    INTEGER NOT NULL,
  commit_index INTEGER NOT NULL
);
CREATE TABLE log (
  idx     INTEGER PRIMARY KEY,
  term    INTEGER NOT NULL,
  type    INTEGER NOT NULL,
  payload BLOB NOT NULL,
  hash    BLOB NOT NULL
);
CREATE TABLE base (
  id   INTEGER PRIMARY KEY CHECK (id = 0),
  idx  INTEGER NOT NULL,
  term INTEGER NOT NULL,
  hash BLOB NOT NULL
);
CREATE TABLE snapshot {};
)sql";

// The snapshot row (version 2): its data lives in a file of the snapshot
// directory, named here with its size and digest.
constexpr const char* snapshot_columns = R"sql((
  id     INTEGER PRIMARY KEY CHECK (id = 0),
  idx    INTEGER NOT NULL,
  term   INTEGER NOT NULL,
  hash   BLOB NOT NULL,
  config BLOB NOT NULL,
  file   TEXT NOT NULL,
  size   INTEGER NOT NULL,
  digest BLOB NOT NULL
))sql";

using digest_bytes = std::array<uint8_t, crypto_generichash_BYTES>;

/// BLAKE2b-256 of a snapshot's data, kept with it to find a damaged file.
digest_bytes digest_of(const bytes& data) {
  if (sodium_init() < 0)
    throw storage_failure("raft storage: libsodium failed to initialize");
  digest_bytes out{};
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr,
                     0);
  return out;
}

[[noreturn]] void raise_errno(const std::string& what) {
  throw storage_failure(
    fmt::format("raft storage: {}: {}", what, std::strerror(errno)));
}

/// Writes `data` to DIR/NAME durably (see write_file_atomically).
void write_file_durably(const std::string& dir, const std::string& name,
                        const bytes& data) {
  auto written
    = write_file_atomically(dir + "/" + name, data.data(), data.size(), 0600);
  if (!written)
    throw storage_failure("raft storage: " + written.error().message);
}

/// Where the snapshots of the database at `path` live: raft.db keeps them
/// in raft.db-snapshots/.
std::string snapshot_dir_of(const std::string& path) {
  return path + "-snapshots";
}

/// The entries of `dir` but "." and ".."; nullopt when it cannot be read.
std::optional<std::vector<std::string>> names_in(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return std::nullopt;
  std::vector<std::string> out;
  while (auto* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name != "." && name != "..")
      out.push_back(std::move(name));
  }
  ::closedir(d);
  return out;
}

void ensure_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    raise_errno("cannot create " + dir);
}

/// A snapshot file's name: its index and term, and a random part, so two
/// snapshots of one index never write the same file.
std::string snapshot_file_name(const snapshot_meta& meta) {
  if (sodium_init() < 0)
    throw storage_failure("raft storage: libsodium failed to initialize");
  uint64_t nonce = 0;
  randombytes_buf(&nonce, sizeof(nonce));
  return fmt::format("snap-{:016x}-{:016x}-{:016x}.bin", meta.index, meta.term,
                     nonce);
}

/// Moves a version 1 database's snapshot data into a file of `dir`.
void migrate_from_version_1(sqlite3* db, const std::string& dir) {
  exec(db, "BEGIN");
  try {
    // Version 1 kept the snapshot's data in the database (a `data`
    // column); version 2 keeps it in a file.
    exec(db,
         fmt::format("CREATE TABLE snapshot_v2 {};", snapshot_columns).c_str());
    statement old{db, "SELECT idx, term, hash, config, data FROM snapshot"};
    reset_on_exit guard{old};
    if (old.step()) {
      snapshot_meta meta;
      meta.index = old.u64(0);
      meta.term = old.u64(1);
      auto data = old.blob(4);
      auto name = snapshot_file_name(meta);
      write_file_durably(dir, name, data);
      auto digest = digest_of(data);
      auto hash = old.blob(2);
      auto config = old.blob(3);
      statement put{db, "INSERT INTO snapshot_v2 VALUES (0, ?, ?, ?, ?, ?, ?, "
                        "?)"};
      put.bind(1, meta.index)
        .bind(2, meta.term)
        .bind(3, hash.data(), hash.size())
        .bind(4, config.data(), config.size())
        .bind(5, name)
        .bind(6, static_cast<uint64_t>(data.size()))
        .bind(7, digest.data(), digest.size())
        .run();
    }
    old.reset();
    exec(db, "DROP TABLE snapshot");
    exec(db, "ALTER TABLE snapshot_v2 RENAME TO snapshot");
    exec(db, "PRAGMA user_version = 2");
    exec(db, "COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

} // namespace

struct sqlite_storage::statements {
  explicit statements(sqlite3* db)
    : get_hard(db, "SELECT term, voted_for, commit_index FROM hard_state"),
      put_hard(db, "INSERT OR REPLACE INTO hard_state VALUES (0, ?, ?, ?)"),
      get_term(db, "SELECT term FROM log WHERE idx = ?"),
      get_hash(db, "SELECT hash FROM log WHERE idx = ?"),
      range(db, "SELECT idx, term, type, payload, hash FROM log "
                "WHERE idx >= ? AND idx < ? ORDER BY idx"),
      truncate(db, "DELETE FROM log WHERE idx >= ?"),
      insert(db, "INSERT INTO log VALUES (?, ?, ?, ?, ?)"),
      drop_prefix(db, "DELETE FROM log WHERE idx <= ?"),
      clear_log(db, "DELETE FROM log"),
      get_base(db, "SELECT idx, term, hash FROM base"),
      put_base(db, "INSERT OR REPLACE INTO base VALUES (0, ?, ?, ?)"),
      last(db, "SELECT max(idx) FROM log"),
      get_snapshot(db, "SELECT idx, term, hash, config FROM snapshot"),
      snapshot_file(db, "SELECT file, size, digest FROM snapshot"),
      put_snapshot(db, "INSERT OR REPLACE INTO snapshot "
                       "VALUES (0, ?, ?, ?, ?, ?, ?, ?)"),
      begin(db, "BEGIN"), commit(db, "COMMIT") {}

  statement get_hard, put_hard, get_term, get_hash, range, truncate, insert,
    drop_prefix, clear_log, get_base, put_base, last, get_snapshot,
    snapshot_file, put_snapshot, begin, commit;
};

/// The WAL of the member's database, opened read-only to fsync it: an
/// fsync through any descriptor of a file makes all its written pages
/// durable. SQLite keeps the file while a connection is open (a checkpoint
/// truncates it, never replaces it), and the storage keeps two open.
struct sqlite_storage::wal_file {
  std::string path;
  int fd = -1;
  /// Commits made (counted after each is written) and the number of the
  /// first ones a finished fsync covers.
  std::atomic<std::uint64_t> committed{0};
  std::atomic<std::uint64_t> durable{0};

  wal_file() = default;
  wal_file(const wal_file&) = delete;
  wal_file& operator=(const wal_file&) = delete;
  ~wal_file() {
    if (fd >= 0)
      ::close(fd);
  }

  /// Opens the WAL SQLite created beside the database at `db_path` (its
  /// connection has read the database in WAL mode by then) and makes its
  /// name durable: SQLite would at its first fsync, which is ours now.
  static std::shared_ptr<wal_file> open(const std::string& db_path) {
    auto out = std::make_shared<wal_file>();
    out->path = db_path + "-wal";
    out->fd = ::open(out->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (out->fd < 0)
      raise_errno("cannot open " + out->path);
    if (auto synced = sync_directory_of(out->path); !synced)
      throw storage_failure("raft storage: " + synced.error().message);
    return out;
  }

  /// Makes every commit counted so far durable: empty, or why not.
  std::string fsync() {
    auto through = committed.load();
    while (::fdatasync(fd) != 0) {
      if (errno != EINTR)
        return fmt::format("raft storage: cannot fsync {}: {}", path,
                           std::strerror(errno));
    }
    auto was = durable.load();
    while (was < through && !durable.compare_exchange_weak(was, through)) {
    }
    return {};
  }
};

result<std::unique_ptr<sqlite_storage>>
sqlite_storage::open(const std::string& path) {
  // The log holds the cluster's secrets (join tokens, the CA key): only the
  // owner reads it, like every file of the data dir. SQLite gives its WAL
  // and shared-memory files the database's mode.
  if (int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      fd >= 0)
    ::close(fd);
  // A database made before: take away what others could do, nothing more.
  if (struct stat st{}; ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
    ::chmod(path.c_str(), st.st_mode & 0700);
  sqlite3* db = nullptr;
  auto rc = sqlite3_open_v2(
    path.c_str(), &db,
    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    auto msg
      = fmt::format("cannot open raft database {}: {}", path,
                    db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return fail(errc::unavailable, msg);
  }
  // SQLite opens a file it may not write read-only without a word; Raft
  // could not persist a single vote.
  if (sqlite3_db_readonly(db, "main") == 1) {
    sqlite3_close(db);
    return fail(errc::unavailable,
                fmt::format("cannot write raft database {}: it is read-only "
                            "for this user (check its owner and mode)",
                            path));
  }
  try {
    sqlite3_busy_timeout(db, 5000);
    auto app = pragma_int(db, "PRAGMA application_id");
    auto version = pragma_int(db, "PRAGMA user_version");
    auto tables = pragma_int(db, "SELECT count(*) FROM sqlite_master");
    if (app == 0 && version == 0 && tables == 0) {
      exec(db, fmt::format("PRAGMA page_size = {}", page_bytes).c_str());
      // Pages freed by compaction go back to the file system (reclaim()).
      exec(db, "PRAGMA auto_vacuum = INCREMENTAL");
      exec(db, "PRAGMA journal_mode = WAL");
      exec(db, "BEGIN");
      exec(db, fmt::format(schema_sql_format, snapshot_columns).c_str());
      exec(db,
           fmt::format("PRAGMA application_id = {}", application_id).c_str());
      exec(db, fmt::format("PRAGMA user_version = {}", schema_version).c_str());
      exec(db, "COMMIT");
    } else if (app != application_id) {
      sqlite3_close(db);
      return fail(errc::invalid_argument,
                  fmt::format("{} is not a Skep raft database", path));
    } else if (version != schema_version && version != 1) {
      sqlite3_close(db);
      return fail(errc::unsupported,
                  fmt::format("{} has raft schema version {}; this build "
                              "reads version {}",
                              path, version, schema_version));
    }
    if (pragma_int(db, "PRAGMA auto_vacuum") != 2) {
      // A database from before incremental vacuum: converted once.
      exec(db, "PRAGMA auto_vacuum = INCREMENTAL");
      exec(db, "VACUUM");
    }
    exec(db, "PRAGMA journal_mode = WAL");
    // Commits append to the WAL without an fsync; sync() and flush jobs
    // fsync it (see the class comment). SQLite still syncs the WAL before a
    // checkpoint copies it back, and the database after.
    exec(db, "PRAGMA synchronous = NORMAL");
    // Debian builds SQLite to overwrite every freed page with zeros, which
    // doubles the writes of compacting a log of large entries; FAST zeroes
    // what is deleted from a page that stays, and leaves freed pages to
    // reclaim(), which cuts them off the file. The file is the owner's
    // alone, and the snapshot beside it holds the same state anyway.
    exec(db, "PRAGMA secure_delete = FAST");
    // A batch of 2,000 tasks is an entry of 800 KB: the default cache of
    // 2 MB rereads the pages of every few entries from the kernel.
    exec(db, "PRAGMA cache_size = -16384");
    // After a checkpoint the WAL file shrinks back to at most 64 MiB.
    exec(db, "PRAGMA journal_size_limit = 67108864");
    auto dir = snapshot_dir_of(path);
    ensure_dir(dir);
    if (version == 1)
      migrate_from_version_1(db, dir);
    auto stmts = std::make_unique<statements>(db);
    // The checkpointing connection; the member's own hands its checkpoints
    // to it (the WAL hook replaces SQLite's automatic checkpoints).
    sqlite3* wal_db = nullptr;
    if (auto rc
        = sqlite3_open_v2(path.c_str(), &wal_db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
        rc != SQLITE_OK) {
      auto msg = fmt::format("cannot open a second connection: {}",
                             wal_db != nullptr ? sqlite3_errmsg(wal_db)
                                               : sqlite3_errstr(rc));
      sqlite3_close(wal_db);
      throw storage_failure(msg);
    }
    // A connection learns the database is in WAL mode when it first reads
    // it; until then a checkpoint does nothing. Its checkpoints sync the WAL
    // before copying it and the database after.
    try {
      pragma_int(wal_db, "SELECT count(*) FROM sqlite_master");
      exec(wal_db, "PRAGMA synchronous = FULL");
    } catch (const storage_failure&) {
      sqlite3_close(wal_db);
      throw;
    }
    // What an earlier process committed but never flushed is in the page
    // cache, readable as if durable: make it so before anything read from
    // it is vouched for (votes, replies, the snapshot file it names).
    auto wal = wal_file::open(path);
    if (auto why = wal->fsync(); !why.empty())
      throw storage_failure(why);
    auto page_size = pragma_int(db, "PRAGMA page_size");
    auto checkpoints = std::make_unique<wal_checkpointer>(
      wal_db, path, std::max(1, checkpoint_after_bytes / page_size),
      std::max(2, checkpoint_inline_bytes / page_size));
    sqlite3_wal_hook(db, &wal_checkpointer::on_commit, checkpoints.get());
    std::unique_ptr<sqlite_storage> store{new sqlite_storage(
      db, std::move(stmts), dir, std::move(checkpoints), std::move(wal))};
    store->vacuum_pages_ = std::max(1, reclaim_bytes / page_size);
    // Pages a compaction freed before a restart are given back too.
    store->freed_pages_ = pragma_int(store->db_, "PRAGMA freelist_count") > 0;
    db = nullptr; // the storage closes it from now on
    store->load_cached_bounds();
    store->remove_unused_snapshot_files();
    return store;
  } catch (const storage_failure& e) {
    sqlite3_close(db);
    return fail(errc::unavailable,
                fmt::format("cannot use raft database {}: {}", path, e.what()));
  }
}

result<void> sqlite_storage::remove(const std::string& path) {
  auto unlink_one = [](const std::string& file) -> result<void> {
    if (::unlink(file.c_str()) != 0 && errno != ENOENT)
      return fail(errc::internal, fmt::format("cannot remove {}: {}", file,
                                              std::strerror(errno)));
    return {};
  };
  auto dir = snapshot_dir_of(path);
  if (auto names = names_in(dir)) {
    for (const auto& name : *names)
      if (auto r = unlink_one(dir + "/" + name); !r)
        return r;
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
      return fail(errc::internal, fmt::format("cannot remove {}: {}", dir,
                                              std::strerror(errno)));
  }
  for (const auto* suffix : {"", "-wal", "-shm"})
    if (auto r = unlink_one(path + suffix); !r)
      return r;
  return {};
}

sqlite_storage::sqlite_storage(sqlite3* db, std::unique_ptr<statements> stmts,
                               std::string snapshot_dir,
                               std::unique_ptr<wal_checkpointer> checkpoints,
                               std::shared_ptr<wal_file> wal)
  : db_(db), stmts_(std::move(stmts)), snapshot_dir_(std::move(snapshot_dir)),
    checkpointer_(std::move(checkpoints)), wal_(std::move(wal)) {}

std::uint64_t sqlite_storage::commits() const noexcept {
  return wal_->committed.load();
}

std::uint64_t sqlite_storage::background_checkpoints() const noexcept {
  return checkpointer_->runs();
}

sqlite_storage::stored_file sqlite_storage::snapshot_file() const {
  auto& s = stmts_->snapshot_file;
  reset_on_exit guard{s};
  stored_file out;
  if (s.step()) {
    out.name = s.text(0);
    out.size = s.u64(1);
    out.digest = s.blob(2);
  }
  return out;
}

void sqlite_storage::remove_unused_snapshot_files() {
  auto keep = snapshot_file().name;
  auto names = names_in(snapshot_dir_);
  if (!names)
    raise_errno("cannot list " + snapshot_dir_);
  // Left by a crash: staged and never adopted, or replaced and not removed.
  for (const auto& name : *names)
    if (name != keep)
      ::unlink((snapshot_dir_ + "/" + name).c_str());
}

sqlite_storage::~sqlite_storage() {
  if (in_transaction_)
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  stmts_.reset();
  // Its connection first: the last one to close copies the WAL back.
  sqlite3_wal_hook(db_, nullptr, nullptr);
  checkpointer_.reset();
  sqlite3_close(db_);
}

void sqlite_storage::load_cached_bounds() {
  {
    auto& s = stmts_->get_base;
    reset_on_exit guard{s};
    if (s.step()) {
      base_index_ = s.u64(0);
      base_term_ = s.u64(1);
      base_hash_ = s.hash(2);
    }
  }
  auto& l = stmts_->last;
  reset_on_exit guard{l};
  last_index_ = base_index_;
  if (l.step() && !l.is_null(0))
    last_index_ = std::max(l.u64(0), base_index_);
}

void sqlite_storage::begin_if_needed() {
  if (in_transaction_)
    return;
  stmts_->begin.run();
  in_transaction_ = true;
}

hard_state sqlite_storage::load_hard_state() const {
  auto& s = stmts_->get_hard;
  reset_on_exit guard{s};
  hard_state out;
  if (s.step()) {
    out.term = s.u64(0);
    out.voted_for = s.u64(1);
    out.commit = s.u64(2);
  }
  return out;
}

void sqlite_storage::save_hard_state(const hard_state& state) {
  begin_if_needed();
  stmts_->put_hard.bind(1, state.term)
    .bind(2, state.voted_for)
    .bind(3, state.commit)
    .run();
}

std::optional<term_t> sqlite_storage::term(index_t index) const {
  if (index == base_index_)
    return base_term_;
  if (index < base_index_ || index > last_index_)
    return std::nullopt;
  auto& s = stmts_->get_term;
  reset_on_exit guard{s};
  s.bind(1, index);
  if (!s.step())
    throw storage_failure(
      fmt::format("raft storage: entry {} is missing", index));
  return s.u64(0);
}

std::optional<chain_hash> sqlite_storage::hash(index_t index) const {
  if (index == base_index_)
    return base_hash_;
  if (index < base_index_ || index > last_index_)
    return std::nullopt;
  auto& s = stmts_->get_hash;
  reset_on_exit guard{s};
  s.bind(1, index);
  if (!s.step())
    throw storage_failure(
      fmt::format("raft storage: entry {} is missing", index));
  return s.hash(0);
}

std::vector<entry> sqlite_storage::entries(index_t lo, index_t hi,
                                           std::uint64_t max_bytes) const {
  if (lo < first_index() || hi > last_index_ + 1 || lo > hi)
    throw std::out_of_range("sqlite_storage::entries: range outside the log");
  std::vector<entry> out;
  auto& s = stmts_->range;
  reset_on_exit guard{s};
  s.bind(1, lo).bind(2, hi);
  std::uint64_t size = 0;
  while (s.step()) {
    entry e;
    e.index = s.u64(0);
    e.term = s.u64(1);
    e.type = static_cast<entry_type>(s.u64(2));
    e.payload = s.blob(3);
    e.hash = s.hash(4);
    if (!out.empty() && size + e.payload.size() > max_bytes)
      break;
    size += e.payload.size();
    out.push_back(std::move(e));
  }
  if (out.empty() && lo < hi)
    throw storage_failure(fmt::format("raft storage: entry {} is missing", lo));
  return out;
}

void sqlite_storage::append(const std::vector<entry>& batch) {
  if (batch.empty())
    return;
  auto from = batch.front().index;
  if (from < first_index() || from > last_index_ + 1)
    throw std::out_of_range("sqlite_storage::append: gap or compacted index");
  begin_if_needed();
  if (from <= last_index_)
    stmts_->truncate.bind(1, from).run();
  auto& ins = stmts_->insert;
  for (const auto& e : batch) {
    ins.bind(1, e.index)
      .bind(2, e.term)
      .bind(3, static_cast<uint64_t>(e.type))
      .bind(4, e.payload.data(), e.payload.size())
      .bind(5, e.hash.data(), e.hash.size())
      .run();
  }
  last_index_ = batch.back().index;
}

snapshot_meta sqlite_storage::snapshot_metadata() const {
  auto& s = stmts_->get_snapshot;
  reset_on_exit guard{s};
  snapshot_meta meta;
  if (s.step()) {
    meta.index = s.u64(0);
    meta.term = s.u64(1);
    meta.hash = s.hash(2);
    if (!decode_configuration(s.blob(3), meta.config))
      throw storage_failure("raft storage: the snapshot's configuration is "
                            "unreadable");
  }
  return meta;
}

std::uint64_t sqlite_storage::snapshot_size() const {
  return snapshot_file().size;
}

namespace {

bytes read_file_range(const std::string& path, std::uint64_t offset,
                      std::uint64_t length) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    raise_errno("cannot open snapshot " + path);
  bytes out(length);
  std::uint64_t done = 0;
  while (done < length) {
    auto n = ::pread(fd, out.data() + done, length - done,
                     static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      if (n == 0)
        throw storage_failure(fmt::format(
          "raft storage: snapshot {} is shorter than recorded", path));
      raise_errno("cannot read snapshot " + path);
    }
    done += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return out;
}

} // namespace

bytes sqlite_storage::snapshot_chunk(std::uint64_t offset,
                                     std::uint64_t max_bytes) const {
  auto file = snapshot_file();
  if (file.name.empty() || offset >= file.size || max_bytes == 0)
    return {};
  return read_file_range(snapshot_dir_ + "/" + file.name, offset,
                         std::min(max_bytes, file.size - offset));
}

bytes sqlite_storage::snapshot_data() const {
  auto file = snapshot_file();
  if (file.name.empty())
    return {};
  auto path = snapshot_dir_ + "/" + file.name;
  auto data = read_file_range(path, 0, file.size);
  auto digest = digest_of(data);
  if (file.digest.size() != digest.size()
      || std::memcmp(file.digest.data(), digest.data(), digest.size()) != 0)
    throw storage_failure(fmt::format(
      "raft storage: snapshot {} does not match its recorded checksum "
      "(damaged on disk?)",
      path));
  return data;
}

namespace {

staged_snapshot stage_into(const std::string& dir, snapshot_meta meta,
                           const bytes& data) {
  staged_snapshot out;
  out.meta = std::move(meta);
  out.size = data.size();
  try {
    auto digest = digest_of(data);
    out.digest.assign(digest.begin(), digest.end());
    auto name = snapshot_file_name(out.meta);
    write_file_durably(dir, name, data);
    out.file = name;
  } catch (const storage_failure& e) {
    out.error = e.what();
  }
  return out;
}

} // namespace

std::function<staged_snapshot()> sqlite_storage::stage_snapshot(snapshot snap) {
  return [dir = snapshot_dir_, snap = std::move(snap)] {
    return stage_into(dir, snap.meta, snap.data);
  };
}

void sqlite_storage::drop_staged_snapshot(const staged_snapshot& staged) {
  if (!staged.file.empty())
    ::unlink((snapshot_dir_ + "/" + staged.file).c_str());
}

void sqlite_storage::save_snapshot(const snapshot& snap) {
  auto staged = stage_into(snapshot_dir_, snap.meta, snap.data);
  if (!staged.error.empty())
    throw storage_failure(staged.error);
  adopt_snapshot(std::move(staged));
}

void sqlite_storage::adopt_snapshot(staged_snapshot staged) {
  if (!staged.error.empty() || staged.file.empty())
    throw std::invalid_argument("sqlite_storage::adopt_snapshot: nothing "
                                "was staged");
  const auto& meta = staged.meta;
  auto stored = hash(meta.index);
  auto replaced = snapshot_file().name;
  begin_if_needed();
  auto config = encode_configuration(meta.config);
  stmts_->put_snapshot.bind(1, meta.index)
    .bind(2, meta.term)
    .bind(3, meta.hash.data(), meta.hash.size())
    .bind(4, config.data(), config.size())
    .bind(5, staged.file)
    .bind(6, staged.size)
    .bind(7, staged.digest.data(), staged.digest.size())
    .run();
  // The file it replaces goes once this is durable (see sync()).
  if (!replaced.empty() && replaced != staged.file)
    unused_files_.emplace_back(wal_->committed.load() + 1, std::move(replaced));
  if (stored && *stored == meta.hash && meta.index >= base_index_)
    return; // the log continues from the snapshot: keep it
  stmts_->clear_log.run();
  freed_pages_ = true;
  stmts_->put_base.bind(1, meta.index)
    .bind(2, meta.term)
    .bind(3, meta.hash.data(), meta.hash.size())
    .run();
  base_index_ = meta.index;
  base_term_ = meta.term;
  base_hash_ = meta.hash;
  last_index_ = meta.index;
}

void sqlite_storage::compact(index_t through) {
  if (through <= base_index_)
    return;
  if (through > snapshot_metadata().index || through > last_index_)
    throw std::out_of_range("sqlite_storage::compact: beyond snapshot");
  auto new_term = *term(through);
  auto new_hash = *hash(through);
  begin_if_needed();
  stmts_->drop_prefix.bind(1, through).run();
  stmts_->put_base.bind(1, through)
    .bind(2, new_term)
    .bind(3, new_hash.data(), new_hash.size())
    .run();
  base_index_ = through;
  base_term_ = new_term;
  base_hash_ = new_hash;
  freed_pages_ = true;
}

void sqlite_storage::commit() {
  commit_transaction();
  remove_replaced_files(false);
}

void sqlite_storage::commit_transaction() {
  if (in_transaction_) {
    stmts_->commit.run();
    in_transaction_ = false;
    ++wal_->committed;
    if (checkpointer_->far_behind()) {
      if (wal_checkpointer::checkpoint(db_) == SQLITE_OK)
        ++inline_checkpoints_;
      checkpointer_->caught_up();
    }
  }
}

void sqlite_storage::reclaim() {
  if (!freed_pages_)
    return;
  // Entries compacted away leave free pages: give some back, so that a log
  // that once held a million tasks shrinks again; all at once would stall
  // the member for seconds.
  begin_if_needed();
  exec(db_,
       fmt::format("PRAGMA incremental_vacuum({})", vacuum_pages_).c_str());
  freed_pages_ = pragma_int(db_, "PRAGMA freelist_count") > 0;
}

void sqlite_storage::sync() {
  commit_transaction();
  if (wal_->durable.load() < wal_->committed.load()) {
    if (auto why = wal_->fsync(); !why.empty())
      throw storage_failure(why);
  }
  remove_replaced_files(true);
}

void sqlite_storage::remove_replaced_files(bool here) {
  auto durable = wal_->durable.load();
  auto gone = std::remove_if(unused_files_.begin(), unused_files_.end(),
                             [&](const auto& file) {
                               if (file.first > durable)
                                 return false;
                               auto path = snapshot_dir_ + "/" + file.second;
                               if (here)
                                 ::unlink(path.c_str());
                               else
                                 checkpointer_->remove_file(std::move(path));
                               return true;
                             });
  unused_files_.erase(gone, unused_files_.end());
}

std::function<std::string()> sqlite_storage::flush_job() {
  return [wal = wal_] { return wal->fsync(); };
}

} // namespace skep::raft
