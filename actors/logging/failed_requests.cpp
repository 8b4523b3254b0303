#include "actors/logging/failed_requests.hpp"

#include "actors/logging/log.hpp"

#include <string>

#include <caf/error.hpp>
#include <caf/scheduled_actor.hpp>

namespace skep::log {

void log_failed_requests(caf::scheduled_actor* self, std::string_view who) {
  self->set_error_handler(
    [name = std::string{who}](caf::scheduled_actor*, caf::error& err) {
      warn(name, "a request failed: {}", caf::to_string(err));
    });
}

} // namespace skep::log
