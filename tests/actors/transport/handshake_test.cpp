// Session set-up between two nodes, driven in memory: both sides prove
// their identity under the cluster CA, then exchange sealed frames.

#include "actors/ca/authority.hpp"
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
  void SetUp() override {
    a = make_node("node-a-aaaaaaaaaaaaaaaaaa", ca::node_role::manager, ca_key);
    b = make_node("node-b-bbbbbbbbbbbbbbbbbb", ca::node_role::manager, ca_key);
    handshake client{options(side::client, a)};
    handshake server{options(side::server, b)};
    auto outcome = run(client, server);
    ASSERT_TRUE(outcome) << outcome.error().message;
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

// What a man in the middle can do by hand: its own key exchange with each
// end, so it can open what one side seals and re-seal it for the other.
struct relay_leg {
  std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> pk{};
  std::array<uint8_t, crypto_kx_SECRETKEYBYTES> sk{};
  sealed_channel::key rx{}, tx{};
  std::optional<sealed_channel> channel;
  sealed_channel::header header{};

  relay_leg() { crypto_kx_keypair(pk.data(), sk.data()); }

  std::vector<uint8_t> hello() const {
    capnp::MallocMessageBuilder b;
    auto h = b.initRoot<schema::transport::Handshake>().initHello();
    h.setProtocolVersion(1);
    h.setKxPublicKey(kj::arrayPtr(pk.data(), pk.size()));
    std::array<uint8_t, 32> nonce{};
    h.setNonce(kj::arrayPtr(nonce.data(), nonce.size()));
    return message<schema::transport::Handshake>::from(b).encode();
  }
  // Derives keys with the peer's Hello; `as_server` says which role we play.
  bool derive(const std::vector<uint8_t>& peer_hello, bool as_server) {
    auto msg = message<schema::transport::Handshake>::decode(peer_hello.data(),
                                                             peer_hello.size());
    auto peer_pk = msg->root().getHello().getKxPublicKey();
    int rc = as_server
               ? crypto_kx_server_session_keys(rx.data(), tx.data(), pk.data(),
                                               sk.data(), peer_pk.begin())
               : crypto_kx_client_session_keys(rx.data(), tx.data(), pk.data(),
                                               sk.data(), peer_pk.begin());
    channel.emplace(tx, header);
    return rc == 0;
  }
  static message<schema::transport::Handshake>
  parse(const std::vector<uint8_t>& frame) {
    return *message<schema::transport::Handshake>::decode(frame.data(),
                                                          frame.size());
  }
  std::vector<uint8_t> header_frame() const {
    capnp::MallocMessageBuilder b;
    b.initRoot<schema::transport::Handshake>().setStreamHeader(
      kj::arrayPtr(header.data(), header.size()));
    return message<schema::transport::Handshake>::from(b).encode();
  }
  std::vector<uint8_t> sealed_frame(const std::vector<uint8_t>& plain) {
    auto sealed = channel->seal(plain.data(), plain.size());
    capnp::MallocMessageBuilder b;
    b.initRoot<schema::transport::Handshake>().setSealedAuth(
      kj::arrayPtr(sealed.data(), sealed.size()));
    return message<schema::transport::Handshake>::from(b).encode();
  }
};

TEST_F(Handshake, ManInTheMiddleWithItsOwnKeysIsCaughtByTheTranscript) {
  auto a
    = make_node("node-a-aaaaaaaaaaaaaaaaaa", ca::node_role::manager, ca_key);
  auto b
    = make_node("node-b-bbbbbbbbbbbbbbbbbb", ca::node_role::manager, ca_key);
  handshake client{options(side::client, a)};
  handshake server{options(side::server, b)};
  relay_leg toward_b; // the relay plays client to B
  relay_leg toward_a; // and server to A

  auto hello_a = client.start().at(0);
  server.start();
  // Leg to B: B answers the relay's Hello with Hello, header, sealed Auth.
  auto from_b
    = server.receive(toward_b.hello().data(), toward_b.hello().size());
  ASSERT_TRUE(from_b);
  ASSERT_EQ(from_b->size(), 3u);
  ASSERT_TRUE(toward_b.derive(from_b->at(0), false));
  auto b_header = relay_leg::parse(from_b->at(1)).root().getStreamHeader();
  ASSERT_TRUE(toward_b.channel->accept_peer_header(
    toward_b.rx, b_header.begin(), b_header.size()));
  auto b_sealed = relay_leg::parse(from_b->at(2)).root().getSealedAuth();
  auto b_auth = toward_b.channel->open(b_sealed.begin(), b_sealed.size());
  ASSERT_TRUE(b_auth) << "the relay can read B's credentials on its own leg";

  // Leg to A: the relay answers A's Hello and re-seals B's genuine Auth.
  ASSERT_TRUE(toward_a.derive(hello_a, true));
  std::vector<std::vector<uint8_t>> to_a{
    toward_a.hello(), toward_a.header_frame(), toward_a.sealed_frame(*b_auth)};
  result<void> outcome;
  for (auto& f : to_a) {
    auto out = client.receive(f.data(), f.size());
    if (!out) {
      outcome = std::move(out).error();
      break;
    }
  }
  // B's certificate is genuine and the seal opens, so only the signature
  // over the Hellos A actually saw can refuse it.
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("did not prove"), std::string::npos)
    << outcome.error().message;
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

// Joining: the node has a token and no certificate.
class JoinHandshake : public Handshake {
 protected:
  JoinHandshake()
    : authority(ca::authority::create()),
      manager(make_node("manager-node-aaaaaaaaaaaa", ca::node_role::manager,
                        authority.key())) {}

  handshake_options server_options() {
    auto o = options(side::server, manager);
    o.policy.ca_key = authority.public_part();
    o.accept_join = [this](const join_claim& claim) -> result<ca::node_role> {
      claims.push_back(claim);
      return authority.check_join(claim.challenge.data(),
                                  claim.challenge.size(), claim.node_key,
                                  claim.proof);
    };
    return o;
  }

  handshake_options joiner_options(const ca::join_token& token) {
    handshake_options o;
    o.role = side::client;
    o.identity = &joiner_key;
    o.policy.now = now;
    o.join = token;
    o.node_id = "joiner-node-ccccccccccccc";
    return o;
  }

  ca::authority authority;
  node_identity manager;
  ca::keypair joiner_key = ca::keypair::generate();
  std::vector<join_claim> claims;
};

TEST_F(JoinHandshake, TokenGrantsItsRoleAndPinsTheCa) {
  for (auto role : {ca::node_role::worker, ca::node_role::manager}) {
    handshake client{joiner_options(authority.token(role))};
    handshake server{server_options()};
    auto outcome = run(client, server);
    ASSERT_TRUE(outcome) << outcome.error().message;
    ASSERT_TRUE(server.established() && client.established());
    EXPECT_TRUE(server.peer_joining());
    EXPECT_EQ(server.peer().node_id, "joiner-node-ccccccccccccc");
    EXPECT_EQ(server.peer().role, role);
    EXPECT_EQ(server.peer().node_key, joiner_key.public_part);
    EXPECT_EQ(client.peer().node_id, "manager-node-aaaaaaaaaaaa");
    EXPECT_EQ(client.pinned_ca(), authority.public_part());
  }
  // The secret itself never crossed the wire.
  auto secret
    = ca::base32(authority.token(ca::node_role::worker).secret.data(), 20);
  for (auto& f : wire) {
    EXPECT_FALSE(contains(f, secret));
    EXPECT_EQ(std::search(f.begin(), f.end(),
                          authority.token(ca::node_role::worker).secret.begin(),
                          authority.token(ca::node_role::worker).secret.end()),
              f.end());
  }
}

TEST_F(JoinHandshake, RotatedTokenIsRefusedByTheManager) {
  auto old = authority.token(ca::node_role::worker);
  authority.rotate(ca::node_role::worker);
  handshake client{joiner_options(old)};
  handshake server{server_options()};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("rotated"), std::string::npos)
    << outcome.error().message;
  EXPECT_FALSE(server.established());
}

TEST_F(JoinHandshake, TokenOfAnotherSwarmIsRefusedByTheJoiner) {
  // The manager presents its CA, whose digest is not the token's.
  auto other = ca::authority::create();
  handshake client{joiner_options(other.token(ca::node_role::worker))};
  handshake server{server_options()};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("does not match the digest"),
            std::string::npos)
    << outcome.error().message;
  // The joiner stopped before proving anything to the impostor: on the wire
  // only its Hello, then the server's Hello, header and credentials.
  EXPECT_TRUE(claims.empty());
  EXPECT_EQ(wire.size(), 4u);
}

TEST_F(JoinHandshake, ServerOfTheRightCaButWorkerRoleIsRefused) {
  auto worker = make_node("worker-node-bbbbbbbbbbbbb", ca::node_role::worker,
                          authority.key());
  auto o = server_options();
  o.certificate = worker.cert;
  o.identity = &worker.key;
  handshake client{joiner_options(authority.token(ca::node_role::worker))};
  handshake server{o};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("only managers"), std::string::npos)
    << outcome.error().message;
}

TEST_F(JoinHandshake, NodeThatAcceptsNoJoinsRefusesTheHello) {
  handshake client{joiner_options(authority.token(ca::node_role::worker))};
  auto o = options(side::server, manager);
  o.policy.ca_key = authority.public_part();
  handshake server{o}; // no accept_join: a worker, say
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("accepts no joins"), std::string::npos)
    << outcome.error().message;
}

TEST_F(JoinHandshake, JoinerWithoutAClaimOrWithABadIdIsRefused) {
  auto token = authority.token(ca::node_role::worker);
  auto o = joiner_options(token);
  o.node_id = "Not/A/Node";
  handshake client{o};
  handshake server{server_options()};
  auto outcome = run(client, server);
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().message.find("[0-9a-z-]"), std::string::npos)
    << outcome.error().message;
}

} // namespace
} // namespace skep::transport
