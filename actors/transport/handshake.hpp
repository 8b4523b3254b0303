#pragma once

#include "actors/ca/certificate.hpp"
#include "actors/ca/join_token.hpp"
#include "actors/ca/keys.hpp"
#include "actors/transport/sealed_channel.hpp"
#include "messages/result.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sodium.h>

namespace skep::transport {

/// Which end of the TCP connection this node is.
enum class side { client, server };

/// What a joining node claims during the handshake, for the CA to judge.
struct join_claim {
  std::string node_id;
  ca::public_key node_key{};
  std::array<uint8_t, 32> challenge{}; ///< the transcript hash
  ca::token_proof proof{};
};

/// Judges a join claim: the role the token grants, or why it is refused.
using join_check = std::function<result<ca::node_role>(const join_claim&)>;

/// What a node brings to a handshake.
struct handshake_options {
  side role = side::client;
  /// The node's Ed25519 identity; must outlive the handshake.
  const ca::keypair* identity = nullptr;
  /// The node's certificate, signed by the cluster CA.
  std::vector<uint8_t> certificate;
  /// What the peer's certificate must satisfy. `policy.now` is the time the
  /// certificate is checked against: set it for each handshake, never once
  /// for the life of a transport.
  ca::certificate_policy policy;
  /// When dialing a known node: its id, which the certificate must name.
  std::optional<std::string> expected_peer;

  /// Client only: join the swarm with this token instead of presenting a
  /// certificate. The server's CA key is then pinned by the token's digest
  /// (policy.ca_key is ignored) and the server must be a manager.
  std::optional<ca::join_token> join;
  /// Client, with `join`: the id this node chose for itself.
  std::string node_id;

  /// Server only: accepts joining nodes when set (managers). The server
  /// sends policy.ca_key to joining clients, so set it to the CA's key.
  join_check accept_join;
};

/// Session set-up between two nodes, without I/O: feed it the peer's frames,
/// send what it returns. The flow (1.5 round trips):
///
///   client -> server  Hello{kx key, nonce}
///   server -> client  Hello{kx key, nonce}, streamHeader, sealedAuth
///   client -> server  streamHeader, sealedAuth  (once the server's checked)
///
/// Session keys come from crypto_kx over the ephemeral keys; each direction
/// is a secretstream. The Auth (certificate + identity signature over the
/// hash of both Hellos, labelled with the sender's side) travels sealed, so
/// certificates never cross the wire in clear, and a relay that swaps the
/// ephemeral keys cannot produce a matching signature.
class handshake {
 public:
  explicit handshake(handshake_options opts);
  ~handshake();
  handshake(const handshake&) = delete;
  handshake& operator=(const handshake&) = delete;

  /// Frames to send first: the client's Hello; nothing for the server.
  std::vector<std::vector<uint8_t>> start();

  /// Handles one frame from the peer and returns the frames to send. A
  /// failure names the step the peer failed; drop the connection then.
  result<std::vector<std::vector<uint8_t>>> receive(const uint8_t* data,
                                                    size_t size);

  /// True once both sides proved themselves.
  bool established() const noexcept { return step_ == step::established; }

  /// The peer's certificate. Requires established(). For a joining peer
  /// (peer_joining()) only node_id, role (granted by its token) and node_key
  /// are set: it has no certificate yet.
  const ca::certificate_fields& peer() const { return peer_; }

  /// Server: true when the peer joined with a token rather than a certificate.
  bool peer_joining() const noexcept { return peer_joining_; }

  /// Client, joining: the CA key the server presented, matching the token.
  const ca::public_key& pinned_ca() const { return opts_.policy.ca_key; }

  /// Hands over the session. Requires established(); call once.
  sealed_channel take_channel();

 private:
  enum class step {
    start,
    await_hello,
    await_header,
    await_auth,
    established,
    failed
  };

  result<std::vector<std::vector<uint8_t>>> on_hello(const uint8_t* frame,
                                                     size_t size);
  std::vector<std::vector<uint8_t>> begin_stream();
  result<void> check_auth(const std::vector<uint8_t>& auth_bytes);
  std::vector<uint8_t> make_hello();

  handshake_options opts_;
  step step_ = step::start;
  std::array<uint8_t, crypto_kx_PUBLICKEYBYTES> kx_public_{};
  std::array<uint8_t, crypto_kx_SECRETKEYBYTES> kx_secret_{};
  std::vector<uint8_t> own_hello_;
  std::vector<uint8_t> peer_hello_;
  std::vector<uint8_t> own_header_; ///< our stream header frame
  sealed_channel::key rx_{};
  sealed_channel::key tx_{};
  std::optional<sealed_channel> channel_;
  std::array<uint8_t, 32> transcript_digest() const;

  ca::certificate_fields peer_;
  bool peer_joining_ = false;
  bool peer_wants_join_ = false; ///< server: the client's Hello asked to join
};

} // namespace skep::transport
