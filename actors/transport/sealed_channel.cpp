#include "actors/transport/sealed_channel.hpp"

#include <cstring>
#include <stdexcept>

namespace skep::transport {

sealed_channel::sealed_channel(const key& tx, header& out_header) {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium failed to initialize");
  crypto_secretstream_xchacha20poly1305_init_push(&push_, out_header.data(),
                                                  tx.data());
}

sealed_channel::~sealed_channel() {
  sodium_memzero(&push_, sizeof(push_));
  sodium_memzero(&pull_, sizeof(pull_));
}

sealed_channel::sealed_channel(sealed_channel&& other) noexcept
  : push_(other.push_), pull_(other.pull_), pull_ready_(other.pull_ready_),
    broken_(other.broken_) {
  sodium_memzero(&other.push_, sizeof(other.push_));
  sodium_memzero(&other.pull_, sizeof(other.pull_));
  other.broken_ = true;
}

result<void> sealed_channel::accept_peer_header(const key& rx,
                                                const uint8_t* data,
                                                size_t size) {
  if (size != crypto_secretstream_xchacha20poly1305_HEADERBYTES)
    return fail(errc::malformed_message,
                "the peer's stream header has the wrong length");
  if (crypto_secretstream_xchacha20poly1305_init_pull(&pull_, data, rx.data())
      != 0)
    return fail(errc::malformed_message, "the peer's stream header is invalid");
  pull_ready_ = true;
  return {};
}

std::vector<uint8_t> sealed_channel::seal(const uint8_t* data, size_t size) {
  std::vector<uint8_t> out(size + overhead);
  crypto_secretstream_xchacha20poly1305_push(&push_, out.data(), nullptr, data,
                                             size, nullptr, 0, 0);
  return out;
}

result<std::vector<uint8_t>> sealed_channel::open(const uint8_t* data,
                                                  size_t size) {
  if (!pull_ready_ || broken_)
    return fail(errc::unavailable, "the session is not open");
  if (size < overhead)
    return fail(errc::malformed_message, "sealed frame too short");
  std::vector<uint8_t> out(size - overhead);
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&pull_, out.data(), nullptr,
                                                 &tag, data, size, nullptr, 0)
      != 0) {
    // The stream state is unusable after a failed pull: the session ends.
    broken_ = true;
    return fail(errc::permission_denied,
                "a sealed frame failed authentication (altered, replayed or "
                "out of order)");
  }
  return out;
}

} // namespace skep::transport
