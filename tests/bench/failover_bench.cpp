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
//   bench_failover [--trials N] [--idle SECONDS] [--loaded SECONDS]
//                  [--keep-logs DIR]
//
// --trials 0 skips the failover trials.
//
// --idle watches the Raft term of the three managers for that long with
// nothing happening and reports any election (there should be none).
//
// --loaded then watches it the same way for that long while a load loop
// writes through Raft without pause: it creates a service of 100 replicas of
// `sleep 100000` (process runtime, tasks on all 4 nodes) and waits for 100
// Running, scales it to 20 and back to 100, rolls it with `service update
// --force --update-parallelism 10` until 100 new tasks run, removes it and
// waits until no task process is left, then again with a new service; each
// wait polls with a node label update (`node update --label-add`) before
// every look. It reports the elections, the writes done and their rate.
// Every task process is killed at the end, also on failure or SIGINT/TERM.
//
// The skepds log to DATA-DIR.log (info with --idle or --loaded, to show
// what the managers logged around an election; warn otherwise), copied to
// --keep-logs DIR at the end when given.

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
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
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

extern "C" void on_signal(int) {
  interrupted = true;
}

/// What ends the run early; the destructors still clean up.
struct bench_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double ms_since(clock_type::time_point t0) {
  return duration<double, std::milli>(clock_type::now() - t0).count();
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

/// The time a log line starts with (UTC to the millisecond), if it does.
std::optional<system_clock::time_point> logged_at(const std::string& line) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(line.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year,
                  &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                  &ms)
      != 7)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return system_clock::from_time_t(timegm(&tm)) + milliseconds{ms};
}

std::string utc_text(system_clock::time_point t) {
  auto secs = system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count() % 1000;
  return fmt::format("{:02}:{:02}:{:02}.{:03}Z", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ms);
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct member {
  std::string name, dir, id;
  uint16_t port = 0;
  std::unique_ptr<child_process> proc;
  std::string addr() const { return "127.0.0.1:" + std::to_string(port); }
  std::string host() const { return "unix://" + dir + "/skepd.sock"; }
  std::string log() const { return dir + ".log"; }
};

const std::vector<std::string> managers{"m1", "m2", "m3"};

class bench {
 public:
  bench(std::string root, std::string log_level)
    : root_(std::move(root)), log_level_(std::move(log_level)) {}

  /// Kills every skepd, then every task process they left (those of a
  /// SIGKILLed skepd outlive it), and copies the logs to --keep-logs.
  ~bench() {
    for (auto& [name, m] : members_)
      if (m.proc) {
        m.proc->signal(SIGKILL);
        m.proc->wait_exit(10s);
      }
    kill_tasks(true);
    if (keep_logs.empty())
      return;
    std::error_code ec;
    std::filesystem::create_directories(keep_logs, ec);
    for (auto& [name, m] : members_)
      std::filesystem::copy_file(
        m.log(), fmt::format("{}/{}.log", keep_logs, name),
        std::filesystem::copy_options::overwrite_existing, ec);
  }

  bench(const bench&) = delete;
  bench& operator=(const bench&) = delete;

  /// --keep-logs: where the skepd logs are copied at the end.
  std::string keep_logs;

  const std::string& root() const { return root_; }

  /// SIGKILLs the task processes under the swarm's dirs and reaps those
  /// that were reparented to us (we are their subreaper); returns how many
  /// there were at first. Reaps any child with `reap_all` (only once no
  /// skep command runs: the term watcher's thread must be stopped).
  size_t kill_tasks(bool reap_all = false) {
    size_t first = 0;
    for (int round = 0; round < 50; ++round) {
      auto left = processes_under(root_);
      if (round == 0)
        first = left.size();
      for (auto pid : left)
        ::kill(pid, SIGKILL);
      for (auto pid : left)
        ::waitpid(pid, nullptr, WNOHANG);
      while (reap_all && ::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      if (left.empty())
        break;
      std::this_thread::sleep_for(20ms);
    }
    return first;
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
      name, "--log-level", log_level_, "--log-file", m.log()});
    if (!wait_socket(m))
      die("skepd " + name + " did not start: " + m.proc->output());
  }

  bool wait_socket(member& m) {
    return eventually([&] { return skep(m.name, {"version"}).exit_code == 0; },
                      10s);
  }

  /// Runs skep against `on`; throws once SIGINT/SIGTERM came.
  skep::test::command_result skep(const std::string& on,
                                  std::vector<std::string> args,
                                  milliseconds timeout = 10s) const {
    if (interrupted)
      throw bench_failure("interrupted");
    return run(on, std::move(args), timeout);
  }

  /// Runs skep against `on`, never throwing (for the term watcher's thread).
  skep::test::command_result run(const std::string& on,
                                 std::vector<std::string> args,
                                 milliseconds timeout) const {
    std::vector<std::string> argv{SKEP_PATH, "-H", members_.at(on).host()};
    argv.insert(argv.end(), args.begin(), args.end());
    return skep::test::run_command(argv, {}, timeout);
  }

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

  [[noreturn]] static void die(const std::string& why) {
    throw bench_failure(why);
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

  /// The hostname of the node with this id; empty if none.
  std::string name_of(const std::string& id) const {
    for (auto& [n, m] : members_)
      if (m.id == id && !id.empty())
        return n;
    return {};
  }

  /// The hostname of the leader, as any reachable manager reports it.
  std::string leader() {
    for (auto& name : managers) {
      if (!members_.at(name).proc)
        continue;
      auto i = info(name);
      if (i.empty() || !i["Swarm"].contains("Raft"))
        continue;
      if (auto n = name_of(i["Swarm"]["Raft"]["Leader"].get<std::string>());
          !n.empty())
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
    for (auto& name : managers)
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
        for (auto& j : json_lines(r.out))
          if (j["Hostname"] == "w1" && j["Status"] == "Down")
            return true;
        return false;
      },
      120s, 50ms);
    if (!down)
      die("the worker never showed Down");
    return duration<double, std::milli>(clock_type::now() - t0).count();
  }

  /// What the manager `name` logged from `from` to `to`: everything at warn
  /// and above, and at info what is not about tasks (Raft, leadership,
  /// transport, sessions, nodes); at most `max` lines.
  std::string log_around(const std::string& name, system_clock::time_point from,
                         system_clock::time_point to, size_t max = 40) const {
    static const char* const task_talk[]
      = {" reconciler:", " orchestrator:", " scheduler:",
         " agent:",      " task:",         " ca:"};
    std::ifstream in(members_.at(name).log());
    std::string out;
    size_t shown = 0, more = 0, other = 0;
    for (std::string line; std::getline(in, line);) {
      auto at = logged_at(line);
      if (!at || *at < from || *at > to)
        continue;
      bool topical = line.find(" INFO ") == std::string::npos
                     || std::none_of(std::begin(task_talk), std::end(task_talk),
                                     [&](const char* t) {
                                       return line.find(t) != std::string::npos;
                                     });
      if (!topical)
        ++other;
      else if (shown++ < max)
        out += "      " + line + "\n";
      else
        ++more;
    }
    if (more > 0)
      out += fmt::format("      ... {} more such lines\n", more);
    out += fmt::format("      (and {} info lines about tasks)\n", other);
    return out;
  }

 private:
  std::string root_;
  std::string log_level_;
  std::map<std::string, member> members_;
};

/// A change of the highest Raft term the managers report.
struct election {
  system_clock::time_point seen; // the first poll that saw the new term
  double after_s = 0;            // since the watch started
  uint64_t from = 0, to = 0;
  std::string leader_before, leader_after; // hostnames, "?" if none known
};

/// Polls `skep info` on the three managers every 500 ms in a thread of its
/// own and records each rise of the highest term any of them reports (an
/// election, successful or not: every campaign takes a new term).
class term_watch {
 public:
  explicit term_watch(const bench& b) : b_(b) {
    if (!bench::eventually([&] { return sample(); }, 10s, 100ms))
      bench::die("no manager reports a Raft term");
    first_ = last_;
    first_commit_ = commit_;
    t0_ = clock_type::now();
    thread_ = std::thread([this] { loop(); });
  }

  ~term_watch() { stop(); }

  term_watch(const term_watch&) = delete;
  term_watch& operator=(const term_watch&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
  }

  uint64_t first() const { return first_; }

  uint64_t last() {
    std::lock_guard lock{mu_};
    return last_;
  }

  std::string leader() {
    std::lock_guard lock{mu_};
    return leader_;
  }

  /// The Raft commit index (highest reported) when the watch started and
  /// now.
  std::pair<uint64_t, uint64_t> commits() {
    std::lock_guard lock{mu_};
    return {first_commit_, commit_};
  }

  std::vector<election> elections() {
    std::lock_guard lock{mu_};
    return events_;
  }

  /// Polls, and `skep info` calls that failed or timed out (2 s), by
  /// manager.
  std::string poll_summary() {
    std::lock_guard lock{mu_};
    std::string unanswered;
    for (auto& [name, n] : unanswered_)
      unanswered += fmt::format(" {}={}", name, n);
    return fmt::format("{} polls of the 3 managers, every 500 ms; `skep info` "
                       "unanswered within 2 s:{}",
                       polls_, unanswered.empty() ? " none" : unanswered);
  }

 private:
  void loop() {
    while (!stop_) {
      auto next = clock_type::now() + 500ms;
      sample();
      while (!stop_ && clock_type::now() < next)
        std::this_thread::sleep_for(20ms);
    }
  }

  /// One poll; false when no manager answered with a term.
  bool sample() {
    uint64_t term = 0, commit = 0;
    std::string leader;
    std::vector<std::string> failed;
    for (auto& name : managers) {
      auto r = b_.run(name, {"info", "--format", "json"}, 2s);
      auto i = r.exit_code == 0 ? json::parse(r.out, nullptr, false) : json{};
      const json* raft = nullptr;
      if (i.is_object() && i.contains("Swarm") && i["Swarm"].is_object()
          && i["Swarm"].contains("Raft"))
        raft = &i["Swarm"]["Raft"];
      if (raft == nullptr || !raft->is_object() || !raft->contains("Term")
          || !(*raft)["Term"].is_number_unsigned()) {
        failed.push_back(name);
        continue;
      }
      auto t = (*raft)["Term"].get<uint64_t>();
      if (raft->contains("Commit") && (*raft)["Commit"].is_number_unsigned())
        commit = std::max(commit, (*raft)["Commit"].get<uint64_t>());
      auto id = raft->contains("Leader") && (*raft)["Leader"].is_string()
                  ? (*raft)["Leader"].get<std::string>()
                  : std::string{};
      if (t > term || (t == term && leader.empty())) {
        term = std::max(term, t);
        leader = b_.name_of(id);
      }
    }
    std::lock_guard lock{mu_};
    ++polls_;
    for (auto& name : failed)
      ++unanswered_[name];
    if (term == 0)
      return false;
    commit_ = std::max(commit_, commit);
    if (last_ != 0 && term > last_)
      events_.push_back(election{
        system_clock::now(), duration<double>(clock_type::now() - t0_).count(),
        last_, term, leader_.empty() ? "?" : leader_,
        leader.empty() ? "?" : leader});
    if (term >= last_) {
      last_ = term;
      if (!leader.empty())
        leader_ = leader;
    }
    return true;
  }

  const bench& b_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  uint64_t first_ = 0, last_ = 0;
  uint64_t first_commit_ = 0, commit_ = 0;
  std::string leader_;
  std::vector<election> events_;
  std::map<std::string, int> unanswered_;
  int polls_ = 0;
  clock_type::time_point t0_;
  std::thread thread_;
};

/// Prints the elections a watch saw, with what the managers logged around
/// each.
void report_elections(const bench& b, term_watch& w) {
  for (auto& e : w.elections()) {
    fmt::print("  election seen at {} ({:.1f} s in): term {} -> {}, leader "
               "{} -> {}\n",
               utc_text(e.seen), e.after_s, e.from, e.to, e.leader_before,
               e.leader_after);
    for (auto& name : managers)
      fmt::print("    {} logged from 6 s before to 1 s after:\n{}", name,
                 b.log_around(name, e.seen - 6s, e.seen + 1s));
  }
  fmt::print("  {}\n", w.poll_summary());
}

/// Elections seen while nothing happens for `seconds`.
void run_idle(bench& b, int seconds) {
  term_watch w{b};
  auto deadline = clock_type::now() + std::chrono::seconds{seconds};
  while (clock_type::now() < deadline) {
    if (interrupted)
      throw bench_failure("interrupted");
    std::this_thread::sleep_for(100ms);
  }
  w.stop();
  fmt::print("idle {} s: {} elections (target 0), term {} -> {}\n", seconds,
             w.last() - w.first(), w.first(), w.last());
  report_elections(b, w);
  std::fflush(stdout);
}

constexpr int load_replicas = 100;
constexpr int load_low = 20;
constexpr auto load_step_timeout = 60s;
const std::vector<std::string> load_nodes{"m1", "m2", "m3", "w1"};

/// The load loop of --loaded: services created, scaled, updated and removed
/// one after the other, node labels written while waiting for each step.
class load {
 public:
  explicit load(bench& b) : b_(b) {}

  void run(int seconds, term_watch& w) {
    auto t0 = clock_type::now();
    auto deadline = t0 + std::chrono::seconds{seconds};
    try {
      while (clock_type::now() < deadline) {
        bool removed = cycle(deadline, w);
        std::fflush(stdout);
        if (!removed) {
          notes_.push_back(
            fmt::format("load stopped after {:.0f} s: {} could not be removed",
                        ms_since(t0) / 1000, live_));
          break;
        }
      }
    } catch (const bench_failure&) {
      cleanup();
      throw;
    }
    load_s_ = duration<double>(clock_type::now() - t0).count();
    auto c0 = clock_type::now();
    cleanup();
    cleanup_s_ = duration<double>(clock_type::now() - c0).count();
  }

  void print(int seconds, term_watch& w) const {
    // The watch ran from before the first write to the end of the cleanup.
    long total = 0;
    std::string kinds;
    for (auto& [kind, n] : writes_) {
      total += n;
      kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", n, kind);
    }
    fmt::print("loaded {} s: {} elections (target 0), term {} -> {}\n", seconds,
               w.last() - w.first(), w.first(), w.last());
    fmt::print("  {} writes in {:.1f} s = {:.1f} writes/s ({}), {} cycles "
               "done, then {:.1f} s to clean up\n",
               total, load_s_, total / std::max(load_s_, 0.001), kinds, cycles_,
               cleanup_s_);
    auto [c0, c1] = w.commits();
    fmt::print("  Raft log: commit index {} -> {}: {} entries, {:.1f}/s (the "
               "writes above and what the leader wrote for them: tasks, "
               "their states, ...)\n",
               c0, c1, c1 - c0,
               (c1 - c0) / std::max(load_s_ + cleanup_s_, 0.001));
    fmt::print("  failed writes: {}; steps not converged within {} s: {}\n",
               failed_, load_step_timeout.count(), timeouts_);
    for (auto& n : notes_)
      fmt::print("    {}\n", n);
    for (auto& [step, ms] : step_ms_)
      fmt::print("  {:<44} median {:7.0f} ms  max {:7.0f} ms ({})\n", step,
                 median(ms), *std::max_element(ms.begin(), ms.end()),
                 ms.size());
  }

 private:
  /// One create / scale down / scale up / update / rm of a new service;
  /// false when the service could not be removed (the load stops).
  bool cycle(clock_type::time_point deadline, term_watch& w) {
    auto name = fmt::format("load{}", cycles_ + 1);
    auto on = managers[static_cast<size_t>(cycles_) % managers.size()];
    auto writes_before = total_writes();
    auto t0 = clock_type::now();
    std::string figures;
    auto step = [&](const std::string& what, std::vector<std::string> args,
                    auto&& done) {
      auto s0 = clock_type::now();
      std::string kind = args[1] == "create"   ? "service create"
                         : args[1] == "scale"  ? "service scale"
                         : args[1] == "update" ? "service update --force"
                                               : "service rm";
      if (!write(kind, on, std::move(args)))
        return false;
      bool ok = wait(what, name, done);
      auto ms = ms_since(s0);
      auto it = std::find_if(step_ms_.begin(), step_ms_.end(),
                             [&](auto& e) { return e.first == what; });
      if (it == step_ms_.end())
        it = step_ms_.insert(step_ms_.end(), {what, {}});
      it->second.push_back(ms);
      figures += fmt::format("{}{} {:.1f} s", figures.empty() ? "" : ", ", what,
                             ms / 1000);
      return ok;
    };
    live_ = name;
    bool ok
      = step(fmt::format("create -> {} Running", load_replicas),
             {"service", "create", "--detach", "--name", name, "--replicas",
              std::to_string(load_replicas), "sleep", "100000"},
             [&] { return replicas(name, load_replicas); });
    for (int n : {load_low, load_replicas}) {
      if (!ok || clock_type::now() >= deadline)
        break;
      ok = step(fmt::format("scale -> {}/{}", n, n),
                {"service", "scale", "--detach", fmt::format("{}={}", name, n)},
                [&, n] { return replicas(name, n); });
    }
    if (ok && clock_type::now() < deadline) {
      std::set<std::string> before;
      for (auto& t : running_tasks(name))
        before.insert(t);
      step(fmt::format("update --force -> {} new Running", load_replicas),
           {"service", "update", "--detach", "--force", "--update-parallelism",
            "10", name},
           [&] {
             auto now = running_tasks(name);
             return now.size() == static_cast<size_t>(load_replicas)
                    && std::none_of(now.begin(), now.end(), [&](auto& id) {
                         return before.count(id) > 0;
                       });
           });
    }
    bool removed = step("rm -> no task process", {"service", "rm", name}, [&] {
      return processes_under(b_.root()).empty() && !listed(name);
    });
    ++cycles_;
    fmt::print("cycle {:3} on {}: {}; {} writes in {:.1f} s; term {}\n",
               cycles_, on, figures, total_writes() - writes_before,
               ms_since(t0) / 1000, w.last());
    if (removed)
      live_.clear();
    return removed;
  }

  long total_writes() const {
    long n = 0;
    for (auto& [kind, count] : writes_)
      n += count;
    return n;
  }

  /// One write through `on`; counted when it succeeded.
  bool write(const std::string& kind, const std::string& on,
             std::vector<std::string> args) {
    auto r = b_.skep(on, args, 20s);
    if (r.exit_code == 0) {
      ++writes_[kind];
      return true;
    }
    ++failed_;
    if (notes_.size() < 10) {
      std::string command;
      for (auto& a : args)
        command += (command.empty() ? "" : " ") + a;
      notes_.push_back(fmt::format("`skep {}` via {} failed ({}): {}", command,
                                   on, r.exit_code, r.err.substr(0, 200)));
    }
    return false;
  }

  /// A label write on the next node, through the next manager.
  void label() {
    auto i = static_cast<size_t>(labels_++);
    write("node update --label-add", managers[i % managers.size()],
          {"node", "update", "--label-add", fmt::format("load={}", i),
           load_nodes[i % load_nodes.size()]});
  }

  /// Polls `done` after a label write each time, until it holds or the
  /// step's timeout passes (noted).
  template <class F>
  bool wait(const std::string& what, const std::string& service, F&& done) {
    auto t0 = clock_type::now();
    while (clock_type::now() - t0 < load_step_timeout) {
      if (interrupted)
        throw bench_failure("interrupted");
      label();
      if (done())
        return true;
      std::this_thread::sleep_for(20ms);
    }
    ++timeouts_;
    if (notes_.size() < 10)
      notes_.push_back(fmt::format(
        "{}: `{}` not done after {} s; `service ls`: {}; {} task processes",
        service, what, load_step_timeout.count(),
        b_.skep("m1", {"service", "ls"}).out,
        processes_under(b_.root()).size()));
    return false;
  }

  /// `service ls` shows the service with `n`/`n` replicas.
  bool replicas(const std::string& name, int n) {
    auto r = b_.skep("m1", {"service", "ls", "--format", "json"}, 10s);
    for (auto& j : json_lines(r.out))
      if (j["Name"] == name)
        return j["Replicas"] == fmt::format("{}/{}", n, n);
    return false;
  }

  bool listed(const std::string& name) {
    auto r = b_.skep("m1", {"service", "ls", "--format", "json"}, 10s);
    if (r.exit_code != 0)
      return true;
    for (auto& j : json_lines(r.out))
      if (j["Name"] == name)
        return true;
    return false;
  }

  /// Ids of the service's tasks desired and currently Running.
  std::vector<std::string> running_tasks(const std::string& name) {
    auto r = b_.skep("m1",
                     {"service", "ps", "--no-trunc", "--format", "json", "-f",
                      "desired-state=running", name},
                     10s);
    std::vector<std::string> out;
    for (auto& j : json_lines(r.out))
      if (starts_with(j["CurrentState"], "Running") && j["ID"].is_string())
        out.push_back(j["ID"].get<std::string>());
    return out;
  }

  /// Removes the service of an unfinished cycle and waits (30 s at most)
  /// until its task processes are gone, then kills any left.
  void cleanup() {
    if (!live_.empty() && !interrupted) {
      try {
        b_.skep("m1", {"service", "rm", live_}, 20s);
        bench::eventually([&] { return processes_under(b_.root()).empty(); },
                          30s, 50ms);
      } catch (const bench_failure&) {
      }
      live_.clear();
    }
    if (auto n = b_.kill_tasks(); n > 0)
      fmt::print("  cleanup: killed {} task processes left behind\n", n);
  }

  bench& b_;
  std::string live_; // the service of the cycle under way
  int cycles_ = 0;
  long labels_ = 0;
  std::map<std::string, long> writes_;
  long failed_ = 0;
  int timeouts_ = 0;
  std::vector<std::string> notes_;
  std::vector<std::pair<std::string, std::vector<double>>> step_ms_;
  double load_s_ = 0, cleanup_s_ = 0;
};

void run_loaded(bench& b, int seconds) {
  fmt::print("loaded {} s: services of {} replicas of `sleep 100000` "
             "(process runtime) created, scaled {} -> {} -> {}, updated "
             "with --force (parallelism 10) and removed, over and over; a "
             "node label update before each poll\n",
             seconds, load_replicas, load_replicas, load_low, load_replicas);
  std::fflush(stdout);
  term_watch w{b};
  load l{b};
  l.run(seconds, w);
  w.stop();
  l.print(seconds, w);
  report_elections(b, w);
  std::fflush(stdout);
}

void usage() {
  fmt::print(stderr, "usage: bench_failover [--trials N] [--idle SECONDS] "
                     "[--loaded SECONDS] [--keep-logs DIR]\n");
}

} // namespace

int main(int argc, char** argv) {
  int trials = 10;
  int idle = 0;
  int loaded = 0;
  std::string keep_logs;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) {
      usage();
      return 2;
    }
    if (flag == "--trials")
      trials = std::max(0, std::atoi(argv[i + 1]));
    else if (flag == "--idle")
      idle = std::max(0, std::atoi(argv[i + 1]));
    else if (flag == "--loaded")
      loaded = std::max(0, std::atoi(argv[i + 1]));
    else if (flag == "--keep-logs")
      keep_logs = argv[i + 1];
    else {
      usage();
      return 2;
    }
  }
  // Task processes of a killed skepd are reparented to us, so that the
  // cleanup can reap them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::string level = idle > 0 || loaded > 0 ? "info" : "warn";
  try {
    skep::test::temp_dir tmp;
    bench b(tmp.path(), level);
    b.keep_logs = keep_logs;
    fmt::print("3 skepd managers + 1 worker on loopback, default settings "
               "(Raft tick 50 ms, election 10 ticks, heartbeat 5 s); skepd "
               "log level {}\n",
               level);
    b.setup();
    std::vector<double> ms;
    for (int t = 0; t < trials; ++t) {
      ms.push_back(b.failover(t));
      fmt::print("trial {:2}: leader SIGKILL -> committed write {:7.1f} ms\n",
                 t, ms.back());
      std::fflush(stdout);
    }
    std::sort(ms.begin(), ms.end());
    if (!ms.empty())
      fmt::print("leader failover: median {:.1f} ms, min {:.1f}, max {:.1f} "
                 "over {} trials (target: median < 1000 ms; etcd defaults "
                 "~1400 ms here)\n",
                 ms[ms.size() / 2], ms.front(), ms.back(), ms.size());
    if (idle > 0 || loaded > 0) {
      if (!b.all_voters())
        bench::die("the managers are not all voters");
      fmt::print("leader: {}\n", b.leader());
    }
    if (idle > 0)
      run_idle(b, idle);
    if (loaded > 0)
      run_loaded(b, loaded);
    fmt::print("worker SIGKILL -> Down: {:.0f} ms (3 heartbeat periods of 5 "
               "s, then a commit)\n",
               b.worker_down());
  } catch (const std::exception& e) {
    // The swarm is gone by now: the destructors cleaned up.
    fmt::print(stderr, "bench_failover: {}\n", e.what());
    return 1;
  }
  return 0;
}
