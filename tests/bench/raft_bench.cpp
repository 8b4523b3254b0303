// Raft commit benchmark: three replicas in one process, each on its own
// thread with its own storage, exchanging messages through in-memory queues.
// Runs over SQLite files on disk and over memory storage (the consensus cost
// alone), with 1, 16 and 256 closed-loop proposers, and prints commits per
// second and commit latency next to this disk's fdatasync latency, measured
// in the same run.
//
//   bench_raft [--seconds S] [--dir DIR] [--payload BYTES]

#include "actors/raft/core.hpp"
#include "actors/raft/memory_storage.hpp"
#include "actors/raft/sqlite_storage.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <variant>
#include <vector>

#include <fmt/format.h>

namespace {

using namespace skep::raft;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto tick_period = 10ms;

struct options {
  double seconds = 3.0;
  std::string dir = "/tmp";
  size_t payload = 128;
};

// Latencies in microseconds.
struct latency_stats {
  double p50 = 0, p99 = 0, max = 0;
};

latency_stats summarize(std::vector<double> xs) {
  latency_stats s;
  if (xs.empty())
    return s;
  std::sort(xs.begin(), xs.end());
  s.p50 = xs[xs.size() / 2];
  s.p99 = xs[std::min(xs.size() - 1, xs.size() * 99 / 100)];
  s.max = xs.back();
  return s;
}

/// fdatasync latency of 4 KiB appends in `dir`: the floor a durable commit
/// pays at least once.
latency_stats measure_fdatasync(const std::string& dir, int rounds) {
  auto path = dir + "/fsync-probe";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<double> xs;
  char block[4096];
  std::memset(block, 'x', sizeof(block));
  for (int i = 0; i < rounds; ++i) {
    auto t0 = clock_type::now();
    if (::write(fd, block, sizeof(block)) != sizeof(block) || ::fdatasync(fd))
      break;
    xs.push_back(
      std::chrono::duration<double, std::micro>(clock_type::now() - t0)
        .count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  return summarize(xs);
}

// What a replica thread receives.
struct proposal_batch {
  size_t count;
};
using event = std::variant<message, proposal_batch>;

class inbox {
 public:
  void push(event ev) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      events_.push_back(std::move(ev));
    }
    cv_.notify_one();
  }
  std::deque<event> pop_all(clock_type::time_point until) {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait_until(lock, until, [this] { return !events_.empty(); });
    std::deque<event> out;
    out.swap(events_);
    return out;
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<event> events_;
};

struct replica;

struct cluster_run {
  std::vector<std::unique_ptr<replica>> replicas;
  std::atomic<bool> stop{false};
  std::atomic<bool> measuring{false};
  size_t proposers = 1;
  size_t payload = 128;
};

struct replica {
  replica(node_id id, std::unique_ptr<log_storage> store, cluster_run& run)
    : storage(std::move(store)), run(run) {
    core_config cfg;
    cfg.id = id;
    cfg.seed = id * 7919;
    cfg.max_append_entries = 512;
    cfg.max_inflight_appends = 16;
    core_ = std::make_unique<core>(cfg, *storage);
  }

  void loop() {
    auto next_tick = clock_type::now() + tick_period;
    while (!run.stop.load()) {
      for (auto& ev : in.pop_all(next_tick)) {
        if (auto* msg = std::get_if<message>(&ev))
          core_->step(*msg);
        else
          propose(std::get<proposal_batch>(ev).count);
      }
      if (clock_type::now() >= next_tick) {
        core_->tick();
        next_tick += tick_period;
      }
      drain_ready();
      leading = core_->role() == role::leader;
      term_seen = core_->term();
    }
  }

  void propose(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      skep::raft::bytes payload(run.payload, 0);
      auto id = next_proposal++;
      std::memcpy(payload.data(), &id, sizeof(id));
      auto index = core_->propose(std::move(payload));
      if (!index)
        return; // lost leadership: the run is invalid, reported below
      started[id] = clock_type::now();
    }
  }

  void drain_ready() {
    while (core_->has_ready()) {
      auto rd = core_->take_ready();
      if (rd.snapshot)
        storage->save_snapshot(*rd.snapshot);
      storage->append(rd.entries);
      if (rd.state)
        storage->save_hard_state(*rd.state);
      storage->sync();
      for (auto& m : rd.messages)
        run.replicas[m.to - 1]->in.push(std::move(m));
      size_t refill = 0;
      for (const auto& e : rd.committed) {
        if (e.type != entry_type::normal || e.payload.size() < 8)
          continue;
        uint64_t id = 0;
        std::memcpy(&id, e.payload.data(), sizeof(id));
        auto it = started.find(id);
        if (it == started.end())
          continue; // proposed elsewhere
        if (run.measuring.load()) {
          latencies.push_back(std::chrono::duration<double, std::micro>(
                                clock_type::now() - it->second)
                                .count());
          ++commits;
        }
        started.erase(it);
        ++refill;
      }
      core_->advance(rd);
      if (refill > 0 && !run.stop.load())
        propose(refill); // closed loop: each commit frees a proposer
    }
  }

  std::unique_ptr<log_storage> storage;
  cluster_run& run;
  std::unique_ptr<core> core_;
  inbox in;
  std::thread thread;
  uint64_t next_proposal = 1;
  std::map<uint64_t, clock_type::time_point> started;
  std::vector<double> latencies;
  uint64_t commits = 0;
  // Published by the replica's thread for the driver.
  std::atomic<bool> leading{false};
  std::atomic<uint64_t> term_seen{0};
};

struct run_result {
  double commits_per_second = 0;
  latency_stats latency;
  bool leader_stable = true;
};

run_result run_once(bool on_disk, size_t proposers, const options& opts) {
  cluster_run run;
  run.proposers = proposers;
  run.payload = opts.payload;
  auto dir = fmt::format("{}/skep-raft-bench-{}", opts.dir, ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  configuration founders{{1, 2, 3}, {}};
  for (node_id id = 1; id <= 3; ++id) {
    std::unique_ptr<log_storage> store;
    if (on_disk) {
      auto opened = sqlite_storage::open(fmt::format("{}/raft-{}.db", dir, id));
      if (!opened) {
        fmt::print(stderr, "{}\n", opened.error().message);
        std::exit(1);
      }
      store = std::move(*opened);
    } else {
      store = std::make_unique<memory_storage>();
    }
    bootstrap(*store, founders);
    run.replicas.push_back(
      std::make_unique<replica>(id, std::move(store), run));
  }
  for (auto& r : run.replicas)
    r->thread = std::thread([&r] { r->loop(); });
  // Wait for a leader, then start the proposers on it.
  replica* leader = nullptr;
  auto deadline = clock_type::now() + 10s;
  while (leader == nullptr && clock_type::now() < deadline) {
    std::this_thread::sleep_for(5ms); // replicas publish their role: poll it
    for (auto& r : run.replicas)
      if (r->leading.load())
        leader = r.get();
  }
  run_result res;
  double elapsed = 0;
  uint64_t term = 0;
  if (leader != nullptr) {
    term = leader->term_seen.load();
    leader->in.push(proposal_batch{proposers});
    std::this_thread::sleep_for(300ms); // warm-up: fill the pipeline
    run.measuring = true;
    auto t0 = clock_type::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(opts.seconds));
    run.measuring = false;
    elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
  }
  run.stop = true;
  for (auto& r : run.replicas)
    r->in.push(proposal_batch{0});
  for (auto& r : run.replicas)
    r->thread.join();
  if (leader == nullptr) {
    res.leader_stable = false;
  } else {
    res.commits_per_second = static_cast<double>(leader->commits) / elapsed;
    res.latency = summarize(leader->latencies);
    res.leader_stable = leader->term_seen.load() == term && leader->leading;
  }
  run.replicas.clear();
  std::filesystem::remove_all(dir);
  return res;
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  auto usage = [] {
    fmt::print(stderr, "usage: bench_raft [--seconds S (0.1-600)] [--dir DIR] "
                       "[--payload BYTES (8-1048576)]\n");
    return 2;
  };
  if (argc % 2 == 0)
    return usage();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    char* end = nullptr;
    if (flag == "--seconds") {
      opts.seconds = std::strtod(value.c_str(), &end);
      if (*end != '\0' || opts.seconds < 0.1 || opts.seconds > 600)
        return usage();
    } else if (flag == "--dir") {
      opts.dir = value;
      if (!std::filesystem::is_directory(opts.dir))
        return usage();
    } else if (flag == "--payload") {
      opts.payload = std::strtoul(value.c_str(), &end, 10);
      if (*end != '\0' || opts.payload < 8 || opts.payload > (1u << 20))
        return usage();
    } else {
      return usage();
    }
  }
  auto fsync = measure_fdatasync(opts.dir, 500);
  fmt::print("fdatasync (4KiB append) in {}: p50 {:.0f} us, p99 {:.0f} us\n",
             opts.dir, fsync.p50, fsync.p99);
  fmt::print("3 replicas, one thread each, {} s per run, {} B payloads\n\n",
             opts.seconds, opts.payload);
  fmt::print("{:<8} {:>10} {:>12} {:>10} {:>10} {:>10} {:>12}\n", "storage",
             "proposers", "commits/s", "p50 us", "p99 us", "max us",
             "p50/fsync");
  for (bool on_disk : {true, false}) {
    for (size_t proposers : {1, 16, 256}) {
      auto r = run_once(on_disk, proposers, opts);
      fmt::print(
        "{:<8} {:>10} {:>12.0f} {:>10.0f} {:>10.0f} {:>10.0f} {:>11.2f}x{}\n",
        on_disk ? "sqlite" : "memory", proposers, r.commits_per_second,
        r.latency.p50, r.latency.p99, r.latency.max,
        fsync.p50 > 0 ? r.latency.p50 / fsync.p50 : 0.0,
        r.leader_stable ? "" : "  (leader changed: run invalid)");
    }
  }
  return 0;
}
