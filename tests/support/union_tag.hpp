#pragma once

#include "messages/message.hpp"

#include <cstdint>
#include <vector>

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>

namespace skep::test {

/// Returns `msg` re-encoded with the union of `Union` (a struct or group
/// inside Root, located at Root's data section) set to `tag`: what a peer
/// built from a newer schema would send.
template <class Root, class Union>
std::vector<uint8_t> with_union_tag(const message<Root>& msg, uint16_t tag) {
  capnp::MallocMessageBuilder builder;
  builder.setRoot(msg.root());
  auto data = capnp::toAny(builder.getRoot<Root>()).getDataSection();
  auto offset = capnp::Schema::from<Union>()
                  .getProto()
                  .getStruct()
                  .getDiscriminantOffset();
  data[offset * 2] = static_cast<kj::byte>(tag & 0xff);
  data[offset * 2 + 1] = static_cast<kj::byte>(tag >> 8);
  return message<Root>::from(builder).encode();
}

} // namespace skep::test
