// The transport actor, one CAF broker per node. It is longer than Skep's
// other files for a reason: listening, dialing with backoff, the sessions'
// handshakes and sealed frames, remote calls with their timeouts, role
// checks and fault injection all act on the same connection table and run
// on the broker's thread, so they share this file's state rather than pass
// it between actors.

#include "actors/transport/transport_actor.hpp"

#include "actors/logging/clock.hpp"
#include "actors/logging/log.hpp"
#include "actors/transport/session.hpp"
#include "actors/transport/tcp.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <fmt/format.h>

namespace skep::transport {

namespace {

using namespace std::chrono;
using conn_hdl = caf::io::connection_handle;
using kind = schema::Envelope::Kind;
constexpr std::string_view who = "transport";

/// Lines about connections that never proved who they are: anyone can open
/// them, so a flood writes a few lines and a count.
log::rate_limit unauthenticated_lines{10, std::chrono::seconds{10}};

/// How long a local actor may take to answer a request from another node.
constexpr auto local_answer_timeout = std::chrono::minutes{5};

struct connection {
  std::unique_ptr<session> link;
  uint64_t serial = 0; ///< unique for the transport's life (fds are reused)
  bool outgoing = false;
  std::string dialed; ///< the node this node dialed (outgoing only)
  std::string address;
  bool established = false;
  bool joining = false; ///< the peer joined with a token: CA traffic only
  uint64_t unsent = 0;  ///< written but not yet taken by the kernel
};

struct peer_entry {
  std::string host;
  uint16_t port = 0;
  bool dial = false;    ///< keep a session: dial, and redial when lost
  bool dialing = false; ///< a dial or a handshake is under way
  uint64_t attempt = 0; ///< discards results of superseded dials
  unsigned failures = 0;
  /// Established, certified connections with the node, either way. Joining
  /// peers never appear here: nothing is routed to them but answers.
  std::set<conn_hdl> sessions;
  std::deque<envelope> queue; ///< waiting for a session
  fault_rule fault;
};

struct pending_call {
  caf::response_promise promise;
  std::string node;
};

struct transport_state {
  transport_config cfg;
  int listen_fd = -1;
  uint16_t port = 0;
  std::map<conn_hdl, connection> conns;
  uint64_t next_serial = 1;
  std::map<std::string, peer_entry> peers;
  std::map<std::string, caf::actor> routes;
  std::map<uint64_t, pending_call> calls;
  uint64_t next_id = 1;
  std::set<std::string> revoked;
  std::mt19937_64 dice;
  uint64_t dropped_connections = 0;
  uint64_t injected_drops = 0;

  transport_state() = default;
  transport_state(const transport_state&) = delete;
  transport_state& operator=(const transport_state&) = delete;

  /// Unanswered calls fail when the transport stops.
  ~transport_state() {
    for (auto& [id, call] : calls)
      call.promise.deliver(make_error_envelope(
        id, failure{errc::unavailable, "the transport stopped"}));
  }

  static inline const char* name = "transport";
};

using self_ptr = caf::io::stateful_broker<transport_state>*;

std::string text_of(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

/// Fault-injection messages pass every fault rule: otherwise a partition
/// could never be healed from the other side.
bool passes_faults(const envelope& env) {
  auto which = env.root().getBody().which();
  return which == schema::Envelope::Body::FAULT
         || which == schema::Envelope::Body::FAULT_REPLY;
}

// CAF 0.17's default multiplexer names a connection by its socket, which is
// how socket options reach connections CAF accepted.
int socket_of(conn_hdl hdl) {
  return static_cast<int>(hdl.id());
}

/// Finds a connection by handle and serial: a handle alone may already name
/// a newer connection on a reused socket.
connection* find_connection(self_ptr self, conn_hdl hdl, uint64_t serial) {
  auto it = self->state.conns.find(hdl);
  if (it == self->state.conns.end() || it->second.serial != serial)
    return nullptr;
  return &it->second;
}

session::options session_options(self_ptr self, side role,
                                 std::optional<std::string> expected) {
  auto& st = self->state;
  session::options o;
  o.max_frame_bytes = st.cfg.max_frame_bytes;
  o.seal_frames = st.cfg.seal_frames;
  o.handshake.role = role;
  o.handshake.identity = st.cfg.identity.get();
  o.handshake.certificate = st.cfg.certificate;
  o.handshake.policy.ca_key = st.cfg.ca_key;
  o.handshake.policy.now = clock::wall(self);
  o.handshake.policy.revoked = &st.revoked;
  o.handshake.expected_peer = std::move(expected);
  if (role == side::server)
    o.handshake.accept_join = st.cfg.accept_join;
  return o;
}

void write_bytes(self_ptr self, conn_hdl hdl, const std::vector<uint8_t>& b) {
  if (b.empty())
    return;
  auto& st = self->state;
  auto it = st.conns.find(hdl);
  if (it == st.conns.end())
    return;
  // A peer that stops reading must not make this node buffer without end.
  it->second.unsent += b.size();
  if (it->second.unsent > st.cfg.max_unsent_bytes) {
    self->send(self, atom::remove_v, hdl.id(), it->second.serial,
               fmt::format("the peer does not read: over {} bytes unsent",
                           st.cfg.max_unsent_bytes));
    return;
  }
  self->write(hdl, b.size(), b.data());
  self->flush(hdl);
}

void fail_calls_to(self_ptr self, const std::string& node, const failure& why) {
  auto& calls = self->state.calls;
  for (auto it = calls.begin(); it != calls.end();) {
    if (it->second.node == node) {
      it->second.promise.deliver(make_error_envelope(it->first, why));
      it = calls.erase(it);
    } else {
      ++it;
    }
  }
}

/// The node cannot be reached: its waiting envelopes are lost (as on a
/// network) and its calls fail now, so no failed request runs later.
void unreachable(self_ptr self, const std::string& node, const failure& why) {
  auto it = self->state.peers.find(node);
  if (it != self->state.peers.end())
    it->second.queue.clear();
  fail_calls_to(self, node, why);
}

void schedule_redial(self_ptr self, const std::string& node) {
  auto& st = self->state;
  auto it = st.peers.find(node);
  if (it == st.peers.end() || !it->second.dial)
    return;
  auto& p = it->second;
  p.dialing = false;
  ++p.failures;
  auto shift = std::min(p.failures - 1, 16u);
  milliseconds backoff = std::min<milliseconds>(
    st.cfg.reconnect_max, st.cfg.reconnect_initial * (int64_t{1} << shift));
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  auto wait = duration_cast<milliseconds>(backoff * jitter(st.dice));
  self->delayed_send(self, wait, atom::redial_v, node, p.attempt);
}

/// Connects on a thread of its own and hands the socket (or the failure) to
/// the broker. (Actors here always get arguments: CAF 0.17 dereferences a
/// null pointer when spawning a function without any.)
void dialer(caf::event_based_actor* self, caf::actor broker, std::string node,
            uint64_t attempt, std::string host, uint16_t port,
            milliseconds timeout) {
  auto fd = dial_tcp(host, port, timeout);
  if (fd)
    self->send(broker, atom::dialed_v, node, attempt, *fd, std::string{});
  else
    self->send(broker, atom::dialed_v, node, attempt, -1, fd.error().message);
  self->quit();
}

void start_dial(self_ptr self, const std::string& node) {
  auto& st = self->state;
  auto it = st.peers.find(node);
  if (it == st.peers.end())
    return;
  auto& p = it->second;
  if (!p.dial || p.dialing || !p.sessions.empty())
    return;
  p.dialing = true;
  auto attempt = ++p.attempt;
  auto timeout = st.cfg.connect_timeout;
  // Connecting blocks, so it runs on a thread of its own.
  self->spawn<caf::detached>(dialer, caf::actor_cast<caf::actor>(self), node,
                             attempt, p.host, p.port, timeout);
}

void lost(self_ptr self, conn_hdl hdl, const std::string& reason) {
  auto& st = self->state;
  auto it = st.conns.find(hdl);
  if (it == st.conns.end())
    return;
  auto c = std::move(it->second);
  st.conns.erase(it);
  std::string node = c.established ? c.link->peer().node_id : c.dialed;
  if (c.established)
    log::info(who, "session with node {} ({}) closed: {}", node, c.address,
              reason);
  else
    log::info_limited(unauthenticated_lines, who,
                      "connection {} closed before its handshake finished: "
                      "{}",
                      c.address, reason);
  auto p = st.peers.find(node);
  if (node.empty() || p == st.peers.end() || c.joining)
    return;
  p->second.sessions.erase(hdl);
  if (!p->second.sessions.empty())
    return;
  if (c.established)
    unreachable(self, node,
                failure{errc::unavailable,
                        fmt::format("the session with node {} was lost: {}",
                                    node, reason)});
  else if (c.outgoing)
    unreachable(self, node,
                failure{errc::unavailable,
                        fmt::format("cannot open a session with node {}: {}",
                                    node, reason)});
  if (c.outgoing)
    schedule_redial(self, node);
  else
    start_dial(self, node); // it dialed us; if we know its address, redial
}

/// Closes a connection for a protocol violation or by decision. A peer
/// that stopped reading is reset rather than closed gracefully, or its
/// unsent bytes would hold the socket open.
void drop(self_ptr self, conn_hdl hdl, const std::string& reason,
          bool reset = false) {
  auto it = self->state.conns.find(hdl);
  if (it == self->state.conns.end())
    return;
  ++self->state.dropped_connections;
  if (it->second.established)
    log::warn(who, "dropping connection {}: {}", it->second.address, reason);
  else
    log::warn_limited(unauthenticated_lines, who, "dropping connection {}: {}",
                      it->second.address, reason);
  if (reset) {
    linger hard{1, 0};
    ::setsockopt(socket_of(hdl), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::shutdown(socket_of(hdl), SHUT_RDWR);
  }
  self->close(hdl);
  lost(self, hdl, reason);
}

/// Seals `env` on a session with `node`, or queues it while one is being
/// opened; fails when there is no way to reach the node or `env` is too
/// large to send.
result<void> transmit(self_ptr self, const std::string& node,
                      const envelope& env,
                      std::optional<conn_hdl> preferred = std::nullopt) {
  auto& st = self->state;
  auto pit = st.peers.find(node);
  if (pit == st.peers.end())
    return fail(errc::unavailable,
                fmt::format("no session with node {} and no address to dial "
                            "it",
                            node));
  auto& p = pit->second;
  std::optional<conn_hdl> hdl;
  if (preferred && p.sessions.count(*preferred))
    hdl = preferred;
  else if (!p.sessions.empty())
    hdl = *p.sessions.begin();
  if (hdl) {
    auto bytes = st.conns.at(*hdl).link->seal(env);
    if (!bytes)
      return std::move(bytes).error();
    write_bytes(self, *hdl, *bytes);
    return {};
  }
  if (!p.dial)
    return fail(errc::unavailable,
                fmt::format("no session with node {} and no address to dial "
                            "it",
                            node));
  if (p.queue.size() >= st.cfg.max_queued)
    p.queue.pop_front();
  p.queue.push_back(env);
  start_dial(self, node);
  return {};
}

/// Sends `env` to `node` through the fault rules for that node.
result<void> dispatch(self_ptr self, const std::string& node,
                      const envelope& env,
                      std::optional<conn_hdl> preferred = std::nullopt) {
  auto& st = self->state;
  auto pit = st.peers.find(node);
  if (pit != st.peers.end() && !passes_faults(env)) {
    auto& rule = pit->second.fault;
    if (rule.partitioned)
      return {}; // lost on the way, as in a real partition
    if (rule.drop > 0) {
      std::uniform_real_distribution<double> coin(0.0, 1.0);
      if (coin(st.dice) < rule.drop) {
        ++st.injected_drops;
        return {};
      }
    }
    if (rule.delay.count() > 0) {
      self->delayed_send(self, rule.delay, atom::delayed_v, node, env);
      return {};
    }
  }
  return transmit(self, node, env, preferred);
}

/// Sends a reply on the connection the request came on: the only way to
/// reach a joining peer, and the right one for any peer.
void answer(self_ptr self, conn_hdl hdl, uint64_t serial,
            const std::string& node, const envelope& env) {
  auto* c = find_connection(self, hdl, serial);
  if (c == nullptr || !c->joining) {
    if (auto sent = dispatch(self, node, env, hdl); !sent)
      log::debug(who, "reply to node {} dropped: {}", node,
                 sent.error().message);
    return;
  }
  auto bytes = c->link->seal(env);
  if (bytes)
    write_bytes(self, hdl, *bytes);
}

void on_established(self_ptr self, conn_hdl hdl) {
  auto& st = self->state;
  auto& c = st.conns.at(hdl);
  c.established = true;
  c.joining = c.link->peer_joining();
  auto peer = c.link->peer();
  log::info(who, "session with {} node {} ({}) established{}",
            ca::to_string(peer.role), peer.node_id, c.address,
            c.joining ? ", joining with a token" : "");
  if (c.joining)
    return;
  auto& p = st.peers[peer.node_id];
  // One node id, one key: a second key under a known id is an impostor.
  for (auto other : p.sessions) {
    if (st.conns.at(other).link->peer().node_key != peer.node_key) {
      drop(self, hdl,
           fmt::format("node {} already has a session under another key",
                       peer.node_id));
      return;
    }
  }
  p.sessions.insert(hdl);
  if (c.outgoing) {
    p.dialing = false;
    p.failures = 0;
  }
  auto queued = std::move(p.queue);
  p.queue.clear();
  for (auto& env : queued)
    if (auto sent = transmit(self, peer.node_id, env); !sent)
      log::warn(who, "cannot send to node {}: {}", peer.node_id,
                sent.error().message);
}

/// The transport's own messages: ping (a round trip) and fault (the
/// console's fault injection). The answer is a body to send back.
result<envelope> answer_own(self_ptr self, const envelope& env) {
  auto& st = self->state;
  auto body = env.root().getBody();
  switch (body.which()) {
  case schema::Envelope::Body::PING: {
    auto payload = body.getPing().getPayload();
    return make_envelope(kind::REPLY, 0, {}, {}, [&](auto out) {
      auto pong = out.initPong();
      pong.setPayload(payload);
      pong.setNode(st.cfg.node_id);
    });
  }
  case schema::Envelope::Body::FAULT: {
    auto f = body.getFault();
    if (f.getHeal()) {
      for (auto& [node, p] : st.peers)
        p.fault = fault_rule{};
      log::info(who, "faults healed by the console");
    } else {
      auto drop = f.getDrop();
      auto delay = f.getDelayNanos();
      if (!(drop >= 0.0 && drop <= 1.0))
        return fail(
          errc::invalid_argument,
          fmt::format("drop probability {} is not between 0 and 1", drop));
      if (delay < 0 || delay > int64_t{60} * 1000 * 1000 * 1000)
        return fail(errc::invalid_argument,
                    "a delay must be between 0 and 60 s");
      if (f.getPeers().size() == 0 || f.getPeers().size() > 1000)
        return fail(errc::invalid_argument,
                    "a fault names between 1 and 1000 peer nodes");
      for (auto peer : f.getPeers()) {
        auto node = text_of(peer);
        if (node.empty() || node == st.cfg.node_id)
          return fail(errc::invalid_argument,
                      fmt::format("'{}' is not another node's id", node));
      }
      for (auto peer : f.getPeers()) {
        auto& rule = st.peers[text_of(peer)].fault;
        rule.drop = drop;
        rule.delay = duration_cast<milliseconds>(nanoseconds{delay});
        rule.partitioned = f.getPartitioned();
        log::info(who, "fault on the path to node {}: drop {}, delay {} ms{}",
                  text_of(peer), rule.drop, rule.delay.count(),
                  rule.partitioned ? ", partitioned" : "");
      }
    }
    return make_envelope(kind::REPLY, 0, {}, {}, [&](auto out) {
      std::vector<std::pair<std::string, fault_rule>> rules;
      for (auto& [node, p] : st.peers)
        if (p.fault.partitioned || p.fault.drop > 0
            || p.fault.delay.count() > 0)
          rules.emplace_back(node, p.fault);
      auto list
        = out.initFaultReply().initRules(static_cast<unsigned>(rules.size()));
      for (unsigned i = 0; i < rules.size(); ++i) {
        list[i].setPeer(rules[i].first);
        list[i].setDrop(rules[i].second.drop);
        list[i].setDelayNanos(
          duration_cast<nanoseconds>(rules[i].second.delay).count());
        list[i].setPartitioned(rules[i].second.partitioned);
      }
    });
  }
  default:
    return fail(errc::unsupported,
                fmt::format("the transport of node {} answers only ping and "
                            "fault",
                            st.cfg.node_id));
  }
}

void on_envelope(self_ptr self, conn_hdl hdl, const envelope& env) {
  auto& st = self->state;
  auto& c = st.conns.at(hdl);
  auto serial = c.serial;
  peer_info from{c.link->peer().node_id, c.link->peer().role,
                 c.link->peer().node_key, c.link->peer_joining()};
  auto pit = st.peers.find(from.node_id);
  if (pit != st.peers.end() && pit->second.fault.partitioned
      && !passes_faults(env))
    return;
  auto root = env.root();
  auto corr = root.getCorrelationId();
  if (root.getKind() == kind::REPLY) {
    auto call = st.calls.find(corr);
    if (call == st.calls.end() || call->second.node != from.node_id) {
      log::debug(who, "reply {} from node {} matches no call (late?)", corr,
                 from.node_id);
      return;
    }
    call->second.promise.deliver(env);
    st.calls.erase(call);
    return;
  }
  auto sender = to_actor_ref(root.getSender());
  auto target = to_actor_ref(root.getTarget());
  bool request = root.getKind() == kind::REQUEST;
  auto refuse = [&](failure why) {
    log::debug(who, "refusing envelope from node {}: {}", from.node_id,
               why.message);
    if (request) {
      auto reply = make_envelope(
        kind::REPLY, corr, actor_ref{st.cfg.node_id, target.name}, sender,
        [&](auto body) { to_schema(why, body.initError()); });
      answer(self, hdl, serial, from.node_id, reply);
    }
  };
  if (!target.node_id.empty() && target.node_id != st.cfg.node_id)
    return refuse(failure{errc::invalid_argument,
                          fmt::format("node {} does not relay envelopes for "
                                      "node {}",
                                      st.cfg.node_id, target.node_id)});
  if (target.name == "transport") {
    auto body = answer_own(self, env);
    if (!body)
      return refuse(body.error());
    if (request)
      answer(self, hdl, serial, from.node_id,
             restamp(*body, kind::REPLY, corr,
                     actor_ref{st.cfg.node_id, target.name}, sender));
    return;
  }
  auto route = st.routes.find(target.name);
  if (route == st.routes.end())
    return refuse(
      failure{errc::not_found, fmt::format("no actor named '{}' on node {}",
                                           target.name, st.cfg.node_id)});
  inbound in{env, from};
  if (!request) {
    caf::anon_send(route->second, std::move(in));
    return;
  }
  auto node = from.node_id;
  actor_ref me{st.cfg.node_id, target.name};
  self->request(route->second, local_answer_timeout, std::move(in))
    .then(
      [=](envelope& body) {
        answer(self, hdl, serial, node,
               restamp(body, kind::REPLY, corr, me, sender));
      },
      [=](caf::error& err) {
        failure why{errc::internal,
                    fmt::format("actor '{}' on node {} failed: {}", me.name,
                                me.node_id, caf::to_string(err))};
        answer(self, hdl, serial, node,
               make_envelope(kind::REPLY, corr, me, sender, [&](auto body) {
                 to_schema(why, body.initError());
               }));
      });
}

void on_data(self_ptr self, conn_hdl hdl, const std::vector<char>& buf) {
  auto& st = self->state;
  auto it = st.conns.find(hdl);
  if (it == st.conns.end())
    return;
  auto out = it->second.link->on_bytes(
    reinterpret_cast<const uint8_t*>(buf.data()), buf.size());
  if (!out) {
    drop(self, hdl, out.error().message);
    return;
  }
  write_bytes(self, hdl, out->to_send);
  if (!it->second.established && it->second.link->established())
    on_established(self, hdl);
  for (auto& env : out->received) {
    if (st.conns.count(hdl) == 0)
      return;
    on_envelope(self, hdl, env);
  }
}

void open_connection(self_ptr self, conn_hdl hdl, side role,
                     std::optional<std::string> dialed, std::string address) {
  auto& st = self->state;
  connection c;
  c.serial = st.next_serial++;
  auto serial = c.serial;
  c.outgoing = role == side::client;
  if (dialed)
    c.dialed = *dialed;
  c.address = std::move(address);
  c.link = std::make_unique<session>(session_options(self, role, dialed));
  auto hello = c.link->start();
  st.conns.emplace(hdl, std::move(c));
  self->configure_read(hdl, caf::io::receive_policy::at_most(64 * 1024));
  self->ack_writes(hdl, true);
  write_bytes(self, hdl, hello);
  self->delayed_send(self, st.cfg.handshake_timeout, atom::deadline_v, hdl.id(),
                     serial);
}

std::string peer_address(self_ptr self, conn_hdl hdl) {
  return fmt::format("{}:{}", self->remote_addr(hdl), self->remote_port(hdl));
}

/// Who a local actor hears from when another actor of this node sends it an
/// envelope: this node itself.
peer_info local_peer(self_ptr self) {
  auto& cfg = self->state.cfg;
  peer_info me;
  me.node_id = cfg.node_id;
  me.role = cfg.role;
  if (cfg.identity)
    me.node_key = cfg.identity->public_part;
  return me;
}

/// A call to an actor of this node: no session, the same reply rules.
void call_locally(self_ptr self, const envelope& env, caf::timespan timeout,
                  caf::response_promise rp) {
  auto root = env.root();
  auto id = root.getCorrelationId();
  if (text_of(root.getTarget().getName()) == "transport") {
    auto body = answer_own(self, env);
    rp.deliver(body ? restamp(*body, kind::REPLY, id,
                              to_actor_ref(root.getTarget()),
                              to_actor_ref(root.getSender()))
                    : make_error_envelope(id, body.error()));
    return;
  }
  auto route = self->state.routes.find(text_of(root.getTarget().getName()));
  if (route == self->state.routes.end()) {
    rp.deliver(make_error_envelope(
      id,
      failure{errc::not_found, fmt::format("no actor named '{}' on node {}",
                                           text_of(root.getTarget().getName()),
                                           self->state.cfg.node_id)}));
    return;
  }
  auto me = to_actor_ref(root.getTarget());
  auto sender = to_actor_ref(root.getSender());
  self->request(route->second, timeout, inbound{env, local_peer(self)})
    .then(
      [=](envelope& body) mutable {
        rp.deliver(restamp(body, kind::REPLY, id, me, sender));
      },
      [=](caf::error& err) mutable {
        rp.deliver(make_error_envelope(
          id, failure{errc::unavailable,
                      fmt::format("actor '{}' on this node did not answer: {}",
                                  me.name, caf::to_string(err))}));
      });
}

caf::behavior transport_broker(self_ptr self, transport_config cfg,
                               int listen_fd, uint16_t port) {
  auto& st = self->state;
  st.dice.seed(cfg.fault_seed);
  st.cfg = std::move(cfg);
  st.listen_fd = listen_fd;
  st.port = port;
  if (listen_fd >= 0)
    self->add_doorman(listen_fd);
  self->set_down_handler([=](const caf::down_msg& down) {
    auto& routes = self->state.routes;
    for (auto it = routes.begin(); it != routes.end();)
      if (it->second.address() == down.source)
        it = routes.erase(it);
      else
        ++it;
  });
  return {
    [=](const caf::io::new_connection_msg& msg) {
      auto& st = self->state;
      if (st.conns.size() >= st.cfg.max_connections) {
        log::warn_limited(unauthenticated_lines, who,
                          "refusing a connection: {} open already",
                          st.conns.size());
        self->close(msg.handle);
        return;
      }
      // As the dialer does: no Nagle (small requests would wait for
      // delayed ACKs) and keepalives (a vanished peer is noticed).
      tune_socket(socket_of(msg.handle));
      open_connection(self, msg.handle, side::server, std::nullopt,
                      peer_address(self, msg.handle));
    },
    [=](const caf::io::new_data_msg& msg) {
      on_data(self, msg.handle, msg.buf);
    },
    [=](const caf::io::data_transferred_msg& msg) {
      auto it = self->state.conns.find(msg.handle);
      if (it != self->state.conns.end())
        it->second.unsent = msg.remaining;
    },
    [=](atom::remove, int64_t id, uint64_t serial, const std::string& reason) {
      auto hdl = conn_hdl::from_int(id);
      if (find_connection(self, hdl, serial) != nullptr)
        drop(self, hdl, reason, true);
    },
    [=](const caf::io::connection_closed_msg& msg) {
      lost(self, msg.handle, "the peer closed the connection");
    },
    [=](const caf::io::acceptor_closed_msg&) {
      log::warn(who, "the listening socket closed");
    },
    [=](atom::dialed, const std::string& node, uint64_t attempt, int fd,
        const std::string& error) {
      auto& st = self->state;
      auto it = st.peers.find(node);
      if (it == st.peers.end() || it->second.attempt != attempt
          || !it->second.dial) {
        if (fd >= 0)
          ::close(fd);
        return;
      }
      auto& p = it->second;
      auto address = fmt::format("{}:{}", p.host, p.port);
      if (fd < 0) {
        log::debug(who, "cannot reach node {} at {}: {}", node, address, error);
        if (p.sessions.empty())
          unreachable(self, node,
                      failure{errc::unavailable,
                              fmt::format("cannot reach node {} at {}: {}",
                                          node, address, error)});
        schedule_redial(self, node);
        return;
      }
      auto hdl = self->add_scribe(fd);
      open_connection(self, hdl, side::client, node, address);
    },
    [=](atom::redial, const std::string& node, uint64_t attempt) {
      auto& st = self->state;
      auto it = st.peers.find(node);
      if (it != st.peers.end() && it->second.attempt == attempt)
        start_dial(self, node);
    },
    [=](atom::deadline, int64_t id, uint64_t serial) {
      auto hdl = conn_hdl::from_int(id);
      auto* c = find_connection(self, hdl, serial);
      if (c != nullptr && !c->established)
        drop(self, hdl,
             fmt::format("no handshake within {} ms",
                         self->state.cfg.handshake_timeout.count()));
    },
    [=](atom::peer, const std::string& node, const std::string& host,
        uint16_t port) {
      auto& p = self->state.peers[node];
      bool moved = p.host != host || p.port != port;
      p.host = host;
      p.port = port;
      p.dial = true;
      if (moved) {
        ++p.attempt;
        p.dialing = false;
        p.failures = 0;
      }
      start_dial(self, node);
    },
    [=](atom::forget, const std::string& node) {
      auto& st = self->state;
      auto it = st.peers.find(node);
      if (it == st.peers.end())
        return;
      it->second.dial = false;
      ++it->second.attempt;
      std::vector<conn_hdl> doomed;
      for (auto& [hdl, c] : st.conns)
        if (c.dialed == node
            || (c.established && c.link->peer().node_id == node))
          doomed.push_back(hdl);
      for (auto hdl : doomed) {
        self->close(hdl);
        lost(self, hdl, "the node was forgotten");
      }
      unreachable(
        self, node,
        failure{errc::unavailable, fmt::format("node {} was forgotten", node)});
      st.peers.erase(node);
    },
    [=](atom::route, const std::string& name, const caf::actor& target) {
      self->monitor(target);
      self->state.routes[name] = target;
    },
    [=](atom::send, const envelope& env) {
      auto& st = self->state;
      auto root = env.root();
      auto node = text_of(root.getTarget().getNodeId());
      auto stamped = restamp(
        env, kind::ONE_WAY, 0,
        actor_ref{st.cfg.node_id, text_of(root.getSender().getName())},
        to_actor_ref(root.getTarget()));
      if (node == st.cfg.node_id) {
        if (auto route = st.routes.find(text_of(root.getTarget().getName()));
            route != st.routes.end())
          caf::anon_send(route->second, inbound{stamped, local_peer(self)});
        return;
      }
      if (auto sent = dispatch(self, node, stamped); !sent)
        log::debug(who,
                   "message to node {} dropped: no session and no "
                   "address",
                   node);
    },
    [=](atom::call, const envelope& env,
        caf::timespan timeout) -> caf::response_promise {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      auto root = env.root();
      auto node = text_of(root.getTarget().getNodeId());
      auto id = st.next_id++;
      auto stamped = restamp(
        env, kind::REQUEST, id,
        actor_ref{st.cfg.node_id, text_of(root.getSender().getName())},
        to_actor_ref(root.getTarget()));
      if (node == st.cfg.node_id) {
        call_locally(self, stamped, timeout, rp);
        return rp;
      }
      st.calls.emplace(id, pending_call{rp, node});
      if (auto sent = dispatch(self, node, stamped); !sent) {
        // It may have failed already (a queued call to an unreachable node).
        if (st.calls.erase(id) != 0)
          rp.deliver(make_error_envelope(id, sent.error()));
        return rp;
      }
      self->delayed_send(self, timeout, atom::expire_v, id);
      return rp;
    },
    [=](atom::expire, uint64_t id) {
      auto& calls = self->state.calls;
      auto it = calls.find(id);
      if (it == calls.end())
        return;
      it->second.promise.deliver(make_error_envelope(
        id, failure{errc::timeout, fmt::format("node {} did not answer in time",
                                               it->second.node)}));
      // A request still waiting for a session must not go out any more.
      auto peer = self->state.peers.find(it->second.node);
      if (peer != self->state.peers.end()) {
        auto& queue = peer->second.queue;
        queue.erase(std::remove_if(queue.begin(), queue.end(),
                                   [id](const envelope& env) {
                                     return env.root().getCorrelationId() == id
                                            && env.root().getKind()
                                                 == kind::REQUEST;
                                   }),
                    queue.end());
      }
      calls.erase(it);
    },
    [=](atom::delayed, const std::string& node, const envelope& env) {
      if (auto sent = transmit(self, node, env); !sent)
        log::debug(who, "delayed message to node {} lost: {}", node,
                   sent.error().message);
    },
    [=](atom::fault, const std::string& node, double drop, caf::timespan delay,
        bool partitioned) {
      auto& rule = self->state.peers[node].fault;
      rule.drop = std::clamp(drop, 0.0, 1.0);
      rule.delay = duration_cast<milliseconds>(delay);
      rule.partitioned = partitioned;
      log::info(who, "fault on the path to node {}: drop {}, delay {} ms{}",
                node, rule.drop, rule.delay.count(),
                partitioned ? ", partitioned" : "");
    },
    [=](atom::heal) {
      for (auto& [node, p] : self->state.peers)
        p.fault = fault_rule{};
      log::info(who, "faults healed");
    },
    [=](atom::revoke, const std::string& node) {
      auto& st = self->state;
      st.revoked.insert(node);
      std::vector<conn_hdl> doomed;
      for (auto& [hdl, c] : st.conns)
        if (c.established && c.link->peer().node_id == node)
          doomed.push_back(hdl);
      for (auto hdl : doomed) {
        self->close(hdl);
        lost(self, hdl, "its certificate was revoked");
      }
    },
    [=](atom::certify, const std::vector<uint8_t>& certificate) {
      self->state.cfg.certificate = certificate;
    },
    [=](atom::status) {
      auto& st = self->state;
      transport_status out;
      out.port = st.port;
      for (auto& [hdl, c] : st.conns) {
        if (!c.established)
          continue;
        out.sessions.push_back(session_info{c.link->peer().node_id,
                                            c.link->peer().role, c.outgoing,
                                            c.link->peer_joining(), c.address});
      }
      out.dropped_connections = st.dropped_connections;
      out.injected_drops = st.injected_drops;
      out.pending_calls = st.calls.size();
      return out;
    },
  };
}

} // namespace

result<transport_actor> transport::spawn(caf::actor_system& sys,
                                         transport_config cfg) {
  if (!cfg.identity)
    return fail(errc::invalid_argument, "the transport needs an identity key");
  int fd = -1;
  uint16_t port = 0;
  if (!cfg.listen_host.empty()) {
    auto bound = listen_tcp(cfg.listen_host, cfg.listen_port);
    if (!bound)
      return std::move(bound).error();
    std::tie(fd, port) = *bound;
  }
  return caf::actor_cast<transport_actor>(
    sys.middleman().spawn_broker(transport_broker, std::move(cfg), fd, port));
}

result<envelope> reply_or_failure(const envelope& reply) {
  auto body = reply.root().getBody();
  if (body.which() == schema::Envelope::Body::ERROR)
    return from_schema(body.getError());
  return reply;
}

} // namespace skep::transport
