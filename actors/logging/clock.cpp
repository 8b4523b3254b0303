#include "actors/logging/clock.hpp"

#include <map>
#include <mutex>

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

namespace skep::clock {

namespace {

/// The system clock and the actor clock read together, once per actor
/// system: wall time moves with the actor clock from there.
struct anchor {
  std::chrono::system_clock::time_point wall;
  std::chrono::steady_clock::time_point actor;
};

anchor anchor_of(const caf::local_actor* self) {
  static std::mutex mtx;
  static std::map<const caf::actor_system*, anchor> anchors;
  const auto* sys = &self->home_system();
  std::lock_guard<std::mutex> guard{mtx};
  auto it = anchors.find(sys);
  if (it == anchors.end())
    it = anchors
           .emplace(
             sys, anchor{std::chrono::system_clock::now(), self->clock().now()})
           .first;
  return it->second;
}

} // namespace

std::chrono::steady_clock::time_point now(const caf::local_actor* self) {
  return self->clock().now();
}

std::chrono::system_clock::time_point wall(const caf::local_actor* self) {
  auto a = anchor_of(self);
  return a.wall
         + std::chrono::duration_cast<std::chrono::system_clock::duration>(
           self->clock().now() - a.actor);
}

int64_t unix_nanos(const caf::local_actor* self) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           wall(self).time_since_epoch())
    .count();
}

} // namespace skep::clock
