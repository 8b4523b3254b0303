#pragma once

// A swarm of real skepd processes on loopback for integration tests and
// benchmarks: each node has its own data dir and port; `skep` runs the real
// client against a node's control socket.

#include "tests/support/process.hpp"

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skep::test {

using namespace std::chrono_literals;

struct node {
  std::string name;
  std::string dir;
  uint16_t port = 0;
  std::unique_ptr<child_process> proc;
  std::string addr() const { return "127.0.0.1:" + std::to_string(port); }
  std::string host() const { return "unix://" + dir + "/skepd.sock"; }
};

class swarm_fixture : public ::testing::Test {
 protected:
  using clock_type = std::chrono::steady_clock;

  ~swarm_fixture() override {
    for (auto& [name, n] : nodes)
      if (n.proc)
        n.proc->signal(SIGKILL);
  }

  node& start(const std::string& name) {
    auto& n = nodes[name];
    if (n.name.empty()) {
      n.name = name;
      n.dir = tmp.path() + "/" + name;
      n.port = free_loopback_port();
    }
    n.proc = std::make_unique<child_process>(
      std::vector<std::string>{SKEPD_PATH, "--data-dir", n.dir, "--listen-addr",
                               n.addr(), "--hostname", name});
    EXPECT_TRUE(n.proc->wait_for_output("serving clients on"))
      << n.proc->output();
    return n;
  }

  command_result skep(const std::string& on, std::vector<std::string> args) {
    std::vector<std::string> argv{SKEP_PATH, "-H", nodes[on].host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }

  /// `node ls --format json` on `on`, by hostname; empty when it fails.
  std::map<std::string, nlohmann::json> node_list(const std::string& on) {
    std::map<std::string, nlohmann::json> out;
    auto r = skep(on, {"node", "ls", "--format", "json"});
    if (r.exit_code != 0)
      return out;
    std::istringstream lines{r.out};
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) {
        auto j = nlohmann::json::parse(line);
        out[j["Hostname"].get<std::string>()] = j;
      }
    return out;
  }

  /// Polls `check` every 50 ms until it holds or `timeout` passes.
  template <class F>
  bool eventually(F&& check, std::chrono::milliseconds timeout = 20s) {
    auto deadline = clock_type::now() + timeout;
    while (clock_type::now() < deadline) {
      if (check())
        return true;
      std::this_thread::sleep_for(50ms); // the polling interval
    }
    return check();
  }

  /// Raft voters as `skep info` on `on` reports them; -1 when it fails.
  int raft_voters(const std::string& on) {
    auto info = skep(on, {"info", "--format", "json"});
    if (info.exit_code != 0)
      return -1;
    return nlohmann::json::parse(info.out)["Swarm"]["Raft"]["Voters"]
      .get<int>();
  }

  std::string token(const std::string& on, const std::string& role) {
    auto r = skep(on, {"swarm", "join-token", "-q", role});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto t = r.out;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' '))
      t.pop_back();
    return t;
  }

  /// Starts `first` and initializes a swarm on it (heartbeat 1 s).
  void init(const std::string& first) {
    start(first);
    auto r = skep(first, {"swarm", "init", "--dispatcher-heartbeat", "1s"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Swarm initialized: current node ("),
              std::string::npos);
    EXPECT_NE(r.out.find("skep swarm join --token SKEP-1-"), std::string::npos);
  }

  void join(const std::string& name, const std::string& via,
            const std::string& role) {
    start(name);
    auto r = skep(
      name, {"swarm", "join", "--token", token(via, role), nodes[via].addr()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "This node joined a swarm as a " + role + ".\n");
  }

  static int count(const std::map<std::string, nlohmann::json>& list,
                   const std::string& key, const std::string& value) {
    int n = 0;
    for (auto& [name, j] : list)
      n += j[key] == value ? 1 : 0;
    return n;
  }

  temp_dir tmp;
  std::map<std::string, node> nodes;
};

} // namespace skep::test
