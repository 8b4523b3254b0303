#pragma once

// The one clock of Skep's actors: every timestamp and timeout an actor takes
// comes from its actor system's clock (virtual time under the test
// coordinator, the steady clock otherwise), through these helpers. The
// blocking join client, the control socket's poll loops and the logger keep
// the real clocks: they wait in the kernel, where no actor clock reaches.

#include <chrono>
#include <cstdint>

namespace caf {
class local_actor;
} // namespace caf

namespace skep::clock {

/// Now on the actor clock: for deadlines, timeouts and durations.
std::chrono::steady_clock::time_point now(const caf::local_actor* self);

/// The wall clock as the actor clock moves it: the system clock, or under
/// the test coordinator the system clock when a test first asked plus the
/// virtual time since. For timestamps (created, updated, events) and
/// certificate validity.
std::chrono::system_clock::time_point wall(const caf::local_actor* self);

/// wall() as Unix nanoseconds, as the store and the event log keep time.
int64_t unix_nanos(const caf::local_actor* self);

} // namespace skep::clock
