// Task start benchmark for the process runtime: how long prepare() and
// start() hold the calling thread (a task runner holds a CAF scheduler thread
// that long), p50 and p95 over 100 tasks of `sleep`, once with a small heap
// and once with a 1 GiB heap touched in this process, as a manager holding a
// large store has. A forked start grew with the heap (page tables copied,
// copy-on-write faults); a cloned one should not.
//
//   bench_task_start [--tasks N]

#include "runtime-adapters/process.hpp"
#include "tests/support/process.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

namespace {

using namespace skep;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t)
    .count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

/// Starts `tasks` tasks, then kills and forgets them; false on a failure.
bool run(size_t heap_mib, int tasks) {
  std::vector<char> heap(heap_mib << 20);
  if (!heap.empty())
    std::memset(heap.data(), 1, heap.size()); // touched: really resident
  test::temp_dir dir; // removed with what the tasks left in it
  std::vector<double> prepare_ms, start_ms;
  bool ok = true;
  {
    runtime::process_adapter adapter{dir.path()};
    std::vector<std::string> ids;
    for (int i = 0; i < tasks && ok; ++i) {
      runtime::task_spec spec;
      spec.task_id = fmt::format("task{}", i);
      spec.service_name = "bench";
      spec.container.image = "sleep";
      spec.container.args = {"1000"};
      auto t0 = clock_type::now();
      auto prepared = adapter.prepare(spec);
      prepare_ms.push_back(ms_since(t0));
      if (!prepared) {
        fmt::print(stderr, "prepare: {}\n", prepared.error().message);
        ok = false;
        break;
      }
      ids.push_back(spec.task_id);
      auto t1 = clock_type::now();
      auto started = adapter.start(spec.task_id);
      start_ms.push_back(ms_since(t1));
      if (!started) {
        fmt::print(stderr, "start: {}\n", started.error().message);
        ok = false;
      }
    }
    for (const auto& id : ids)
      (void)adapter.kill(id);
    // Reaped once each has died; a task never outlives the benchmark.
    size_t reaped = 0;
    for (int i = 0; i < 500 && reaped < ids.size(); ++i) {
      reaped += adapter.reap().size();
      ::usleep(10'000);
    }
    for (const auto& id : ids) {
      (void)adapter.remove(id);
      (void)adapter.purge(id);
    }
  }
  if (ok)
    fmt::print("heap {:>5} MiB: prepare p50 {:5.2f} ms p95 {:5.2f} ms; start "
               "p50 {:5.2f} ms p95 {:5.2f} ms ({} tasks)\n",
               heap_mib, percentile(prepare_ms, 0.5),
               percentile(prepare_ms, 0.95), percentile(start_ms, 0.5),
               percentile(start_ms, 0.95), tasks);
  return ok && heap.size() == heap_mib << 20;
}

} // namespace

int main(int argc, char** argv) {
  int tasks = 100;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--tasks" && i + 1 < argc) {
      tasks = std::atoi(argv[++i]);
      if (tasks < 1 || tasks > 10'000) {
        fmt::print(stderr, "--tasks takes 1 to 10000\n");
        return 2;
      }
    } else {
      fmt::print(stderr, "usage: bench_task_start [--tasks N]\n");
      return 2;
    }
  }
  fmt::print("process runtime: prepare() and start() of `sleep 1000`, "
             "measured in the calling thread\n");
  for (size_t heap_mib : {0, 1024})
    if (!run(heap_mib, tasks))
      return 1;
  return 0;
}
