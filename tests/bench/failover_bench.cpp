// Leader failover and Down detection of a real swarm on loopback, with the
// default settings: 3 skepd managers and 1 worker on this machine, driven by
// the skep binary.
//
// Per trial: find the leader, SIGKILL it, then try a replicated write (a
// label on a surviving manager's node, committed through the new leader)
// on the survivors every 5 ms until one succeeds: the time from the kill to
// that success is the write unavailability. Restart the killed manager,
// wait until it is a voter again, repeat. Then SIGKILL the worker and time
// until `node ls` shows it Down.
//
//   bench_failover [--trials N] [--idle SECONDS]
//
// --idle watches the leader's term for that long with nothing happening and
// reports any election (there should be none).

#include "tests/support/process.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <map>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace std::chrono;
using namespace std::chrono_literals;
using clock_type = steady_clock;
using skep::test::child_process;

struct member {
  std::string name, dir, id;
  uint16_t port = 0;
  std::unique_ptr<child_process> proc;
  std::string addr() const { return "127.0.0.1:" + std::to_string(port); }
  std::string host() const { return "unix://" + dir + "/skepd.sock"; }
};

class bench {
 public:
  explicit bench(std::string root) : root_(std::move(root)) {}

  ~bench() {
    for (auto& [name, m] : members_)
      if (m.proc)
        m.proc->signal(SIGKILL);
  }

  void start(const std::string& name) {
    auto& m = members_[name];
    if (m.name.empty()) {
      m.name = name;
      m.dir = root_ + "/" + name;
      m.port = skep::test::free_loopback_port();
    }
    m.proc = std::make_unique<child_process>(std::vector<std::string>{
      SKEPD_PATH, "--data-dir", m.dir, "--listen-addr", m.addr(), "--hostname",
      name, "--log-level", "warn"});
    if (!wait_socket(m))
      die("skepd " + name + " did not start");
  }

  bool wait_socket(member& m) {
    return eventually([&] { return skep(m.name, {"version"}).exit_code == 0; },
                      10s);
  }

  skep::test::command_result skep(const std::string& on,
                                  std::vector<std::string> args,
                                  milliseconds timeout = 10s) {
    std::vector<std::string> argv{SKEP_PATH, "-H", members_[on].host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return skep::test::run_command(argv, {}, timeout);
  }

  template <class F>
  static bool eventually(F&& check, milliseconds timeout,
                         milliseconds every = 20ms) {
    auto deadline = clock_type::now() + timeout;
    while (clock_type::now() < deadline) {
      if (check())
        return true;
      std::this_thread::sleep_for(every);
    }
    return false;
  }

  [[noreturn]] static void die(const std::string& why) {
    fmt::print(stderr, "bench_failover: {}\n", why);
    std::exit(1);
  }

  nlohmann::json info(const std::string& on) {
    auto r = skep(on, {"info", "--format", "json"}, 2s);
    if (r.exit_code != 0)
      return {};
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  std::string token(const std::string& role) {
    auto r = skep("m1", {"swarm", "join-token", "-q", role});
    auto t = r.out;
    while (!t.empty() && t.back() == '\n')
      t.pop_back();
    return t;
  }

  void setup() {
    for (auto name : {"m1", "m2", "m3", "w1"})
      start(name);
    if (skep("m1", {"swarm", "init"}).exit_code != 0)
      die("swarm init failed");
    for (auto name : {"m2", "m3"})
      if (skep(name, {"swarm", "join", "--token", token("manager"),
                      members_["m1"].addr()})
            .exit_code
          != 0)
        die(fmt::format("{} could not join", name));
    if (skep("w1", {"swarm", "join", "--token", token("worker"),
                    members_["m1"].addr()})
          .exit_code
        != 0)
      die("w1 could not join");
    for (auto& [name, m] : members_)
      m.id = info(name)["ID"].get<std::string>();
    if (!all_voters())
      die("the managers did not all become voters");
  }

  bool all_voters() {
    return eventually(
      [&] {
        auto i = info(leader());
        return !i.empty() && i["Swarm"]["Raft"]["Voters"] == 3;
      },
      30s, 50ms);
  }

  /// The hostname of the leader, as any reachable manager reports it.
  std::string leader() {
    for (auto name : {"m1", "m2", "m3"}) {
      if (!members_[name].proc)
        continue;
      auto i = info(name);
      if (i.empty() || !i["Swarm"].contains("Raft"))
        continue;
      auto id = i["Swarm"]["Raft"]["Leader"].get<std::string>();
      for (auto& [n, m] : members_)
        if (m.id == id && !id.empty())
          return n;
    }
    return {};
  }

  /// One failover: milliseconds from SIGKILL of the leader to a committed
  /// write through a survivor.
  double failover(int trial) {
    std::string old;
    if (!eventually([&] { return !(old = leader()).empty(); }, 20s))
      die("no leader");
    std::vector<std::string> survivors;
    for (auto name : {"m1", "m2", "m3"})
      if (name != old)
        survivors.push_back(name);
    auto t0 = clock_type::now();
    members_[old].proc->signal(SIGKILL);
    size_t i = 0;
    int attempt = 0;
    for (;;) {
      auto& s = survivors[i++ % survivors.size()];
      auto label = fmt::format("bench={}-{}", trial, ++attempt);
      auto r = skep(s, {"node", "update", "--label-add", label, s}, 2s);
      if (r.exit_code == 0)
        break;
      if (clock_type::now() - t0 > 60s)
        die("no write succeeded within 60 s of the leader's death");
      std::this_thread::sleep_for(5ms);
    }
    auto ms = duration<double, std::milli>(clock_type::now() - t0).count();
    members_[old].proc->wait_exit();
    start(old);
    if (!all_voters())
      die("the restarted manager did not vote again");
    return ms;
  }

  /// Milliseconds from SIGKILL of the worker to `node ls` showing it Down.
  double worker_down() {
    auto t0 = clock_type::now();
    members_["w1"].proc->signal(SIGKILL);
    auto lead = leader();
    bool down = eventually(
      [&] {
        auto r = skep(lead, {"node", "ls", "--format", "json"}, 2s);
        std::istringstream lines{r.out};
        for (std::string line; std::getline(lines, line);) {
          auto j = nlohmann::json::parse(line, nullptr, false);
          if (j.is_object() && j["Hostname"] == "w1" && j["Status"] == "Down")
            return true;
        }
        return false;
      },
      120s, 50ms);
    if (!down)
      die("the worker never showed Down");
    return duration<double, std::milli>(clock_type::now() - t0).count();
  }

  /// Elections seen while watching the term for `seconds`.
  int elections_while_idle(int seconds) {
    auto term = [&] {
      auto i = info(leader());
      return i.empty() ? uint64_t{0}
                       : i["Swarm"]["Raft"]["Term"].get<uint64_t>();
    };
    auto first = term();
    auto deadline = clock_type::now() + std::chrono::seconds{seconds};
    uint64_t last = first;
    while (clock_type::now() < deadline) {
      last = std::max(last, term());
      std::this_thread::sleep_for(500ms);
    }
    return static_cast<int>(last - first);
  }

 private:
  std::string root_;
  std::map<std::string, member> members_;
};

} // namespace

int main(int argc, char** argv) {
  int trials = 10;
  int idle = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--trials")
      trials = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--idle")
      idle = std::max(0, std::atoi(argv[i + 1]));
  }
  skep::test::temp_dir tmp;
  bench b(tmp.path());
  fmt::print("3 skepd managers + 1 worker on loopback, default settings "
             "(Raft tick 50 ms, election 10 ticks, heartbeat 5 s)\n");
  b.setup();
  std::vector<double> ms;
  for (int t = 0; t < trials; ++t) {
    ms.push_back(b.failover(t));
    fmt::print("trial {:2}: leader SIGKILL -> committed write {:7.1f} ms\n", t,
               ms.back());
    std::fflush(stdout);
  }
  std::sort(ms.begin(), ms.end());
  fmt::print("leader failover: median {:.1f} ms, min {:.1f}, max {:.1f} over "
             "{} trials (target: median < 1000 ms; etcd defaults ~1400 ms "
             "here)\n",
             ms[ms.size() / 2], ms.front(), ms.back(), ms.size());
  if (idle > 0)
    fmt::print("idle {} s: {} elections (target 0)\n", idle,
               b.elections_while_idle(idle));
  fmt::print("worker SIGKILL -> Down: {:.0f} ms (3 heartbeat periods of 5 s, "
             "then a commit)\n",
             b.worker_down());
  return 0;
}
