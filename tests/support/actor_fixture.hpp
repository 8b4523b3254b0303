#pragma once

#include "messages/type_ids.hpp"

#include <chrono>
#include <optional>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>

namespace skep::test {

/// Runs actors under CAF's test_coordinator: nothing runs until the test says
/// so, and time is virtual. CAF's own test DSL crashes under GoogleTest, so
/// this fixture drives the coordinator directly.
///
///   auto reply = request<control_reply>(actor, msg);  // runs until answered
///   advance(std::chrono::seconds{5});                 // fires due timers
class actor_fixture : public ::testing::Test {
 protected:
  struct config : caf::actor_system_config {
    config() {
      set("scheduler.policy", caf::atom("testing"));
      set("logger.inline-output", true);
      skep::register_types(*this);
    }
  };

  actor_fixture()
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys, true) {}

  ~actor_fixture() override {
    // Let every actor see its exit before the system goes down.
    run();
  }

  /// Runs every actor until no messages are left; returns how many ran.
  size_t run() { return sched.run(); }

  /// Moves virtual time forward by `d`, firing due timers, then runs.
  size_t advance(caf::timespan d) {
    auto fired = sched.advance_time(d);
    run();
    return fired;
  }

  /// Sends `xs...` as a request to `dest`, runs the system until the reply
  /// arrives, and returns it; nothing when the request failed or no reply of
  /// type `Reply` came.
  template <class Reply, class Handle, class... Ts>
  std::optional<Reply> request(const Handle& dest, Ts&&... xs) {
    std::optional<Reply> out;
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    run();
    if (self->mailbox().empty()) {
      ADD_FAILURE() << "the actor did not answer";
      return out;
    }
    handle.receive([&](Reply& reply) { out = std::move(reply); },
                   [&](caf::error& err) {
                     ADD_FAILURE() << "request failed: " << sys.render(err);
                   });
    return out;
  }

  config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
};

} // namespace skep::test
