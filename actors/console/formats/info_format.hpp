#pragma once

#include "messages/control.capnp.h"

#include <string>

namespace skep::console {

/// `skep version` text: the client's section, then the server's when
/// `server` is given (pass nullptr when the node could not be asked).
std::string format_version(const schema::control::VersionInfo::Reader* server);

/// `skep info` text, laid out like `docker info`.
std::string format_info(schema::control::NodeInfo::Reader info);

/// `skep info --format json`: one JSON object with Docker's keys where
/// Docker has one (ID, Name, ServerVersion, NCPU, MemTotal, Swarm, ...).
std::string info_json(schema::control::NodeInfo::Reader info);

/// Human size with binary units, e.g. "23.47GiB".
std::string human_bytes(uint64_t bytes);

} // namespace skep::console
