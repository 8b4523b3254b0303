#pragma once

// Helpers shared by codec.cpp (batches, clusters, nodes) and
// service_codec.cpp (services, tasks). Internal to actors/store.

#include "actors/store/objects.hpp"
#include "messages/result.hpp"
#include "messages/store.capnp.h"

#include <string>
#include <string_view>

namespace skep::store::detail {

inline std::string text_of(capnp::Text::Reader text) {
  return std::string(text.begin(), text.size());
}

inline failure invalid(std::string why) {
  return fail(errc::invalid_argument, std::move(why));
}

/// `text` cut to max_id_size characters, anything but printable ASCII shown
/// as '?': safe to put in a log line or an answer to a client.
std::string printable(std::string_view text);

/// Refuses an id that is_valid_object_id refuses, naming `what` ("node").
result<void> check_id(std::string_view what, std::string_view id);

/// The same failure, its message prefixed with `context` (e.g. "task t1").
failure within(std::string_view context, const failure& why);

/// Reads a TaskState, refusing numbers this build does not know.
result<task_state> task_state_of(schema::store::TaskState in);

schema::store::TaskState to_schema(task_state value);

/// True for the values the C++ enum declares (an in-memory action may hold
/// any number).
bool is_known(task_state value);

/// Refuses a status with an unknown state or texts and lists over the
/// limits (codec.hpp).
result<void> check_status(const task_status& status);

} // namespace skep::store::detail
