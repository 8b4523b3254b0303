// The manager, a manager's composition root: the actor's behavior, leadership
// changes (the leader-only actors start and stop here), the leader actors'
// write path, and the dispatcher's share of inbound node messages. Its
// other rooms are the files next to it (see manager_state.hpp).

#include "actors/manager/manager_state.hpp"

namespace skep::controlapi::manager_detail {

// ---- the dispatcher -------------------------------------------------------

/// Hands what a node sent the dispatcher to the leader's dispatcher and
/// passes its answer on.
caf::result<envelope> ask_dispatcher(self_ptr self,
                                     const transport::inbound& in) {
  auto rp = self->make_response_promise<envelope>();
  self->request(self->state.dispatcher, seconds{20}, in)
    .then(
      [=](envelope& reply) mutable { rp.deliver(reply); },
      [=](caf::error& err) mutable {
        rp.deliver(reply_body(failure{errc::unavailable, caf::to_string(err)}));
      });
  return rp;
}

// ---- leadership -----------------------------------------------------------

/// The orchestrator, scheduler and dispatcher run where the leader runs.
void start_leader_actors(self_ptr self) {
  auto& st = self->state;
  controlapi::leader_link link{st.shared,
                               caf::actor_cast<decltype(link.manager)>(self)};
  auto& sys = self->system();
  st.orchestrator = orchestrator::spawn_orchestrator(sys, link);
  st.scheduler = scheduler::spawn_scheduler(sys, link);
  st.dispatcher
    = dispatcher::spawn_dispatcher(sys, link, st.cfg.transport, st.cfg.node_id);
}

/// A plan being written: its actions go out in parts, one entry at a time.
struct write_progress {
  std::vector<store::action> actions;
  size_t next = 0;
  write_verdict outcome;
  std::optional<event> decision;
  caf::typed_response_promise<write_verdict> rp;
};

/// Proposes the next part of `p`; once applied, proposes the one after it or
/// answers the writer. Only the pending proposal holds `p`, so a proposal
/// dropped at shutdown frees it.
void propose_next_part(self_ptr self, std::shared_ptr<write_progress> p) {
  constexpr size_t max_actions_per_entry = 2000;
  auto begin = p->next;
  auto end = std::min(p->actions.size(), begin + max_actions_per_entry);
  p->next = end;
  std::vector<store::action> part(
    std::make_move_iterator(p->actions.begin() + static_cast<ptrdiff_t>(begin)),
    std::make_move_iterator(p->actions.begin() + static_cast<ptrdiff_t>(end)));
  propose_at(
    self, store::encode_batch(part), [self, p](result<void> r, uint64_t index) {
      if (!r && p->outcome.ok)
        p->outcome = write_verdict{false, r.error().message};
      p->outcome.index = std::max(p->outcome.index, index);
      if (p->outcome.ok && p->next < p->actions.size() && self->state.leading) {
        propose_next_part(self, p);
        return;
      }
      if (p->outcome.ok && p->next < p->actions.size())
        p->outcome = write_verdict{false, "this manager no longer "
                                          "leads"};
      if (p->outcome.ok && p->decision) {
        p->decision->raft_index = p->outcome.index;
        record_event(self, std::move(*p->decision));
      }
      p->rp.deliver(p->outcome);
    });
}

/// A leader-only actor's batch: proposed here, answered once applied.
caf::result<write_verdict> on_write(self_ptr self, write_request& req) {
  if (!self->state.leading)
    return write_verdict{false, "this manager no longer leads"};
  if (req.actions.empty())
    return write_verdict{};
  // Large plans (a service of 100,000 replicas) go out in several entries,
  // each well below store::max_batch_bytes, one after the other: Raft and
  // the apply loop never hold more than one of them at a time. The writers'
  // decisions are idempotent, so a part that fails is decided again.
  auto p = std::make_shared<write_progress>();
  p->actions = std::move(req.actions);
  p->decision = std::move(req.decision);
  p->rp = self->make_response_promise<write_verdict>();
  propose_next_part(self, p);
  return p->rp;
}

/// The Raft members the store's managers are.
std::set<raft::node_id> manager_members(self_ptr self) {
  std::set<raft::node_id> out;
  for (const auto* n : self->state.db().nodes())
    if (n->role == ca::node_role::manager)
      out.insert(raft::member_id_of(n->id));
  return out;
}

/// True while Raft's configuration differs from the store's managers: one
/// is not a voter yet, or a member is no manager (demoted, or removed).
bool membership_pending(self_ptr self) {
  const auto& st = self->state;
  auto managers = manager_members(self);
  for (auto id : managers)
    if (!st.config.is_voter(id))
      return true;
  for (const auto* list : {&st.config.voters, &st.config.learners})
    for (auto id : *list)
      if (id != st.self_member && managers.count(id) == 0)
        return true;
  return false;
}

void on_status(self_ptr self, const raft::status& s) {
  auto& st = self->state;
  bool was_leading = st.leading;
  st.leading = s.role == raft::role::leader;
  st.leader_member = s.leader;
  st.term = s.term;
  st.commit = s.commit;
  st.config = s.config;
  if (st.leading && !was_leading) {
    log::info(who, "this manager leads the swarm (term {})", s.term);
    st.events = std::make_unique<event_log>(
      fmt::format("{}:{}", st.cfg.node_id, clock::unix_nanos(self)));
    start_leader_actors(self);
  } else if (!st.leading && was_leading) {
    log::info(who, "this manager no longer leads the swarm");
    st.stop_leader_actors();
    for (auto& w : st.event_waiters)
      w.rp.deliver(error_reply(errc::unavailable,
                               "this manager no longer leads; ask again"));
    st.event_waiters.clear();
    st.events.reset();
  }
  if (st.leading && !st.init_proposed && !st.cfg.init_batch.empty()
      && st.db().cluster() == nullptr) {
    st.init_proposed = true;
    propose(self, st.cfg.init_batch, [](result<void> r) {
      if (!r)
        log::error(who, "cannot create the swarm: {}", r.error().message);
    });
  }
  if (!st.leading)
    return;
  if (st.cfg.force_new_cluster && !st.forced_done && st.db().cluster()) {
    // The quorum was lost: this manager goes on alone, the others become
    // workers (they get a worker certificate when they come back).
    st.forced_done = true;
    std::vector<store::action> demotions;
    for (const auto* n : st.db().nodes())
      if (n->role == ca::node_role::manager && n->id != st.cfg.node_id) {
        auto worker = *n;
        worker.role = ca::node_role::worker;
        worker.updated_at_nanos = clock::unix_nanos(self);
        demotions.push_back(store::put_node{worker, n->version});
      }
    if (!demotions.empty())
      propose(self, store::encode_batch(demotions),
              [n = demotions.size()](result<void> r) {
                if (r)
                  log::info(who,
                            "new cluster forced: {} other managers are "
                            "workers now",
                            n);
                else
                  log::error(who, "cannot demote the other managers: {}",
                             r.error().message);
              });
    return; // membership settles before learners are added
  }
  // Raft's configuration follows the store: its managers join as learners
  // and become voters once caught up; members that are managers no longer
  // (demoted) leave. One change at a time: Raft refuses the next while one
  // is not committed, and the tick asks again while any differs.
  auto managers = manager_members(self);
  for (auto id : managers) {
    if (!s.config.is_member(id)) {
      self->request(st.member, write_timeout, atom::add_learner_v, id)
        .then([](const raft::outcome&) {});
    } else if (s.config.is_learner(id)) {
      self->request(st.member, write_timeout, atom::promote_v, id)
        .then([](const raft::outcome&) {});
    }
  }
  // A member leaves only once the store is as new as the log: a leader
  // elected a moment ago may not have applied the entry that made a joining
  // node a manager, while its configuration (taken from the log) already
  // holds it.
  if (st.db().applied_index() < s.last_index)
    return;
  for (const auto* list : {&s.config.voters, &s.config.learners})
    for (auto id : *list)
      if (id != st.self_member && managers.count(id) == 0)
        self->request(st.member, write_timeout, atom::remove_v, id)
          .then([id](const raft::outcome& out) {
            if (out.ok)
              log::info(who,
                        "member {:016x} left Raft: it is no longer a "
                        "manager",
                        id);
          });
}

manager_actor::behavior_type
manager(self_ptr self, manager_config cfg,
        std::shared_ptr<std::unique_ptr<raft::log_storage>> db) {
  log::log_failed_requests(self, "manager");
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.next_proposal = (st.rng() >> 2) + 1;
  st.self_member = raft::member_id_of(st.cfg.node_id);
  st.bridge = raft::spawn_raft_bridge(self->system(), st.cfg.transport,
                                      st.cfg.node_id, st.cfg.raft_on_scheduler);
  auto raft_cfg = st.cfg.raft;
  raft_cfg.core.id = st.self_member;
  auto spawn_member
    = st.cfg.raft_on_scheduler ? raft::spawn_raft_scheduled : raft::spawn_raft;
  st.member = spawn_member(
    self->system(), raft_cfg, std::move(*db),
    caf::actor_cast<raft::raft_outbox>(st.bridge),
    caf::actor_cast<raft::apply_sink>(caf::actor_cast<caf::actor>(self)));
  self->link_to(st.member);
  self->link_to(st.bridge);
  if (st.cfg.ca) {
    st.ca_actor = ca::spawn_ca_actor(self->system(), st.cfg.ca);
    self->link_to(st.ca_actor);
  }
  caf::anon_send(st.bridge, atom::apply_v,
                 caf::actor_cast<caf::actor>(st.member));
  auto me = caf::actor_cast<caf::actor>(self);
  caf::anon_send(st.cfg.transport, atom::route_v, std::string{"raft"},
                 st.bridge);
  for (auto name : {"controlapi", "ca", "dispatcher"})
    caf::anon_send(st.cfg.transport, atom::route_v, std::string{name}, me);
  self->send(self, atom::tick_v);
  return {
    [=](atom::apply, const std::vector<raft::entry>& entries) {
      apply_entries(self, entries);
    },
    [=](atom::restore, const raft::snapshot& snap) {
      if (auto ok = self->state.shared->write([&](store::store& db) {
            return db.restore(snap.data.data(), snap.data.size());
          });
          !ok)
        log::error(who, "cannot restore the store: {}", ok.error().message);
      // Configuration entries up to the snapshot are not replayed.
      self->state.config = snap.meta.config;
      self->state.last_snapshot = snap.meta.index;
      refresh_managers(self);
      auto restored = std::make_shared<store::changes>();
      restored->restored = true;
      restored->index = self->state.db().applied_index();
      publish(self, std::move(restored));
      refresh_authority(self);
      refresh_managers(self);
      release_held_replies(self);
    },
    [=](atom::status, const raft::status& s) { on_status(self, s); },
    [=](atom::write, write_request& req) { return on_write(self, req); },
    [=](atom::caught_up, uint64_t id) {
      auto& st = self->state;
      auto it = st.held_replies.find(id);
      if (it == st.held_replies.end())
        return;
      log::warn(who,
                "this replica has not applied index {} within {} s; "
                "answering anyway (at {})",
                it->second.index, catch_up_wait.count(),
                st.db().applied_index());
      auto held = std::move(it->second);
      st.held_replies.erase(it);
      held.done(held.reply);
    },
    [=](atom::event, event& e) { record_event(self, std::move(e)); },
    [=](atom::deadline, uint64_t waiter) { event_wait_over(self, waiter); },
    [=](atom::transfer) {
      auto& st = self->state;
      auto leader = leader_node(self);
      bool known = !leader.empty() && leader != st.cfg.node_id;
      auto now = clock::now(self);
      auto pending = std::move(st.pending_forwards);
      st.pending_forwards.clear();
      for (auto& p : pending) {
        if (st.leading) {
          // This manager took the lead meanwhile (a request forwarded to
          // it as it was elected): it answers the request itself.
          auto done = std::move(p.done);
          self
            ->request(caf::actor_cast<caf::actor>(self), write_timeout,
                      p.request)
            .then([done](const control_reply& r) { done(r); },
                  [done](caf::error& err) {
                    done(error_reply(errc::internal, caf::to_string(err)));
                  });
        } else if (known || now >= p.until) {
          forward(self, p.request, std::move(p.done), false, p.catch_up);
        } else {
          st.pending_forwards.push_back(std::move(p));
        }
      }
      if (!st.pending_forwards.empty())
        self->delayed_send(self, milliseconds{100}, atom::transfer_v);
    },
    [=](atom::tick) {
      auto& st = self->state; // see trim_every_bytes
      // Trim after every trim_every_bytes applied, and once things quieted
      // down after any change (the end of a burst).
      bool quiet = ++st.quiet_ticks >= 10 && st.applied_bytes != st.trimmed_at;
      if (quiet || st.applied_bytes >= st.trimmed_at + trim_every_bytes) {
        st.trimmed_at = st.applied_bytes;
        malloc_trim(0);
      }
      // The member tells this manager of leadership changes itself; only
      // while managers of the store are not yet voters (a learner is
      // promoted once it has caught up) does the leader ask again, one
      // request at a time.
      if (st.leading && !st.asking_status && membership_pending(self)) {
        st.asking_status = true;
        self->request(self->state.member, seconds{5}, atom::status_v)
          .then(
            [=](const raft::status& s) {
              self->state.asking_status = false;
              on_status(self, s);
            },
            [=](caf::error& err) {
              self->state.asking_status = false;
              log::warn(who, "the raft member did not tell its status: {}",
                        caf::to_string(err));
            });
      }
      self->delayed_send(self, milliseconds{100}, atom::tick_v);
    },
    [=](const control_request& req) { return handle(self, req); },
    [=](atom::propose, const control_request& req) {
      return peer_propose(self, req);
    },
    [=](const transport::inbound& in) -> caf::result<envelope> {
      auto body = in.env.root().getBody();
      switch (body.which()) {
      case schema::Envelope::Body::CERTIFICATE_REQUEST:
        return on_certificate_request(self, in);
      case schema::Envelope::Body::HEARTBEAT:
        // The leader's dispatcher keeps the heartbeats; a follower sends the
        // node to the leader.
        if (!self->state.leading || !self->state.dispatcher)
          return dispatcher::heartbeat_reply(
            self->state.db(), false, leader_node(self), in.from.node_id);
        return ask_dispatcher(self, in);
      case schema::Envelope::Body::TASK_STATUS:
        if (!self->state.leading || !self->state.dispatcher)
          return make_envelope(kind::REPLY, 0, {}, {}, [&](auto b) {
            auto r = b.initTaskStatusReply();
            r.setAccepted(false);
            r.setLeader(leader_node(self));
          });
        return ask_dispatcher(self, in);
      case schema::Envelope::Body::CONTROL_REQUEST: {
        auto rp = self->make_response_promise<envelope>();
        auto request = control_request::from(body.getControlRequest());
        auto answer = [=](const control_reply& reply) mutable {
          // What this manager has applied by now, so that the manager that
          // forwarded the request can answer after catching up.
          auto env = make_envelope(kind::REPLY, 0, {}, {}, [&](auto b) {
            b.setControlReply(reply.root());
          });
          capnp::MallocMessageBuilder stamped;
          stamped.setRoot(env.root());
          stamped.getRoot<schema::Envelope>().setAppliedIndex(
            self->state.db().applied_index());
          rp.deliver(envelope::from(stamped));
        };
        auto failed = [=](caf::error& err) mutable {
          rp.deliver(reply_body(failure{errc::internal, caf::to_string(err)}));
        };
        auto me = caf::actor_cast<caf::actor>(self);
        // A raw store batch is a manager's forwarded write: only here.
        if (request.root().which() == request_which::PROPOSE)
          self->request(me, write_timeout, atom::propose_v, request)
            .then(answer, failed);
        else
          self->request(me, write_timeout, request).then(answer, failed);
        return rp;
      }
      default:
        return reply_body(
          failure{errc::unsupported, "the manager does not handle this"});
      }
    },
    [=](atom::status) -> caf::result<manager_info> {
      auto& st = self->state;
      manager_info info;
      if (const auto* c = st.db().cluster()) {
        info.cluster_id = c->id;
        info.heartbeat_nanos = c->spec.dispatcher_heartbeat.count();
        info.cert_expiry_nanos = c->spec.cert_expiry.count();
        info.task_history_limit = c->spec.task_history_limit;
        info.snapshot_interval = c->spec.snapshot_interval;
        info.election_ticks = c->spec.election_ticks;
        info.heartbeat_ticks = c->spec.heartbeat_ticks;
      }
      info.leader = leader_node(self);
      info.voters = static_cast<uint32_t>(st.config.voters.size());
      info.learners = static_cast<uint32_t>(st.config.learners.size());
      info.term = st.term;
      info.commit = st.commit;
      info.leader_actors = st.leader_actors();
      for (const auto* n : st.db().nodes()) {
        ++info.nodes;
        if (n->role == ca::node_role::manager) {
          ++info.managers;
          info.manager_addrs.push_back(n->addr);
        }
      }
      // The commit index moves with every write: ask the member for it.
      auto rp = self->make_response_promise<manager_info>();
      self->request(st.member, seconds{2}, atom::status_v)
        .then(
          [=](const raft::status& s) mutable {
            info.term = s.term;
            info.commit = s.commit;
            info.longest_tick_gap_nanos
              = std::chrono::nanoseconds{s.longest_tick_gap}.count();
            rp.deliver(info);
          },
          [=](caf::error&) mutable { rp.deliver(info); });
      return rp;
    },
  };
}

} // namespace skep::controlapi::manager_detail

namespace skep::controlapi {

manager_actor spawn_manager(caf::actor_system& sys, manager_config cfg,
                            std::unique_ptr<raft::log_storage> storage) {
  auto holder
    = std::make_shared<std::unique_ptr<raft::log_storage>>(std::move(storage));
  return sys.spawn(manager_detail::manager, std::move(cfg), holder);
}

} // namespace skep::controlapi
