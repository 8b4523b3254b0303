#pragma once

#include "actors/ca/certificate.hpp"
#include "actors/ca/join_token.hpp"
#include "actors/ca/keys.hpp"
#include "messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace skep::transport {

/// What a node needs to join a swarm through one of its managers.
struct join_request {
  std::string host;
  uint16_t port = 0;
  ca::join_token token;
  const ca::keypair* identity = nullptr; ///< the node's own key
  std::string node_id;
  std::string hostname;
  std::string advertise_addr; ///< HOST:PORT where others reach the node
  std::string engine_version; ///< the Skep release this node runs
  int64_t nano_cpus = 0;      ///< what the node offers tasks; 0: unknown
  int64_t memory_bytes = 0;
  std::chrono::milliseconds timeout{10000}; ///< for the whole exchange
};

/// What the swarm gave the node: its certificate and the CA it trusts.
struct joined {
  std::vector<uint8_t> certificate;
  ca::public_key ca_key{};
  ca::certificate_fields fields;
  std::string manager_id; ///< the manager that answered
  std::string cluster_id; ///< the swarm, when the manager told
};

/// Joins a swarm (blocking): opens a session with the manager using the
/// token (pinning the CA by the token's digest and proving the secret
/// without sending it), asks the manager's CA for a certificate, and checks
/// that the certificate names this node, its key and the pinned CA. Nothing
/// is written to disk: the caller stores the result.
result<joined> join_swarm(const join_request& req);

} // namespace skep::transport
