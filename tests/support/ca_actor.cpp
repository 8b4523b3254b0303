#include "tests/support/ca_actor.hpp"

#include "actors/logging/log.hpp"
#include "actors/transport/transport_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <fmt/format.h>

namespace skep::test {

using namespace skep::ca;

namespace {

using kind = schema::Envelope::Kind;
constexpr std::string_view who = "ca";

envelope error_body(const failure& why) {
  return make_envelope(kind::REPLY, 0, actor_ref{}, actor_ref{},
                       [&](auto body) { to_schema(why, body.initError()); });
}

// A hostname as a joining node sent it, safe for one log line.
std::string printable(capnp::Text::Reader text) {
  std::string out;
  for (char c : std::string_view(text.begin(), text.size())) {
    if (out.size() == 64)
      break;
    out += (c >= 0x21 && c <= 0x7e) ? c : '?';
  }
  return out;
}

caf::error to_caf(const failure& why) {
  return caf::make_error(caf::sec::runtime_error, why.message);
}

caf::behavior ca_behavior(caf::event_based_actor* self,
                          std::shared_ptr<ca::shared_authority> ca) {
  (void)self;
  return {
    [=](const transport::inbound& in) -> envelope {
      auto root = in.env.root();
      if (root.getBody().which() != schema::Envelope::Body::CERTIFICATE_REQUEST)
        return error_body(failure{errc::unsupported,
                                  "the CA only answers certificate requests"});
      auto hostname
        = printable(root.getBody().getCertificateRequest().getHostname());
      auto now = std::chrono::system_clock::now();
      // Issuing binds the node id to its key: save that before answering.
      result<std::vector<uint8_t>> cert = failure{errc::internal, ""};
      auto saved = ca->change_and_save([&](authority& a) {
        cert = a.issue(in.from.node_id, in.from.role, in.from.node_key, now);
      });
      if (!saved) {
        log::error(who, "cannot save the CA: {}", saved.error().message);
        return error_body(saved.error());
      }
      if (!cert) {
        log::warn(who, "refused a certificate to node {}: {}", in.from.node_id,
                  cert.error().message);
        return error_body(cert.error());
      }
      auto ca_key = ca->with([](authority& a) { return a.public_part(); });
      log::info(who, "{} certificate for {} node {} ({})",
                in.from.joining ? "issued a" : "renewed the",
                to_string(in.from.role), in.from.node_id, hostname);
      return make_envelope(
        kind::REPLY, 0, actor_ref{}, actor_ref{}, [&](auto body) {
          auto reply = body.initCertificateReply();
          reply.setCertificate(kj::arrayPtr(cert->data(), cert->size()));
          reply.setCaPublicKey(kj::arrayPtr(ca_key.data(), ca_key.size()));
        });
    },
    [=](atom::tokens) {
      return ca->with([](authority& a) {
        return caf::make_message(a.token(node_role::worker).to_string(),
                                 a.token(node_role::manager).to_string());
      });
    },
    [=](atom::rotate, const std::string& role) -> caf::result<std::string> {
      if (role != "worker" && role != "manager")
        return to_caf(failure{errc::invalid_argument,
                              fmt::format("cannot rotate the token for role "
                                          "'{}': use worker or manager",
                                          role)});
      auto r = role == "manager" ? node_role::manager : node_role::worker;
      std::string token;
      auto saved = ca->change_and_save(
        [&](authority& a) { token = a.rotate(r).to_string(); });
      if (!saved)
        return to_caf(saved.error());
      log::info(who, "rotated the {} join token", role);
      return token;
    },
    [=](atom::revoke, const std::string& node) -> caf::result<void> {
      auto saved = ca->change_and_save([&](authority& a) { a.revoke(node); });
      if (!saved)
        return to_caf(saved.error());
      return caf::unit;
    },
  };
}

} // namespace

caf::actor spawn_ca_actor(caf::actor_system& sys,
                          std::shared_ptr<ca::shared_authority> ca) {
  return sys.spawn(ca_behavior, std::move(ca));
}

} // namespace skep::test
