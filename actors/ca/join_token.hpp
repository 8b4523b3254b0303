#pragma once

#include "actors/ca/keys.hpp"
#include "messages/result.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <sodium.h>

namespace skep::ca {

/// A join token: `SKEP-1-<ca digest>-<secret>`. The digest (52 base32
/// characters: BLAKE2b-256 of the CA public key) lets a joining node pin the
/// CA on first contact; the secret (32 base32 characters, 160 random bits)
/// proves the node may join, and in which role: the swarm keeps one secret
/// for workers and one for managers, and rotates each independently.
struct join_token {
  key_id ca_digest{};
  std::array<uint8_t, 20> secret{};

  /// The token as operators see and paste it.
  std::string to_string() const;

  /// Compares the secrets in constant time.
  friend bool operator==(const join_token& x, const join_token& y) {
    return x.ca_digest == y.ca_digest
           && sodium_memcmp(x.secret.data(), y.secret.data(), x.secret.size())
                == 0;
  }
};

/// A fresh token for the CA with id `ca_digest`, with a random secret.
join_token make_join_token(const key_id& ca_digest);

/// Parses a token pasted by an operator (surrounding white space is ignored).
/// Fails with a message naming what is wrong: the prefix, the version, the
/// length or characters of a part.
result<join_token> parse_join_token(std::string_view text);

/// What a joining node sends instead of the secret: a BLAKE2b-256 MAC keyed
/// with the secret over the CA's challenge and the node's public key, so the
/// secret never crosses the wire and a proof cannot be replayed for another
/// challenge or another key.
using token_proof = std::array<uint8_t, 32>;

token_proof prove_token(const join_token& token, const uint8_t* challenge,
                        size_t challenge_size, const public_key& node_key);

/// Checks `proof` against `token` in constant time.
bool check_token_proof(const join_token& token, const uint8_t* challenge,
                       size_t challenge_size, const public_key& node_key,
                       const token_proof& proof);

} // namespace skep::ca
