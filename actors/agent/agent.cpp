#include "actors/agent/agent.hpp"

#include "actors/logging/log.hpp"
#include "actors/transport/tcp.hpp"
#include "actors/transport/transport_actor.hpp"

#include <random>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace skep::agent {

namespace {

using namespace std::chrono;
constexpr std::string_view who = "agent";

struct agent_state {
  agent_config cfg;
  size_t target = 0;      ///< index into cfg.managers
  std::string leader;     ///< the leader's node id, when known
  bool connected = false; ///< the last heartbeat was accepted
  bool renewing = false;  ///< asking for a certificate in a new role
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "agent";
};

using self_ptr = caf::stateful_actor<agent_state>*;

void dial_managers(self_ptr self) {
  for (auto& [id, addr] : self->state.cfg.managers) {
    if (id == self->state.cfg.node_id)
      continue;
    auto hp = transport::parse_host_port(addr);
    if (!hp) {
      log::warn(who, "manager {} has an unusable address: {}", id,
                hp.error().message);
      continue;
    }
    self->send(self->state.cfg.transport, atom::peer_v, id, hp->first,
               hp->second);
  }
}

void schedule(self_ptr self, nanoseconds wait) {
  std::uniform_real_distribution<double> jitter(0.9, 1.1);
  auto delay
    = duration_cast<milliseconds>(wait * jitter(self->state.rng)) + 1ms;
  self->delayed_send(self, delay, atom::tick_v);
}

void renew(self_ptr self);

void on_reply(self_ptr self, const envelope& reply) {
  auto& st = self->state;
  auto body = reply.root().getBody();
  if (body.which() != schema::Envelope::Body::HEARTBEAT_REPLY) {
    auto why = transport::reply_or_failure(reply);
    log::debug(who, "heartbeat refused: {}",
               why ? "unexpected reply" : why.error().message);
    st.connected = false;
    st.leader.clear();
    st.target
      = st.cfg.managers.empty() ? 0 : (st.target + 1) % st.cfg.managers.size();
    schedule(self, st.cfg.period / 5);
    return;
  }
  auto r = body.getHeartbeatReply();
  if (r.getPeriodNanos() > 0)
    st.cfg.period = nanoseconds{r.getPeriodNanos()};
  manager_list managers;
  for (auto m : r.getManagers())
    managers.emplace_back(m.getNodeId().cStr(), m.getAddr().cStr());
  if (!managers.empty() && managers != st.cfg.managers) {
    st.cfg.managers = managers;
    dial_managers(self);
    if (st.cfg.managers_changed)
      st.cfg.managers_changed(managers);
  }
  st.leader = r.getLeader().cStr();
  if (!r.getAccepted()) {
    // A follower: go to the leader it names, at once.
    st.connected = false;
    for (size_t i = 0; i < st.cfg.managers.size(); ++i)
      if (st.cfg.managers[i].first == st.leader)
        st.target = i;
    schedule(self, st.cfg.period / 10);
    return;
  }
  if (!st.connected)
    log::info(who, "heartbeats accepted by the leader, node {}", st.leader);
  auto role = std::string(r.getRole().cStr());
  bool may_renew = !st.renewing && st.cfg.supervisor
                   && (st.leader != st.cfg.node_id || st.cfg.local_manager);
  if (may_renew && !role.empty() && role != st.cfg.role) {
    log::info(who, "the swarm made this node a {}; renewing its certificate",
              role);
    renew(self);
  } else if (may_renew
             && ca::needs_renewal(st.cfg.certificate,
                                  std::chrono::system_clock::now())) {
    log::info(
      who,
      "the certificate expires at {}s since the epoch; "
      "renewing it",
      duration_cast<seconds>(st.cfg.certificate.expires_at.time_since_epoch())
        .count());
    renew(self);
  }
  st.connected = true;
  schedule(self, st.cfg.period);
}

/// Gets a fresh certificate from the leader's CA (it certifies the role the
/// store gives the node) and hands it to the supervisor, which restarts the
/// membership when the role changed, or just presents it from now on.
void renew(self_ptr self) {
  auto& st = self->state;
  st.renewing = true;
  auto env = make_envelope(schema::Envelope::Kind::REQUEST, 0,
                           {st.cfg.node_id, "agent"}, {st.leader, "ca"},
                           [&](auto body) { body.initCertificateRequest(); });
  auto on_certificate = [=](const envelope& reply) {
    auto& st = self->state;
    st.renewing = false;
    log::debug(who, "the CA answered the renewal");
    auto body = reply.root().getBody();
    if (body.which() != schema::Envelope::Body::CERTIFICATE_REPLY) {
      auto why = transport::reply_or_failure(reply);
      log::warn(who, "the CA did not renew the certificate: {}",
                why ? "unexpected reply" : why.error().message);
      return;
    }
    auto cert = body.getCertificateReply().getCertificate();
    std::vector<uint8_t> bytes(cert.begin(), cert.end());
    ca::certificate_policy policy;
    policy.ca_key = st.cfg.ca_key;
    policy.now = std::chrono::system_clock::now();
    auto fields = ca::verify_certificate(bytes.data(), bytes.size(), policy);
    if (!fields || fields->node_id != st.cfg.node_id) {
      log::warn(who, "the CA sent a certificate that is not valid here");
      return;
    }
    st.cfg.certificate = *fields;
    self->send(st.cfg.supervisor, atom::certify_v, bytes);
  };
  if (st.leader == st.cfg.node_id) {
    // This node leads: its own manager is the CA to ask.
    transport::inbound in{
      env, transport::peer_info{st.cfg.node_id, st.cfg.certificate.role,
                                st.cfg.certificate.node_key, false}};
    self->request(st.cfg.local_manager, seconds{10}, std::move(in))
      .then(on_certificate, [=](caf::error& err) {
        self->state.renewing = false;
        log::warn(who, "the local CA did not answer: {}", caf::to_string(err));
      });
    return;
  }
  self
    ->request(st.cfg.transport, caf::infinite, atom::call_v, env,
              caf::timespan{seconds{10}})
    .then(on_certificate);
}

void beat(self_ptr self) {
  auto& st = self->state;
  if (st.cfg.managers.empty()) {
    schedule(self, st.cfg.period);
    return;
  }
  if (st.target >= st.cfg.managers.size())
    st.target = 0;
  auto target = st.cfg.managers[st.target].first;
  auto timeout = duration_cast<milliseconds>(st.cfg.period);
  if (target == st.cfg.node_id && st.cfg.local_manager) {
    self->request(st.cfg.local_manager, timeout, atom::beat_v, st.cfg.node_id)
      .then([=](const envelope& reply) { on_reply(self, reply); },
            [=](caf::error&) {
              on_reply(self, make_error_envelope(
                               0, failure{errc::unavailable, "no manager"}));
            });
    return;
  }
  auto env = make_envelope(
    schema::Envelope::Kind::REQUEST, 0, {"", "agent"}, {target, "dispatcher"},
    [&](auto body) { body.initHeartbeat().setNodeId(st.cfg.node_id); });
  self
    ->request(st.cfg.transport, caf::infinite, atom::call_v, env,
              caf::timespan{timeout})
    .then([=](const envelope& reply) { on_reply(self, reply); });
}

caf::behavior agent(self_ptr self, agent_config cfg) {
  self->state.cfg = std::move(cfg);
  dial_managers(self);
  self->send(self, atom::tick_v);
  return {
    [=](atom::tick) { beat(self); },
  };
}

} // namespace

caf::actor spawn_agent(caf::actor_system& sys, agent_config cfg) {
  return sys.spawn(agent, std::move(cfg));
}

} // namespace skep::agent
