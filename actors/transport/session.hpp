#pragma once

#include "actors/transport/handshake.hpp"
#include "messages/envelope.hpp"
#include "messages/frame.hpp"
#include "messages/result.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace skep::transport {

/// Checks what an authenticated peer may send: the envelope's sender must be
/// the peer itself (no speaking for other nodes); control messages (and, as
/// they arrive, raft messages) and certificate replies only come from
/// managers; a peer that joined with a token and has no certificate yet may
/// only ask the "ca" actor for one.
result<void> authorize(const ca::certificate_fields& peer, bool joining,
                       const envelope& env);

/// One connection to a peer node, without I/O: feed it the bytes the socket
/// delivers, write the bytes it returns. It frames (4-byte length), runs the
/// handshake, then seals every frame and decodes envelopes with the read
/// limits, authorizing each against the peer's certificate. Any failure means
/// the connection must be dropped; the failure says why, for the log.
class session {
 public:
  struct options {
    handshake_options handshake;
    /// Largest frame accepted from the peer, sealed overhead included.
    size_t max_frame_bytes = 4 * 1024 * 1024;
    /// Benchmarks only, never a node setting: after the (still
    /// authenticated) handshake, frames travel unsealed, to measure what
    /// sealing costs. Both ends must agree or the session fails.
    bool seal_frames = true;
  };

  /// What one call produced.
  struct output {
    std::vector<uint8_t> to_send;   ///< bytes for the socket, in order
    std::vector<envelope> received; ///< authorized envelopes, in order
  };

  explicit session(options opts);

  /// Bytes to write when the connection opens (the client's Hello).
  std::vector<uint8_t> start();

  /// Handles bytes read from the socket.
  result<output> on_bytes(const uint8_t* data, size_t size);

  /// Seals and frames `env` for the socket. Requires established().
  result<std::vector<uint8_t>> seal(const envelope& env);

  bool established() const noexcept { return channel_.has_value(); }

  /// The peer's certificate. Requires established().
  const ca::certificate_fields& peer() const { return peer_; }

  /// True when the peer joined with a token and has no certificate yet.
  bool peer_joining() const noexcept { return joining_; }

  /// Joining client: the CA key pinned by the token. Requires established().
  const ca::public_key& pinned_ca() const { return handshake_.pinned_ca(); }

 private:
  options opts_;
  frame_reader reader_;
  handshake handshake_;
  std::optional<sealed_channel> channel_;
  ca::certificate_fields peer_;
  bool joining_ = false;
  bool failed_ = false;
};

} // namespace skep::transport
