// Session set-up between two nodes, driven in memory: both sides prove
// their identity under the cluster CA, then exchange sealed frames.

#include "actors/transport/handshake.hpp"
#include "messages/message.hpp"
#include "messages/transport.capnp.h"

#include <algorithm>

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace skep::transport {
namespace {

using namespace std::chrono_literals;
using frames = std::vector<std::vector<uint8_t>>;

struct node_identity {
  ca::keypair key = ca::keypair::generate();
  std::vector<uint8_t> cert;
};

class Handshake : public ::testing::Test {
 protected:
  node_identity make_node(const std::string& id, ca::node_role role,
                          const ca::keypair& signer,
                          std::chrono::hours valid = 24h) {
    node_identity n;
    ca::certificate_fields f;
    f.node_id = id;
    f.role = role;
    f.node_key = n.key.public_part;
    f.issued_at = now - 1h;
    f.expires_at = now + valid;
    n.cert = ca::issue_certificate(signer, f);
    return n;
  }

  handshake_options options(side role, const node_identity& node) {
    handshake_options o;
    o.role = role;
    o.identity = &node.key;
    o.certificate = node.cert;
    o.policy.ca_key = ca_key.public_part;
    o.policy.now = now;
    return o;
  }

  /// Runs the handshake to the end, recording every frame on the "wire".
  /// Returns the first failure, from either side.
  result<void> run(handshake& client, handshake& server) {
    frames to_server = client.start();
    frames to_client = server.start();
    for (int round = 0; round < 10; ++round) {
      if (to_server.empty() && to_client.empty())
        break;
      frames next_to_client, next_to_server;
      for (auto& f : to_server) {
        wire.push_back(f);
        auto out = server.receive(f.data(), f.size());
        if (!out)
          return std::move(out).error();
        for (auto& g : *out)
          next_to_client.push_back(g);
      }
      for (auto& f : to_client) {
        wire.push_back(f);
        auto out = client.receive(f.data(), f.size());
        if (!out)
          return std::move(out).error();
        for (auto& g : *out)
          next_to_server.push_back(g);
      }
      to_server = std::move(next_to_server);
      to_client = std::move(next_to_client);
    }
    return {};
  }

  ca::time_point now = std::chrono::system_clock::now();
  ca::keypair ca_key = ca::keypair::generate();
  frames wire;
};

bool contains(const std::vector<uint8_t>& hay, const std::string& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end())
         != hay.end();
}

TEST_F(Handshake, BothSidesLearnEachOtherAndExchangeSealedFrames) {
  auto m
    = make_node("manager-node-aaaaaaaaaaaa", ca::node_role::manager, ca_key);
  auto w
    = make_node("worker-node-bbbbbbbbbbbbb", ca::node_role::worker, ca_key);
  auto client_opts = options(side::client, w);
  client_opts.expected_peer = "manager-node-aaaaaaaaaaaa";
  handshake client{client_opts};
  handshake server{options(side::server, m)};
  auto outcome = run(client, server);
  ASSERT_TRUE(outcome) << outcome.error().message;
  ASSERT_TRUE(client.established());
  ASSERT_TRUE(server.established());
  EXPECT_EQ(client.peer().node_id, "manager-node-aaaaaaaaaaaa");
  EXPECT_EQ(client.peer().role, ca::node_role::manager);
  EXPECT_EQ(server.peer().node_id, "worker-node-bbbbbbbbbbbbb");
  EXPECT_LE(wire.size(), 6u); // 1.5 round trips: 6 frames

  auto c = client.take_channel();
  auto s = server.take_channel();
  const std::string marker = "SKEP-PLAINTEXT-MARKER-7f3a";
  for (int i = 0; i < 3; ++i) {
    auto sealed
      = c.seal(reinterpret_cast<const uint8_t*>(marker.data()), marker.size());
    wire.push_back(sealed);
    auto opened = s.open(sealed.data(), sealed.size());
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(std::string(opened->begin(), opened->end()), marker);
    auto back = s.seal(opened->data(), opened->size());
    wire.push_back(back);
    ASSERT_TRUE(c.open(back.data(), back.size()));
  }
  // Neither the payload nor the node ids ever appear on the wire.
  for (const auto& f : wire) {
    EXPECT_FALSE(contains(f, marker));
    EXPECT_FALSE(contains(f, "manager-node-aaaaaaaaaaaa"));
    EXPECT_FALSE(contains(f, "worker-node-bbbbbbbbbbbbb"));
  }
}

class Session : public Handshake {
 protected:
  Session() {
    a = make_node("node-a-aaaaaaaaaaaaaaaaaa", ca::node_role::manager, ca_key);
    b = make_node("node-b-bbbbbbbbbbbbbbbbbb", ca::node_role::manager, ca_key);
    handshake client{options(side::client, a)};
    handshake server{options(side::server, b)};
    EXPECT_TRUE(run(client, server));
    c.emplace(client.take_channel());
    s.emplace(server.take_channel());
  }
  std::vector<uint8_t> seal(const std::string& text) {
    return c->seal(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  }
  node_identity a, b;
  std::optional<sealed_channel> c, s;
};

TEST_F(Session, AlteredFrameIsRefused) {
  auto f = seal("hello");
  f[f.size() / 2] ^= 1;
  auto opened = s->open(f.data(), f.size());
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, errc::permission_denied);
  // After a failure the session is dead, even for a good frame.
  auto good = seal("again");
  EXPECT_FALSE(s->open(good.data(), good.size()));
}

TEST_F(Session, ReplayedFrameIsRefused) {
  auto f = seal("pay 100");
  ASSERT_TRUE(s->open(f.data(), f.size()));
  EXPECT_FALSE(s->open(f.data(), f.size()));
}

TEST_F(Session, ReorderedFramesAreRefused) {
  auto first = seal("one");
  auto second = seal("two");
  EXPECT_FALSE(s->open(second.data(), second.size()));
  (void)first;
}

TEST_F(Handshake, CertificateFromAnotherCaIsRefused) {
  auto rogue_ca = ca::keypair::generate();
  auto intruder
    = make_node("intruder-xxxxxxxxxxxxxxxx", ca::node_role::manager, rogue_ca);
  auto m
    = make_node("manager-node-aaaaaaaaaaaa", ca::node_role::manager, ca_key);
  handshake client{options(side::client, intruder)};
  handshake server{options(side::server, m)};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  // The client sees the server as valid; the server refuses the client.
  EXPECT_NE(outcome.error().message.find("another CA"), std::string::npos)
    << outcome.error().message;
  EXPECT_FALSE(server.established());
}

TEST_F(Handshake, ExpiredCertificateIsRefused) {
  auto m
    = make_node("manager-node-aaaaaaaaaaaa", ca::node_role::manager, ca_key);
  auto old = make_node("old-node-ccccccccccccccccc", ca::node_role::worker,
                       ca_key, std::chrono::hours{-1});
  handshake client{options(side::client, old)};
  handshake server{options(side::server, m)};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("expired"), std::string::npos);
}

TEST_F(Handshake, WorkerIsRefusedWhereManagersAreRequired) {
  auto m
    = make_node("manager-node-aaaaaaaaaaaa", ca::node_role::manager, ca_key);
  auto w
    = make_node("worker-node-bbbbbbbbbbbbb", ca::node_role::worker, ca_key);
  auto server_opts = options(side::server, m);
  server_opts.policy.require_manager = true;
  handshake client{options(side::client, w)};
  handshake server{server_opts};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("only managers"), std::string::npos);
}

TEST_F(Handshake, RemovedNodeIsRefused) {
  auto m
    = make_node("manager-node-aaaaaaaaaaaa", ca::node_role::manager, ca_key);
  auto w
    = make_node("worker-node-bbbbbbbbbbbbb", ca::node_role::worker, ca_key);
  std::set<std::string> removed{"worker-node-bbbbbbbbbbbbb"};
  auto server_opts = options(side::server, m);
  server_opts.policy.revoked = &removed;
  handshake client{options(side::client, w)};
  handshake server{server_opts};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("removed"), std::string::npos);
}

TEST_F(Handshake, StolenCertificateWithoutItsKeyIsRefused) {
  auto m
    = make_node("manager-node-aaaaaaaaaaaa", ca::node_role::manager, ca_key);
  auto victim
    = make_node("victim-node-dddddddddddd", ca::node_role::manager, ca_key);
  node_identity thief;
  thief.cert = victim.cert; // presents the victim's certificate, own key
  handshake client{options(side::client, thief)};
  handshake server{options(side::server, m)};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("did not prove"), std::string::npos)
    << outcome.error().message;
}

TEST_F(Handshake, DialingTheWrongNodeIsRefused) {
  auto m
    = make_node("manager-node-aaaaaaaaaaaa", ca::node_role::manager, ca_key);
  auto w
    = make_node("worker-node-bbbbbbbbbbbbb", ca::node_role::worker, ca_key);
  auto client_opts = options(side::client, w);
  client_opts.expected_peer = "some-other-node-eeeeeeeee";
  handshake client{client_opts};
  handshake server{options(side::server, m)};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("dialed node"), std::string::npos);
}

TEST_F(Handshake, RelayThatSwapsKeysCannotCompleteIt) {
  // A man in the middle runs its own handshakes with both ends using a
  // certificate it cannot have (it has none of the nodes' keys), so it
  // forwards the real Auth frames: the signatures then cover the wrong
  // Hellos and the handshake fails.
  auto a
    = make_node("node-a-aaaaaaaaaaaaaaaaaa", ca::node_role::manager, ca_key);
  auto b
    = make_node("node-b-bbbbbbbbbbbbbbbbbb", ca::node_role::manager, ca_key);
  handshake client{options(side::client, a)};
  handshake server{options(side::server, b)};
  auto client_hello = client.start()[0];
  server.start();
  // The relay replaces the client's Hello by its own.
  node_identity relay_identity;
  relay_identity.cert = a.cert;
  handshake relay{options(side::client, relay_identity)};
  auto relay_hello = relay.start()[0];
  auto server_out = server.receive(relay_hello.data(), relay_hello.size());
  ASSERT_TRUE(server_out);
  // Server frames reach the real client: it derives other keys than the
  // server, so the sealed Auth cannot be opened.
  result<void> failed;
  for (auto& f : *server_out) {
    auto out = client.receive(f.data(), f.size());
    if (!out) {
      failed = std::move(out).error();
      break;
    }
  }
  ASSERT_FALSE(failed);
  EXPECT_FALSE(client.established());
}

TEST_F(Handshake, UnexpectedOrMalformedFramesAreRefused) {
  auto m
    = make_node("manager-node-aaaaaaaaaaaa", ca::node_role::manager, ca_key);
  // A stream header before any Hello.
  {
    handshake server{options(side::server, m)};
    server.start();
    capnp::MallocMessageBuilder b;
    uint8_t header[24] = {};
    b.initRoot<schema::transport::Handshake>().setStreamHeader(
      kj::arrayPtr(header, sizeof(header)));
    auto f = message<schema::transport::Handshake>::from(b).encode();
    auto out = server.receive(f.data(), f.size());
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().message.find("Hello first"), std::string::npos);
  }
  // Garbage.
  {
    handshake server{options(side::server, m)};
    server.start();
    std::vector<uint8_t> junk(40, 0xee);
    auto out = server.receive(junk.data(), junk.size());
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().message.find("unreadable"), std::string::npos);
    // Failed handshakes stay failed.
    EXPECT_FALSE(server.receive(junk.data(), junk.size()));
  }
  // A Hello from another protocol version, and one with a short key.
  for (int variant = 0; variant < 2; ++variant) {
    handshake server{options(side::server, m)};
    server.start();
    capnp::MallocMessageBuilder b;
    auto hello = b.initRoot<schema::transport::Handshake>().initHello();
    hello.setProtocolVersion(variant == 0 ? 2 : 1);
    uint8_t key[32] = {}, nonce[32] = {};
    hello.setKxPublicKey(kj::arrayPtr(key, variant == 0 ? 32 : 16));
    hello.setNonce(kj::arrayPtr(nonce, 32));
    auto f = message<schema::transport::Handshake>::from(b).encode();
    auto out = server.receive(f.data(), f.size());
    ASSERT_FALSE(out);
    EXPECT_NE(
      out.error().message.find(variant == 0 ? "version 2" : "wrong size"),
      std::string::npos)
      << out.error().message;
  }
}

} // namespace
} // namespace skep::transport
