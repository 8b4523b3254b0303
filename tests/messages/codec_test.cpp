// Round trips and refusals of the message codec: framing, envelope decoding
// with size, traversal and nesting limits, and CAF serialization.

#include "messages/envelope.hpp"
#include "messages/frame.hpp"
#include "messages/type_ids.hpp"
#include "tests/support/union_tag.hpp"

#include <random>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

namespace skep {
namespace {

control_request info_request() {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::control::Request>().setInfo();
  return control_request::from(builder);
}

envelope sample_envelope(uint64_t correlation_id = 42) {
  return make_control_request_envelope(correlation_id, {"", "skep"},
                                       {"node-a", "node"}, info_request());
}

std::vector<uint8_t> bytes_of(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

TEST(EnvelopeCodec, RoundTripKeepsEveryField) {
  auto original = sample_envelope(7);
  auto wire = original.encode();
  auto decoded = envelope::decode(wire.data(), wire.size());
  ASSERT_TRUE(decoded) << decoded.error().message;
  auto root = decoded->root();
  EXPECT_EQ(root.getProtocolVersion(), protocol_version);
  EXPECT_EQ(root.getCorrelationId(), 7u);
  EXPECT_EQ(root.getKind(), schema::Envelope::Kind::REQUEST);
  EXPECT_EQ(std::string{root.getSender().getName().cStr()}, "skep");
  EXPECT_EQ(std::string{root.getTarget().getNodeId().cStr()}, "node-a");
  EXPECT_EQ(std::string{root.getTarget().getName().cStr()}, "node");
  ASSERT_EQ(root.getBody().which(), schema::Envelope::Body::CONTROL_REQUEST);
  EXPECT_EQ(root.getBody().getControlRequest().which(),
            schema::control::Request::INFO);
  EXPECT_TRUE(check_envelope(*decoded));
}

TEST(EnvelopeCodec, ReplyEnvelopeSwapsSenderAndTargetAndKeepsCorrelation) {
  auto request = sample_envelope(99);
  auto reply = make_control_reply_envelope(
    request, make_error_reply(fail(errc::not_found, "no such node")));
  auto root = reply.root();
  EXPECT_EQ(root.getCorrelationId(), 99u);
  EXPECT_EQ(root.getKind(), schema::Envelope::Kind::REPLY);
  EXPECT_EQ(std::string{root.getTarget().getName().cStr()}, "skep");
  EXPECT_EQ(std::string{root.getSender().getNodeId().cStr()}, "node-a");
  auto err = from_schema(root.getBody().getControlReply().getError());
  EXPECT_EQ(err.code, errc::not_found);
  EXPECT_EQ(err.message, "no such node");
}

TEST(EnvelopeCodec, CopiesShareBytesAndDefaultMessageReadsDefaults) {
  auto a = sample_envelope();
  auto b = a;
  EXPECT_TRUE(a.same_bytes(b));
  envelope empty;
  EXPECT_EQ(empty.root().getCorrelationId(), 0u);
  EXPECT_FALSE(empty.root().hasSender());
}

TEST(EnvelopeCodec, RefusesGarbage) {
  auto garbage = bytes_of("this is not a capnp message!!!!!"); // 32 bytes
  auto decoded = envelope::decode(garbage.data(), garbage.size());
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::malformed_message);
}

TEST(EnvelopeCodec, RefusesSizeThatIsNotWholeWords) {
  auto wire = sample_envelope().encode();
  auto decoded = envelope::decode(wire.data(), wire.size() - 3);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::malformed_message);
}

TEST(EnvelopeCodec, RefusesTruncatedMessage) {
  auto wire = sample_envelope().encode();
  auto decoded = envelope::decode(wire.data(), wire.size() - 8);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::malformed_message);
}

TEST(EnvelopeCodec, RefusesAFrameHoldingTwoMessages) {
  auto wire = sample_envelope().encode();
  auto twice = wire;
  twice.insert(twice.end(), wire.begin(), wire.end());
  auto decoded = envelope::decode(twice.data(), twice.size());
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::malformed_message);
  EXPECT_NE(decoded.error().message.find("after its message"),
            std::string::npos)
    << decoded.error().message;
  auto padded = wire;
  padded.resize(wire.size() + 8, 0);
  EXPECT_FALSE(envelope::decode(padded.data(), padded.size()));
  EXPECT_TRUE(envelope::decode(wire.data(), wire.size()));
}

TEST(EnvelopeCodec, RefusesMessageAboveSizeLimit) {
  auto wire = sample_envelope().encode();
  read_limits limits;
  limits.max_frame_bytes = wire.size() - 8;
  auto decoded = envelope::decode(wire.data(), wire.size(), limits);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::frame_too_large);
}

TEST(EnvelopeCodec, RefusesHugeSegmentCount) {
  std::vector<uint8_t> wire(64, 0);
  wire[0] = 0xff; // segment count - 1 = 255
  auto decoded = envelope::decode(wire.data(), wire.size());
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::malformed_message);
  EXPECT_NE(decoded.error().message.find("segments"), std::string::npos);
}

TEST(EnvelopeCodec, EnforcesTraversalLimit) {
  // A reply with a long actor list: fine by default, refused when the
  // traversal budget is smaller than the message.
  capnp::MallocMessageBuilder builder;
  auto info = builder.initRoot<schema::control::Reply>().initInfo();
  auto actors = info.initActors(2000);
  for (unsigned i = 0; i < actors.size(); ++i)
    actors.set(i, "reconciler/some-service-name");
  auto wire = control_reply::from(builder).encode();
  ASSERT_TRUE(control_reply::decode(wire.data(), wire.size()));
  read_limits tight;
  tight.traversal_limit_words = 100;
  auto decoded = control_reply::decode(wire.data(), wire.size(), tight);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::malformed_message);
}

TEST(EnvelopeCodec, MessageNearTheFrameLimitDecodesWithDefaultLimits) {
  // About 3.4 MiB of text: decoding walks it twice, within the default budget.
  capnp::MallocMessageBuilder builder;
  auto info = builder.initRoot<schema::control::Reply>().initInfo();
  auto actors = info.initActors(3500);
  std::string name(1000, 'a');
  for (unsigned i = 0; i < actors.size(); ++i)
    actors.set(i, name);
  auto wire = control_reply::from(builder).encode();
  ASSERT_GT(wire.size(), 3u << 20);
  auto decoded = control_reply::decode(wire.data(), wire.size());
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->root().getInfo().getActors().size(), 3500u);
  auto limits = read_limits_for_frames(16 << 20);
  EXPECT_GE(limits.traversal_limit_words, 3 * (16u << 20) / 8);
}

TEST(EnvelopeCodec, EnforcesNestingLimit) {
  // Envelope -> body.controlReply -> info -> startedAt: depth 4.
  capnp::MallocMessageBuilder builder;
  auto env = builder.initRoot<schema::Envelope>();
  env.getBody().initControlReply().initInfo().initStartedAt().setUnixNanos(1);
  auto wire = envelope::from(builder).encode();
  ASSERT_TRUE(envelope::decode(wire.data(), wire.size()));
  read_limits shallow;
  shallow.nesting_limit = 2;
  auto decoded = envelope::decode(wire.data(), wire.size(), shallow);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::malformed_message);
}

TEST(EnvelopeCodec, RandomBytesNeverCrashTheDecoder) {
  std::mt19937_64 rng{20261121};
  auto valid = sample_envelope().encode();
  size_t accepted = 0;
  for (int round = 0; round < 2000; ++round) {
    auto bytes = valid;
    // Flip a few bytes of a valid message, so decoding gets past the header.
    for (int flips = 0; flips < 4; ++flips)
      bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    auto decoded = envelope::decode(bytes.data(), bytes.size());
    if (decoded) {
      ++accepted;
      // Whatever was accepted must be fully readable.
      auto root = decoded->root();
      (void)root.getSender().getName();
      (void)check_envelope(*decoded);
      auto again = decoded->encode();
      EXPECT_TRUE(envelope::decode(again.data(), again.size()));
    } else {
      EXPECT_TRUE(decoded.error().code == errc::malformed_message);
    }
  }
  EXPECT_LT(accepted, 2000u); // some corruption must have been caught
}

TEST(EnvelopeCheck, RefusesOtherProtocolVersion) {
  capnp::MallocMessageBuilder builder;
  auto env = builder.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version + 1);
  env.getBody().initControlRequest().setVersion();
  auto checked = check_envelope(envelope::from(builder));
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, errc::unsupported);
}

TEST(EnvelopeCheck, RefusesUnknownBodyFromNewerPeer) {
  auto wire = test::with_union_tag<schema::Envelope, schema::Envelope::Body>(
    sample_envelope(), 0x7f);
  auto decoded = envelope::decode(wire.data(), wire.size());
  ASSERT_TRUE(decoded) << decoded.error().message;
  auto checked = check_envelope(*decoded);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, errc::unsupported);
}

TEST(EnvelopeCodec, RefusesPointerOfTheWrongKind) {
  // The sender field points at a list instead of a struct: structurally a
  // fine message, but not an Envelope.
  capnp::MallocMessageBuilder wrong;
  auto env = wrong.initRoot<schema::Envelope>();
  env.setProtocolVersion(protocol_version);
  capnp::toAny(env).getPointerSection()[0].initAsAnyList(
    capnp::ElementSize::BYTE, 16);
  auto wire = envelope::from(wrong).encode();
  auto decoded = envelope::decode(wire.data(), wire.size());
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::malformed_message);
}

TEST(FrameReader, SplitsStreamIntoFramesAcrossArbitraryChunks) {
  auto a = make_frame(bytes_of("first"));
  auto b = make_frame(bytes_of("second frame"));
  std::vector<uint8_t> stream = a;
  stream.insert(stream.end(), b.begin(), b.end());
  frame_reader reader{1024};
  std::vector<std::string> frames;
  for (uint8_t byte : stream) { // one byte at a time: the worst split
    reader.feed(&byte, 1);
    auto next = reader.next();
    ASSERT_TRUE(next);
    if (*next)
      frames.emplace_back((*next)->begin(), (*next)->end());
  }
  EXPECT_EQ(frames, (std::vector<std::string>{"first", "second frame"}));
  EXPECT_EQ(reader.pending_bytes(), 0u);
}

TEST(FrameReader, RefusesOversizedFrameFromItsHeaderAlone) {
  frame_reader reader{1024};
  uint8_t header[4] = {0xff, 0xff, 0xff, 0xf0};
  reader.feed(header, 4);
  auto next = reader.next();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, errc::frame_too_large);
}

TEST(FrameReader, NamesAnotherProtocolThatAnswers) {
  frame_reader reader{16384};
  std::string http = "HTTP/1.1 400 Bad Request\r\nServer: x\r\n";
  reader.feed(reinterpret_cast<const uint8_t*>(http.data()), http.size());
  auto next = reader.next();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, errc::malformed_message);
  EXPECT_NE(next.error().message.find("does not speak Skep's protocol"),
            std::string::npos);
  EXPECT_NE(next.error().message.find("\"HTTP/1.1 400 Bad Request\""),
            std::string::npos)
    << next.error().message;
}

TEST(FrameReader, RefusesEmptyFrame) {
  frame_reader reader{1024};
  uint8_t header[4] = {0, 0, 0, 0};
  reader.feed(header, 4);
  auto next = reader.next();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, errc::malformed_message);
}

TEST(FrameReader, WaitsForTheRestOfATruncatedFrame) {
  frame_reader reader{1024};
  auto frame = make_frame(bytes_of("0123456789"));
  reader.feed(frame.data(), 7);
  auto next = reader.next();
  ASSERT_TRUE(next);
  EXPECT_FALSE(*next);
  EXPECT_EQ(reader.next_frame_length(), 10u);
  EXPECT_EQ(reader.pending_bytes(), 7u);
}

TEST(FramedEnvelope, SurvivesFrameAndDecodeRoundTrip) {
  auto frame = frame_envelope(sample_envelope(5));
  frame_reader reader{4096};
  reader.feed(frame.data(), frame.size());
  auto payload = reader.next();
  ASSERT_TRUE(payload && *payload);
  auto decoded = envelope::decode((*payload)->data(), (*payload)->size());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->root().getCorrelationId(), 5u);
}

TEST(CafSerialization, EnvelopeRoundTripsThroughCafBinaryFormat) {
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  auto original = sample_envelope(1234);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto saved = inspect(sink, original);
  ASSERT_FALSE(saved) << sys.render(saved);
  envelope copy;
  caf::binary_deserializer source{sys, buf};
  auto loaded = inspect(source, copy);
  ASSERT_FALSE(loaded) << sys.render(loaded);
  EXPECT_EQ(copy.root().getCorrelationId(), 1234u);
  EXPECT_EQ(std::string{copy.root().getTarget().getNodeId().cStr()}, "node-a");
}

TEST(CafSerialization, CorruptBytesFailToLoad) {
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  std::vector<uint8_t> junk(24, 0xab);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  ASSERT_FALSE(sink(junk));
  envelope copy;
  caf::binary_deserializer source{sys, buf};
  EXPECT_TRUE(inspect(source, copy));
}

} // namespace
} // namespace skep
