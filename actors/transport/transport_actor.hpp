#pragma once

#include "actors/ca/certificate.hpp"
#include "actors/transport/handshake.hpp"
#include "messages/envelope.hpp"
#include "messages/type_ids.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace skep::transport {

/// Who sent an inbound envelope, as its session authenticated them.
struct peer_info {
  std::string node_id;
  ca::node_role role = ca::node_role::worker;
  ca::public_key node_key{};
  /// True when the peer joined with a token and has no certificate yet; its
  /// role is the one its token grants.
  bool joining = false;
};

/// What the transport hands a local actor. For a request, the actor replies
/// with an envelope whose body is the answer (the transport writes the
/// header); for a one-way message any reply is ignored.
struct inbound {
  envelope env;
  peer_info from;
};

/// Faults injected on the path to one peer, in user space (there is no
/// `tc netem` here). They apply to envelopes this node sends to the peer;
/// a partition also discards what the peer sends and stops dialing it.
struct fault_rule {
  double drop = 0;                    ///< probability an envelope is lost
  std::chrono::milliseconds delay{0}; ///< added before an envelope is sent
  bool partitioned = false;
};

/// One session, for status and tests.
struct session_info {
  std::string node_id;
  ca::node_role role = ca::node_role::worker;
  bool outgoing = false; ///< this node dialed it
  bool joining = false;
  std::string address; ///< host:port of the other end
};

/// What the transport reports about itself.
struct transport_status {
  uint16_t port = 0; ///< the listening port, 0 when not listening
  std::vector<session_info> sessions;
  uint64_t dropped_connections = 0; ///< closed for a protocol violation
  uint64_t injected_drops = 0;      ///< envelopes lost to fault_rule::drop
  size_t pending_calls = 0;
};

/// How a node's transport runs.
struct transport_config {
  std::string node_id;
  /// Where to accept sessions; port 0 picks a free one. Empty host: do not
  /// listen (a node that only dials).
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  std::shared_ptr<const ca::keypair> identity;
  std::vector<uint8_t> certificate;
  /// The role that certificate gives this node: what local actors are told
  /// of a sender on this same node (envelopes to oneself never hit the wire).
  ca::node_role role = ca::node_role::worker;
  ca::public_key ca_key{};
  size_t max_frame_bytes = 4 * 1024 * 1024;
  /// A connection that has not finished its handshake by then is dropped.
  std::chrono::milliseconds handshake_timeout{5000};
  /// Dial timeout, and the backoff between attempts (doubling, with jitter).
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{5000};
  /// Envelopes kept per peer while its session is down.
  size_t max_queued = 4096;
  /// A peer with more than this many bytes waiting to be sent to it (it
  /// stopped reading) is dropped.
  uint64_t max_unsent_bytes = 64 * 1024 * 1024;
  /// At most this many connections at once; more are refused.
  size_t max_connections = 1024;
  /// Seeds the fault-injection dice, so a test can replay a run.
  uint64_t fault_seed = 1;
  /// Benchmarks only: frames after the handshake travel unsealed.
  bool seal_frames = true;
  /// Managers: judges nodes that join with a token (see ca_join_check.hpp).
  join_check accept_join;
};

/// The transport's messages, as the actors that use it see them (see
/// below). The broker itself is untyped: CAF 0.17's typed brokers cannot
/// take its connection events and the messages of its own timers, which
/// stay private to it. transport::spawn hands out this handle, so what its
/// users send is checked against the list.
using transport_actor = caf::typed_actor<
  caf::reacts_to<atom::peer, std::string, std::string, uint16_t>,
  caf::reacts_to<atom::forget, std::string>,
  caf::reacts_to<atom::route, std::string, caf::actor>,
  caf::reacts_to<atom::send, envelope>,
  caf::replies_to<atom::call, envelope, caf::timespan>::with<envelope>,
  caf::reacts_to<atom::fault, std::string, double, caf::timespan, bool>,
  caf::reacts_to<atom::heal>, caf::reacts_to<atom::revoke, std::string>,
  caf::reacts_to<atom::certify, std::vector<uint8_t>>,
  caf::replies_to<atom::status>::with<transport_status>>;

/// The node's transport: a CAF broker that listens, dials the peers it is
/// told about (reconnecting with backoff), keeps one session per peer, and
/// carries envelopes between local actors and actors on other nodes.
///
/// Messages it handles (all replies to calls are envelopes; a failure is an
/// envelope whose body is an Error):
///
/// - (peer, node id, host, port): dial the node and keep a session to it.
/// - (forget, node id): stop dialing it and close its sessions.
/// - (route, name, actor): deliver envelopes for `name` to `actor` (as
///   `inbound`), until the actor goes down.
/// - (send, envelope): one-way to the node and actor in the envelope's
///   target; the transport writes sender node and correlation id.
/// - (call, envelope, timespan) -> envelope: a request; the reply, or an
///   Error when the peer is unknown or unreachable, the session is lost
///   while waiting, or the timeout passes.
/// - (fault, node id, drop, delay, partitioned) and (heal): fault injection.
/// - (revoke, node id): refuse the node's certificate from now on and close
///   its sessions.
/// - (certify, certificate bytes): present this certificate from now on.
/// - (status) -> transport_status.
///
/// A peer that sends a malformed, oversized, unsealed or unauthorized frame
/// is dropped and logged; the node keeps running.
class transport {
 public:
  /// Starts the transport (the actor system must have loaded the
  /// middleman). Fails when the listening address cannot be bound.
  static result<transport_actor> spawn(caf::actor_system& sys,
                                       transport_config cfg);
};

/// Turns a reply from the transport into its envelope or the failure it
/// carries.
result<envelope> reply_or_failure(const envelope& reply);

} // namespace skep::transport

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::transport::inbound)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(skep::transport::transport_status)
