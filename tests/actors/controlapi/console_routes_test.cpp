// Console actor names and which messages each actor accepts: the manager
// checks every Delivery with these before anything is sent.

#include "actors/controlapi/console_routes.hpp"

#include <gtest/gtest.h>

namespace skep::controlapi {
namespace {

using body = schema::Envelope::Body::Which;

console_target target(std::string_view name) {
  auto t = parse_console_target(name);
  EXPECT_TRUE(t) << name << ": " << t.error().message;
  return t ? *t : console_target{};
}

std::string refusal(std::string_view name) {
  auto t = parse_console_target(name);
  EXPECT_FALSE(t) << name;
  return t ? std::string{} : t.error().message;
}

TEST(ConsoleRoutes, ReadsEveryActorForm) {
  EXPECT_EQ(target("leader/controlapi").kind, console_target_kind::controlapi);
  EXPECT_EQ(target("dispatcher").kind, console_target_kind::dispatcher);
  EXPECT_EQ(target("scheduler").kind, console_target_kind::scheduler);
  auto r = target("reconciler/web-1");
  EXPECT_EQ(r.kind, console_target_kind::reconciler);
  EXPECT_EQ(r.service, "web-1");
  auto a = target("node/w1/agent");
  EXPECT_EQ(a.kind, console_target_kind::node_actor);
  EXPECT_EQ(a.node, "w1");
  EXPECT_EQ(a.route, "agent");
  auto t = target("node/m2.local/transport");
  EXPECT_EQ(t.node, "m2.local");
  EXPECT_EQ(t.route, "transport");
}

TEST(ConsoleRoutes, OnlyNodeActorsRunOffTheLeader) {
  EXPECT_FALSE(runs_on_leader(target("node/w1/agent")));
  EXPECT_FALSE(runs_on_leader(target("node/w1/transport")));
  EXPECT_TRUE(runs_on_leader(target("leader/controlapi")));
  EXPECT_TRUE(runs_on_leader(target("reconciler/web")));
  EXPECT_TRUE(runs_on_leader(target("scheduler")));
}

TEST(ConsoleRoutes, RefusesUnknownAndMalformedNames) {
  auto unknown = refusal("schedular");
  EXPECT_NE(unknown.find("unknown actor 'schedular'"), std::string::npos)
    << unknown;
  EXPECT_NE(unknown.find("reconciler/SERVICE"), std::string::npos) << unknown;
  EXPECT_NE(refusal("reconciler/").find("does not name a service"),
            std::string::npos);
  EXPECT_NE(refusal("reconciler/../etc").find("does not name a service"),
            std::string::npos);
  EXPECT_NE(refusal("node/w1").find("node/NAME/agent"), std::string::npos);
  EXPECT_NE(refusal("node/w1/scheduler").find("node/NAME/transport"),
            std::string::npos);
  EXPECT_NE(refusal("node//agent").find("does not name a node"),
            std::string::npos);
  refusal("node/w 1/agent");
  refusal("reconciler/" + std::string(129, 'a'));
  refusal("");
  refusal("leader/controlapi/extra");
}

TEST(ConsoleRoutes, EachActorAcceptsItsOwnMessages) {
  auto ok = [](std::string_view name, body which, bool one_way = false) {
    return bool(check_console_body(target(name), which, one_way));
  };
  EXPECT_TRUE(ok("leader/controlapi", body::CONTROL_REQUEST));
  EXPECT_FALSE(ok("leader/controlapi", body::PING));
  EXPECT_TRUE(ok("node/w1/agent", body::TASK_LOGS));
  EXPECT_FALSE(ok("node/w1/agent", body::FAULT));
  EXPECT_TRUE(ok("node/w1/transport", body::PING));
  EXPECT_TRUE(ok("node/w1/transport", body::FAULT));
  EXPECT_FALSE(ok("node/w1/transport", body::CONTROL_REQUEST));
  EXPECT_TRUE(ok("dispatcher", body::HEARTBEAT, true));
  EXPECT_TRUE(ok("dispatcher", body::TASK_STATUS, true));
  EXPECT_TRUE(ok("dispatcher", body::INSPECT));
  EXPECT_FALSE(ok("dispatcher", body::RECONCILE));
  EXPECT_TRUE(ok("scheduler", body::INSPECT));
  EXPECT_FALSE(ok("scheduler", body::RECONCILE));
  EXPECT_TRUE(ok("reconciler/web", body::RECONCILE, true));
  EXPECT_TRUE(ok("reconciler/web", body::INSPECT));
  EXPECT_FALSE(ok("reconciler/web", body::HEARTBEAT));
}

TEST(ConsoleRoutes, RefusalsSayWhatTheActorAccepts) {
  auto r = check_console_body(target("scheduler"), body::RECONCILE, false);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("accepts inspect"), std::string::npos)
    << r.error().message;
  auto sent = check_console_body(target("reconciler/web"), body::INSPECT, true);
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().message.find("call it"), std::string::npos)
    << sent.error().message;
}

} // namespace
} // namespace skep::controlapi
