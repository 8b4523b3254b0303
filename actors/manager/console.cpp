// The manager: the message console: deliveries to actors, the actor list,
// faults.

#include "actors/manager/manager_state.hpp"

namespace skep::controlapi::manager_detail {

// ---- the console ----------------------------------------------------------

control_reply delivered_reply(const envelope& reply) {
  capnp::MallocMessageBuilder b;
  auto bytes = reply.encode();
  b.initRoot<schema::control::Reply>().setDelivered(
    kj::arrayPtr(bytes.data(), bytes.size()));
  return control_reply::from(b);
}

/// Leader: which actors the console can address, and where they run.
control_reply list_actors(self_ptr self) {
  auto& st = self->state;
  struct row {
    std::string name, node_id, hostname, status;
  };
  std::vector<row> rows;
  auto leader = leader_node(self);
  const auto* lead = st.db().node(leader);
  auto leader_host = lead ? lead->hostname : leader;
  for (const char* name : {"leader/controlapi", "dispatcher", "scheduler"})
    rows.push_back({name, leader, leader_host, "running"});
  for (const auto* s : st.db().services())
    rows.push_back(
      {"reconciler/" + s->spec.name, leader, leader_host, "running"});
  for (const auto* n : st.db().nodes()) {
    auto status = n->status == store::node_status::ready
                    ? std::string("running")
                    : fmt::format("node {}", store::to_string(n->status));
    for (const char* actor : {"agent", "transport"})
      rows.push_back({fmt::format("node/{}/{}", n->hostname, actor), n->id,
                      n->hostname, status});
  }
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initActors(
    static_cast<unsigned>(rows.size()));
  for (unsigned i = 0; i < rows.size(); ++i) {
    list[i].setName(rows[i].name);
    list[i].setNodeId(rows[i].node_id);
    list[i].setHostname(rows[i].hostname);
    list[i].setStatus(rows[i].status);
  }
  return control_reply::from(b);
}

/// A fault's peers as node ids (the console may name them by hostname).
result<envelope> resolve_fault_peers(self_ptr self, const envelope& inner) {
  auto f = inner.root().getBody().getFault();
  std::vector<std::string> ids;
  for (auto name : f.getPeers()) {
    auto n = self->state.db().find_node(text_of(name));
    if (!n)
      return n.error();
    ids.push_back((*n)->id);
  }
  return make_envelope(kind::REQUEST, 0, {}, {}, [&](auto body) {
    auto out = body.initFault();
    out.setDrop(f.getDrop());
    out.setDelayNanos(f.getDelayNanos());
    out.setPartitioned(f.getPartitioned());
    out.setHeal(f.getHeal());
    auto peers = out.initPeers(static_cast<unsigned>(ids.size()));
    for (unsigned i = 0; i < ids.size(); ++i)
      peers.set(i, ids[i]);
  });
}

/// A console message for an actor: checked, addressed, sent; the reply
/// envelope comes back serialized (or `done` for a one-way message).
caf::result<control_reply> deliver(self_ptr self, const control_request& req) {
  auto& st = self->state;
  auto d = req.root().getDeliver();
  auto target = parse_console_target(text_of(d.getActor()));
  if (!target)
    return make_error_reply(target.error());
  auto bytes = d.getEnvelope();
  auto inner = envelope::decode(bytes.begin(), bytes.size(),
                                read_limits_for_frames(4 << 20));
  if (!inner)
    return error_reply(errc::malformed_message,
                       fmt::format("the console message is not an envelope: {}",
                                   inner.error().message));
  bool one_way = d.getOneWay();
  auto body = inner->root().getBody();
  if (auto ok = check_console_body(*target, body.which(), one_way); !ok)
    return make_error_reply(ok.error());
  if (runs_on_leader(*target) && !st.leading) {
    auto rp = self->make_response_promise<control_reply>();
    forward(self, req, deliver_to(rp));
    return rp;
  }
  auto timeout = milliseconds{std::clamp<uint32_t>(
    d.getTimeoutMillis() == 0 ? 10000 : d.getTimeoutMillis(), 100, 60000)};
  // From here on the promise answers: a value returned would be dropped
  // and the client would wait for its timeout.
  auto rp = self->make_response_promise<control_reply>();
  auto refuse = [&](const failure& why) {
    rp.deliver(make_error_reply(why));
    return rp;
  };
  auto answer = [rp, one_way](const envelope& reply) mutable {
    rp.deliver(one_way ? done_reply() : delivered_reply(reply));
  };
  auto failed = [rp](const caf::error& err) mutable {
    rp.deliver(error_reply(errc::unavailable, caf::to_string(err)));
  };
  // Through the transport: to another node, or locally to this one.
  auto via_transport = [&](const std::string& node, const std::string& route,
                           const envelope& what) {
    auto env = restamp(what, one_way ? kind::ONE_WAY : kind::REQUEST, 0,
                       {st.cfg.node_id, "console"}, {node, route});
    if (one_way) {
      caf::anon_send(st.cfg.transport, atom::send_v, env);
      rp.deliver(done_reply());
      return;
    }
    self
      ->request(st.cfg.transport, caf::infinite, atom::call_v, env,
                caf::timespan{timeout})
      .then([=](const envelope& reply) mutable { answer(reply); });
  };
  switch (target->kind) {
  case console_target_kind::controlapi: {
    // One level only: a delivery inside a delivery would recurse.
    if (body.getControlRequest().which() == request_which::DELIVER)
      return refuse({errc::invalid_argument,
                     "a console message to leader/controlapi cannot carry "
                     "another deliver"});
    auto request = control_request::from(body.getControlRequest());
    self->request(caf::actor_cast<caf::actor>(self), timeout, request)
      .then(
        [=](const control_reply& reply) mutable {
          answer(make_envelope(kind::REPLY, 0, {}, {}, [&](auto b) {
            b.setControlReply(reply.root());
          }));
        },
        failed);
    return rp;
  }
  case console_target_kind::node_actor: {
    auto node = st.db().find_node(target->node);
    if (!node)
      return refuse(node.error());
    auto what = *inner;
    if (body.which() == schema::Envelope::Body::FAULT) {
      auto resolved = resolve_fault_peers(self, *inner);
      if (!resolved)
        return refuse(resolved.error());
      what = *resolved;
    }
    via_transport((*node)->id, target->route, what);
    return rp;
  }
  case console_target_kind::dispatcher:
    if (body.which() != schema::Envelope::Body::INSPECT) {
      via_transport(st.cfg.node_id, "dispatcher", *inner);
      return rp;
    }
    if (!st.dispatcher)
      return refuse({errc::unavailable, "the dispatcher is not running"});
    self->request(st.dispatcher, timeout, atom::describe_v)
      .then([=](const envelope& reply) mutable { answer(reply); }, failed);
    return rp;
  case console_target_kind::scheduler:
    if (!st.scheduler)
      return refuse({errc::unavailable, "the scheduler is not running"});
    self->request(st.scheduler, timeout, atom::describe_v)
      .then([=](const envelope& reply) mutable { answer(reply); }, failed);
    return rp;
  case console_target_kind::reconciler: {
    auto service = st.db().find_service(target->service);
    if (!service)
      return refuse(service.error());
    if (!st.orchestrator)
      return refuse({errc::unavailable, "the orchestrator is not running"});
    auto id = (*service)->id;
    if (body.which() == schema::Envelope::Body::RECONCILE) {
      self->send(st.orchestrator, atom::poke_v, id);
      rp.deliver(
        one_way ? done_reply()
                : delivered_reply(make_envelope(
                  kind::REPLY, 0, {}, {}, [](auto b) { b.initReconcile(); })));
      return rp;
    }
    self->request(st.orchestrator, timeout, atom::describe_v, id)
      .then([=](const envelope& reply) mutable { answer(reply); }, failed);
    return rp;
  }
  }
  return refuse({errc::internal, "unknown console target"});
}

} // namespace skep::controlapi::manager_detail
