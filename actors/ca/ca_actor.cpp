#include "actors/ca/ca_actor.hpp"

#include "actors/logging/clock.hpp"
#include "actors/logging/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

namespace skep::ca {

namespace {

using kind = schema::Envelope::Kind;
constexpr std::string_view who = "ca";

envelope error_body(const failure& why) {
  return make_envelope(kind::REPLY, 0, actor_ref{}, actor_ref{},
                       [&](auto body) { to_schema(why, body.initError()); });
}

/// A hostname as a node sent it, safe for one log line.
std::string printable(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (out.size() == 64)
      break;
    out += (c >= 0x21 && c <= 0x7e) ? c : '?';
  }
  return out;
}

caf::behavior ca_actor(caf::event_based_actor* self,
                       std::shared_ptr<shared_authority> ca) {
  return {
    [=](atom::issue, const certificate_request& req) -> envelope {
      auto now = clock::wall(self);
      result<std::vector<uint8_t>> cert = failure{errc::internal, ""};
      auto saved = ca->change_and_save([&](authority& a) {
        cert = a.issue(req.node_id, req.role, req.node_key, now);
      });
      if (!saved) {
        log::error(who, "cannot save the CA: {}", saved.error().message);
        return error_body(saved.error());
      }
      if (!cert) {
        log::warn(who, "refused a certificate to node {}: {}", req.node_id,
                  cert.error().message);
        return error_body(cert.error());
      }
      auto ca_key = ca->with([](authority& a) { return a.public_part(); });
      log::info(who, "{} certificate for {} node {} ({})",
                req.joining ? "issued a" : "renewed the", to_string(req.role),
                req.node_id, printable(req.hostname));
      return make_envelope(
        kind::REPLY, 0, actor_ref{}, actor_ref{}, [&](auto body) {
          auto reply = body.initCertificateReply();
          reply.setCertificate(kj::arrayPtr(cert->data(), cert->size()));
          reply.setCaPublicKey(kj::arrayPtr(ca_key.data(), ca_key.size()));
          reply.setClusterId(req.cluster_id);
        });
    },
    [=](atom::revoke, const std::string& node) {
      auto saved = ca->change_and_save([&](authority& a) { a.revoke(node); });
      if (!saved)
        log::error(who, "cannot save the revocation of node {}: {}", node,
                   saved.error().message);
    },
  };
}

} // namespace

caf::actor spawn_ca_actor(caf::actor_system& sys,
                          std::shared_ptr<shared_authority> ca) {
  return sys.spawn(ca_actor, std::move(ca));
}

} // namespace skep::ca
