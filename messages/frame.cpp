#include "messages/frame.hpp"

#include <algorithm>
#include <string>

#include <fmt/format.h>

namespace skep {

std::vector<uint8_t> make_frame(const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out;
  out.reserve(frame_header_bytes + payload.size());
  auto n = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<uint8_t>(n >> 24));
  out.push_back(static_cast<uint8_t>(n >> 16));
  out.push_back(static_cast<uint8_t>(n >> 8));
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

void frame_reader::feed(const uint8_t* data, size_t size) {
  // Drop consumed bytes before growing, so a long-lived connection's buffer
  // stays the size of one frame.
  if (offset_ > 0 && offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 64 * 1024) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + offset_);
    offset_ = 0;
  }
  buffer_.insert(buffer_.end(), data, data + size);
}

std::optional<uint32_t> frame_reader::next_frame_length() const {
  if (pending_bytes() < frame_header_bytes)
    return std::nullopt;
  const uint8_t* p = buffer_.data() + offset_;
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8)
         | uint32_t{p[3]};
}

result<std::optional<std::vector<uint8_t>>> frame_reader::next() {
  auto length = next_frame_length();
  if (!length)
    return std::optional<std::vector<uint8_t>>{};
  if (*length == 0)
    return fail(errc::malformed_message, "empty frame");
  if (*length > max_frame_bytes_) {
    // A header of text ("HTTP", "SSH-") is another protocol answering.
    const uint8_t* p = buffer_.data() + offset_;
    auto printable = [](uint8_t c) { return c >= 0x20 && c < 0x7f; };
    if (std::all_of(p, p + frame_header_bytes, printable)) {
      std::string said;
      for (size_t i = offset_; i < buffer_.size() && said.size() < 60; ++i) {
        if (!printable(buffer_[i]))
          break;
        said += static_cast<char>(buffer_[i]);
      }
      return fail(errc::malformed_message,
                  fmt::format("the peer does not speak Skep's protocol; it "
                              "sent \"{}\"",
                              said));
    }
    return fail(errc::frame_too_large,
                fmt::format("frame of {} bytes exceeds the limit of {} bytes",
                            *length, max_frame_bytes_));
  }
  if (pending_bytes() < frame_header_bytes + *length)
    return std::optional<std::vector<uint8_t>>{};
  auto first = buffer_.begin()
               + static_cast<std::ptrdiff_t>(offset_ + frame_header_bytes);
  std::vector<uint8_t> payload(first, first + *length);
  offset_ += frame_header_bytes + *length;
  return std::optional<std::vector<uint8_t>>{std::move(payload)};
}

} // namespace skep
