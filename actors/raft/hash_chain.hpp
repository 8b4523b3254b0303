#pragma once

#include "actors/raft/types.hpp"

#include <optional>
#include <string>

namespace skep::raft {

class log_storage;

/// Chain hash of one entry:
///
///   hash = BLAKE2b-256(prev_hash || term || index || type || payload)
///
/// where prev_hash is the 32-byte hash of the entry at index - 1
/// (genesis_hash for index 1), term and index are unsigned 64-bit
/// little-endian integers (8 bytes each), type is one byte (entry_type value)
/// and payload is the raw payload bytes with no length prefix. Computed with
/// libsodium's crypto_generichash (unkeyed, 32-byte output).
chain_hash compute_chain_hash(const chain_hash& prev_hash, term_t term,
                              index_t index, entry_type type,
                              const bytes& payload);

/// Sets `e.hash` from `prev_hash` and the entry's fields.
void seal_entry(entry& e, const chain_hash& prev_hash);

/// True if `e.hash` is the chain hash of `e` following `prev_hash`.
bool entry_follows(const entry& e, const chain_hash& prev_hash);

/// Result of checking a stored log: `first_bad_index` is 0 when the chain is
/// intact, otherwise the lowest index whose stored hash (or position) does not
/// follow from the entry before it; `reason` explains it for operators.
struct chain_report {
  index_t first_bad_index = 0;
  std::string reason;

  bool ok() const { return first_bad_index == 0; }
};

/// Recomputes the hash of every entry in `storage`, starting from the hash
/// recorded for first_index() - 1 (snapshot or compaction point). Reads in
/// batches, so it works on storage larger than memory.
chain_report verify_chain(const log_storage& storage);

} // namespace skep::raft
