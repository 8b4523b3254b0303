#pragma once

#include "actors/ca/keys.hpp"
#include "messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace skep::ca {

/// What a node may do in the swarm.
enum class node_role { worker, manager };

const char* to_string(node_role role) noexcept;

using time_point = std::chrono::system_clock::time_point;

/// What a node certificate says.
struct certificate_fields {
  uint64_t serial = 0;
  std::string node_id;
  node_role role = node_role::worker;
  public_key node_key{};
  key_id ca{};
  time_point issued_at;
  time_point expires_at;
};

/// Signs `fields` with the CA key `ca` and returns the encoded Certificate
/// message (messages/ca.capnp). `fields.ca` is set from the CA's key.
std::vector<uint8_t> issue_certificate(const keypair& ca,
                                       certificate_fields fields);

/// What a receiver demands of a certificate.
struct certificate_policy {
  public_key ca_key{};                 ///< the cluster CA this node trusts
  time_point now;                      ///< the receiver's clock
  std::chrono::seconds clock_skew{60}; ///< tolerated for issued_at
  const std::set<std::string>* revoked = nullptr; ///< removed node ids
  bool require_manager = false; ///< only managers may send this
};

/// Decodes and checks an encoded certificate: structure (with the default
/// read limits), the CA it names, the signature, the validity period, the
/// role and revocation. On success returns its fields; otherwise a failure
/// whose message says which check failed.
result<certificate_fields> verify_certificate(const uint8_t* data, size_t size,
                                              const certificate_policy& policy);

/// True when a certificate valid until `expires_at` should be renewed now:
/// once less than a third of its lifetime remains, as Swarm does.
bool needs_renewal(const certificate_fields& cert, time_point now);

} // namespace skep::ca
