#pragma once
// Files written so that a crash leaves the old or the new contents: the
// node's identity and membership, the CA's keys and state, Raft snapshots.

#include "messages/result.hpp"

#include <cstddef>
#include <string>

namespace skep {

/// Writes `contents` to `path` so that a crash leaves either the old file or
/// the new one: write a temporary file, fsync it, rename it over `path`,
/// fsync the directory.
result<void> write_file_atomically(const std::string& path,
                                   const std::string& contents, int mode);

/// The same for `size` bytes at `data` (a Raft snapshot: hundreds of MB,
/// written without a copy). A large file is synced as it is written, 8 MiB
/// at a time, so that another file's fsync (the Raft log's) waits behind at
/// most that much of it.
result<void> write_file_atomically(const std::string& path, const void* data,
                                   size_t size, int mode);

/// Makes the name `path` has in its directory durable (a new file, a
/// rename): fsyncs the directory.
result<void> sync_directory_of(const std::string& path);

} // namespace skep
