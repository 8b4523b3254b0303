#include "messages/message.hpp"

#include <cstring>

#include <capnp/dynamic.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <kj/exception.h>

namespace skep::detail {

namespace {

// Cap'n Proto's stream format: a u32 segment count minus one, one u32 size per
// segment, padding to a word boundary, then the segments.
constexpr size_t max_segments = 64;

void check_value(const capnp::DynamicValue::Reader& value);

// Reads every field the schema knows, recursively: each typed read checks the
// pointer's kind and bounds and throws on a mismatch. Only the active member
// of a union is read; unknown members (from newer peers) are left for the
// receiver's envelope checks.
void check_struct(const capnp::DynamicStruct::Reader& reader) {
  for (auto field : reader.getSchema().getNonUnionFields())
    check_value(reader.get(field));
  KJ_IF_MAYBE (active, reader.which()) {
    check_value(reader.get(*active));
  }
}

void check_value(const capnp::DynamicValue::Reader& value) {
  switch (value.getType()) {
  case capnp::DynamicValue::STRUCT:
    check_struct(value.as<capnp::DynamicStruct>());
    break;
  case capnp::DynamicValue::LIST:
    for (auto element : value.as<capnp::DynamicList>())
      check_value(element);
    break;
  case capnp::DynamicValue::TEXT:
    (void)value.as<capnp::Text>();
    break;
  case capnp::DynamicValue::DATA:
    (void)value.as<capnp::Data>();
    break;
  default:
    break; // scalars, enums and void cannot be malformed
  }
}

} // namespace

result<std::vector<capnp::word>>
validate_and_flatten(const uint8_t* bytes, size_t size,
                     const read_limits& limits,
                     capnp::StructSchema root_schema) {
  if (size > limits.max_frame_bytes)
    return fail(errc::frame_too_large,
                fmt::format("message of {} bytes exceeds the limit of {} bytes",
                            size, limits.max_frame_bytes));
  if (size == 0 || size % sizeof(capnp::word) != 0)
    return fail(errc::malformed_message,
                fmt::format("message of {} bytes is not a whole number of "
                            "8-byte words",
                            size));
  // Copy into word-aligned memory: the caller's buffer may be unaligned.
  std::vector<capnp::word> aligned(size / sizeof(capnp::word));
  std::memcpy(aligned.data(), bytes, size);
  uint32_t segment_count_minus_one = 0;
  std::memcpy(&segment_count_minus_one, aligned.data(), sizeof(uint32_t));
  if (segment_count_minus_one >= max_segments)
    return fail(errc::malformed_message,
                fmt::format("message declares {} segments; at most {} allowed",
                            uint64_t{segment_count_minus_one} + 1,
                            max_segments));
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits.traversal_limit_words;
  options.nestingLimit = limits.nesting_limit;
  std::vector<capnp::word> flat;
  size_t used_words = 0;
  auto error = kj::runCatchingExceptions([&] {
    capnp::FlatArrayMessageReader reader(
      kj::arrayPtr(aligned.data(), aligned.size()), options);
    // One frame, one message: bytes after it are not ignored.
    used_words = static_cast<size_t>(reader.getEnd() - aligned.data());
    if (used_words != aligned.size())
      return;
    auto root = reader.getRoot<capnp::AnyStruct>();
    // totalSize() walks every pointer (bounds, traversal and nesting
    // checks); the typed walk then checks each pointer's kind.
    auto words = root.totalSize().wordCount + 1;
    check_struct(reader.getRoot<capnp::DynamicStruct>(root_schema));
    flat.resize(words);
    capnp::copyToUnchecked(root, kj::arrayPtr(flat.data(), flat.size()));
  });
  KJ_IF_MAYBE (e, error) {
    return fail(
      errc::malformed_message,
      fmt::format("malformed message: {}", e->getDescription().cStr()));
  }
  if (used_words != aligned.size())
    return fail(errc::malformed_message,
                fmt::format("the frame holds {} bytes after its message",
                            size - used_words * sizeof(capnp::word)));
  return flat;
}

std::vector<capnp::word> flatten(capnp::AnyStruct::Reader root) {
  std::vector<capnp::word> flat(root.totalSize().wordCount + 1);
  capnp::copyToUnchecked(root, kj::arrayPtr(flat.data(), flat.size()));
  return flat;
}

std::vector<uint8_t> to_wire(capnp::AnyStruct::Reader root) {
  capnp::MallocMessageBuilder builder(root.totalSize().wordCount + 1);
  builder.setRoot(root);
  auto words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

} // namespace skep::detail
