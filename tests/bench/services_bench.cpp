// Services on a real swarm on loopback: 1 skepd manager + 3 skepd workers on
// this machine, driven by the skep binary.
//
// End to end (process runtime, dispatcher heartbeat 1 s), per trial on a
// fresh swarm: the time from `service create --replicas 300 sleep 100000`
// to 300/300 Running, then the time from SIGKILL of one worker's skepd to
// 300 tasks Running again, none of them on the dead worker. The manager
// takes tasks too, as in Docker. Every task process is killed after each
// trial (those of the killed worker outlive its skepd).
//
// Manager memory (sim runtime everywhere, the manager drained so that its
// own agent holds no tasks): the manager skepd's VmRSS before and after
// 10,000, 20,000 and 30,000 replicas are Running (one service scaled up, or
// more services of 10,000 when scaling fails), and the time each step takes
// to converge.
//
//   bench_services [--trials N] [--skip-e2e] [--skip-memory]
//                  [--max-tasks N] [--poll-ms N] [--keep-logs DIR]
//                  [--malloc-arena-max N]
//
// Figures only: nothing here passes or fails. Logs of every skepd go to
// DATA-DIR.log (--log-level info), copied to --keep-logs DIR as
// RUN-NODE.log when given; what the manager logged at warn or error is
// printed after each run. --malloc-arena-max sets MALLOC_ARENA_MAX for the
// skepds of the memory part: glibc's per-thread arenas keep freed memory
// resident, so the default RSS growth is an upper bound on what the manager
// keeps per task.

#include "tests/support/process.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace std::chrono;
using namespace std::chrono_literals;
using clock_type = steady_clock;
using json = nlohmann::json;
using skep::test::child_process;
using skep::test::processes_under;

/// Set by SIGINT/SIGTERM: the loops stop and everything started is cleaned.
std::atomic<bool> interrupted{false};

/// --poll-ms: how often the end-to-end part polls.
milliseconds poll_every = 20ms;

/// --keep-logs: a directory the skepd logs are copied to after each run.
std::string keep_logs;

/// --malloc-arena-max: MALLOC_ARENA_MAX for the skepds of the memory part
/// (empty: glibc's default), to tell retained data from arena slack.
std::string malloc_arena_max;

extern "C" void on_signal(int) {
  interrupted = true;
}

/// What ends a run early; the swarm's destructor still cleans up.
struct bench_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double ms_since(clock_type::time_point t0) {
  return duration<double, std::milli>(clock_type::now() - t0).count();
}

/// A field of /proc/PID/status in KiB (VmRSS, RssAnon, ...); -1 if absent.
long status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0)
      return std::atol(line.c_str() + field.size() + 1);
  return -1;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);)
    if (auto j = json::parse(line, nullptr, false); j.is_object())
      out.push_back(std::move(j));
  return out;
}

bool starts_with(const json& value, const std::string& prefix) {
  return value.is_string()
         && value.get_ref<const std::string&>().rfind(prefix, 0) == 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct node {
  std::string name, dir;
  uint16_t port = 0;
  std::unique_ptr<child_process> proc;
  std::string addr() const { return "127.0.0.1:" + std::to_string(port); }
  std::string host() const { return "unix://" + dir + "/skepd.sock"; }
  std::string log() const { return dir + ".log"; }
};

/// 1 manager (m1) + 3 workers (w1..w3) under `root`, all on `runtime`.
/// The destructor kills every skepd and every task process it left.
class swarm {
 public:
  /// `label` names the copies of the logs kept under --keep-logs.
  swarm(std::string root, std::string runtime, std::string label)
    : root_(std::move(root)), runtime_(std::move(runtime)),
      label_(std::move(label)) {}

  ~swarm() {
    for (auto& [name, n] : nodes_)
      if (n.proc) {
        n.proc->signal(SIGKILL);
        n.proc->wait_exit(10s);
      }
    if (!keep_logs.empty())
      for (auto& [name, n] : nodes_) {
        std::error_code ec;
        std::filesystem::copy_file(
          n.log(), fmt::format("{}/{}-{}.log", keep_logs, label_, name),
          std::filesystem::copy_options::overwrite_existing, ec);
      }
    // No skepd is left to start more: kill the task processes, and reap
    // those that were reparented to us (we are their subreaper).
    for (int round = 0; round < 50; ++round) {
      auto left = processes_under(root_);
      for (auto pid : left)
        ::kill(pid, SIGKILL);
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      if (left.empty())
        break;
      std::this_thread::sleep_for(20ms);
    }
  }

  swarm(const swarm&) = delete;
  swarm& operator=(const swarm&) = delete;

  node& operator[](const std::string& name) { return nodes_.at(name); }

  /// Starts the four skepds, initializes the swarm on m1 with `heartbeat`
  /// and joins the workers; returns once `node ls` shows 4 nodes Ready.
  void setup(const std::string& heartbeat) {
    for (auto name : {"m1", "w1", "w2", "w3"})
      start(name);
    auto init
      = skep("m1", {"swarm", "init", "--dispatcher-heartbeat", heartbeat});
    if (init.exit_code != 0)
      fail("swarm init failed: " + init.err);
    auto token = skep("m1", {"swarm", "join-token", "-q", "worker"}).out;
    while (!token.empty() && (token.back() == '\n' || token.back() == ' '))
      token.pop_back();
    for (auto name : {"w1", "w2", "w3"}) {
      auto r
        = skep(name, {"swarm", "join", "--token", token, nodes_["m1"].addr()});
      if (r.exit_code != 0)
        fail(fmt::format("{} could not join: {}", name, r.err));
    }
    if (!eventually([&] { return ready_nodes() == 4; }, 30s, 50ms))
      fail("the 4 nodes did not all become Ready");
  }

  skep::test::command_result skep(const std::string& on,
                                  std::vector<std::string> args,
                                  milliseconds timeout = 10s) {
    if (interrupted)
      throw bench_failure("interrupted");
    std::vector<std::string> argv{SKEP_PATH, "-H", nodes_[on].host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return skep::test::run_command(argv, {}, timeout);
  }

  /// Polls `check` every `every` until it holds (true) or `timeout` passes.
  template <class F>
  static bool eventually(F&& check, milliseconds timeout,
                         milliseconds every = 20ms) {
    auto deadline = clock_type::now() + timeout;
    while (clock_type::now() < deadline) {
      if (interrupted)
        throw bench_failure("interrupted");
      if (check())
        return true;
      std::this_thread::sleep_for(every);
    }
    return false;
  }

  int ready_nodes() {
    int n = 0;
    for (auto& j :
         json_lines(skep("m1", {"node", "ls", "--format", "json"}, 5s).out))
      n += j["Status"] == "Ready" ? 1 : 0;
    return n;
  }

  /// Running and desired tasks summed over every service, from `service ls`
  /// Replicas; {-1, -1} on error.
  std::pair<long, long> replicas_total() {
    auto r = skep("m1", {"service", "ls", "--format", "json"}, 10s);
    if (r.exit_code != 0)
      return {-1, -1};
    long running = 0, desired = 0;
    for (auto& j : json_lines(r.out)) {
      long a = 0, b = 0;
      std::sscanf(j["Replicas"].get<std::string>().c_str(), "%ld/%ld", &a, &b);
      running += a;
      desired += b;
    }
    return {running, desired};
  }

  /// Tasks of `service` with desired state Running, as `service ps` lists
  /// them (no-trunc JSON); empty on error.
  std::vector<json> desired_running(const std::string& service) {
    auto r = skep("m1",
                  {"service", "ps", "--no-trunc", "--format", "json", "-f",
                   "desired-state=running", service},
                  10s);
    return r.exit_code == 0 ? json_lines(r.out) : std::vector<json>{};
  }

  /// What the node's log holds at warn level or above, at most `max` lines.
  std::string warnings(const std::string& name, size_t max = 20) const {
    std::ifstream in(nodes_.at(name).log());
    std::string out;
    size_t count = 0;
    for (std::string line; std::getline(in, line);)
      if (line.find(" WARN ") != std::string::npos
          || line.find(" ERROR ") != std::string::npos) {
        if (++count <= max)
          out += "    " + line + "\n";
      }
    if (count > max)
      out += fmt::format("    ... {} more\n", count - max);
    return out;
  }

  /// When the node first logged a line containing `needle` (log lines
  /// start with a UTC time to the millisecond); nothing if it did not.
  std::optional<system_clock::time_point>
  first_logged(const std::string& name, const std::string& needle) const {
    std::ifstream in(nodes_.at(name).log());
    for (std::string line; std::getline(in, line);) {
      if (line.find(needle) == std::string::npos)
        continue;
      std::tm tm{};
      int ms = 0;
      if (std::sscanf(line.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year,
                      &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                      &tm.tm_sec, &ms)
          != 7)
        return std::nullopt;
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      return system_clock::from_time_t(timegm(&tm)) + milliseconds{ms};
    }
    return std::nullopt;
  }

  /// The last `lines` lines of the node's log.
  std::string log_tail(const std::string& name, size_t lines = 30) const {
    std::ifstream in(nodes_.at(name).log());
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);)
      all.push_back(line);
    std::string out;
    for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size();
         ++i)
      out += "    " + all[i] + "\n";
    return out;
  }

  /// Throws, with the manager's last log lines in the message.
  [[noreturn]] void fail(const std::string& why) const {
    throw bench_failure(
      fmt::format("{}\n  manager log (last lines):\n{}", why, log_tail("m1")));
  }

 private:
  void start(const std::string& name) {
    auto& n = nodes_[name];
    n.name = name;
    n.dir = root_ + "/" + name;
    n.port = skep::test::free_loopback_port();
    n.proc = std::make_unique<child_process>(std::vector<std::string>{
      SKEPD_PATH, "--data-dir", n.dir, "--listen-addr", n.addr(), "--hostname",
      name, "--runtime", runtime_, "--log-level", "info", "--log-file",
      n.log()});
    if (!eventually([&] { return skep(name, {"version"}, 2s).exit_code == 0; },
                    10s, 20ms))
      throw bench_failure(
        fmt::format("skepd {} did not start: {}", name, n.proc->output()));
  }

  std::string root_;
  std::string runtime_;
  std::string label_;
  std::map<std::string, node> nodes_;
};

/// Counts what a poll loop did, to report its granularity.
struct poll_stats {
  int polls = 0;
  double busy_ms = 0; // time spent inside the skep commands

  template <class F>
  auto operator()(F&& f) {
    auto t0 = clock_type::now();
    auto r = f();
    ++polls;
    busy_ms += ms_since(t0);
    return r;
  }
  double mean_ms() const { return polls == 0 ? 0 : busy_ms / polls; }
};

struct e2e_figures {
  double create_ms = 0;   // `service create --detach` itself
  double converge_ms = 0; // create -> 300/300 Running
  double failover_ms = 0; // SIGKILL -> 300 Running, none on the dead worker
  double down_ms = -1;    // SIGKILL -> the manager logs the worker is down
  int moved = 0;          // tasks the dead worker held
  double poll_mean_ms = 0;
  std::string spread, spread_after; // tasks per node
};

std::string spread_text(const std::map<std::string, int>& per_node) {
  std::string out;
  for (auto& [name, n] : per_node)
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", name, n);
  return out;
}

constexpr int e2e_replicas = 300;

/// Where the Running tasks of a `service ps -f desired-state=running` list
/// are.
struct placement {
  int running = 0;               // desired Running and Running
  std::set<std::string> slots;   // their names (service.slot)
  std::map<std::string, int> on; // their count by node
  int desired_on_dead = 0;       // desired Running on the dead node

  placement(const std::vector<json>& tasks, const std::string& dead = "") {
    for (auto& t : tasks) {
      auto node = t["Node"].get<std::string>();
      desired_on_dead += node == dead ? 1 : 0;
      if (!starts_with(t["CurrentState"], "Running"))
        continue;
      ++running;
      slots.insert(t["Name"].get<std::string>());
      ++on[node];
    }
  }

  int on_node(const std::string& name) const {
    auto it = on.find(name);
    return it == on.end() ? 0 : it->second;
  }

  /// What is wrong with it, for a swarm with `processes` task processes on
  /// live nodes; empty when each slot runs once, in one process.
  std::string problems(size_t processes) const {
    if (running == e2e_replicas && slots.size() == e2e_replicas
        && processes == e2e_replicas && desired_on_dead == 0)
      return {};
    return fmt::format("{} tasks Running in {} slots, {} task processes on "
                       "live nodes, {} desired Running on the dead node "
                       "(want {}, {}, {}, 0)",
                       running, slots.size(), processes, desired_on_dead,
                       e2e_replicas, e2e_replicas, e2e_replicas);
  }
};

e2e_figures e2e_trial(int trial) {
  skep::test::temp_dir tmp;
  swarm s(tmp.path(), "process", fmt::format("e2e{}", trial));
  s.setup("1s");
  e2e_figures f;
  poll_stats polls;

  auto t0 = clock_type::now();
  auto create = s.skep("m1", {"service", "create", "--detach", "--name",
                              "bench", "--replicas",
                              std::to_string(e2e_replicas), "sleep", "100000"});
  f.create_ms = ms_since(t0);
  if (create.exit_code != 0)
    s.fail("service create failed: " + create.err);
  std::pair<long, long> seen;
  if (!swarm::eventually(
        [&] {
          seen = polls([&] { return s.replicas_total(); });
          return seen.first == e2e_replicas && seen.second == e2e_replicas;
        },
        60s, poll_every))
    s.fail(fmt::format("trial {}: 60 s after create, {}/{} Running", trial,
                       seen.first, seen.second));
  f.converge_ms = ms_since(t0);
  placement before{s.desired_running("bench")};
  if (auto bad = before.problems(processes_under(tmp.path()).size());
      !bad.empty())
    fmt::print("  trial {}: after create: {}\n", trial, bad);
  f.moved = before.on_node("w1");
  f.spread = spread_text(before.on);

  // SIGKILL w1's skepd: its tasks must run elsewhere, and none may still be
  // meant to run on w1.
  auto t1 = clock_type::now();
  auto killed_at = system_clock::now();
  s["w1"].proc->signal(SIGKILL);
  std::optional<placement> after;
  bool moved = swarm::eventually(
    [&] {
      after.emplace(polls([&] { return s.desired_running("bench"); }), "w1");
      return after->running - after->on_node("w1") == e2e_replicas
             && after->desired_on_dead == 0;
    },
    60s, poll_every);
  f.failover_ms = ms_since(t1);
  if (!moved)
    s.fail(fmt::format("trial {}: 60 s after SIGKILL of w1: {} Running "
                       "elsewhere, {} still desired Running on w1",
                       trial, after->running - after->on_node("w1"),
                       after->desired_on_dead));
  f.spread_after = spread_text(after->on);
  s["w1"].proc->wait_exit();
  size_t alive = 0;
  for (auto name : {"m1", "w2", "w3"})
    alive += processes_under(tmp.path() + "/" + name).size();
  if (auto bad = after->problems(alive); !bad.empty())
    fmt::print("  trial {}: after failover: {}\n", trial, bad);
  f.poll_mean_ms = polls.mean_ms();
  if (auto down = s.first_logged("m1", " is down"))
    f.down_ms = duration<double, std::milli>(*down - killed_at).count();
  auto warn = s.warnings("m1");
  if (!warn.empty())
    fmt::print("  trial {}: manager warnings/errors:\n{}", trial, warn);
  return f;
}

void run_e2e(int trials) {
  fmt::print("== end to end: 1 manager + 3 workers on loopback, process "
             "runtime, dispatcher heartbeat 1 s, {} replicas of `sleep "
             "100000` (the manager takes tasks too)\n",
             e2e_replicas);
  fmt::print("   polling `skep service ls` (create) and `skep service ps -f "
             "desired-state=running` (failover) every {} ms\n",
             poll_every.count());
  std::vector<double> create, failover;
  double poll_ms = 0;
  for (int t = 0; t < trials; ++t) {
    auto f = e2e_trial(t);
    create.push_back(f.converge_ms);
    failover.push_back(f.failover_ms);
    poll_ms = std::max(poll_ms, f.poll_mean_ms);
    fmt::print("trial {}: create -> {}/{} Running {:7.1f} ms (the create "
               "command: {:.0f} ms); SIGKILL worker -> its {} tasks Running "
               "elsewhere {:7.1f} ms; one poll takes {:.0f} ms\n"
               "         Running per node: {} -> {}; the manager logged the "
               "worker down {:.0f} ms after the kill\n",
               t, e2e_replicas, e2e_replicas, f.converge_ms, f.create_ms,
               f.moved, f.failover_ms, f.poll_mean_ms, f.spread, f.spread_after,
               f.down_ms);
    std::fflush(stdout);
  }
  fmt::print("median over {} trials: create -> all Running {:.1f} ms (target "
             "< 3000), worker SIGKILL -> all Running elsewhere {:.1f} ms "
             "(target < 5000)\n",
             trials, median(create), median(failover));
  fmt::print("   granularity: a poll every {} ms plus up to {:.0f} ms for "
             "the poll itself (the figures may be late by that much)\n",
             poll_every.count(), poll_ms);
}

void run_memory(int max_tasks) {
  fmt::print(
    "== manager memory: 1 manager + 3 workers on loopback, sim "
    "runtime, the manager drained (its agent holds no tasks){}\n",
    malloc_arena_max.empty() ? "" : ", MALLOC_ARENA_MAX=" + malloc_arena_max);
  skep::test::temp_dir tmp;
  if (!malloc_arena_max.empty())
    ::setenv("MALLOC_ARENA_MAX", malloc_arena_max.c_str(), 1);
  swarm s(tmp.path(), "sim", "memory");
  s.setup("5s"); // the skepds inherit MALLOC_ARENA_MAX
  ::unsetenv("MALLOC_ARENA_MAX");
  if (s.skep("m1", {"node", "update", "--availability", "drain", "m1"})
        .exit_code
      != 0)
    s.fail("could not drain m1");
  std::this_thread::sleep_for(2s);
  auto pid = s["m1"].proc->pid();
  auto rss0 = status_kib(pid, "VmRSS");
  fmt::print("manager before: VmRSS {} KiB (RssAnon {} KiB)\n", rss0,
             status_kib(pid, "RssAnon"));
  long prev_rss = rss0;
  // Scaling one service is what the figure is about, but `service scale`
  // reads all the service's tasks first, and past about 10,000 tasks that
  // reply exceeds the client's 4 MiB frame limit: then each further 10,000
  // tasks come as one more service.
  int services = 1;
  bool scale_works = true;
  for (int n = 10000; n <= max_tasks; n += 10000) {
    auto t0 = clock_type::now();
    auto create = [&] {
      return s.skep("m1",
                    {"service", "create", "--detach", "--name",
                     fmt::format("mem{}", services), "--replicas", "10000",
                     "sleep", "100000"},
                    60s);
    };
    skep::test::command_result r;
    if (n == 10000) {
      r = create();
    } else if (scale_works) {
      r = s.skep(
        "m1", {"service", "scale", "--detach", fmt::format("mem1={}", n)}, 60s);
      if (r.exit_code != 0) {
        fmt::print("  `service scale mem1={}` failed: {}  -> adding service "
                   "mem{} of 10,000 replicas instead\n",
                   n, r.err, services + 1);
        scale_works = false;
        ++services;
        t0 = clock_type::now();
        r = create();
      }
    } else {
      ++services;
      r = create();
    }
    if (r.exit_code != 0)
      s.fail(fmt::format("going to {} tasks failed: {}", n, r.err));
    std::pair<long, long> seen;
    bool done = swarm::eventually(
      [&] {
        seen = s.replicas_total();
        return seen.first == n && seen.second == n;
      },
      120s, 100ms);
    auto ms = ms_since(t0);
    if (!done) {
      fmt::print("{} tasks: not converged after {:.0f} s ({}/{} Running); "
                 "stopping here\n",
                 n, ms / 1000, seen.first, seen.second);
      break;
    }
    std::this_thread::sleep_for(1s); // let in-flight work settle
    auto rss = status_kib(pid, "VmRSS");
    fmt::print("{:6} tasks Running after {:6.1f} s (polled every 100 ms): "
               "VmRSS {} KiB (peak VmHWM {} KiB), +{} KiB for the last "
               "10,000 ({:.2f} KiB per task), {:.2f} KiB per task since the "
               "start (target < 2)\n",
               n, ms / 1000, rss, status_kib(pid, "VmHWM"), rss - prev_rss,
               (rss - prev_rss) / 10000.0, static_cast<double>(rss - rss0) / n);
    std::fflush(stdout);
    prev_rss = rss;
    if (ms > 60000) {
      fmt::print("  that step took over a minute: stopping here\n");
      break;
    }
  }
  std::this_thread::sleep_for(10s);
  fmt::print("10 s later: VmRSS {} KiB (peak VmHWM {} KiB)\n",
             status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM"));
  auto warn = s.warnings("m1");
  if (!warn.empty())
    fmt::print("manager warnings/errors:\n{}", warn);
}

} // namespace

int main(int argc, char** argv) {
  int trials = 3;
  int max_tasks = 30000;
  bool e2e = true, memory = true;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    bool has_value = i + 1 < argc;
    if (flag == "--trials" && has_value)
      trials = std::max(1, std::atoi(argv[++i]));
    else if (flag == "--max-tasks" && has_value)
      max_tasks = std::max(10000, std::atoi(argv[++i]));
    else if (flag == "--poll-ms" && has_value)
      poll_every = milliseconds{std::max(1, std::atoi(argv[++i]))};
    else if (flag == "--malloc-arena-max" && has_value)
      malloc_arena_max = argv[++i];
    else if (flag == "--keep-logs" && has_value)
      keep_logs = argv[++i];
    else if (flag == "--skip-e2e")
      e2e = false;
    else if (flag == "--skip-memory")
      memory = false;
    else {
      fmt::print(stderr, "usage: bench_services [--trials N] [--skip-e2e] "
                         "[--skip-memory] [--max-tasks N] [--poll-ms N] "
                         "[--keep-logs DIR]\n");
      return 2;
    }
  }
  // Task processes of a killed skepd are reparented to us, so that the
  // cleanup can reap them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    if (e2e)
      run_e2e(trials);
    if (memory)
      run_memory(max_tasks);
  } catch (const std::exception& e) {
    // The swarms are gone by now: their destructors cleaned up.
    fmt::print(stderr, "bench_services: {}\n", e.what());
    return 1;
  }
  return 0;
}
