#include "actors/agent/task_runner.hpp"

#include "actors/logging/clock.hpp"
#include "actors/logging/log.hpp"

#include <chrono>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <fmt/format.h>

namespace skep::agent {

namespace {

using namespace std::chrono;
using store::task_state;
constexpr std::string_view who = "task";

struct runner_state {
  store::task_object task;
  std::shared_ptr<runtime::adapter> runtime;
  caf::actor agent;
  bool prepared = false; ///< the runtime knows the task
  bool running = false;  ///< its process runs
  bool stopping = false; ///< asked to stop
  static inline const char* name = "task_runner";

  ~runner_state() {
    // The task's process must not outlive its runner.
    if (runtime && prepared) {
      if (running)
        (void)runtime->kill(task.id);
      // An unreaped task cannot be removed; the agent's reaper forgets it.
      (void)runtime->remove(task.id);
    }
  }
};

using self_ptr = caf::stateful_actor<runner_state>*;

/// Moves the task to `state` and tells the agent.
void report(self_ptr self, task_state state, std::string message,
            std::string err = {}, int32_t exit_code = 0) {
  auto& st = self->state;
  if (state < st.task.status.state)
    return; // states only move forward
  st.task.status.state = state;
  st.task.status.at_nanos = clock::unix_nanos(self);
  st.task.status.message = std::move(message);
  st.task.status.err = std::move(err);
  st.task.status.exit_code = exit_code;
  self->send(st.agent, atom::report_v, st.task.id, st.task.status);
}

void start(self_ptr self) {
  auto& st = self->state;
  auto& t = st.task;
  if (t.status.state >= task_state::preparing) {
    // It got this far under a previous run of this node, whose processes
    // were cleaned up: it does not run any more, and it never runs twice.
    report(self, task_state::failed, "task lost",
           "the node restarted while the task ran");
    return;
  }
  if (t.desired_state > task_state::running) {
    report(self, task_state::shutdown, "shutdown before it started");
    return;
  }
  report(self, task_state::accepted, "accepted");
  report(self, task_state::preparing, "preparing");
  runtime::task_spec spec;
  spec.task_id = t.id;
  spec.service_name = t.service_id;
  spec.slot = t.slot;
  spec.container = t.container;
  spec.limits = t.limits;
  spec.ports = t.ports;
  if (auto ok = st.runtime->prepare(spec); !ok) {
    report(self, task_state::rejected, "preparing failed", ok.error().message);
    return;
  }
  st.prepared = true;
  report(self, task_state::starting, "starting");
  auto started = st.runtime->start(t.id);
  if (!started) {
    report(self, task_state::failed, "starting failed",
           started.error().message);
    return;
  }
  st.running = true;
  st.task.status.host_ports = started->host_ports;
  report(self, task_state::running, "started");
  log::debug(who, "task {} runs as process {}", t.id, started->pid);
}

void stop(self_ptr self) {
  auto& st = self->state;
  if (!st.running) {
    if (!store::is_terminal(st.task.status.state))
      report(self, task_state::shutdown, "shutdown");
    return;
  }
  if (st.stopping)
    return;
  st.stopping = true;
  (void)st.runtime->stop(st.task.id);
  self->delayed_send(self, st.task.container.stop_grace, atom::grace_v);
}

caf::behavior task_runner(self_ptr self, store::task_object task,
                          std::shared_ptr<runtime::adapter> runtime,
                          caf::actor agent) {
  auto& st = self->state;
  st.task = std::move(task);
  st.runtime = std::move(runtime);
  st.agent = std::move(agent);
  start(self);
  return {
    [=](atom::assign, const store::task_object& latest) {
      auto& st = self->state;
      st.task.desired_state
        = std::max(st.task.desired_state, latest.desired_state);
      if (st.task.desired_state > task_state::running)
        stop(self);
    },
    [=](atom::grace) {
      auto& st = self->state;
      if (st.running) {
        log::info(who, "task {} did not stop within {} s: killing it",
                  st.task.id,
                  duration_cast<seconds>(st.task.container.stop_grace).count());
        (void)st.runtime->kill(st.task.id);
      }
    },
    [=](atom::exited, const runtime::exit_status& exit) {
      auto& st = self->state;
      st.running = false;
      if (st.stopping || st.task.desired_state > task_state::running)
        report(self, task_state::shutdown, "shutdown", "", exit.exit_code);
      else if (exit.exit_code == 0)
        report(self, task_state::complete, "finished", "", 0);
      else
        report(self, task_state::failed, "task failed",
               fmt::format("task: non-zero exit ({}): {}", exit.exit_code,
                           exit.message),
               exit.exit_code);
    },
    [=](atom::done) { self->quit(); },
  };
}

} // namespace

caf::actor spawn_task_runner(caf::actor_system& sys, store::task_object task,
                             std::shared_ptr<runtime::adapter> runtime,
                             caf::actor agent) {
  return sys.spawn(task_runner, std::move(task), std::move(runtime),
                   std::move(agent));
}

} // namespace skep::agent
