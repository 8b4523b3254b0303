#include "actors/logging/clock.hpp"

#include <map>
#include <mutex>

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/detail/test_actor_clock.hpp>
#include <caf/local_actor.hpp>

namespace skep::clock {

namespace {

/// Under the test coordinator: the system clock and the virtual clock read
/// together, once per clock, so that wall time moves with virtual time from
/// the moment a test first asked.
struct anchor {
  std::chrono::system_clock::time_point wall;
  std::chrono::steady_clock::time_point actor;
};

anchor anchor_of(const caf::detail::test_actor_clock* clock) {
  static std::mutex mtx;
  static std::map<const caf::detail::test_actor_clock*, anchor> anchors;
  std::lock_guard<std::mutex> guard{mtx};
  auto it = anchors.find(clock);
  if (it == anchors.end())
    it = anchors
           .emplace(clock,
                    anchor{std::chrono::system_clock::now(), clock->now()})
           .first;
  return it->second;
}

} // namespace

std::chrono::steady_clock::time_point now(const caf::local_actor* self) {
  return self->clock().now();
}

std::chrono::system_clock::time_point wall(const caf::local_actor* self) {
  // The real actor clock is the steady clock: the wall clock is the system
  // clock then. Only virtual time needs an anchor.
  const auto* test_clock
    = dynamic_cast<const caf::detail::test_actor_clock*>(&self->clock());
  if (test_clock == nullptr)
    return std::chrono::system_clock::now();
  auto a = anchor_of(test_clock);
  return a.wall
         + std::chrono::duration_cast<std::chrono::system_clock::duration>(
           test_clock->now() - a.actor);
}

int64_t unix_nanos(const caf::local_actor* self) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           wall(self).time_since_epoch())
    .count();
}

} // namespace skep::clock
