#include "actors/agent/task_runner.hpp"

#include "actors/logging/clock.hpp"
#include "actors/logging/log.hpp"

#include <atomic>
#include <chrono>
#include <optional>

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
  caf::actor starter;
  bool prepared = false; ///< the runtime knows the task
  bool running = false;  ///< its process runs
  bool stopping = false; ///< asked to stop
  /// The starter is preparing or starting the task: a stop, an exit or
  /// the agent's done waits for its answer.
  bool waiting_for_starter = false;
  bool quit_when_started = false;
  /// Set when a stop arrives while the starter has the task: a start it
  /// has not begun yet is skipped.
  std::shared_ptr<std::atomic<bool>> cancelled
    = std::make_shared<std::atomic<bool>>(false);
  std::optional<runtime::exit_status> early_exit;
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

void stop(self_ptr self);
void on_exit(self_ptr self, const runtime::exit_status& exit);

void on_started(self_ptr self, const start_outcome& out);

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
  start_request req;
  req.spec.task_id = t.id;
  req.spec.service_name = t.service_id;
  req.spec.slot = t.slot;
  req.spec.container = t.container;
  req.spec.limits = t.limits;
  req.spec.ports = t.ports;
  req.cancelled = st.cancelled;
  st.waiting_for_starter = true;
  self->request(st.starter, caf::infinite, atom::start_v, std::move(req))
    .then([=](const start_outcome& out) { on_started(self, out); },
          [=](caf::error& err) {
            start_outcome failed;
            failed.error = caf::to_string(err);
            on_started(self, failed);
          });
}

void on_started(self_ptr self, const start_outcome& out) {
  auto& st = self->state;
  st.waiting_for_starter = false;
  st.prepared = out.prepared;
  st.running = out.prepared && !out.cancelled && out.error.empty();
  if (st.quit_when_started) {
    self->quit();
    return;
  }
  if (!out.prepared) {
    report(self, task_state::rejected, "preparing failed", out.error);
    return;
  }
  if (out.cancelled) {
    report(self, task_state::shutdown, "shutdown before it started");
    return;
  }
  report(self, task_state::starting, "starting");
  if (!out.error.empty()) {
    report(self, task_state::failed, "starting failed", out.error);
    return;
  }
  st.task.status.host_ports = out.started.host_ports;
  report(self, task_state::running, "started");
  log::debug(who, "task {} runs as process {}", st.task.id, out.started.pid);
  if (st.early_exit) {
    // The agent reaped it before the starter's answer came.
    on_exit(self, *st.early_exit);
    return;
  }
  if (st.task.desired_state > task_state::running)
    stop(self);
}

void stop(self_ptr self) {
  auto& st = self->state;
  if (st.waiting_for_starter) {
    // The starter skips the start if it has not begun it; on_started looks
    // at the desired state either way.
    st.cancelled->store(true);
    return;
  }
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

void on_exit(self_ptr self, const runtime::exit_status& exit) {
  auto& st = self->state;
  if (st.waiting_for_starter) {
    st.early_exit = exit;
    return;
  }
  st.running = false;
  if (st.stopping || st.task.desired_state > task_state::running)
    report(self, task_state::shutdown, "shutdown", "", exit.exit_code);
  else if (exit.exit_code == 0)
    report(self, task_state::complete, "finished", "", 0);
  else
    report(
      self, task_state::failed, "task failed",
      fmt::format("task: non-zero exit ({}): {}", exit.exit_code, exit.message),
      exit.exit_code);
}

caf::behavior task_runner(self_ptr self, store::task_object task,
                          std::shared_ptr<runtime::adapter> runtime,
                          caf::actor agent, caf::actor starter) {
  auto& st = self->state;
  st.task = std::move(task);
  st.runtime = std::move(runtime);
  st.agent = std::move(agent);
  st.starter = std::move(starter);
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
      on_exit(self, exit);
    },
    [=](atom::done) {
      if (self->state.waiting_for_starter)
        self->state.quit_when_started = true;
      else
        self->quit();
    },
  };
}

caf::behavior task_starter(caf::event_based_actor*,
                           std::shared_ptr<runtime::adapter> runtime) {
  return {
    [=](atom::start, const start_request& req) {
      start_outcome out;
      if (auto ok = runtime->prepare(req.spec); !ok) {
        out.error = ok.error().message;
        return out;
      }
      out.prepared = true;
      if (req.cancelled && req.cancelled->load()) {
        out.cancelled = true;
        return out;
      }
      if (auto started = runtime->start(req.spec.task_id); started)
        out.started = std::move(*started);
      else
        out.error = started.error().message;
      return out;
    },
  };
}

} // namespace

caf::actor spawn_task_runner(caf::actor_system& sys, store::task_object task,
                             std::shared_ptr<runtime::adapter> runtime,
                             caf::actor agent, caf::actor starter) {
  return sys.spawn(task_runner, std::move(task), std::move(runtime),
                   std::move(agent), std::move(starter));
}

caf::actor spawn_task_starter(caf::actor_system& sys,
                              std::shared_ptr<runtime::adapter> runtime,
                              bool on_scheduler) {
  // Detached starter threads were seen to hold a skepd at SIGTERM (the
  // README walkthrough timed out in two full runs); until that is found,
  // starters run on the scheduler like any actor.
  (void)on_scheduler;
  return sys.spawn(task_starter, std::move(runtime));
}

} // namespace skep::agent
