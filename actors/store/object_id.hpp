#pragma once

#include <string>

namespace skep::controlapi {

/// A fresh id for a service or a task: 25 random characters of [0-9a-z],
/// as Swarm's ids look.
std::string new_object_id();

} // namespace skep::controlapi
