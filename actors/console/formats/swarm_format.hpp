#pragma once

#include "messages/control.capnp.h"

#include <string>

namespace skep::console {

/// What `skep swarm init` prints: Docker's wording, Skep's commands.
std::string format_swarm_init(schema::control::SwarmInitReply::Reader reply);

/// What `skep swarm join-token ROLE` prints; with `quiet`, the token alone.
std::string format_join_token(schema::control::TokenReply::Reader reply,
                              bool quiet);

/// True when `a` sorts before `b` with runs of digits compared as numbers
/// ("node2" before "node10"), as docker/cli sorts hostnames.
bool natural_less(const std::string& a, const std::string& b);

/// `skep node ls`: ID (with `*` for the answering node), HOSTNAME, STATUS,
/// AVAILABILITY, MANAGER STATUS, ENGINE VERSION; or the ids alone (`quiet`),
/// sorted by hostname as Docker does.
std::string
format_node_table(capnp::List<schema::control::NodeView>::Reader nodes,
                  bool quiet);

/// `skep node ls --format json`: one JSON object per line, Docker's keys.
std::string
node_lines_json(capnp::List<schema::control::NodeView>::Reader nodes);

/// `skep node inspect`: a JSON array shaped like Docker's.
std::string
node_inspect_json(capnp::List<schema::control::NodeView>::Reader nodes);

/// `skep node inspect --pretty`.
std::string
format_node_pretty(capnp::List<schema::control::NodeView>::Reader nodes);

/// "ready" -> "Ready": how tables show states.
std::string title_case(const std::string& word);

} // namespace skep::console
