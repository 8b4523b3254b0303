#pragma once
// The CA actor: certificates for the nodes that join a swarm or renew their
// certificate. A manager runs one over its CA; the manager decides who may
// have a certificate (a joining node is recorded in the store first) and
// this actor signs it.

#include "actors/ca/certificate.hpp"
#include "actors/ca/shared_authority.hpp"
#include "messages/type_ids.hpp"

#include <memory>
#include <string>

#include <caf/fwd.hpp>

namespace skep::ca {

/// A certificate asked for, by the node its session authenticated.
struct certificate_request {
  std::string node_id;
  node_role role = node_role::worker; ///< the role to certify
  public_key node_key{};
  bool joining = false;   ///< it came with a join token, not a certificate
  std::string cluster_id; ///< for the reply; empty when not known yet
  std::string hostname;   ///< as the node sent it, for the log only
};

/// Spawns the CA actor over `ca`. It handles:
///
/// - (issue, certificate_request) -> envelope: a CertificateReply with the
///   certificate, the CA's public key and the cluster id, or an Error body
///   (another key already bound to the node id, a revoked node). Issuing
///   binds the node id to its key; a CA that saves (shared_authority's dir)
///   saves that before the reply.
/// - (revoke, node id): no certificate for the node from now on.
caf::actor spawn_ca_actor(caf::actor_system& sys,
                          std::shared_ptr<shared_authority> ca);

} // namespace skep::ca

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::ca::certificate_request)
