// The node supervisor under the test coordinator: control requests answered
// from the node's state, uptime on virtual time.

#include "actors/node/supervisor.hpp"
#include "tests/support/actor_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/union_tag.hpp"

#include <caf/send.hpp>
#include <capnp/message.h>

namespace skep::node {
namespace {

using namespace std::chrono_literals;

node_state sample_state(const std::string& data_dir = "/var/lib/skep") {
  node_state st;
  st.node_id = "abcdefghijklmnopqrstuvwxy";
  st.config.hostname = "manager-1";
  st.config.data_dir = data_dir;
  st.config.control_socket = data_dir + "/skepd.sock";
  st.config.listen_addr = {"127.0.0.11", 2377};
  st.config.advertise_addr = {"127.0.0.11", 2377};
  st.host.cpus = 2;
  st.host.memory_bytes = 1u << 30;
  st.host.arch = "x86_64";
  st.started_at = std::chrono::system_clock::time_point{1'700'000'000s};
  return st;
}

control_request request_of(void (*fill)(schema::control::Request::Builder)) {
  capnp::MallocMessageBuilder builder;
  fill(builder.initRoot<schema::control::Request>());
  return control_request::from(builder);
}

class SupervisorTest : public test::actor_fixture {
 protected:
  SupervisorTest() {
    supervisor = spawn_supervisor(sys, sample_state(dir.path()), -1, nullptr);
    run();
  }
  ~SupervisorTest() override {
    caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
  }
  test::temp_dir dir;
  supervisor_actor supervisor;
};

TEST_F(SupervisorTest, AnswersInfoWithTheNodesIdentity) {
  auto reply = request<control_reply>(supervisor,
                                      request_of([](auto r) { r.setInfo(); }));
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->root().which(), schema::control::Reply::INFO);
  auto info = reply->root().getInfo();
  EXPECT_EQ(std::string{info.getNodeId().cStr()}, "abcdefghijklmnopqrstuvwxy");
  EXPECT_EQ(std::string{info.getHostname().cStr()}, "manager-1");
  EXPECT_EQ(std::string{info.getListenAddr().cStr()}, "127.0.0.11:2377");
  EXPECT_EQ(info.getLocalNodeState(),
            schema::control::LocalNodeState::INACTIVE);
  EXPECT_FALSE(info.getControlAvailable());
  EXPECT_EQ(info.getCpus(), 2u);
  EXPECT_EQ(info.getStartedAt().getUnixNanos(), 1'700'000'000'000'000'000);
  ASSERT_EQ(info.getActors().size(), 1u); // no control socket in this test
  EXPECT_EQ(std::string{info.getActors()[0].cStr()}, "node");
}

TEST_F(SupervisorTest, UptimeFollowsVirtualTime) {
  auto info_request = request_of([](auto r) { r.setInfo(); });
  auto before = request<control_reply>(supervisor, info_request);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->root().getInfo().getUptime().getNanos(), 0);
  advance(90s);
  auto after = request<control_reply>(supervisor, info_request);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->root().getInfo().getUptime().getNanos(),
            std::chrono::nanoseconds{90s}.count());
}

TEST_F(SupervisorTest, AnswersVersionWithBuildFacts) {
  auto reply = request<control_reply>(
    supervisor, request_of([](auto r) { r.setVersion(); }));
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->root().which(), schema::control::Reply::VERSION);
  auto version = reply->root().getVersion();
  EXPECT_GT(version.getVersion().size(), 0u);
  EXPECT_EQ(std::string{version.getCafVersion().cStr()}, "0.17.6");
  EXPECT_EQ(std::string{version.getOs().cStr()}, "linux");
}

TEST(ControlRequests, UnknownRequestGetsUnsupportedError) {
  // A request whose union tag this build does not know, as a newer client
  // would send.
  auto wire
    = test::with_union_tag<schema::control::Request, schema::control::Request>(
      request_of([](auto r) { r.setInfo(); }), 0x7f);
  auto request = control_request::decode(wire.data(), wire.size());
  ASSERT_TRUE(request);
  auto reply = handle_control_request(sample_state(), *request, 0s, {});
  ASSERT_EQ(reply.root().which(), schema::control::Reply::ERROR);
  EXPECT_EQ(reply.root().getError().getCode(), schema::ErrorCode::UNSUPPORTED);
}

} // namespace
} // namespace skep::node
