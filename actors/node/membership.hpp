#pragma once

#include "actors/ca/certificate.hpp"
#include "actors/ca/keys.hpp"
#include "actors/transport/tcp.hpp"
#include "messages/result.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace skep::node {

/// What a node keeps in its data dir to resume its swarm membership after a
/// restart or crash (next to node-id, and raft.db on managers):
///
///   node.key    the node's Ed25519 identity (0600), made on first start
///   node.crt    its certificate from the swarm's CA (0600)
///   ca.pub      the CA's public key, hex (0600)
///   swarm.state "skep-swarm-v1", `cluster <id>`, `advertise <host:port>`,
///               and one `manager <node id> <host:port>` per known manager
///
/// A data dir without swarm.state belongs to no swarm.
struct membership {
  std::string cluster_id;
  std::string advertise_addr;
  /// Managers to dial, as last known: (node id, HOST:PORT).
  std::vector<std::pair<std::string, std::string>> managers;
  std::vector<uint8_t> certificate;
  ca::public_key ca_key{};
};

/// Reads the node's identity key, creating it (0600) on first use.
result<ca::keypair> load_or_create_identity(const std::string& data_dir);

/// Reads the membership; nothing when the node belongs to no swarm. Fails
/// naming the file when one is damaged.
result<std::optional<membership>> load_membership(const std::string& data_dir);

/// Writes the membership, each file atomically; swarm.state last, so a crash
/// midway leaves the node outside the swarm rather than half in it.
result<void> save_membership(const std::string& data_dir, const membership& m);

/// Forgets the membership (leaving the swarm): removes swarm.state first,
/// then the certificate and raft.db. The identity and node id stay.
result<void> clear_membership(const std::string& data_dir);

using transport::parse_host_port;

} // namespace skep::node
