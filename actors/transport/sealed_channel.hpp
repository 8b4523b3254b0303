#pragma once

#include "messages/result.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <sodium.h>

namespace skep::transport {

/// One authenticated, encrypted session between two nodes: a
/// crypto_secretstream_xchacha20poly1305 stream per direction. Every sealed
/// frame depends on all frames before it in its direction, so a dropped,
/// replayed, reordered or altered frame fails to open.
class sealed_channel {
 public:
  using key
    = std::array<uint8_t, crypto_secretstream_xchacha20poly1305_KEYBYTES>;
  using header
    = std::array<uint8_t, crypto_secretstream_xchacha20poly1305_HEADERBYTES>;

  /// Starts the sending direction with `tx`; `out_header` must reach the
  /// peer before the first sealed frame.
  sealed_channel(const key& tx, header& out_header);
  ~sealed_channel();
  sealed_channel(const sealed_channel&) = delete;
  sealed_channel& operator=(const sealed_channel&) = delete;
  sealed_channel(sealed_channel&&) noexcept;

  /// Starts the receiving direction from the peer's header and `rx`.
  result<void> accept_peer_header(const key& rx, const uint8_t* data,
                                  size_t size);

  /// Encrypts one frame payload. Adds `overhead` bytes.
  std::vector<uint8_t> seal(const uint8_t* data, size_t size);

  /// Decrypts the next frame from the peer. Fails (and the session must be
  /// dropped) when it was altered, replayed, reordered or is not the next.
  result<std::vector<uint8_t>> open(const uint8_t* data, size_t size);

  /// Bytes a sealed frame adds to its payload.
  static constexpr size_t overhead
    = crypto_secretstream_xchacha20poly1305_ABYTES;

 private:
  crypto_secretstream_xchacha20poly1305_state push_{};
  crypto_secretstream_xchacha20poly1305_state pull_{};
  bool pull_ready_ = false;
  bool broken_ = false;
};

} // namespace skep::transport
