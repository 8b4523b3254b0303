#include "actors/ca/certificate.hpp"

#include "messages/ca.capnp.h"
#include "messages/message.hpp"

#include <capnp/message.h>
#include <fmt/format.h>
#include <sodium.h>

namespace skep::ca {

namespace {

int64_t to_nanos(time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           t.time_since_epoch())
    .count();
}

time_point from_nanos(int64_t ns) {
  return time_point{std::chrono::duration_cast<time_point::duration>(
    std::chrono::nanoseconds{ns})};
}

failure refused(std::string why) {
  return fail(errc::permission_denied,
              fmt::format("certificate refused: {}", why));
}

std::string utc(time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

} // namespace

const char* to_string(node_role role) noexcept {
  return role == node_role::manager ? "manager" : "worker";
}

std::vector<uint8_t> issue_certificate(const keypair& ca,
                                       certificate_fields fields) {
  fields.ca = key_id_of(ca.public_part);
  capnp::MallocMessageBuilder body_builder;
  auto body = body_builder.initRoot<schema::ca::CertificateBody>();
  body.setSerial(fields.serial);
  body.setNodeId(fields.node_id);
  body.setRole(fields.role == node_role::manager
                 ? schema::ca::NodeRole::MANAGER
                 : schema::ca::NodeRole::WORKER);
  body.setNodePublicKey(
    kj::arrayPtr(fields.node_key.data(), fields.node_key.size()));
  body.setCaKeyId(kj::arrayPtr(fields.ca.data(), fields.ca.size()));
  body.initIssuedAt().setUnixNanos(to_nanos(fields.issued_at));
  body.initExpiresAt().setUnixNanos(to_nanos(fields.expires_at));
  auto body_bytes
    = message<schema::ca::CertificateBody>::from(body_builder).encode();
  std::array<uint8_t, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, body_bytes.data(),
                       body_bytes.size(), ca.secret_part.data());
  capnp::MallocMessageBuilder cert_builder;
  auto cert = cert_builder.initRoot<schema::ca::Certificate>();
  cert.setBody(kj::arrayPtr(body_bytes.data(), body_bytes.size()));
  cert.setSignature(kj::arrayPtr(sig.data(), sig.size()));
  return message<schema::ca::Certificate>::from(cert_builder).encode();
}

result<certificate_fields>
verify_certificate(const uint8_t* data, size_t size,
                   const certificate_policy& policy) {
  read_limits limits;
  limits.max_frame_bytes = 16 * 1024;
  auto cert = message<schema::ca::Certificate>::decode(data, size, limits);
  if (!cert)
    return refused(fmt::format("unreadable: {}", cert.error().message));
  auto root = cert->root();
  auto body_bytes = root.getBody();
  auto sig = root.getSignature();
  if (sig.size() != crypto_sign_BYTES)
    return refused("the signature has the wrong length");
  auto body_msg = message<schema::ca::CertificateBody>::decode(
    body_bytes.begin(), body_bytes.size(), limits);
  if (!body_msg)
    return refused(
      fmt::format("unreadable body: {}", body_msg.error().message));
  auto body = body_msg->root();
  auto expected_ca = key_id_of(policy.ca_key);
  auto ca = body.getCaKeyId();
  if (ca.size() != expected_ca.size()
      || sodium_memcmp(ca.begin(), expected_ca.data(), ca.size()) != 0)
    return refused(fmt::format("issued by another CA ({}), not this swarm's "
                               "({})",
                               hex(ca.begin(), ca.size()).substr(0, 16),
                               hex(expected_ca.data(), 8)));
  if (crypto_sign_verify_detached(sig.begin(), body_bytes.begin(),
                                  body_bytes.size(), policy.ca_key.data())
      != 0)
    return refused("the CA's signature does not match (tampered or forged)");
  certificate_fields out;
  out.serial = body.getSerial();
  auto node_id = body.getNodeId();
  out.node_id.assign(node_id.begin(), node_id.size());
  if (out.node_id.empty() || out.node_id.size() > 64
      || out.node_id.find('\0') != std::string::npos)
    return refused("the node id is empty, too long or has a NUL byte");
  switch (body.getRole()) {
  case schema::ca::NodeRole::MANAGER:
    out.role = node_role::manager;
    break;
  case schema::ca::NodeRole::WORKER:
    out.role = node_role::worker;
    break;
  default:
    return refused(fmt::format("unknown role {} (from a newer version?)",
                               static_cast<uint16_t>(body.getRole())));
  }
  auto key = body.getNodePublicKey();
  if (key.size() != out.node_key.size())
    return refused("the node key has the wrong length");
  std::copy(key.begin(), key.end(), out.node_key.begin());
  out.ca = expected_ca;
  out.issued_at = from_nanos(body.getIssuedAt().getUnixNanos());
  out.expires_at = from_nanos(body.getExpiresAt().getUnixNanos());
  if (out.issued_at > policy.now + policy.clock_skew)
    return refused(fmt::format("not valid before {} (check the clocks)",
                               utc(out.issued_at)));
  if (policy.now >= out.expires_at)
    return refused(
      fmt::format("node {} expired at {}", out.node_id, utc(out.expires_at)));
  if (policy.revoked != nullptr && policy.revoked->count(out.node_id) > 0)
    return refused(
      fmt::format("node {} was removed from the swarm", out.node_id));
  if (policy.require_manager && out.role != node_role::manager)
    return refused(fmt::format("node {} is a worker; only managers may do "
                               "this",
                               out.node_id));
  return out;
}

bool needs_renewal(const certificate_fields& cert, time_point now) {
  auto lifetime = cert.expires_at - cert.issued_at;
  return now >= cert.expires_at - lifetime / 3;
}

} // namespace skep::ca
