#pragma once

#include "messages/frame.hpp"
#include "messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace skep {

/// How a blocking frame read may end early.
struct frame_read_options {
  /// Give up after this long without a complete frame; negative waits forever.
  std::chrono::milliseconds timeout{-1};
  /// Once the first byte of a frame has arrived, the rest must follow within
  /// this long; negative waits forever. Bounds clients that stall mid-frame.
  std::chrono::milliseconds frame_timeout{-1};
  /// When this descriptor becomes readable or hung up (e.g. the read end of a
  /// pipe whose write end a shutdown closes), the read stops with
  /// `errc::unavailable`. -1 disables.
  int cancel_fd = -1;
};

/// How a write may end early.
struct frame_write_options {
  /// Give up when the peer has not taken all bytes within this long;
  /// negative waits forever.
  std::chrono::milliseconds timeout{-1};
  /// As in frame_read_options: stops the write with `errc::unavailable`.
  int cancel_fd = -1;
};

/// Writes all `size` bytes to the stream socket or pipe `fd` (blocking or
/// not), retrying short writes and EINTR. Never raises SIGPIPE. Fails with
/// `timeout` when a peer that does not read fills the socket buffer for
/// longer than `options.timeout`, and with `unavailable` when cancelled.
result<void> write_all(int fd, const uint8_t* data, size_t size,
                       const frame_write_options& options = {});

/// Reads from `fd` until `reader` yields a complete frame. Returns nothing
/// when the peer closed the connection cleanly between frames. Fails with
/// `malformed_message` when the peer closed mid-frame, with the reader's
/// failure for an empty or oversized frame, with `timeout` or `unavailable`
/// per `options`, and with `internal` on a socket error.
result<std::optional<std::vector<uint8_t>>>
read_frame(int fd, frame_reader& reader, const frame_read_options& options);

} // namespace skep
