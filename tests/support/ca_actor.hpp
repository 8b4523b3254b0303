#pragma once
// For tests/support/transport_node.cpp only.

#include "actors/ca/shared_authority.hpp"

#include <memory>
#include <string>

#include <caf/fwd.hpp>

namespace skep::test {

/// The test node's CA actor (registered with the transport as "ca"); a
/// manager issues certificates itself (actors/manager). It handles:
///
/// - inbound CertificateRequest: a joining node gets a certificate in the
///   role its token granted; a certified node gets a renewed one in its
///   current role. The reply carries the certificate and the CA's key.
/// - (tokens) -> (worker token, manager token).
/// - (rotate, "worker"|"manager") -> the new token, saved before replying.
/// - (revoke, node id) -> (): no certificate for the node from now on.
caf::actor spawn_ca_actor(caf::actor_system& sys,
                          std::shared_ptr<ca::shared_authority> ca);

} // namespace skep::test
