#pragma once

#include "messages/result.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>

namespace skep {

/// Limits applied when decoding bytes that came from outside the process.
struct read_limits {
  /// Largest frame payload accepted, in bytes.
  size_t max_frame_bytes = 4 * 1024 * 1024;
  /// Cap'n Proto traversal limit in 8-byte words; bounds the work a message
  /// with overlapping pointers can cause. Decoding walks a message twice
  /// (bounds, then schema), so this must be about three times the largest
  /// message: see read_limits_for_frames().
  uint64_t traversal_limit_words = 3 * (4 * 1024 * 1024) / 8 + 1024;
  /// Deepest struct/list nesting accepted.
  int nesting_limit = 32;
};

/// Limits for messages of up to `max_frame_bytes`: a traversal budget that
/// covers decoding's two walks of the largest such message.
inline read_limits read_limits_for_frames(size_t max_frame_bytes) {
  read_limits limits;
  limits.max_frame_bytes = max_frame_bytes;
  limits.traversal_limit_words = 3 * (max_frame_bytes / 8) + 1024;
  return limits;
}

namespace detail {

/// Validates `bytes` as a Cap'n Proto message (segment table + segments)
/// within `limits` whose root is a `root_schema` struct: every field the
/// schema knows is read once, so a pointer of the wrong kind or a text
/// without its terminator is refused here rather than thrown later. Copies
/// the root into a canonical, self-contained word buffer that can be read
/// without bounds checks. Throws nothing.
result<std::vector<capnp::word>>
validate_and_flatten(const uint8_t* bytes, size_t size,
                     const read_limits& limits,
                     capnp::StructSchema root_schema);

/// Copies the struct behind `root` into a self-contained word buffer.
std::vector<capnp::word> flatten(capnp::AnyStruct::Reader root);

/// Serializes a self-contained root into the standard Cap'n Proto stream
/// format (segment table + one segment).
std::vector<uint8_t> to_wire(capnp::AnyStruct::Reader root);

} // namespace detail

/// An immutable Cap'n Proto message whose root is a `Root` struct. Copies share
/// the same bytes, so a message can be passed between actors and threads
/// freely. A default-constructed message reads as `Root` with every field at
/// its default.
///
/// The contents were validated against Root's schema when the message was
/// decoded (structure, pointer kinds, traversal and nesting limits), so
/// reading it through Root's accessors never throws.
template <class Root>
class message {
 public:
  message() = default;

  /// Decodes bytes in the standard stream format. Fails with
  /// `errc::malformed_message` when the bytes are not a valid message within
  /// `limits`, and with `errc::frame_too_large` when they exceed
  /// `limits.max_frame_bytes`.
  static result<message> decode(const uint8_t* bytes, size_t size,
                                const read_limits& limits = {}) {
    auto words = detail::validate_and_flatten(bytes, size, limits,
                                              capnp::Schema::from<Root>());
    if (!words)
      return std::move(words).error();
    return message{std::move(*words)};
  }

  /// Takes a snapshot of what `builder` holds.
  static message from(capnp::MessageBuilder& builder) {
    auto root = builder.getRoot<Root>().asReader();
    return message{detail::flatten(capnp::toAny(root))};
  }

  /// Copies the struct behind `root` (for example a field of another message).
  static message from(typename Root::Reader root) {
    return message{detail::flatten(capnp::toAny(root))};
  }

  /// The root struct. Valid as long as this message (or a copy) lives.
  typename Root::Reader root() const {
    if (!words_)
      return typename Root::Reader{};
    return capnp::readMessageUnchecked<Root>(words_->data());
  }

  /// The message in the standard stream format, ready to frame.
  std::vector<uint8_t> encode() const {
    return detail::to_wire(capnp::toAny(root()));
  }

  /// True when both messages share the same bytes or both are empty.
  bool same_bytes(const message& other) const { return words_ == other.words_; }

 private:
  explicit message(std::vector<capnp::word> words)
    : words_(
      std::make_shared<const std::vector<capnp::word>>(std::move(words))) {}

  std::shared_ptr<const std::vector<capnp::word>> words_;
};

} // namespace skep
