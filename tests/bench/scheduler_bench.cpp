// Scheduler placement benchmark: 100,000 pending tasks on 1,000 nodes, placed
// by one placer::place call, best of 3 runs (a fresh placer each run, built
// outside the timed part). Prints placements per second and the ratio to
// SwarmKit's ~4,400 placements/s.
//
//   bench_scheduler

#include "actors/scheduler/placement.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace {

using namespace skep;
using clock_type = std::chrono::steady_clock;

constexpr int node_total = 1'000;
constexpr int task_total = 100'000;
constexpr int runs = 3;
constexpr double swarmkit_per_second = 4'400;

struct scenario {
  std::string name;
  int services = 100;
  std::vector<std::string> constraints;
};

struct outcome {
  double seconds = 0;
  size_t placed = 0;
  size_t unplaced = 0;
  uint32_t min_per_node = 0;
  uint32_t max_per_node = 0;
};

// Every node ready and active; the even ones labelled zone=a; one in ten a
// manager.
std::vector<store::node_object> make_nodes() {
  std::vector<store::node_object> out;
  for (int i = 0; i < node_total; ++i) {
    store::node_object n;
    n.id = fmt::format("node-{:04}", i);
    n.hostname = fmt::format("host-{:04}", i);
    n.role = i % 10 == 0 ? ca::node_role::manager : ca::node_role::worker;
    n.status = store::node_status::ready;
    n.avail = store::availability::active;
    n.labels["zone"] = i % 2 == 0 ? "a" : "b";
    n.labels["rack"] = fmt::format("r{}", i % 40);
    out.push_back(std::move(n));
  }
  return out;
}

outcome run_once(const scenario& sc,
                 const std::vector<store::node_object>& nodes,
                 const std::vector<const store::task_object*>& pending,
                 const std::map<std::string, store::service_spec>& specs) {
  scheduler::placer placer;
  for (const auto& n : nodes)
    placer.set_node(n, {64'000'000'000, int64_t{256} << 30});
  auto lookup = [&specs](const std::string& id) -> const store::service_spec* {
    auto i = specs.find(id);
    return i == specs.end() ? nullptr : &i->second;
  };
  auto start = clock_type::now();
  auto p = placer.place(pending, lookup);
  auto stop = clock_type::now();
  outcome out;
  out.seconds = std::chrono::duration<double>(stop - start).count();
  out.placed = p.placed.size();
  out.unplaced = p.unplaced.size();
  out.min_per_node = UINT32_MAX;
  for (const auto& n : nodes) {
    auto c = placer.tasks_on(n.id);
    if (c == 0)
      continue; // filtered out by the constraints
    out.min_per_node = std::min(out.min_per_node, c);
    out.max_per_node = std::max(out.max_per_node, c);
  }
  return out;
}

void run(const scenario& sc, const std::vector<store::node_object>& nodes) {
  std::map<std::string, store::service_spec> specs;
  std::vector<store::task_object> tasks;
  tasks.reserve(task_total);
  for (int s = 0; s < sc.services; ++s) {
    auto id = fmt::format("service-{:05}", s);
    auto& spec = specs[id];
    spec.name = id;
    spec.constraints = sc.constraints;
    spec.reservations = {100'000'000, 64 << 20}; // 0.1 CPU, 64 MiB
  }
  for (int t = 0; t < task_total; ++t) {
    store::task_object task;
    task.id = fmt::format("task-{:06}", t);
    task.service_id = fmt::format("service-{:05}", t % sc.services);
    task.slot = static_cast<uint64_t>(t / sc.services + 1);
    task.reservations = specs[task.service_id].reservations;
    task.status.state = store::task_state::pending;
    tasks.push_back(std::move(task));
  }
  std::vector<const store::task_object*> pending;
  for (const auto& t : tasks)
    pending.push_back(&t);

  outcome best;
  for (int r = 0; r < runs; ++r) {
    auto o = run_once(sc, nodes, pending, specs);
    if (r == 0 || o.seconds < best.seconds)
      best = o;
  }
  auto rate = static_cast<double>(best.placed) / best.seconds;
  fmt::print("{:<34} {:>8} {:>6} {:>9.1f} {:>12.0f} {:>7.0f}x {:>5}-{:<5}\n",
             sc.name, best.placed, best.unplaced, best.seconds * 1e3, rate,
             rate / swarmkit_per_second, best.min_per_node, best.max_per_node);
}

} // namespace

int main() {
  auto nodes = make_nodes();
  fmt::print("{} tasks on {} nodes, best of {} runs; SwarmKit: ~{:.0f} "
             "placements/s\n\n",
             task_total, node_total, runs, swarmkit_per_second);
  fmt::print("{:<34} {:>8} {:>6} {:>9} {:>12} {:>8} {:>11}\n", "scenario",
             "placed", "unpl.", "ms", "placements/s", "vs SK", "tasks/node");
  run({"no constraints, 100 services", 100, {}}, nodes);
  run({"labels+role, 100 services",
       100,
       {"node.labels.zone==a", "node.role==worker"}},
      nodes);
  run({"no constraints, 1 service", 1, {}}, nodes);
  run({"labels+role, 10,000 services",
       10'000,
       {"node.labels.zone==a", "node.role==worker"}},
      nodes);
  return 0;
}
