// The manager: certificates for joining and renewing nodes.

#include "actors/manager/manager_state.hpp"

namespace skep::controlapi::manager_detail {

// ---- the CA: certificates for joining and renewing nodes ------------------

envelope reply_body(const failure& why) {
  return make_envelope(kind::REPLY, 0, {}, {},
                       [&](auto body) { to_schema(why, body.initError()); });
}

void issue_certificate(self_ptr self, const transport::inbound& in,
                       caf::typed_response_promise<envelope> rp) {
  auto& st = self->state;
  auto now = clock::wall(self);
  auto cert = st.cfg.ca->with([&](ca::authority& a) {
    return a.issue(in.from.node_id, in.from.role, in.from.node_key, now);
  });
  if (!cert) {
    rp.deliver(reply_body(cert.error()));
    return;
  }
  auto ca_key
    = st.cfg.ca->with([](ca::authority& a) { return a.public_part(); });
  log::info(who, "certificate for {} node {}", ca::to_string(in.from.role),
            in.from.node_id);
  rp.deliver(make_envelope(kind::REPLY, 0, {}, {}, [&](auto body) {
    auto reply = body.initCertificateReply();
    reply.setCertificate(kj::arrayPtr(cert->data(), cert->size()));
    reply.setCaPublicKey(kj::arrayPtr(ca_key.data(), ca_key.size()));
    if (const auto* c = st.db().cluster())
      reply.setClusterId(c->id);
  }));
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
