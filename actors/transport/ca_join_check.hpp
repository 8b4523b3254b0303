#pragma once

#include "actors/ca/shared_authority.hpp"
#include "actors/transport/handshake.hpp"

#include <memory>

namespace skep::transport {

/// What a manager's transport asks its CA when a node joins with a token:
/// the role the token grants, unless the node's id is taken or revoked.
join_check make_join_check(std::shared_ptr<ca::shared_authority> ca);

} // namespace skep::transport
