#pragma once

#include "messages/result.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace skep::ca {

/// An Ed25519 public key.
using public_key = std::array<uint8_t, 32>;

/// BLAKE2b-256 digest of a CA public key: names the CA in certificates and
/// pins it in join tokens.
using key_id = std::array<uint8_t, 32>;

/// An Ed25519 key pair: a node identity or the cluster CA.
struct keypair {
  public_key public_part{};
  std::array<uint8_t, 64> secret_part{};

  /// A fresh random key pair.
  static keypair generate();

  /// The pair whose 64-byte Ed25519 secret key is `secret` (as libsodium
  /// stores it, public part included); fails on a wrong size.
  static result<keypair> from_secret(const uint8_t* secret, size_t size);

  /// Wipes the secret part.
  ~keypair();
};

/// The id of the CA whose public key is `ca`.
key_id key_id_of(const public_key& ca);

/// Lower-case RFC 4648 base32 without padding, e.g. for token digests.
std::string base32(const uint8_t* data, size_t size);

/// Inverse of base32(); fails on characters outside the alphabet or a
/// length that is not a whole number of bytes.
result<std::string> base32_decode(std::string_view text);

/// Hex encoding, for logs and messages.
std::string hex(const uint8_t* data, size_t size);

/// Writes `pair` to `path` (mode 0600, atomically). The file holds the
/// secret key and must stay private.
result<void> save_keypair(const keypair& pair, const std::string& path);

/// Reads a key pair written by save_keypair(). Fails when the file is
/// missing, readable by others, the wrong size, or inconsistent (the public
/// part does not belong to the secret part).
result<keypair> load_keypair(const std::string& path);

} // namespace skep::ca
