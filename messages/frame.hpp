#pragma once

#include "messages/result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace skep {

/// A frame on a stream socket: a 4-byte big-endian payload length, then the
/// payload. Used on the control socket and, sealed, between nodes.
inline constexpr size_t frame_header_bytes = 4;

/// Prepends the frame header to `payload`.
std::vector<uint8_t> make_frame(const std::vector<uint8_t>& payload);

/// Splits a byte stream into frames, refusing frames longer than a limit
/// before buffering them.
class frame_reader {
 public:
  /// Frames whose declared length exceeds `max_frame_bytes` are refused.
  explicit frame_reader(size_t max_frame_bytes)
    : max_frame_bytes_(max_frame_bytes) {}

  /// Changes the limit for the frames still to come (e.g. once a handshake,
  /// whose frames are small, is done).
  void set_max_frame_bytes(size_t max) noexcept { max_frame_bytes_ = max; }

  /// Appends bytes received from the peer.
  void feed(const uint8_t* data, size_t size);

  /// Returns the next complete frame's payload, nothing when more bytes are
  /// needed, or a failure when the next frame is empty or longer than the
  /// limit (`errc::frame_too_large`). After a failure the stream is out of
  /// sync and the caller must drop the connection.
  result<std::optional<std::vector<uint8_t>>> next();

  /// Bytes buffered that do not yet form a complete frame.
  size_t pending_bytes() const noexcept { return buffer_.size() - offset_; }

  /// The length the next frame declares, once its header has arrived.
  std::optional<uint32_t> next_frame_length() const;

 private:
  size_t max_frame_bytes_;
  std::vector<uint8_t> buffer_;
  size_t offset_ = 0;
};

} // namespace skep
