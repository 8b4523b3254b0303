#include "messages/frame_io.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

namespace skep {

namespace {

using clock_type = std::chrono::steady_clock;

int remaining_ms(const std::optional<clock_type::time_point>& deadline) {
  if (!deadline)
    return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    *deadline - clock_type::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

} // namespace

result<void> write_all(int fd, const uint8_t* data, size_t size,
                       const frame_write_options& options) {
  std::optional<clock_type::time_point> deadline;
  if (options.timeout.count() >= 0)
    deadline = clock_type::now() + options.timeout;
  while (size > 0) {
    auto n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
      n = ::write(fd, data, size);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The peer is not reading: wait for room, a cancel, or the deadline.
      pollfd fds[2] = {{fd, POLLOUT, 0}, {options.cancel_fd, POLLIN, 0}};
      nfds_t count = options.cancel_fd >= 0 ? 2 : 1;
      int ready = ::poll(fds, count, remaining_ms(deadline));
      if (ready < 0 && errno != EINTR)
        return fail(errc::internal,
                    fmt::format("poll failed: {}", std::strerror(errno)));
      if (count == 2 && fds[1].revents != 0)
        return fail(errc::unavailable, "the node is shutting down");
      if (ready == 0)
        return fail(errc::timeout, "the peer stopped reading");
      continue;
    }
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return fail(errc::unavailable, fmt::format("cannot write to peer: {}",
                                                 std::strerror(errno)));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

result<std::optional<std::vector<uint8_t>>>
read_frame(int fd, frame_reader& reader, const frame_read_options& options) {
  std::optional<clock_type::time_point> deadline;
  if (options.timeout.count() >= 0)
    deadline = clock_type::now() + options.timeout;
  uint8_t buf[16 * 1024];
  bool frame_armed = false;
  for (;;) {
    auto frame = reader.next();
    if (!frame || *frame)
      return frame;
    if (!frame_armed && reader.pending_bytes() > 0
        && options.frame_timeout.count() >= 0) {
      // A frame has begun: its rest must come soon, whatever the idle
      // timeout says.
      frame_armed = true;
      auto frame_deadline = clock_type::now() + options.frame_timeout;
      if (!deadline || frame_deadline < *deadline)
        deadline = frame_deadline;
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {options.cancel_fd, POLLIN, 0}};
    nfds_t count = options.cancel_fd >= 0 ? 2 : 1;
    int ready = ::poll(fds, count, remaining_ms(deadline));
    if (ready < 0) {
      if (errno == EINTR)
        continue;
      return fail(errc::internal,
                  fmt::format("poll failed: {}", std::strerror(errno)));
    }
    if (count == 2 && fds[1].revents != 0)
      return fail(errc::unavailable, "the node is shutting down");
    if (ready == 0)
      return fail(errc::timeout,
                  frame_armed ? std::string{"the peer stalled in the middle "
                                            "of a frame"}
                              : fmt::format("no complete frame within {} ms",
                                            options.timeout.count()));
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == ENOTSOCK)
      n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return fail(errc::unavailable, fmt::format("cannot read from peer: {}",
                                                 std::strerror(errno)));
    }
    if (n == 0) {
      if (reader.pending_bytes() == 0)
        return std::optional<std::vector<uint8_t>>{};
      auto declared = reader.next_frame_length();
      return fail(errc::malformed_message,
                  declared
                    ? fmt::format("connection closed in the middle of a "
                                  "frame ({} of {} bytes)",
                                  reader.pending_bytes() - frame_header_bytes,
                                  *declared)
                    : fmt::format("connection closed in the middle of "
                                  "a frame header ({} of {} bytes)",
                                  reader.pending_bytes(), frame_header_bytes));
    }
    reader.feed(buf, static_cast<size_t>(n));
  }
}

} // namespace skep
