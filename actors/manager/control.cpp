// The manager: control requests: nodes, the swarm, services, tokens; demotion.

#include "actors/manager/manager_state.hpp"

namespace skep::controlapi::manager_detail {

// ---- control requests -----------------------------------------------------

void fill_view(self_ptr self, const store::node_object& n,
               schema::control::NodeView::Builder out) {
  auto& st = self->state;
  out.setId(n.id);
  out.setHostname(n.hostname);
  out.setRole(ca::to_string(n.role));
  out.setStatus(store::to_string(n.status));
  out.setAvailability(store::to_string(n.avail));
  if (n.role == ca::node_role::manager) {
    if (raft::member_id_of(n.id) == st.leader_member)
      out.setManagerStatus("leader");
    else if (n.status == store::node_status::ready)
      out.setManagerStatus("reachable");
    else
      out.setManagerStatus("unreachable");
  }
  out.setEngineVersion(n.engine_version);
  out.setAddr(n.addr);
  auto labels = out.initLabels(static_cast<unsigned>(n.labels.size()));
  unsigned i = 0;
  for (auto& [k, v] : n.labels) {
    labels[i].setKey(k);
    labels[i].setValue(v);
    ++i;
  }
  out.setCreatedAtNanos(n.created_at_nanos);
  out.setUpdatedAtNanos(n.updated_at_nanos);
  out.setSelf(n.id == st.cfg.node_id);
  out.setStatusMessage(n.status_message);
  out.setVersion(n.version);
}

control_reply list_nodes(self_ptr self,
                         const std::vector<const store::node_object*>& nodes) {
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initNodes(
    static_cast<unsigned>(nodes.size()));
  for (unsigned i = 0; i < nodes.size(); ++i)
    fill_view(self, *nodes[i], list[i]);
  return control_reply::from(b);
}

/// Leader: demotes a manager. Refused for the last manager and when the
/// managers left could not form a quorum; the leader itself hands its
/// leadership over first, then the new leader does the demotion.
void demote(self_ptr self, const control_request& req, store::node_object node,
            uint64_t version, caf::typed_response_promise<control_reply> rp) {
  auto& st = self->state;
  auto target = raft::member_id_of(node.id);
  size_t managers = 0, ready_others = 0;
  for (const auto* n : st.db().nodes()) {
    if (n->role != ca::node_role::manager)
      continue;
    ++managers;
    if (n->id != node.id && n->status == store::node_status::ready)
      ++ready_others;
  }
  if (managers <= 1) {
    rp.deliver(error_reply(errc::invalid_argument,
                           "cannot demote the last manager of the swarm"));
    return;
  }
  auto voters_after
    = st.config.voters.size() - (st.config.is_voter(target) ? 1 : 0);
  if (ready_others < voters_after / 2 + 1) {
    rp.deliver(error_reply(
      errc::unavailable,
      fmt::format("demoting {} would leave {} reachable managers of {}: the "
                  "swarm would lose its quorum",
                  node.hostname, ready_others, voters_after)));
    return;
  }
  if (target == st.self_member) {
    // Hand leadership to a ready voter, then let the new leader demote.
    raft::node_id successor = 0;
    for (const auto* n : st.db().nodes())
      if (n->role == ca::node_role::manager && n->id != node.id
          && n->status == store::node_status::ready
          && st.config.is_voter(raft::member_id_of(n->id)))
        successor = raft::member_id_of(n->id);
    if (successor == 0) {
      rp.deliver(error_reply(errc::unavailable,
                             "no other manager can take over the leadership"));
      return;
    }
    self->request(st.member, write_timeout, atom::transfer_v, successor)
      .then([=](const raft::outcome& out) mutable {
        if (!out.ok) {
          rp.deliver(
            error_reply(errc::unavailable, fmt::format("cannot hand over the "
                                                       "leadership: {}",
                                                       out.why.message)));
          return;
        }
        // The successor leads shortly: send it the request once this
        // member knows it leads (an election may be needed if the transfer
        // times out). Its answer comes at once: this member leaves Raft and
        // will not apply what the new leader writes.
        forward_later(self, req, deliver_to(rp),
                      clock::now(self) + write_timeout, false);
      });
    return;
  }
  // The store first: once the node is a worker there, the leader takes it
  // out of Raft's configuration (see on_status), retrying while another
  // configuration change is under way.
  write(self, store::encode_batch({store::put_node{node, version}}),
        deliver_to(rp));
}

caf::result<control_reply> handle(self_ptr self, const control_request& req) {
  auto& st = self->state;
  auto root = req.root();
  const auto* cluster = st.db().cluster();
  if (cluster == nullptr)
    return error_reply(errc::unavailable,
                       "the swarm is still being set up; try again");
  if (is_service_request(root.which())) {
    auto a = handle_service_request(st.db(), root, clock::unix_nanos(self),
                                    new_object_id);
    if (a.reply)
      return std::move(*a.reply);
    auto rp = self->make_response_promise<control_reply>();
    auto on_commit = std::move(a.on_commit);
    write(self, store::encode_batch(a.actions),
          [rp, on_commit](const control_reply& r) mutable {
            bool done = r.root().which() == schema::control::Reply::DONE;
            rp.deliver(done ? on_commit : r);
          });
    return rp;
  }
  switch (root.which()) {
  case request_which::DELIVER:
    return deliver(self, req);
  case request_which::EVENTS:
  case request_which::ACTORS:
    if (!st.leading) {
      auto rp = self->make_response_promise<control_reply>();
      forward(self, req, deliver_to(rp));
      return rp;
    }
    if (root.which() == request_which::ACTORS)
      return list_actors(self);
    return read_events(self, root.getEvents());
  case request_which::SERVICE_LOGS:
    return collect_logs(self, root.getServiceLogs());
  case request_which::NODE_LIST:
    return list_nodes(self, st.db().nodes());
  case request_which::NODE_INSPECT: {
    std::vector<const store::node_object*> found;
    for (auto name : root.getNodeInspect().getNames()) {
      auto n = st.db().find_node(text_of(name));
      if (!n)
        return make_error_reply(n.error());
      found.push_back(*n);
    }
    return list_nodes(self, found);
  }
  case request_which::JOIN_TOKEN: {
    auto r = root.getJoinToken();
    auto role = text_of(r.getRole());
    if (role != "worker" && role != "manager")
      return error_reply(errc::invalid_argument,
                         fmt::format("unknown role '{}': use worker or "
                                     "manager",
                                     role));
    auto answer = [self, role]() {
      const auto* c = self->state.db().cluster();
      capnp::MallocMessageBuilder b;
      auto t = b.initRoot<schema::control::Reply>().initToken();
      t.setRole(role);
      t.setToken(role == "manager" ? c->manager_token : c->worker_token);
      t.setManagerAddr(self->state.cfg.advertise_addr);
      return control_reply::from(b);
    };
    if (!r.getRotate())
      return answer();
    auto rp = self->make_response_promise<control_reply>();
    if (!st.leading) {
      forward(self, req, deliver_to(rp)); // the leader rotates and answers
      return rp;
    }
    auto updated = *cluster;
    auto digest = ca::parse_join_token(cluster->worker_token);
    if (!digest) {
      rp.deliver(make_error_reply(digest.error()));
      return rp;
    }
    auto fresh = ca::make_join_token(digest->ca_digest).to_string();
    (role == "manager" ? updated.manager_token : updated.worker_token) = fresh;
    propose(
      self,
      store::encode_batch({store::update_cluster{updated, cluster->version}}),
      [=](result<void> r) mutable {
        rp.deliver(r ? answer() : make_error_reply(r.error()));
      });
    return rp;
  }
  case request_which::NODE_UPDATE: {
    auto u = root.getNodeUpdate();
    auto n = st.db().find_node(text_of(u.getName()));
    if (!n)
      return make_error_reply(n.error());
    auto changed = **n;
    auto avail = text_of(u.getAvailability());
    if (avail == "active")
      changed.avail = store::availability::active;
    else if (avail == "pause")
      changed.avail = store::availability::pause;
    else if (avail == "drain")
      changed.avail = store::availability::drain;
    else if (!avail.empty())
      return error_reply(errc::invalid_argument,
                         fmt::format("invalid availability '{}': use active, "
                                     "pause or drain",
                                     avail));
    for (auto l : u.getLabelAdd())
      changed.labels[text_of(l.getKey())] = text_of(l.getValue());
    // A label that is not there is not there: ignored, as --env-rm,
    // --publish-rm and --constraint-rm ignore theirs.
    for (auto k : u.getLabelRm())
      changed.labels.erase(text_of(k));
    if (auto ok = check_node_labels(changed.labels); !ok)
      return make_error_reply(ok.error());
    auto role = text_of(u.getRole());
    if (!role.empty() && role != "worker" && role != "manager")
      return error_reply(errc::invalid_argument,
                         fmt::format("invalid role '{}': use worker or "
                                     "manager",
                                     role));
    changed.updated_at_nanos = clock::unix_nanos(self);
    auto rp = self->make_response_promise<control_reply>();
    if (role == "worker" && changed.role == ca::node_role::manager) {
      // Demotion changes Raft's membership: only the leader does it.
      if (!st.leading) {
        forward(self, req, deliver_to(rp));
        return rp;
      }
      changed.role = ca::node_role::worker;
      demote(self, req, changed, (*n)->version, rp);
      return rp;
    }
    if (role == "manager")
      changed.role = ca::node_role::manager; // joins Raft as a learner
    write(self, store::encode_batch({store::put_node{changed, (*n)->version}}),
          deliver_to(rp));
    return rp;
  }
  case request_which::NODE_REMOVE: {
    auto rm = root.getNodeRemove();
    std::vector<store::action> actions;
    for (auto name : rm.getNames()) {
      auto n = st.db().find_node(text_of(name));
      if (!n)
        return make_error_reply(n.error());
      if ((*n)->role == ca::node_role::manager)
        return error_reply(errc::invalid_argument,
                           fmt::format("node {} is a manager and cannot be "
                                       "removed; demote it first with \"skep "
                                       "node demote {}\"",
                                       (*n)->hostname, (*n)->hostname));
      if ((*n)->status != store::node_status::down && !rm.getForce())
        return error_reply(errc::invalid_argument,
                           fmt::format("node {} is not down and can't be "
                                       "removed; stop it first, or use "
                                       "--force",
                                       (*n)->hostname));
      actions.push_back(store::remove_node{(*n)->id, (*n)->version});
    }
    auto rp = self->make_response_promise<control_reply>();
    write(self, store::encode_batch(actions), deliver_to(rp));
    return rp;
  }
  case request_which::SWARM_UPDATE: {
    auto u = root.getSwarmUpdate();
    auto updated = *cluster;
    auto spec = store::apply_settings(
      cluster->spec, store::cluster_settings{
                       u.getTaskHistoryLimit(), u.getDispatcherHeartbeatNanos(),
                       u.getCertExpiryNanos(), u.getSnapshotInterval()});
    if (!spec)
      return make_error_reply(spec.error());
    updated.spec = *spec;
    auto rp = self->make_response_promise<control_reply>();
    write(
      self,
      store::encode_batch({store::update_cluster{updated, cluster->version}}),
      deliver_to(rp));
    return rp;
  }
  case request_which::PROPOSE:
    // A raw store batch skips every check above: only another manager's
    // forwarded write may carry one (see peer_propose).
    return error_reply(errc::permission_denied,
                       "a raw store proposal is accepted only from another "
                       "manager; use the control requests (serviceCreate, "
                       "nodeUpdate, ...)");
  default:
    return error_reply(errc::unsupported,
                       "this request is not supported by this manager yet");
  }
}

/// A follower's write, forwarded over the transport from another manager
/// (the transport lets only managers send control requests): proposed here
/// if this manager leads.
caf::result<control_reply> peer_propose(self_ptr self,
                                        const control_request& req) {
  if (!self->state.leading)
    return error_reply(errc::unavailable,
                       "this manager no longer leads; try again");
  auto data = req.root().getPropose();
  auto rp = self->make_response_promise<control_reply>();
  write(self, std::vector<uint8_t>(data.begin(), data.end()), deliver_to(rp));
  return rp;
}

} // namespace skep::controlapi::manager_detail
