#include "runtime-adapters/process.hpp"

#include "runtime-adapters/process_posix.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <sys/wait.h>

#include <fmt/format.h>

namespace skep::runtime {

namespace fs = std::filesystem;
using namespace posix;

namespace {

constexpr const char* log_file_name = "task.log";
constexpr const char* pid_file_name = "pid";
constexpr const char* default_path
  = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---- task records ---------------------------------------------------------

enum class phase { prepared, start_failed, running, exited };

struct task_record {
  task_spec spec;
  fs::path exe;
  std::map<std::string, std::string> env; ///< before the port variables
  phase at = phase::prepared;
  pid_t pid = 0;
  std::vector<uint16_t> host_ports;
};

exit_status decode_wait_status(int status) {
  if (WIFEXITED(status))
    return exited_with(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return killed_by(WTERMSIG(status));
  return {-1, 0, "ended in an unknown way"};
}

} // namespace

// ---- the adapter ----------------------------------------------------------

struct process_adapter::state {
  fs::path dir;
  std::map<std::string, std::string> base_env;
  std::mutex mtx;
  std::map<std::string, task_record> tasks;

  fs::path task_dir(const std::string& id) const { return dir / id; }

  result<task_record*> find(const std::string& id) {
    if (auto ok = check_task_id(id); !ok)
      return std::move(ok).error();
    auto i = tasks.find(id);
    if (i == tasks.end())
      return fail(errc::not_found,
                  fmt::format("task {} is not prepared on this node", id));
    return &i->second;
  }

  std::set<uint16_t> ports_in_use() const {
    std::set<uint16_t> out;
    for (const auto& [id, t] : tasks)
      if (t.at == phase::running)
        out.insert(t.host_ports.begin(), t.host_ports.end());
    return out;
  }

  result<void> signal(const std::string& id, int sig) {
    auto found = find(id);
    if (!found)
      return std::move(found).error();
    task_record& t = **found;
    if (t.at != phase::running)
      return {};
    if (sig == SIGKILL) {
      kill_session(t.pid);
      return {};
    }
    if (::kill(-t.pid, sig) != 0 && errno != ESRCH) {
      int err = errno;
      return fail(code_for(err), fmt::format("cannot signal task {}: {}", id,
                                             error_text(err)));
    }
    return {};
  }
};

process_adapter::process_adapter(fs::path state_dir)
  : state_(std::make_unique<state>()) {
  state_->dir = std::move(state_dir);
  const char* path = std::getenv("PATH");
  state_->base_env["PATH"]
    = path != nullptr && *path != '\0' ? path : default_path;
  for (const char* key : {"HOME", "TZ"})
    if (const char* value = std::getenv(key))
      state_->base_env[key] = value;
}

process_adapter::~process_adapter() = default;

const fs::path& process_adapter::state_dir() const {
  return state_->dir;
}

result<void> process_adapter::prepare(const task_spec& spec) {
  if (auto ok = check_task_spec(spec); !ok)
    return ok;
  const auto& c = spec.container;
  if (!c.workdir.empty()) {
    if (c.workdir.front() != '/')
      return fail(errc::invalid_argument,
                  fmt::format("working directory \"{}\" is not an absolute "
                              "path",
                              printable(c.workdir)));
    std::error_code ec;
    if (!fs::is_directory(c.workdir, ec))
      return fail(errc::not_found,
                  fmt::format("working directory \"{}\" does not exist",
                              printable(c.workdir)));
  }
  auto env = state_->base_env;
  for (const auto& entry : c.env) {
    auto eq = entry.find('=');
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  // The task's own PATH, if it sets one, finds its executable.
  auto exe = resolve_image(c.image, env["PATH"]);
  if (!exe)
    return std::move(exe).error();
  env["SKEP_TASK_ID"] = spec.task_id;
  env["SKEP_SERVICE_NAME"] = spec.service_name;
  env["SKEP_TASK_SLOT"] = std::to_string(spec.slot);
  // limits.nano_cpus is not applied: no cgroups in this runtime.

  std::lock_guard<std::mutex> guard{state_->mtx};
  if (state_->tasks.count(spec.task_id) > 0)
    return fail(errc::already_exists,
                fmt::format("task {} is prepared already", spec.task_id));
  auto dir = state_->task_dir(spec.task_id);
  std::error_code ec;
  if (fs::exists(dir / pid_file_name, ec))
    return fail(errc::already_exists,
                fmt::format("task {} from a previous run is still recorded: "
                            "recover and kill it first",
                            spec.task_id));
  fs::create_directories(dir, ec);
  if (ec)
    return fail(errc::internal,
                fmt::format("cannot create task directory {}: {}", dir.string(),
                            ec.message()));
  task_record t;
  t.spec = spec;
  t.exe = std::move(*exe);
  t.env = std::move(env);
  state_->tasks.emplace(spec.task_id, std::move(t));
  return {};
}

result<started> process_adapter::start(const std::string& task_id) {
  std::lock_guard<std::mutex> guard{state_->mtx};
  auto found = state_->find(task_id);
  if (!found)
    return std::move(found).error();
  task_record& t = **found;
  if (t.at != phase::prepared)
    return fail(errc::invalid_argument,
                fmt::format("task {} was started before", task_id));
  t.at = phase::start_failed; // until it runs

  // One host port per distinct target, free for each protocol it uses.
  auto taken = state_->ports_in_use();
  std::map<uint16_t, std::pair<bool, bool>> protocols; // target: tcp, udp
  for (const auto& port : t.spec.ports)
    (port.protocol == "udp" ? protocols[port.target].second
                            : protocols[port.target].first)
      = true;
  std::map<uint16_t, uint16_t> host_port; // target -> host port
  auto env = t.env;
  for (const auto& [target, uses] : protocols) {
    auto port = free_port(uses.first, uses.second, taken);
    if (!port)
      return std::move(port).error();
    taken.insert(*port);
    host_port[target] = *port;
    env[fmt::format("SKEP_PORT_{}", target)] = std::to_string(*port);
  }
  if (!t.spec.ports.empty())
    env["PORT"] = std::to_string(host_port[t.spec.ports.front().target]);

  auto dir = state_->task_dir(task_id);
  spawn_request req;
  req.exe = t.exe;
  req.argv.push_back(t.spec.container.image);
  for (const auto& arg : t.spec.container.args)
    req.argv.push_back(arg);
  for (const auto& [key, value] : env)
    req.env.push_back(key + "=" + value);
  req.workdir = t.spec.container.workdir.empty()
                  ? dir
                  : fs::path{t.spec.container.workdir};
  req.log = dir / log_file_name;
  req.memory_bytes = t.spec.limits.memory_bytes;
  // The pid file is written before the task may run: a node killed at any
  // point finds, after its restart, every task process it started.
  req.record = [&dir](pid_t pid) {
    auto start_time = process_start_time(pid).value_or(0);
    return write_file_atomically(dir / pid_file_name,
                                 fmt::format("{} {}\n", pid, start_time));
  };
  auto pid = spawn(std::move(req));
  if (!pid) {
    std::error_code ec;
    fs::remove(dir / pid_file_name, ec); // the child never ran
    return std::move(pid).error();
  }
  t.at = phase::running;
  t.pid = *pid;
  started out;
  out.pid = *pid;
  for (const auto& port : t.spec.ports)
    out.host_ports.push_back(host_port[port.target]);
  t.host_ports = out.host_ports;
  return out;
}

std::vector<std::pair<std::string, exit_status>> process_adapter::reap() {
  std::lock_guard<std::mutex> guard{state_->mtx};
  std::vector<std::pair<std::string, exit_status>> out;
  for (auto& [id, t] : state_->tasks) {
    if (t.at != phase::running)
      continue;
    int status = 0;
    pid_t got = ::waitpid(t.pid, &status, WNOHANG);
    if (got == 0 || (got < 0 && errno == EINTR))
      continue;
    // ECHILD: someone else reaped it (SIGCHLD ignored in this process).
    auto how = got == t.pid ? decode_wait_status(status)
                            : exit_status{-1, 0,
                                          "exited; its exit status "
                                          "was lost"};
    // The task ends with its main process: end what it left behind.
    kill_session(t.pid);
    std::error_code ec;
    fs::remove(state_->task_dir(id) / pid_file_name, ec);
    t.at = phase::exited;
    t.host_ports.clear();
    out.emplace_back(id, std::move(how));
  }
  return out;
}

result<void> process_adapter::stop(const std::string& task_id) {
  std::lock_guard<std::mutex> guard{state_->mtx};
  return state_->signal(task_id, SIGTERM);
}

result<void> process_adapter::kill(const std::string& task_id) {
  std::lock_guard<std::mutex> guard{state_->mtx};
  return state_->signal(task_id, SIGKILL);
}

result<void> process_adapter::remove(const std::string& task_id) {
  std::lock_guard<std::mutex> guard{state_->mtx};
  auto found = state_->find(task_id);
  if (!found)
    return std::move(found).error();
  if ((*found)->at == phase::running)
    return fail(errc::invalid_argument,
                fmt::format("task {} is still running: stop it and wait for "
                            "its exit first",
                            task_id));
  state_->tasks.erase(task_id);
  return {};
}

result<void> process_adapter::purge(const std::string& task_id) {
  if (auto ok = check_task_id(task_id); !ok)
    return ok;
  std::lock_guard<std::mutex> guard{state_->mtx};
  if (state_->tasks.count(task_id) > 0)
    return fail(
      errc::invalid_argument,
      fmt::format("task {} is still known: remove it first", task_id));
  auto dir = state_->task_dir(task_id);
  std::error_code ec;
  if (fs::exists(dir / pid_file_name, ec))
    return fail(errc::invalid_argument,
                fmt::format("task {} from a previous run may still run: "
                            "kill_recovered it first",
                            task_id));
  fs::remove_all(dir, ec);
  if (ec)
    return fail(errc::internal, fmt::format("cannot delete {}: {}",
                                            dir.string(), ec.message()));
  return {};
}

fs::path process_adapter::log_path(const std::string& task_id) const {
  if (!is_valid_task_id(task_id))
    return {};
  auto path = state_->task_dir(task_id) / log_file_name;
  std::error_code ec;
  return fs::exists(path, ec) ? path : fs::path{};
}

std::vector<recovered_task> process_adapter::recover() {
  std::lock_guard<std::mutex> guard{state_->mtx};
  std::vector<recovered_task> out;
  std::error_code ec;
  for (fs::directory_iterator i{state_->dir, ec}, end; !ec && i != end;
       i.increment(ec)) {
    auto id = i->path().filename().string();
    if (!is_valid_task_id(id) || state_->tasks.count(id) > 0)
      continue;
    auto pid_file = i->path() / pid_file_name;
    std::error_code exists_ec;
    if (!fs::exists(pid_file, exists_ec))
      continue;
    auto rec = read_pid_file(pid_file);
    bool alive = rec && check_identity(*rec) != identity::reused
                 && group_exists(rec->pid);
    out.push_back({id, alive});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& x, const auto& y) { return x.task_id < y.task_id; });
  return out;
}

result<void> process_adapter::kill_recovered(const std::string& task_id) {
  if (auto ok = check_task_id(task_id); !ok)
    return ok;
  std::lock_guard<std::mutex> guard{state_->mtx};
  if (state_->tasks.count(task_id) > 0)
    return fail(errc::invalid_argument,
                fmt::format("task {} was started by this node's runtime: use "
                            "kill",
                            task_id));
  auto pid_file = state_->task_dir(task_id) / pid_file_name;
  std::error_code ec;
  if (!fs::exists(pid_file, ec))
    return fail(errc::not_found,
                fmt::format("no task {} from a previous run", task_id));
  auto rec = read_pid_file(pid_file);
  // A reused pid belongs to someone else now: leave it alone. Its group
  // cannot be reused while a member lives, so the group is the task's.
  if (rec && check_identity(*rec) != identity::reused) {
    kill_session(rec->pid);
    // SIGKILL cannot be caught, but is delivered asynchronously: believe
    // /proc, not the kill's return value.
    for (int i = 0; i < 200 && session_alive(rec->pid); ++i) {
      ::usleep(10'000);
      kill_session(rec->pid); // one forked meanwhile
    }
    if (session_alive(rec->pid))
      return fail(errc::internal,
                  fmt::format("task {} (session {}) still runs 2 s after "
                              "SIGKILL",
                              task_id, rec->pid));
  }
  fs::remove(pid_file, ec);
  if (ec)
    return fail(errc::internal, fmt::format("cannot delete {}: {}",
                                            pid_file.string(), ec.message()));
  return {};
}

} // namespace skep::runtime
