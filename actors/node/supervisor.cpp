#include "actors/node/supervisor.hpp"

#include "actors/logging/clock.hpp"
#include "actors/logging/log.hpp"
#include "actors/manager/manager.hpp"
#include "actors/node/control_server.hpp"
#include "actors/raft/sqlite_storage.hpp"
#include "actors/transport/join.hpp"
#include "skep/build_info.hpp"

#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::node {

namespace {

using supervisor_self = supervisor_actor::stateful_pointer<supervisor_state>;
using request_which = schema::control::Request::Which;
using namespace std::chrono;

/// Makes `rt` this node's membership and watches its manager: a manager
/// that stops with an error (its Raft storage failed) takes the node down
/// rather than leaving a manager that answers nothing.
void adopt_member(supervisor_self self, const member_runtime& rt) {
  self->state.member = rt;
  if (rt.manager)
    self->monitor(rt.manager);
}

control_reply error_reply(errc code, std::string message) {
  return make_error_reply(failure{code, std::move(message)});
}

std::string text_of(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

const char* not_in_swarm
  = "This node is not a swarm manager. Use \"skep swarm init\" or \"skep "
    "swarm join\" to connect this node to swarm and try again.";
const char* not_manager
  = "This node is not a swarm manager. Worker nodes can't be used to view or "
    "modify cluster state. Please run this command on a manager node or "
    "promote the current node to a manager.";
const char* already_member
  = "This node is already part of a swarm. Use \"skep swarm leave\" to leave "
    "this swarm and join another one.";

/// `info`, with the Swarm section when the node is a member.
caf::result<control_reply> info(supervisor_self self,
                                const control_request& req) {
  auto& st = self->state;
  auto uptime = duration_cast<nanoseconds>(self->clock().now() - st.started);
  auto base = handle_control_request(st.node, req, uptime, st.actors);
  if (!st.member)
    return base;
  auto fill = [](control_reply base, const member_runtime& m,
                 const controlapi::manager_info* mi) {
    capnp::MallocMessageBuilder b;
    b.setRoot(base.root());
    auto info = b.getRoot<schema::control::Reply>().getInfo();
    info.setLocalNodeState(schema::control::LocalNodeState::ACTIVE);
    info.setControlAvailable(m.role == ca::node_role::manager);
    auto swarm = info.initSwarm();
    swarm.setClusterId(m.cluster_id);
    swarm.setRole(ca::to_string(m.role));
    if (mi != nullptr) {
      swarm.setManagers(mi->managers);
      swarm.setNodes(mi->nodes);
      auto addrs = swarm.initManagerAddrs(
        static_cast<unsigned>(mi->manager_addrs.size()));
      for (unsigned i = 0; i < mi->manager_addrs.size(); ++i)
        addrs.set(i, mi->manager_addrs[i]);
      swarm.setRaftLeader(mi->leader);
      swarm.setRaftTerm(mi->term);
      swarm.setRaftCommit(mi->commit);
      swarm.setTaskHistoryLimit(mi->task_history_limit);
      swarm.setDispatcherHeartbeatNanos(mi->heartbeat_nanos);
      swarm.setCertExpiryNanos(mi->cert_expiry_nanos);
      swarm.setSnapshotInterval(mi->snapshot_interval);
      swarm.setElectionTicks(mi->election_ticks);
      swarm.setHeartbeatTicks(mi->heartbeat_ticks);
      swarm.setRaftVoters(mi->voters);
      swarm.setRaftLearners(mi->learners);
      swarm.setRaftLongestTickGapNanos(mi->longest_tick_gap_nanos);
    }
    return control_reply::from(b);
  };
  if (!st.member->manager)
    return fill(base, *st.member, nullptr);
  auto rp = self->make_response_promise<control_reply>();
  auto member = *st.member;
  self->request(st.member->manager, seconds{5}, atom::status_v)
    .then(
      [=](const controlapi::manager_info& mi) mutable {
        rp.deliver(fill(base, member, &mi));
      },
      [=](caf::error&) mutable { rp.deliver(fill(base, member, nullptr)); });
  return rp;
}

/// Answers `rp` with `reply()` once this manager's store holds the cluster
/// object (the swarm is usable through it), or with a timeout at `deadline`.
void await_cluster(supervisor_self self,
                   caf::typed_response_promise<control_reply> rp,
                   std::function<control_reply()> reply,
                   steady_clock::time_point deadline) {
  self->request(self->state.member->manager, seconds{5}, atom::status_v)
    .then(
      [=](const controlapi::manager_info& mi) mutable {
        if (!mi.cluster_id.empty()) {
          rp.deliver(reply());
        } else if (clock::now(self) > deadline) {
          rp.deliver(error_reply(errc::timeout,
                                 "the swarm's state did not reach this "
                                 "manager within 20 s; see the node's log"));
        } else {
          self->state.pending_polls.push_back(
            [=] { await_cluster(self, rp, reply, deadline); });
          self->delayed_send(self, milliseconds{20}, atom::tick_v);
        }
      },
      [=](caf::error& err) mutable {
        rp.deliver(error_reply(errc::internal, caf::to_string(err)));
      });
}

void restart_member(supervisor_self self, membership m, int attempt,
                    bool force_new_cluster);

/// Answers once this manager leads (after --force-new-cluster).
void await_leadership(supervisor_self self,
                      caf::typed_response_promise<control_reply> rp,
                      std::string advertise,
                      steady_clock::time_point deadline) {
  auto retry = [=]() mutable {
    if (clock::now(self) > deadline) {
      rp.deliver(error_reply(errc::timeout,
                             "this manager did not take the lead within 20 s; "
                             "see the node's log"));
      return;
    }
    self->state.pending_polls.push_back(
      [=] { await_leadership(self, rp, advertise, deadline); });
    self->delayed_send(self, milliseconds{50}, atom::tick_v);
  };
  auto& st = self->state;
  if (!st.member || !st.member->manager) { // still restarting
    retry();
    return;
  }
  self->request(st.member->manager, seconds{5}, atom::status_v)
    .then(
      [=](const controlapi::manager_info& mi) mutable {
        if (mi.leader != self->state.node.node_id) {
          retry();
          return;
        }
        capnp::MallocMessageBuilder b;
        auto out = b.initRoot<schema::control::Reply>().initSwarmInit();
        out.setNodeId(self->state.node.node_id);
        out.setAdvertiseAddr(advertise);
        rp.deliver(control_reply::from(b));
      },
      [=](caf::error&) mutable { retry(); });
}

/// `swarm init --force-new-cluster` on a manager whose quorum is lost: the
/// membership restarts with this member as the only Raft voter, keeping
/// the log and so the swarm's state.
caf::result<control_reply> force_new_cluster(supervisor_self self) {
  auto& st = self->state;
  auto m = load_membership(st.node.config.data_dir);
  if (!m || !*m)
    return error_reply(errc::internal,
                       "cannot read this node's membership to recover it");
  st.member->stop();
  st.member.reset();
  log::warn("node", "forcing a new cluster: this manager goes on as the only "
                    "Raft voter");
  restart_member(self, **m, 0, true);
  auto rp = self->make_response_promise<control_reply>();
  await_leadership(self, rp, (*m)->advertise_addr,
                   clock::now(self) + seconds{20});
  return rp;
}

caf::result<control_reply> swarm_init(supervisor_self self,
                                      const control_request& req) {
  auto& st = self->state;
  auto r = req.root().getSwarmInit();
  if (r.getForceNewCluster() && st.member && !st.changing) {
    if (st.member->role != ca::node_role::manager)
      return error_reply(errc::invalid_argument,
                         "--force-new-cluster recovers a manager; this node "
                         "is a worker");
    return force_new_cluster(self);
  }
  if (st.member || st.changing)
    return error_reply(errc::already_exists, already_member);
  if (r.getAutolock())
    return error_reply(errc::unsupported,
                       "--autolock is not supported yet; nothing was changed");
  if (r.getForceNewCluster())
    return error_reply(errc::invalid_argument,
                       "--force-new-cluster recovers a manager of an existing "
                       "swarm; this node belongs to none");
  init_options opts;
  opts.advertise_addr = text_of(r.getAdvertiseAddr());
  opts.task_history_limit = r.getTaskHistoryLimit();
  opts.dispatcher_heartbeat_nanos = r.getDispatcherHeartbeatNanos();
  opts.cert_expiry_nanos = r.getCertExpiryNanos();
  opts.snapshot_interval = r.getSnapshotInterval();
  auto seed = seed_swarm(st.node, *st.identity, opts, clock::wall(self));
  if (!seed)
    return make_error_reply(seed.error());
  const auto& dir = st.node.config.data_dir;
  if (auto cleared = clear_membership(dir); !cleared)
    return make_error_reply(cleared.error());
  auto files = seed->files;
  auto rt = start_member(self->system(), st.node, *st.identity, files,
                         caf::actor_cast<caf::actor>(self), clock::wall(self),
                         seed->init_batch, true);
  if (!rt)
    return make_error_reply(rt.error());
  if (auto saved = save_membership(dir, files); !saved) {
    rt->stop();
    return make_error_reply(saved.error());
  }
  adopt_member(self, *rt);
  st.actors.push_back("transport");
  st.actors.push_back("manager");
  st.actors.push_back("agent");
  // Answer once the cluster object is committed.
  auto rp = self->make_response_promise<control_reply>();
  auto reply = [node = st.node.node_id, seed = *seed]() {
    capnp::MallocMessageBuilder b;
    auto out = b.initRoot<schema::control::Reply>().initSwarmInit();
    out.setNodeId(node);
    out.setWorkerToken(seed.worker_token);
    out.setManagerToken(seed.manager_token);
    out.setAdvertiseAddr(seed.files.advertise_addr);
    return control_reply::from(b);
  };
  await_cluster(self, rp, reply, clock::now(self) + seconds{20});
  return rp;
}

caf::result<control_reply> swarm_join(supervisor_self self,
                                      const control_request& req) {
  auto& st = self->state;
  if (st.member || st.changing)
    return error_reply(errc::already_exists, already_member);
  auto r = req.root().getSwarmJoin();
  auto token = ca::parse_join_token(text_of(r.getToken()));
  if (!token)
    return make_error_reply(token.error());
  auto remote = parse_host_port(text_of(r.getRemoteAddr()));
  if (!remote)
    return make_error_reply(remote.error());
  auto advertise = text_of(r.getAdvertiseAddr());
  if (advertise.empty())
    advertise = st.node.config.advertise_addr.to_string();
  auto adv = parse_host_port(advertise);
  if (!adv)
    return make_error_reply(adv.error());
  if (adv->first == "0.0.0.0" || adv->first == "::")
    return error_reply(errc::invalid_argument,
                       fmt::format("cannot advertise {}: other nodes could "
                                   "not reach it; give --advertise-addr",
                                   advertise));
  st.changing = true;
  transport::join_request jr;
  jr.host = remote->first;
  jr.port = remote->second;
  jr.token = *token;
  jr.node_id = st.node.node_id;
  jr.hostname = st.node.config.hostname;
  jr.advertise_addr = advertise;
  jr.engine_version = build_info::version;
  jr.nano_cpus = int64_t{st.node.host.cpus} * 1'000'000'000;
  jr.memory_bytes = static_cast<int64_t>(st.node.host.memory_bytes);
  auto identity = st.identity;
  auto rp = self->make_response_promise<control_reply>();
  auto me = caf::actor_cast<caf::actor>(self);
  auto remote_text = text_of(r.getRemoteAddr());
  // Joining blocks on the network: a thread of its own, then back here.
  self->spawn<caf::detached>(
    [=](caf::event_based_actor* joiner, transport::join_request req2) mutable {
      req2.identity = identity.get();
      auto joined = transport::join_swarm(req2);
      joiner
        ->request(me, caf::infinite, atom::apply_v,
                  joined ? std::string{} : joined.error().message,
                  joined ? joined->certificate : std::vector<uint8_t>{},
                  joined ? ca::hex(joined->ca_key.data(), 32) : std::string{},
                  joined ? joined->manager_id : std::string{},
                  joined ? joined->cluster_id : std::string{}, remote_text,
                  advertise)
        .then([=](const control_reply& reply) mutable {
          rp.deliver(reply);
          joiner->quit();
        });
    },
    jr);
  return rp;
}

/// The end of a join: store the membership and start the member actors. A
/// manager answers once the swarm's state has reached it.
caf::result<control_reply>
finish_join(supervisor_self self, const std::string& error,
            const std::vector<uint8_t>& certificate, const std::string& ca_hex,
            const std::string& manager_id, const std::string& cluster_id,
            const std::string& remote, const std::string& advertise) {
  auto& st = self->state;
  st.changing = false;
  if (!error.empty())
    return error_reply(errc::permission_denied,
                       fmt::format("could not join the swarm: {}", error));
  membership m;
  m.cluster_id = cluster_id.empty() ? "unknown" : cluster_id;
  m.advertise_addr = advertise;
  m.managers.emplace_back(manager_id, remote);
  m.certificate = certificate;
  size_t len = 0;
  sodium_hex2bin(m.ca_key.data(), m.ca_key.size(), ca_hex.data(), ca_hex.size(),
                 nullptr, &len, nullptr);
  const auto& dir = st.node.config.data_dir;
  if (auto cleared = clear_membership(dir); !cleared)
    return make_error_reply(cleared.error());
  auto rt = start_member(self->system(), st.node, *st.identity, m,
                         caf::actor_cast<caf::actor>(self), clock::wall(self));
  if (!rt)
    return make_error_reply(rt.error());
  if (auto saved = save_membership(dir, m); !saved) {
    rt->stop();
    return make_error_reply(saved.error());
  }
  adopt_member(self, *rt);
  st.actors.push_back("transport");
  if (rt->manager)
    st.actors.push_back("manager");
  st.actors.push_back("agent");
  auto reply = [role = rt->role]() {
    capnp::MallocMessageBuilder b;
    b.initRoot<schema::control::Reply>().initJoined().setRole(
      ca::to_string(role));
    return control_reply::from(b);
  };
  if (!rt->manager)
    return reply();
  auto rp = self->make_response_promise<control_reply>();
  await_cluster(self, rp, reply, clock::now(self) + seconds{20});
  return rp;
}

/// Stops the membership and forgets the swarm (the node's identity stays).
control_reply forget_swarm(supervisor_self self) {
  auto& st = self->state;
  if (st.member)
    st.member->stop();
  st.member.reset();
  if (auto removed
      = raft::sqlite_storage::remove(st.node.config.data_dir + "/raft.db");
      !removed)
    return make_error_reply(removed.error());
  if (auto cleared = clear_membership(st.node.config.data_dir); !cleared)
    return make_error_reply(cleared.error());
  log::info("node", "left the swarm");
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Reply>().setDone();
  return control_reply::from(b);
}

/// Tells the swarm this node leaves (so it shows Down at once), then forgets
/// the swarm; the answer goes to `rp` either way.
void leave_and_forget(supervisor_self self,
                      caf::typed_response_promise<control_reply> rp) {
  auto& st = self->state;
  if (!st.member || !st.member->agent) {
    rp.deliver(forget_swarm(self));
    return;
  }
  self->request(st.member->agent, seconds{5}, atom::leave_v)
    .then(
      [=](bool told) mutable {
        if (!told)
          log::warn("node", "could not tell the managers that this node "
                            "leaves; it shows Down once its heartbeats stop");
        rp.deliver(forget_swarm(self));
      },
      [=](caf::error&) mutable { rp.deliver(forget_swarm(self)); });
}

bool is_done(const control_reply& reply) {
  return reply.root().which() == schema::control::Reply::DONE;
}

/// `swarm leave --force` on a manager: the swarm demotes it first (the
/// leader hands over leadership first; refused with the reason when it is
/// the last manager or quorum would be lost), and only then does the node
/// forget the swarm. Its record stays, Down, until `skep node rm`.
caf::result<control_reply> manager_leave(supervisor_self self) {
  auto& st = self->state;
  st.leaving = true;
  auto rp = self->make_response_promise<control_reply>();
  auto manager = st.member->manager;
  auto id = st.node.node_id;
  capnp::MallocMessageBuilder demote;
  auto u = demote.initRoot<schema::control::Request>().initNodeUpdate();
  u.setName(id);
  u.setRole("worker");
  auto fail_with = [=](const control_reply& why) mutable {
    self->state.leaving = false;
    rp.deliver(why);
  };
  auto on_error = [=](caf::error& err) mutable {
    self->state.leaving = false;
    rp.deliver(error_reply(errc::unavailable, caf::to_string(err)));
  };
  self->request(manager, seconds{30}, control_request::from(demote))
    .then(
      [=](const control_reply& demoted) mutable {
        if (!is_done(demoted)) {
          fail_with(demoted);
          return;
        }
        // As with Docker, the record stays (Down) until `skep node rm`.
        self->state.leaving = false;
        leave_and_forget(self, rp);
      },
      on_error);
  return rp;
}

caf::result<control_reply> swarm_leave(supervisor_self self,
                                       const control_request& req) {
  auto& st = self->state;
  if (!st.member)
    return error_reply(errc::invalid_argument,
                       "This node is not part of a swarm");
  if (st.member->role == ca::node_role::manager) {
    if (!req.root().getSwarmLeave().getForce())
      return error_reply(
        errc::invalid_argument,
        "You are attempting to leave the swarm on a node that is "
        "participating as a manager. Demote it first with \"skep node demote\" "
        "on another manager, or use --force to ignore this message.");
    if (st.leaving)
      return error_reply(errc::unavailable,
                         "this node is already leaving the swarm");
    return manager_leave(self);
  }
  auto rp = self->make_response_promise<control_reply>();
  leave_and_forget(self, rp);
  return rp;
}

/// Restarts the membership in the role `certificate` gives, once the old
/// transport released its port (retried for a few seconds).
void restart_member(supervisor_self self, membership m, int attempt,
                    bool force_new_cluster) {
  auto& st = self->state;
  auto rt = start_member(self->system(), st.node, *st.identity, m,
                         caf::actor_cast<caf::actor>(self), clock::wall(self),
                         {}, false, force_new_cluster);
  if (!rt) {
    if (attempt < 50) {
      st.pending_polls.push_back(
        [=] { restart_member(self, m, attempt + 1, force_new_cluster); });
      self->delayed_send(self, milliseconds{100}, atom::tick_v);
      return;
    }
    log::error("node", "cannot restart the membership: {}", rt.error().message);
    return;
  }
  adopt_member(self, *rt);
  log::info("node", "now a {} of the swarm", ca::to_string(rt->role));
}

void change_role(supervisor_self self, const std::vector<uint8_t>& cert) {
  auto& st = self->state;
  if (st.leaving)
    return; // it is about to forget the swarm
  log::debug("node", "a new certificate arrived ({} bytes)", cert.size());
  if (!st.member)
    return;
  auto m = load_membership(st.node.config.data_dir);
  if (!m || !*m) {
    log::error("node", "cannot read the membership to change role");
    return;
  }
  ca::certificate_policy policy;
  policy.ca_key = (*m)->ca_key;
  policy.now = clock::wall(self);
  auto fields = ca::verify_certificate(cert.data(), cert.size(), policy);
  if (!fields || fields->node_id != st.node.node_id
      || fields->node_key != st.identity->public_part) {
    log::error("node", "the renewed certificate is not valid for this node");
    return;
  }
  (*m)->certificate = cert;
  if (fields->role == st.member->role) {
    // A renewal: keep running, present the new certificate from now on.
    if (auto saved = save_membership(st.node.config.data_dir, **m); !saved)
      log::error("node", "{}", saved.error().message);
    caf::anon_send(st.member->transport, atom::certify_v, cert);
    log::info("node", "certificate renewed");
    return;
  }
  st.member->stop();
  st.member.reset();
  if (fields->role == ca::node_role::worker) {
    if (auto removed
        = raft::sqlite_storage::remove(st.node.config.data_dir + "/raft.db");
        !removed)
      log::error("node", "{}", removed.error().message);
  }
  if (auto saved = save_membership(st.node.config.data_dir, **m); !saved) {
    log::error("node", "{}", saved.error().message);
    return;
  }
  restart_member(self, **m, 0, false);
}

caf::result<control_reply> on_request(supervisor_self self,
                                      const control_request& req) {
  auto& st = self->state;
  switch (req.root().which()) {
  case request_which::VERSION:
    return handle_control_request(st.node, req, {}, st.actors);
  case request_which::INFO:
    return info(self, req);
  case request_which::SWARM_INIT:
    return swarm_init(self, req);
  case request_which::SWARM_JOIN:
    return swarm_join(self, req);
  case request_which::SWARM_LEAVE:
    return swarm_leave(self, req);
  default:
    break;
  }
  if (!st.member)
    return error_reply(errc::not_manager, not_in_swarm);
  if (!st.member->manager)
    return error_reply(errc::not_manager, not_manager);
  auto rp = self->make_response_promise<control_reply>();
  self->request(st.member->manager, seconds{30}, req)
    .then([=](const control_reply& reply) mutable { rp.deliver(reply); },
          [=](caf::error& err) mutable {
            rp.deliver(error_reply(errc::internal, caf::to_string(err)));
          });
  return rp;
}

supervisor_actor::behavior_type
supervisor(supervisor_self self, node_state state, int control_fd,
           std::optional<control_server_options> control) {
  auto& st = self->state;
  st.node = std::move(state);
  st.started = self->clock().now();
  st.actors.push_back("node");
  auto identity = load_or_create_identity(st.node.config.data_dir);
  if (!identity) {
    log::error("node", "{}", identity.error().message);
    self->quit(caf::make_error(caf::sec::runtime_error,
                               "cannot read the node identity"));
  } else {
    st.identity = std::make_shared<const ca::keypair>(*identity);
    auto m = load_membership(st.node.config.data_dir);
    if (!m) {
      log::error("node", "{}", m.error().message);
    } else if (*m) {
      auto rt
        = start_member(self->system(), st.node, *st.identity, **m,
                       caf::actor_cast<caf::actor>(self), clock::wall(self));
      if (!rt) {
        log::error("node", "cannot resume the swarm membership: {}",
                   rt.error().message);
        self->quit(caf::make_error(caf::sec::runtime_error,
                                   "cannot resume the swarm membership"));
      } else {
        adopt_member(self, *rt);
        st.actors.push_back("transport");
        if (rt->manager)
          st.actors.push_back("manager");
        st.actors.push_back("agent");
      }
    }
  }
  if (control) {
    auto server = control_server::start(self->system(), control_fd,
                                        supervisor_actor{self}, *control);
    if (!server) {
      log::error("node", "cannot serve the control socket: {}",
                 server.error().message);
      self->quit(caf::make_error(caf::sec::runtime_error,
                                 "cannot serve the control socket"));
    } else {
      st.control = std::move(*server);
      st.actors.push_back("control");
    }
  }

  self->set_down_handler([self](caf::down_msg& down) {
    auto& st = self->state;
    if (!st.member || down.source != st.member->manager)
      return;
    if (!down.reason || down.reason == caf::exit_reason::user_shutdown)
      return; // stopped on purpose: demoted, left, restarted
    log::error("node",
               "the manager stopped: {}; this node can no longer serve as a "
               "manager, so skepd exits (restart it once the cause is fixed)",
               caf::to_string(down.reason));
    self->quit(down.reason);
  });
  return {
    [self](const control_request& request) -> caf::result<control_reply> {
      return on_request(self, request);
    },
    [self](atom::apply, const std::string& error,
           const std::vector<uint8_t>& certificate, const std::string& ca_hex,
           const std::string& manager_id, const std::string& cluster_id,
           const std::string& remote,
           const std::string& advertise) -> caf::result<control_reply> {
      return finish_join(self, error, certificate, ca_hex, manager_id,
                         cluster_id, remote, advertise);
    },
    [self](atom::certify, const std::vector<uint8_t>& certificate) {
      change_role(self, certificate);
    },
    [self](atom::tick) {
      auto polls = std::move(self->state.pending_polls);
      self->state.pending_polls.clear();
      for (auto& p : polls)
        p();
    },
  };
}

} // namespace

supervisor_actor spawn_supervisor(caf::actor_system& sys, node_state state,
                                  int control_fd,
                                  const control_server_options* control) {
  std::optional<control_server_options> opts;
  if (control != nullptr)
    opts = *control;
  return sys.spawn(supervisor, std::move(state), control_fd, std::move(opts));
}

} // namespace skep::node
