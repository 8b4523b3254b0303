#pragma once

// A long-lived actor's requests that fail without an error handler of their
// own (a timeout while the node is overloaded): logged, not fatal.

#include <string_view>

namespace caf {
class scheduled_actor;
} // namespace caf

namespace skep::log {

/// Makes `self` log such failures as warnings naming `who`. CAF's default
/// ends the actor with the error: a manager would stop over one slow reply.
void log_failed_requests(caf::scheduled_actor* self, std::string_view who);

} // namespace skep::log
