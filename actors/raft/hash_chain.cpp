#include "actors/raft/hash_chain.hpp"

#include "actors/raft/log_storage.hpp"

#include <sodium.h>

namespace skep::raft {

namespace {

void put_u64_le(std::uint8_t* out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

void ensure_sodium() {
  // sodium_init is idempotent and thread-safe; a static makes it run once.
  static const int init_result = sodium_init();
  (void)init_result;
}

} // namespace

chain_hash compute_chain_hash(const chain_hash& prev_hash, term_t term,
                              index_t index, entry_type type,
                              const bytes& payload) {
  ensure_sodium();
  std::uint8_t header[17];
  put_u64_le(header, term);
  put_u64_le(header + 8, index);
  header[16] = static_cast<std::uint8_t>(type);
  crypto_generichash_state state;
  chain_hash out;
  crypto_generichash_init(&state, nullptr, 0, out.size());
  crypto_generichash_update(&state, prev_hash.data(), prev_hash.size());
  crypto_generichash_update(&state, header, sizeof(header));
  if (!payload.empty())
    crypto_generichash_update(&state, payload.data(), payload.size());
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

void seal_entry(entry& e, const chain_hash& prev_hash) {
  e.hash = compute_chain_hash(prev_hash, e.term, e.index, e.type, e.payload);
}

bool entry_follows(const entry& e, const chain_hash& prev_hash) {
  return e.hash
         == compute_chain_hash(prev_hash, e.term, e.index, e.type, e.payload);
}

chain_report verify_chain(const log_storage& storage) {
  constexpr std::uint64_t batch_bytes = 1 << 20;
  auto first = storage.first_index();
  auto last = storage.last_index();
  auto prev = storage.hash(first - 1);
  if (!prev)
    return {first, "no hash recorded for the compaction point "
                     + std::to_string(first - 1)};
  auto prev_hash = *prev;
  auto next = first;
  while (next <= last) {
    auto batch = storage.entries(next, last + 1, batch_bytes);
    if (batch.empty())
      return {next, "entry " + std::to_string(next) + " cannot be read"};
    for (auto& e : batch) {
      if (e.index != next)
        return {next, "entry " + std::to_string(next) + " is stored with index "
                        + std::to_string(e.index)};
      if (!entry_follows(e, prev_hash))
        return {next, "entry " + std::to_string(next)
                        + " does not match its chain hash (tampered or "
                          "corrupted log)"};
      prev_hash = e.hash;
      ++next;
    }
  }
  return {};
}

} // namespace skep::raft
