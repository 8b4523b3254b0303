// The CA actor under the test coordinator: what it signs, for whom, and
// what it refuses.

#include "actors/ca/ca_actor.hpp"
#include "tests/support/actor_fixture.hpp"

#include <chrono>
#include <memory>
#include <string>

#include <caf/send.hpp>

namespace skep::ca {
namespace {

class CaActor : public test::actor_fixture {
 protected:
  CaActor()
    : authority(
      std::make_shared<shared_authority>(authority::create(), std::string{})) {
    signer = spawn_ca_actor(sys, authority);
  }
  ~CaActor() override {
    caf::anon_send_exit(signer, caf::exit_reason::user_shutdown);
    run();
  }

  certificate_request request_for(const std::string& id, const keypair& key) {
    certificate_request req;
    req.node_id = id;
    req.role = node_role::manager;
    req.node_key = key.public_part;
    req.joining = true;
    req.cluster_id = "cluster-9";
    req.hostname = "host\n-" + id;
    return req;
  }

  /// The certificate the CA actor answered with, checked against the CA's
  /// key; or the failure it answered with.
  result<certificate_fields> issue(const certificate_request& req) {
    auto reply = request<envelope>(signer, atom::issue_v, req);
    if (!reply)
      return failure{errc::internal, "no reply"};
    auto body = reply->root().getBody();
    if (body.which() == schema::Envelope::Body::ERROR)
      return from_schema(body.getError());
    if (body.which() != schema::Envelope::Body::CERTIFICATE_REPLY)
      return failure{errc::internal, "not a certificate reply"};
    auto r = body.getCertificateReply();
    EXPECT_EQ(std::string(r.getClusterId().cStr()), req.cluster_id);
    auto ca_key = authority->with([](auto& a) { return a.public_part(); });
    EXPECT_EQ(r.getCaPublicKey().size(), ca_key.size());
    certificate_policy policy;
    policy.ca_key = ca_key;
    policy.now = std::chrono::system_clock::now();
    auto cert = r.getCertificate();
    return verify_certificate(cert.begin(), cert.size(), policy);
  }

  std::shared_ptr<shared_authority> authority;
  caf::actor signer;
};

TEST_F(CaActor, SignsTheRoleAndKeyItIsAskedForWithTheClustersCa) {
  auto key = keypair::generate();
  auto cert = issue(request_for("node-1", key));
  ASSERT_TRUE(cert) << cert.error().message;
  EXPECT_EQ(cert->node_id, "node-1");
  EXPECT_EQ(cert->role, node_role::manager);
  EXPECT_EQ(cert->node_key, key.public_part);
}

TEST_F(CaActor, RefusesANodeIdBoundToAnotherKeyAndARevokedNode) {
  auto key = keypair::generate();
  ASSERT_TRUE(issue(request_for("node-1", key)));
  auto other = issue(request_for("node-1", keypair::generate()));
  ASSERT_FALSE(other);
  caf::anon_send(signer, atom::revoke_v, std::string{"node-1"});
  run();
  auto revoked = issue(request_for("node-1", key));
  ASSERT_FALSE(revoked);
  EXPECT_NE(revoked.error().message.find("node-1"), std::string::npos)
    << revoked.error().message;
}

} // namespace
} // namespace skep::ca
