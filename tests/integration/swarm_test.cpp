// Swarm membership across real skepd processes on loopback, driven by the
// real skep binary: init, joins, node commands, leader failover, Down and
// Ready from heartbeats, restarts, and refused joins.

#include "tests/support/swarm_fixture.hpp"

#include <csignal>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skep {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

const std::string skepd_bin = SKEPD_PATH;
const std::string skep_bin = SKEP_PATH;

class Swarm : public test::swarm_fixture {};

TEST_F(Swarm, FiveNodesFailoverDrainDownAndRestart) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  ASSERT_NO_FATAL_FAILURE(join("m2", "m1", "manager"));
  ASSERT_NO_FATAL_FAILURE(join("m3", "m1", "manager"));
  ASSERT_NO_FATAL_FAILURE(join("w1", "m1", "worker"));
  ASSERT_NO_FATAL_FAILURE(join("w2", "m2", "worker")); // through a follower

  // Five Ready nodes, one Leader, two Reachable.
  std::map<std::string, nlohmann::json> list;
  ASSERT_TRUE(eventually([&] {
    list = node_list("m1");
    return list.size() == 5 && count(list, "Status", "Ready") == 5
           && count(list, "ManagerStatus", "Leader") == 1
           && count(list, "ManagerStatus", "Reachable") == 2;
  }))
    << skep("m1", {"node", "ls"}).out;
  EXPECT_EQ(list["m1"]["ManagerStatus"], "Leader");
  // Both new managers vote before the leader goes.
  ASSERT_TRUE(eventually([&] { return raft_voters("m1") == 3; }))
    << skep("m1", {"info", "--format", "json"}).out;
  EXPECT_EQ(list["m1"]["Self"], true);
  EXPECT_EQ(list["w1"]["ManagerStatus"], "");
  auto table = skep("m1", {"node", "ls"});
  EXPECT_NE(table.out.find("ID"), std::string::npos);
  EXPECT_NE(table.out.find("MANAGER STATUS"), std::string::npos);
  EXPECT_NE(table.out.find(" * "), std::string::npos);

  // Workers cannot see the cluster state.
  auto refused = skep("w1", {"node", "ls"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("This node is not a swarm manager. Worker nodes"),
            std::string::npos)
    << refused.err;

  // SIGKILL the leader: another manager leads, and node ls works there.
  nodes["m1"].proc->signal(SIGKILL);
  nodes["m1"].proc->wait_exit();
  std::string new_leader;
  ASSERT_TRUE(eventually([&] {
    for (auto name : {"m2", "m3"}) {
      auto l = node_list(name);
      if (l.size() == 5 && count(l, "ManagerStatus", "Leader") == 1
          && l["m1"]["ManagerStatus"] != "Leader") {
        for (auto& [host, j] : l)
          if (j["ManagerStatus"] == "Leader")
            new_leader = host;
        return true;
      }
    }
    return false;
  }))
    << nodes["m2"].proc->output();
  EXPECT_TRUE(new_leader == "m2" || new_leader == "m3") << new_leader;
  EXPECT_TRUE(eventually([&] {
    auto l = node_list(new_leader);
    return l["m1"]["Status"] == "Down"
           && l["m1"]["ManagerStatus"] == "Unreachable";
  }));

  // The old leader returns on its data dir and rejoins as Reachable.
  start("m1");
  EXPECT_TRUE(eventually([&] {
    auto l = node_list("m1");
    return l.size() == 5 && l["m1"]["Status"] == "Ready"
           && l["m1"]["ManagerStatus"] == "Reachable"
           && l[new_leader]["ManagerStatus"] == "Leader";
  }))
    << skep("m1", {"node", "ls"}).out << skep("m1", {"node", "ls"}).err;

  // Drain a worker through a follower, then activate it again.
  auto follower = new_leader == "m2" ? "m3" : "m2";
  auto drained
    = skep(follower, {"node", "update", "--availability", "drain", "w1"});
  EXPECT_EQ(drained.exit_code, 0) << drained.err;
  EXPECT_TRUE(eventually(
    [&] { return node_list(new_leader)["w1"]["Availability"] == "Drain"; }));
  auto inspect = skep(new_leader, {"node", "inspect", "w1"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  auto doc = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(doc[0]["Spec"]["Availability"], "drain");
  EXPECT_EQ(doc[0]["Description"]["Hostname"], "w1");
  EXPECT_EQ(
    skep(new_leader, {"node", "update", "--availability", "active", "w1"})
      .exit_code,
    0);
  EXPECT_TRUE(eventually(
    [&] { return node_list(new_leader)["w1"]["Availability"] == "Active"; }));

  // A worker that stops heartbeating shows Down, and Ready when it resumes.
  nodes["w2"].proc->signal(SIGSTOP);
  EXPECT_TRUE(eventually(
    [&] { return node_list(new_leader)["w2"]["Status"] == "Down"; }));
  nodes["w2"].proc->signal(SIGCONT);
  EXPECT_TRUE(eventually(
    [&] { return node_list(new_leader)["w2"]["Status"] == "Ready"; }));
}

TEST_F(Swarm, PromoteDemoteTheLeaderAndRemoveANode) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  ASSERT_NO_FATAL_FAILURE(join("m2", "m1", "manager"));
  ASSERT_NO_FATAL_FAILURE(join("w1", "m1", "worker"));
  ASSERT_NO_FATAL_FAILURE(join("w2", "m1", "worker"));
  ASSERT_TRUE(eventually([&] {
    auto l = node_list("m1");
    return l.size() == 4 && count(l, "Status", "Ready") == 4;
  }));

  // Demoting or removing wrongly is refused with the reason.
  auto rm_manager = skep("m1", {"node", "rm", "m2"});
  EXPECT_EQ(rm_manager.exit_code, 1);
  EXPECT_NE(rm_manager.err.find("demote it first"), std::string::npos);
  auto rm_alive = skep("m1", {"node", "rm", "w2"});
  EXPECT_EQ(rm_alive.exit_code, 1);
  EXPECT_NE(rm_alive.err.find("is not down"), std::string::npos);

  // Promote a worker: it becomes a voting manager and answers node ls.
  auto promoted = skep("m1", {"node", "promote", "w1"});
  ASSERT_EQ(promoted.exit_code, 0) << promoted.err;
  EXPECT_TRUE(eventually([&] {
    auto l = node_list("w1");
    return l["w1"]["ManagerStatus"] == "Reachable";
  }))
    << skep("m1", {"node", "ls"}).out;
  EXPECT_TRUE(eventually([&] { return raft_voters("m1") == 3; }));

  // Demote the leader: leadership moves first, then it becomes a worker.
  auto demoted = skep("m1", {"node", "demote", "m1"});
  ASSERT_EQ(demoted.exit_code, 0) << demoted.err;
  EXPECT_TRUE(eventually([&] {
    auto l = node_list("m2");
    return l["m1"]["ManagerStatus"] == ""
           && count(l, "ManagerStatus", "Leader") == 1;
  }))
    << skep("m2", {"node", "ls"}).out;
  EXPECT_TRUE(eventually([&] {
    auto r = skep("m1", {"node", "ls"});
    return r.exit_code == 1
           && r.err.find("Worker nodes can't be used") != std::string::npos;
  }));

  // A dead worker is removed, and its certificate stops working.
  nodes["w2"].proc->signal(SIGKILL);
  nodes["w2"].proc->wait_exit();
  ASSERT_TRUE(
    eventually([&] { return node_list("m2")["w2"]["Status"] == "Down"; }));
  auto removed = skep("m2", {"node", "rm", "w2"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_TRUE(eventually([&] { return node_list("m2").count("w2") == 0; }));
  start("w2");
  EXPECT_TRUE(nodes["m2"].proc->wait_for_output("was removed from the swarm"))
    << nodes["m2"].proc->output();
}

TEST_F(Swarm, RefusedJoinsLeaveNothingBehind) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  auto old_token = token("m1", "worker");
  auto rotated = skep("m1", {"swarm", "join-token", "--rotate", "worker"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_NE(rotated.out.find("Successfully rotated worker join token."),
            std::string::npos);
  EXPECT_NE(token("m1", "worker"), old_token);

  start("w1");
  auto stale
    = skep("w1", {"swarm", "join", "--token", old_token, nodes["m1"].addr()});
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_NE(stale.err.find("could not join the swarm"), std::string::npos)
    << stale.err;
  struct stat st {};
  EXPECT_NE(::stat((nodes["w1"].dir + "/swarm.state").c_str(), &st), 0);
  auto info = skep("w1", {"info", "--format", "json"});
  EXPECT_EQ(nlohmann::json::parse(info.out)["Swarm"]["LocalNodeState"],
            "inactive");
  EXPECT_EQ(node_list("m1").count("w1"), 0u) << "a refused join was recorded";

  // Malformed tokens and addresses are refused before anything is sent.
  auto garbled = skep(
    "w1", {"swarm", "join", "--token", "SKEP-1-nope", nodes["m1"].addr()});
  EXPECT_EQ(garbled.exit_code, 1);
  EXPECT_NE(garbled.err.find("invalid join token"), std::string::npos);
  auto bad_addr = skep("w1", {"swarm", "join", "--token", token("m1", "worker"),
                              "127.0.0.1:99999"});
  EXPECT_EQ(bad_addr.exit_code, 1);
  EXPECT_NE(bad_addr.err.find("invalid address"), std::string::npos)
    << bad_addr.err;

  // The current token works; a second join or init is refused.
  auto good = skep("w1", {"swarm", "join", "--token", token("m1", "worker"),
                          nodes["m1"].addr()});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  auto again = skep("w1", {"swarm", "init"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already part of a swarm"), std::string::npos);

  // Unknown nodes and bad flags are named.
  auto unknown = skep("m1", {"node", "inspect", "no-such-node"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no-such-node"), std::string::npos);
  auto bad_flag
    = skep("m1", {"node", "update", "--availability", "sleepy", "w1"});
  EXPECT_EQ(bad_flag.exit_code, 1);
  EXPECT_NE(bad_flag.err.find("sleepy"), std::string::npos);
}

TEST_F(Swarm, MembersStopCleanlyAndResumeAfterARestart) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  ASSERT_NO_FATAL_FAILURE(join("w1", "m1", "worker"));
  ASSERT_TRUE(eventually([&] {
    auto l = node_list("m1");
    return l.size() == 2 && count(l, "Status", "Ready") == 2;
  }));
  for (auto name : {"w1", "m1"}) {
    nodes[name].proc->signal(SIGTERM);
    EXPECT_EQ(nodes[name].proc->wait_exit(10s), 0)
      << name << " did not stop cleanly:\n"
      << nodes[name].proc->output();
  }
  start("m1");
  start("w1");
  EXPECT_TRUE(eventually([&] {
    auto l = node_list("m1");
    return l.size() == 2 && count(l, "Status", "Ready") == 2
           && l["m1"]["ManagerStatus"] == "Leader";
  }))
    << skep("m1", {"node", "ls"}).out << skep("m1", {"node", "ls"}).err;
}

TEST_F(Swarm, CertificatesAreRenewedBeforeTheyExpire) {
  // With a one-minute lifetime, renewal starts after 40 s.
  start("m1");
  auto r = skep("m1", {"swarm", "init", "--cert-expiry", "1m",
                       "--dispatcher-heartbeat", "1s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NO_FATAL_FAILURE(join("w1", "m1", "worker"));
  for (auto name : {"w1", "m1"})
    EXPECT_TRUE(nodes[name].proc->wait_for_output("certificate renewed", 70s))
      << name << ":\n"
      << nodes[name].proc->output();
  // Past the first certificate's expiry, both still work together.
  std::this_thread::sleep_for(25s); // let the original certificates expire
  EXPECT_TRUE(eventually([&] {
    auto l = node_list("m1");
    return l.size() == 2 && count(l, "Status", "Ready") == 2;
  }));
  // A reconnect now needs the renewed certificate.
  nodes["w1"].proc->signal(SIGTERM);
  EXPECT_EQ(nodes["w1"].proc->wait_exit(10s), 0);
  start("w1");
  EXPECT_TRUE(eventually([&] {
    auto l = node_list("m1");
    return l["w1"]["Status"] == "Ready";
  }));
}

TEST_F(Swarm, NodeOutsideASwarmSaysSo) {
  start("lone");
  auto r = skep("lone", {"node", "ls"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Use \"skep swarm init\" or \"skep swarm join\""),
            std::string::npos)
    << r.err;
  auto leave = skep("lone", {"swarm", "leave"});
  EXPECT_EQ(leave.exit_code, 1);
  EXPECT_NE(leave.err.find("not part of a swarm"), std::string::npos);
}

TEST_F(Swarm, ManagerLeavesWithForceButNotWhenItWouldBreakQuorum) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  // The only manager may not leave: the swarm would be lost.
  auto last = skep("m1", {"swarm", "leave", "--force"});
  EXPECT_NE(last.exit_code, 0);
  EXPECT_NE(last.err.find("last manager"), std::string::npos) << last.err;

  ASSERT_NO_FATAL_FAILURE(join("m2", "m1", "manager"));
  ASSERT_NO_FATAL_FAILURE(join("m3", "m1", "manager"));
  ASSERT_TRUE(eventually([&] { return raft_voters("m1") == 3; }));
  // Without --force a manager is told to demote first.
  auto refused = skep("m3", {"swarm", "leave"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("participating as a manager"), std::string::npos)
    << refused.err;

  // With m2 down, m3 leaving would leave one reachable voter of two.
  nodes["m2"].proc->signal(SIGKILL);
  nodes["m2"].proc->wait_exit();
  ASSERT_TRUE(
    eventually([&] { return node_list("m1")["m2"]["Status"] == "Down"; }));
  auto breaking = skep("m3", {"swarm", "leave", "--force"});
  EXPECT_NE(breaking.exit_code, 0);
  EXPECT_NE(breaking.err.find("quorum"), std::string::npos) << breaking.err;
  start("m2");
  ASSERT_TRUE(
    eventually([&] { return node_list("m1")["m2"]["Status"] == "Ready"; }));

  // The leader itself leaves: it hands over and is demoted; its record
  // stays, Down, until node rm (as with Docker).
  auto left = skep("m1", {"swarm", "leave", "--force"});
  if (left.exit_code != 0)
    for (auto name : {"m1", "m2", "m3"})
      nodes[name].proc->wait_for_output("never printed", 100ms);
  ASSERT_EQ(left.exit_code, 0)
    << left.err << skep("m2", {"node", "ls"}).out << "m1:\n"
    << nodes["m1"].proc->output() << "m2:\n"
    << nodes["m2"].proc->output() << "m3:\n"
    << nodes["m3"].proc->output();
  EXPECT_EQ(left.out, "Node left the swarm.\n");
  ASSERT_TRUE(eventually([&] {
    auto l = node_list("m2");
    return l.size() == 3 && l["m1"]["ManagerStatus"] == ""
           && l["m1"]["Status"] == "Down"
           && count(l, "ManagerStatus", "Leader") == 1;
  }))
    << skep("m2", {"node", "ls"}).out;
  // m2's replica may still be catching up with the demotion: retry.
  test::command_result rm;
  EXPECT_TRUE(eventually([&] {
    rm = skep("m2", {"node", "rm", "m1"});
    return rm.exit_code == 0;
  }))
    << rm.err;
  // m2 may be a follower that applies the removal a moment later.
  EXPECT_TRUE(eventually([&] { return node_list("m2").count("m1") == 0; }));
  auto info = skep("m1", {"info", "--format", "json"});
  ASSERT_EQ(info.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(info.out)["Swarm"]["LocalNodeState"],
            "inactive")
    << info.out;
  EXPECT_TRUE(eventually([&] { return raft_voters("m2") == 2; }));
}

TEST_F(Swarm, ForceNewClusterRecoversAManagerWhoseQuorumIsLost) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  ASSERT_NO_FATAL_FAILURE(join("m2", "m1", "manager"));
  ASSERT_NO_FATAL_FAILURE(join("m3", "m1", "manager"));
  ASSERT_TRUE(eventually([&] { return raft_voters("m1") == 3; }));
  ASSERT_EQ(
    skep("m1", {"node", "update", "--label-add", "kept=yes", "m1"}).exit_code,
    0);
  // Two of three managers die: no quorum, no writes.
  for (auto name : {"m2", "m3"}) {
    nodes[name].proc->signal(SIGKILL);
    nodes[name].proc->wait_exit();
  }
  ASSERT_TRUE(eventually([&] {
    return skep("m1", {"node", "update", "--label-add", "x=1", "m1"}).exit_code
           != 0;
  }));
  // A worker cannot force anything; the manager can.
  auto forced = skep("m1", {"swarm", "init", "--force-new-cluster"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.out.find("Swarm initialized: current node ("),
            std::string::npos)
    << forced.out;
  // The state is kept, m1 leads alone, the others are workers now.
  std::map<std::string, nlohmann::json> list;
  ASSERT_TRUE(eventually([&] {
    list = node_list("m1");
    return list.size() == 3 && list["m1"]["ManagerStatus"] == "Leader"
           && list["m2"]["ManagerStatus"] == ""
           && list["m3"]["ManagerStatus"] == "";
  }))
    << skep("m1", {"node", "ls"}).out;
  auto inspect = skep("m1", {"node", "inspect", "m1"});
  EXPECT_NE(inspect.out.find("kept"), std::string::npos) << inspect.out;
  EXPECT_EQ(
    skep("m1", {"node", "update", "--label-add", "x=1", "m1"}).exit_code, 0);
  // m2 comes back and rejoins as a worker.
  start("m2");
  ASSERT_TRUE(eventually(
    [&] {
      auto l = node_list("m1");
      auto info = skep("m2", {"info", "--format", "json"});
      return l["m2"]["Status"] == "Ready" && info.exit_code == 0
             && nlohmann::json::parse(info.out)["Swarm"]["ControlAvailable"]
                  == false;
    },
    60s))
    << skep("m1", {"node", "ls"}).out << skep("m2", {"info"}).out
    << nodes["m2"].proc->output();
  EXPECT_EQ(node_list("m1")["m1"]["ManagerStatus"], "Leader");
}

TEST_F(Swarm, JoiningSomethingThatIsNoSkepManagerSaysWhatAnswered) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  // A plain HTTP server on loopback answers whatever it is sent.
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(server, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(server, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len);
  auto port = ntohs(addr.sin_port);
  std::thread http([server] {
    int c = ::accept(server, nullptr, nullptr);
    if (c < 0)
      return;
    char buf[256];
    (void)::recv(c, buf, sizeof buf, 0);
    std::string reply = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    (void)::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::shutdown(c, SHUT_WR);
    (void)::recv(c, buf, sizeof buf, 0);
    ::close(c);
  });
  start("w1");
  auto r = skep("w1", {"swarm", "join", "--token", token("m1", "worker"),
                       "127.0.0.1:" + std::to_string(port)});
  ::shutdown(server, SHUT_RDWR);
  ::close(server);
  http.join();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not speak Skep's protocol"), std::string::npos)
    << r.err;
  EXPECT_NE(r.err.find("HTTP/1.1 400 Bad Request"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("exceeds the limit"), std::string::npos) << r.err;
}

TEST_F(Swarm, ALeavingWorkerIsDownAtOnceAndTheLogIsTheOwnersOnly) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  ASSERT_NO_FATAL_FAILURE(join("w1", "m1", "worker"));
  ASSERT_TRUE(
    eventually([&] { return node_list("m1")["w1"]["Status"] == "Ready"; }));
  // The Raft log holds the cluster's secrets: the owner's only.
  for (auto file : {"/raft.db", "/raft.db-wal"}) {
    struct stat st {};
    ASSERT_EQ(::stat((nodes["m1"].dir + file).c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
  auto left = skep("w1", {"swarm", "leave"});
  ASSERT_EQ(left.exit_code, 0) << left.err;
  // Its leave told the leader: Down with the reason, not a heartbeat
  // failure three periods later.
  auto inspect = skep("m1", {"node", "inspect", "w1"});
  ASSERT_TRUE(eventually([&] {
    inspect = skep("m1", {"node", "inspect", "w1"});
    return node_list("m1")["w1"]["Status"] == "Down";
  }));
  EXPECT_NE(inspect.out.find("the node left the swarm"), std::string::npos)
    << inspect.out;
}

TEST_F(Swarm, SettingsOutOfRangeAreRefusedNamingTheRange) {
  ASSERT_NO_FATAL_FAILURE(init("m1"));
  struct bad {
    std::vector<std::string> args;
    std::string says;
  };
  for (const auto& c : std::vector<bad>{
         {{"--task-history-limit", "4294967296"},
          "not in range 0 to 4294967295"},
         {{"--task-history-limit", "-1"}, "not in range 0 to 4294967295"},
         {{"--snapshot-interval", "4294967296"}, "not in range 1 to 10000000"},
         {{"--dispatcher-heartbeat", "9999h"}, "between 1s and 1h"},
         {{"--cert-expiry", "100000h"}, "between 1m and 87600h"}}) {
    auto args = c.args;
    args.insert(args.begin(), {"swarm", "update"});
    auto r = skep("m1", args);
    EXPECT_NE(r.exit_code, 0) << c.args[0];
    EXPECT_NE(r.err.find(c.says), std::string::npos)
      << c.args[0] << " " << c.args[1] << ": " << r.err;
    EXPECT_EQ(r.err.find("e+308"), std::string::npos) << r.err;
  }
  EXPECT_EQ(skep("m1", {"info", "--format", "json"})
              .out.find("\"TaskHistoryRetentionLimit\":0"),
            std::string::npos);
  auto ok
    = skep("m1", {"swarm", "update", "--task-history-limit", "4294967295"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

} // namespace
} // namespace skep
