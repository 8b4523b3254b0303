#include "runtime-adapters/sim.hpp"

#include <algorithm>
#include <csignal>
#include <tuple>

#include <fmt/format.h>

namespace skep::runtime {

void sim_adapter::script(std::string image, behaviour what) {
  std::lock_guard<std::mutex> guard{mtx_};
  scripts_[std::move(image)] = std::move(what);
}

void sim_adapter::advance(int64_t nanos) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (nanos > 0)
    now_ += nanos;
}

int64_t sim_adapter::now() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return now_;
}

size_t sim_adapter::running_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return static_cast<size_t>(
    std::count_if(tasks_.begin(), tasks_.end(),
                  [this](const auto& kv) { return runs(kv.second); }));
}

uint64_t sim_adapter::start_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return starts_;
}

bool sim_adapter::is_running(const std::string& task_id) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = tasks_.find(task_id);
  return i != tasks_.end() && runs(i->second);
}

void sim_adapter::add_recovered(std::string task_id, bool alive) {
  std::lock_guard<std::mutex> guard{mtx_};
  recovered_[std::move(task_id)] = alive;
}

result<sim_adapter::task*> sim_adapter::find(const std::string& task_id) {
  if (auto ok = check_task_id(task_id); !ok)
    return std::move(ok).error();
  auto i = tasks_.find(task_id);
  if (i == tasks_.end())
    return fail(errc::not_found,
                fmt::format("task {} is not prepared on this node", task_id));
  return &i->second;
}

result<void> sim_adapter::prepare(const task_spec& spec) {
  if (auto ok = check_task_spec(spec); !ok)
    return ok;
  std::lock_guard<std::mutex> guard{mtx_};
  if (tasks_.count(spec.task_id) > 0)
    return fail(errc::already_exists,
                fmt::format("task {} is prepared already", spec.task_id));
  behaviour what;
  if (auto i = scripts_.find(spec.container.image); i != scripts_.end())
    what = i->second;
  if (!what.fail_prepare.empty())
    return fail(errc::not_found, what.fail_prepare);
  tasks_.emplace(spec.task_id,
                 task{spec, std::move(what), phase::prepared, -1, {}});
  return {};
}

result<started> sim_adapter::start(const std::string& task_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto found = find(task_id);
  if (!found)
    return std::move(found).error();
  task& t = **found;
  if (t.at != phase::prepared)
    return fail(errc::invalid_argument,
                fmt::format("task {} was started before", task_id));
  if (!t.what.fail_start.empty()) {
    t.at = phase::start_failed;
    return fail(errc::internal, t.what.fail_start);
  }
  t.at = phase::running;
  if (t.what.run_for_nanos >= 0) {
    t.ends_at = now_ + t.what.run_for_nanos;
    t.status = exited_with(t.what.exit_code);
  }
  ++starts_;
  started out;
  out.pid = next_pid_++;
  std::map<uint16_t, uint16_t> by_target;
  for (const auto& port : t.spec.ports) {
    auto [i, added] = by_target.emplace(port.target, next_port_);
    if (added)
      ++next_port_;
    out.host_ports.push_back(i->second);
  }
  return out;
}

std::vector<std::pair<std::string, exit_status>> sim_adapter::reap() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::pair<int64_t, std::string>> due;
  for (const auto& [id, t] : tasks_)
    if (t.at == phase::running && has_exited(t))
      due.emplace_back(t.ends_at, id);
  // Earliest exit first; the map already orders ties by id.
  std::stable_sort(due.begin(), due.end(), [](const auto& x, const auto& y) {
    return x.first < y.first;
  });
  std::vector<std::pair<std::string, exit_status>> out;
  for (const auto& [at, id] : due) {
    task& t = tasks_.at(id);
    t.at = phase::exited;
    out.emplace_back(id, t.status);
  }
  return out;
}

result<void> sim_adapter::stop(const std::string& task_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto found = find(task_id);
  if (!found)
    return std::move(found).error();
  task& t = **found;
  if (runs(t) && !t.what.ignore_sigterm) {
    t.ends_at = now_;
    t.status = killed_by(SIGTERM);
  }
  return {};
}

result<void> sim_adapter::kill(const std::string& task_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto found = find(task_id);
  if (!found)
    return std::move(found).error();
  task& t = **found;
  if (runs(t)) {
    t.ends_at = now_;
    t.status = killed_by(SIGKILL);
  }
  return {};
}

result<void> sim_adapter::remove(const std::string& task_id) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto found = find(task_id);
  if (!found)
    return std::move(found).error();
  // Exited but not reaped counts as running, as with real processes.
  if ((*found)->at == phase::running)
    return fail(
      errc::invalid_argument,
      fmt::format("task {} is still running: stop it first", task_id));
  tasks_.erase(task_id);
  return {};
}

result<void> sim_adapter::purge(const std::string& task_id) {
  if (auto ok = check_task_id(task_id); !ok)
    return ok;
  std::lock_guard<std::mutex> guard{mtx_};
  if (tasks_.count(task_id) > 0 || recovered_.count(task_id) > 0)
    return fail(
      errc::invalid_argument,
      fmt::format("task {} is still known: remove it first", task_id));
  return {};
}

std::filesystem::path sim_adapter::log_path(const std::string&) const {
  return {};
}

std::vector<recovered_task> sim_adapter::recover() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<recovered_task> out;
  for (const auto& [id, alive] : recovered_)
    if (tasks_.count(id) == 0)
      out.push_back({id, alive});
  return out;
}

result<void> sim_adapter::kill_recovered(const std::string& task_id) {
  if (auto ok = check_task_id(task_id); !ok)
    return ok;
  std::lock_guard<std::mutex> guard{mtx_};
  if (recovered_.erase(task_id) == 0)
    return fail(errc::not_found,
                fmt::format("no task {} from a previous run", task_id));
  return {};
}

} // namespace skep::runtime
