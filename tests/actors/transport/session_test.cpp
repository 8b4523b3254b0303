// Two node sessions connected by an in-memory byte stream: set-up, sealed
// envelopes, and every way a peer can misbehave on the wire.

#include "actors/transport/session.hpp"
#include "actors/transport/tcp.hpp"

#include <algorithm>

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace skep::transport {
namespace {

using namespace std::chrono_literals;

struct node {
  std::string id;
  ca::keypair key = ca::keypair::generate();
  std::vector<uint8_t> cert;
};

class Session2 : public ::testing::Test {
 protected:
  Session2()
    : a(make_node("manager-a-aaaaaaaaaaaaaaa", ca::node_role::manager)),
      b(make_node("manager-b-bbbbbbbbbbbbbbb", ca::node_role::manager)) {}

  /// Connects manager a (client) to manager b (server).
  void connect_ab() {
    client.emplace(options_for(a, side::client));
    server.emplace(options_for(b, side::server));
    auto outcome = connect(*client, *server);
    ASSERT_TRUE(outcome) << outcome.error().message;
  }

  node make_node(const std::string& id, ca::node_role role) {
    node n;
    n.id = id;
    ca::certificate_fields f;
    f.node_id = id;
    f.role = role;
    f.node_key = n.key.public_part;
    f.issued_at = now - 1h;
    f.expires_at = now + 24h;
    n.cert = ca::issue_certificate(ca_key, f);
    return n;
  }

  session::options options_for(const node& n, side s) {
    session::options o;
    o.handshake.role = s;
    o.handshake.identity = &n.key;
    o.handshake.certificate = n.cert;
    o.handshake.policy.ca_key = ca_key.public_part;
    o.handshake.policy.now = now;
    o.max_frame_bytes = 64 * 1024;
    return o;
  }

  /// Delivers `bytes` to `to` in 7-byte pieces (the worst realistic split),
  /// recording them on the wire; returns what `to` produced, or its failure.
  result<session::output> deliver(session& to,
                                  const std::vector<uint8_t>& bytes) {
    wire.insert(wire.end(), bytes.begin(), bytes.end());
    session::output all;
    for (size_t off = 0; off < bytes.size(); off += 7) {
      auto n = std::min<size_t>(7, bytes.size() - off);
      auto out = to.on_bytes(bytes.data() + off, n);
      if (!out)
        return out;
      all.to_send.insert(all.to_send.end(), out->to_send.begin(),
                         out->to_send.end());
      for (auto& e : out->received)
        all.received.push_back(std::move(e));
    }
    return all;
  }

  /// Runs both sessions until neither has anything to send.
  result<void> connect(session& client, session& server) {
    auto to_server = client.start();
    server.start();
    for (int i = 0; i < 10 && !to_server.empty(); ++i) {
      auto s = deliver(server, to_server);
      if (!s)
        return std::move(s).error();
      auto c = deliver(client, s->to_send);
      if (!c)
        return std::move(c).error();
      to_server = c->to_send;
    }
    return {};
  }

  envelope control_from(const node& sender, const std::string& marker) {
    capnp::MallocMessageBuilder b;
    auto req = b.initRoot<schema::control::Request>();
    req.setInfo();
    auto env = make_control_request_envelope(
      7, {sender.id, marker}, {"", "controlapi"}, control_request::from(b));
    return env;
  }

  ca::time_point now = std::chrono::system_clock::now();
  ca::keypair ca_key = ca::keypair::generate();
  std::vector<uint8_t> wire;
  node a, b;
  std::optional<session> client, server;
};

bool on_wire(const std::vector<uint8_t>& wire, const std::string& s) {
  return std::search(wire.begin(), wire.end(), s.begin(), s.end())
         != wire.end();
}

TEST_F(Session2, ManagersExchangeEnvelopesAndNothingLeaksOnTheWire) {
  ASSERT_NO_FATAL_FAILURE(connect_ab());
  ASSERT_TRUE(client->established() && server->established());
  EXPECT_EQ(server->peer().node_id, a.id);
  const std::string marker = "MARKER-4c1d-never-in-clear";
  for (int i = 0; i < 5; ++i) {
    auto sealed = client->seal(control_from(a, marker));
    ASSERT_TRUE(sealed);
    auto got = deliver(*server, *sealed);
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_EQ(got->received.size(), 1u);
    EXPECT_EQ(std::string{got->received[0].root().getSender().getName().cStr()},
              marker);
  }
  auto back = server->seal(control_from(b, marker));
  ASSERT_TRUE(back);
  auto got_back = deliver(*client, *back);
  ASSERT_TRUE(got_back && got_back->received.size() == 1);
  EXPECT_FALSE(on_wire(wire, marker));
  EXPECT_FALSE(on_wire(wire, a.id));
  EXPECT_FALSE(on_wire(wire, b.id));
}

TEST_F(Session2, ReplayedFrameDropsTheSession) {
  ASSERT_NO_FATAL_FAILURE(connect_ab());
  auto sealed = client->seal(control_from(a, "pay"));
  ASSERT_TRUE(deliver(*server, *sealed));
  auto replay = deliver(*server, *sealed);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, errc::permission_denied);
  // Dropped means dropped: nothing more is accepted.
  auto next = client->seal(control_from(a, "more"));
  EXPECT_FALSE(deliver(*server, *next));
}

TEST_F(Session2, OversizedLengthIsRefusedFromTheHeader) {
  session lone_server{options_for(b, side::server)};
  lone_server.start();
  std::vector<uint8_t> header{0x7f, 0xff, 0xff, 0xff};
  auto out = lone_server.on_bytes(header.data(), header.size());
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, errc::frame_too_large);
}

TEST_F(Session2, FullSizeFramesOnlyAfterTheHandshake) {
  // 64 KiB frames are allowed, but not before the peer proved anything.
  session lone_server{options_for(b, side::server)};
  lone_server.start();
  std::vector<uint8_t> header{0x00, 0x00, 0x50, 0x00}; // 20 KiB
  auto out = lone_server.on_bytes(header.data(), header.size());
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, errc::frame_too_large);

  ASSERT_NO_FATAL_FAILURE(connect_ab());
  auto big
    = make_envelope(schema::Envelope::Kind::ONE_WAY, 0, {a.id, "x"}, {"", "y"},
                    [](auto body) { body.initPing().initPayload(40 * 1024); });
  auto sealed = client->seal(big);
  ASSERT_TRUE(sealed);
  auto got = deliver(*server, *sealed);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->received.size(), 1u);
}

TEST_F(Session2, GarbageBeforeTheHandshakeIsRefused) {
  session lone_server{options_for(b, side::server)};
  lone_server.start();
  auto junk = make_frame(std::vector<uint8_t>(48, 0x5a));
  auto out = lone_server.on_bytes(junk.data(), junk.size());
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("handshake failed"), std::string::npos);
}

TEST_F(Session2, WorkerMayNotSendControlMessages) {
  auto w = make_node("worker-w-wwwwwwwwwwwwwwww", ca::node_role::worker);
  auto m = make_node("manager-m-mmmmmmmmmmmmmmm", ca::node_role::manager);
  session lone_client{options_for(w, side::client)};
  session lone_server{options_for(m, side::server)};
  ASSERT_TRUE(connect(lone_client, lone_server));
  auto sealed = lone_client.seal(control_from(w, "x"));
  auto got = deliver(lone_server, *sealed);
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("only managers"), std::string::npos);
}

TEST_F(Session2, PeerCannotSpeakForAnotherNode) {
  auto c = make_node("manager-c-ccccccccccccccc", ca::node_role::manager);
  ASSERT_NO_FATAL_FAILURE(connect_ab());
  auto sealed = client->seal(control_from(c, "spoof")); // claims to be c
  auto got = deliver(*server, *sealed);
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("claiming to come from"),
            std::string::npos);
}

TEST_F(Session2, NothingCanBeSentBeforeTheSessionIsUp) {
  session lone_client{options_for(a, side::client)};
  lone_client.start();
  auto sealed = lone_client.seal(control_from(a, "early"));
  ASSERT_FALSE(sealed);
  EXPECT_EQ(sealed.error().code, errc::unavailable);
}

TEST_F(Session2, EnvelopeLargerThanTheFrameLimitIsRefusedBeforeSealing) {
  ASSERT_NO_FATAL_FAILURE(connect_ab());
  auto sealed = client->seal(control_from(a, std::string(100 * 1024, 'x')));
  ASSERT_FALSE(sealed);
  EXPECT_EQ(sealed.error().code, errc::frame_too_large);
}

envelope body_from(const std::string& sender, const std::string& target,
                   schema::Envelope::Body::Which which) {
  return make_envelope(schema::Envelope::Kind::REQUEST, 1, {sender, "x"},
                       {"", target}, [&](auto body) {
                         switch (which) {
                         case schema::Envelope::Body::PING:
                           body.initPing();
                           break;
                         case schema::Envelope::Body::CERTIFICATE_REQUEST:
                           body.initCertificateRequest();
                           break;
                         case schema::Envelope::Body::CERTIFICATE_REPLY:
                           body.initCertificateReply();
                           break;
                         case schema::Envelope::Body::RAFT:
                           body.initRaft();
                           break;
                         default:
                           body.initControlRequest().setInfo();
                         }
                       });
}

TEST(Authorize, JoiningPeerMayOnlyAskTheCaForItsCertificate) {
  ca::certificate_fields joiner;
  joiner.node_id = "joiner";
  joiner.role = ca::node_role::manager; // even a manager token
  using body = schema::Envelope::Body;
  EXPECT_TRUE(authorize(joiner, true,
                        body_from("joiner", "ca", body::CERTIFICATE_REQUEST)));
  auto other_actor = authorize(
    joiner, true, body_from("joiner", "echo", body::CERTIFICATE_REQUEST));
  ASSERT_FALSE(other_actor);
  EXPECT_NE(other_actor.error().message.find("may only ask the CA"),
            std::string::npos);
  EXPECT_FALSE(authorize(joiner, true, body_from("joiner", "ca", body::PING)));
  EXPECT_FALSE(
    authorize(joiner, true, body_from("joiner", "ca", body::CONTROL_REQUEST)));
  EXPECT_FALSE(authorize(
    joiner, true, body_from("someone", "ca", body::CERTIFICATE_REQUEST)));
}

TEST(Authorize, WorkersPingAndRenewButNeverIssueOrControl) {
  ca::certificate_fields worker;
  worker.node_id = "w";
  worker.role = ca::node_role::worker;
  using body = schema::Envelope::Body;
  EXPECT_TRUE(authorize(worker, false, body_from("w", "echo", body::PING)));
  EXPECT_TRUE(
    authorize(worker, false, body_from("w", "ca", body::CERTIFICATE_REQUEST)));
  EXPECT_FALSE(
    authorize(worker, false, body_from("w", "x", body::CERTIFICATE_REPLY)));
  EXPECT_FALSE(
    authorize(worker, false, body_from("w", "x", body::CONTROL_REQUEST)));
  EXPECT_FALSE(authorize(worker, false, body_from("w", "raft", body::RAFT)));
  ca::certificate_fields manager = worker;
  manager.role = ca::node_role::manager;
  EXPECT_TRUE(
    authorize(manager, false, body_from("w", "x", body::CERTIFICATE_REPLY)));
  EXPECT_TRUE(
    authorize(manager, false, body_from("w", "x", body::CONTROL_REQUEST)));
  EXPECT_TRUE(authorize(manager, false, body_from("w", "raft", body::RAFT)));
}

TEST_F(Session2, UnsealedFramesAreRefusedByASealedSession) {
  auto plain = options_for(a, side::client);
  plain.seal_frames = false;
  client.emplace(plain);
  server.emplace(options_for(b, side::server));
  ASSERT_TRUE(connect(*client, *server));
  const std::string marker = "MARKER-in-clear";
  auto frame = client->seal(control_from(a, marker));
  ASSERT_TRUE(frame);
  EXPECT_TRUE(on_wire(*frame, marker)); // unsealed: the marker shows
  EXPECT_FALSE(deliver(*server, *frame));
}

} // namespace
} // namespace skep::transport

namespace skep::transport {
namespace {

TEST(HostPort, ParsesAddressesAndNamesWhatIsWrong) {
  auto v4 = parse_host_port("127.0.0.1:2377");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 2377);
  auto v6 = parse_host_port("[::1]:80");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->first, "::1");
  for (auto bad : {"", "host", ":80", "host:", "host:0", "host:65536",
                   "host:12ab", "host:99999999999999999999", "[::1:80"}) {
    auto r = parse_host_port(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("invalid address"), std::string::npos);
  }
}

} // namespace
} // namespace skep::transport
