#pragma once

#include "actors/ca/certificate.hpp"
#include "actors/ca/keys.hpp"
#include "actors/transport/sealed_channel.hpp"
#include "messages/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sodium.h>

namespace skep::transport {

/// Which end of the TCP connection this node is.
enum class side { client, server };

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
};

/// Session set-up between two nodes, without I/O: feed it the peer's frames,
/// send what it returns. The flow (1.5 round trips):
///
///   client -> server  Hello{kx key, nonce}
///   server -> client  Hello{kx key, nonce}, streamHeader, sealedAuth
///   client -> server  streamHeader, sealedAuth
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

  /// The peer's certificate. Requires established().
  const ca::certificate_fields& peer() const { return peer_; }

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
  sealed_channel::key rx_{};
  sealed_channel::key tx_{};
  std::optional<sealed_channel> channel_;
  ca::certificate_fields peer_;
};

} // namespace skep::transport
