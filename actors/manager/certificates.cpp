// The manager: who may have a certificate. A node that joins is recorded in
// the store first (through the leader); a known node renews with its own
// key. The CA actor (actors/ca/ca_actor.hpp) signs.

#include "actors/manager/manager_state.hpp"

namespace skep::controlapi::manager_detail {

envelope reply_body(const failure& why) {
  return make_envelope(kind::REPLY, 0, {}, {},
                       [&](auto body) { to_schema(why, body.initError()); });
}

/// Has the CA actor sign a certificate for the node `in` came from, in the
/// role `in` says, and hands its answer to `rp`.
void issue_certificate(self_ptr self, const transport::inbound& in,
                       caf::typed_response_promise<envelope> rp) {
  auto& st = self->state;
  if (!st.ca_actor) {
    rp.deliver(reply_body(
      failure{errc::unavailable, "this manager holds no CA to sign with"}));
    return;
  }
  ca::certificate_request req;
  req.node_id = in.from.node_id;
  req.role = in.from.role;
  req.node_key = in.from.node_key;
  req.joining = in.from.joining;
  if (const auto* c = st.db().cluster())
    req.cluster_id = c->id;
  if (in.env.root().getBody().which()
      == schema::Envelope::Body::CERTIFICATE_REQUEST)
    req.hostname
      = text_of(in.env.root().getBody().getCertificateRequest().getHostname());
  self->request(st.ca_actor, seconds{10}, atom::issue_v, std::move(req))
    .then(
      [=](envelope& reply) mutable { rp.deliver(std::move(reply)); },
      [=](caf::error& err) mutable {
        rp.deliver(reply_body(failure{errc::unavailable, caf::to_string(err)}));
      });
}

caf::result<envelope> on_certificate_request(self_ptr self,
                                             const transport::inbound& in) {
  auto& st = self->state;
  auto rp = self->make_response_promise<envelope>();
  const auto* known = st.db().node(in.from.node_id);
  if (known != nullptr) {
    // Renewal (or a node re-joining with its own key): no change to record.
    if (known->public_key != in.from.node_key) {
      rp.deliver(reply_body(failure{
        errc::already_exists,
        fmt::format("node id {} belongs to another node", in.from.node_id)}));
      return rp;
    }
    auto renewed = in;
    renewed.from.role = known->role;
    issue_certificate(self, renewed, rp);
    return rp;
  }
  if (!in.from.joining) {
    rp.deliver(reply_body(
      failure{errc::not_found, fmt::format("node {} is not part of the "
                                           "swarm",
                                           in.from.node_id)}));
    return rp;
  }
  auto request = in.env.root().getBody().getCertificateRequest();
  store::node_object node;
  node.id = in.from.node_id;
  node.hostname = text_of(request.getHostname());
  node.role = in.from.role;
  node.addr = text_of(request.getAdvertiseAddr());
  // Other nodes will dial this address: refuse what they could not parse.
  if (auto addr = transport::parse_host_port(node.addr); !addr) {
    rp.deliver(reply_body(addr.error()));
    return rp;
  }
  node.engine_version = text_of(request.getEngineVersion());
  node.capacity.nano_cpus = std::max<int64_t>(request.getNanoCpus(), 0);
  node.capacity.memory_bytes = std::max<int64_t>(request.getMemoryBytes(), 0);
  node.public_key = in.from.node_key;
  node.created_at_nanos = node.updated_at_nanos = clock::unix_nanos(self);
  node.status = store::node_status::unknown;
  // Record the node first (through the leader), then certify it.
  write(self, store::encode_batch({store::put_node{node, 0}}),
        [=](const control_reply& reply) mutable {
          if (reply.root().which() == schema::control::Reply::ERROR)
            rp.deliver(reply_body(skep::from_schema(reply.root().getError())));
          else
            issue_certificate(self, in, rp);
        });
  return rp;
}

} // namespace skep::controlapi::manager_detail
