// The cluster CA as a manager holds it: tokens, joins, issuing, rotation,
// revocation and its files.

#include "actors/ca/authority.hpp"
#include "tests/support/process.hpp"

#include <fstream>
#include <sys/stat.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace skep::ca {
namespace {

using namespace std::chrono_literals;

struct joiner {
  keypair key = keypair::generate();
  std::array<uint8_t, 32> challenge{};

  token_proof prove(const join_token& token) const {
    return prove_token(token, challenge.data(), challenge.size(),
                       key.public_part);
  }
};

TEST(Authority, EachTokenGrantsItsRoleAndNothingElseDoes) {
  auto ca = authority::create();
  joiner j;
  j.challenge.fill(7);
  auto as_worker = ca.check_join(j.challenge.data(), 32, j.key.public_part,
                                 j.prove(ca.token(node_role::worker)));
  auto as_manager = ca.check_join(j.challenge.data(), 32, j.key.public_part,
                                  j.prove(ca.token(node_role::manager)));
  ASSERT_TRUE(as_worker && as_manager);
  EXPECT_EQ(*as_worker, node_role::worker);
  EXPECT_EQ(*as_manager, node_role::manager);
  auto other = authority::create();
  auto foreign = ca.check_join(j.challenge.data(), 32, j.key.public_part,
                               j.prove(other.token(node_role::manager)));
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code, errc::permission_denied);
  // Both tokens pin this CA.
  EXPECT_EQ(ca.token(node_role::worker).ca_digest, key_id_of(ca.public_part()));
  EXPECT_EQ(ca.token(node_role::manager).ca_digest,
            key_id_of(ca.public_part()));
}

TEST(Authority, RotationRetiresOnlyThatRolesToken) {
  auto ca = authority::create();
  auto worker = ca.token(node_role::worker);
  auto manager = ca.token(node_role::manager);
  auto fresh = ca.rotate(node_role::worker);
  EXPECT_FALSE(fresh == worker);
  EXPECT_TRUE(ca.token(node_role::manager) == manager);
  joiner j;
  EXPECT_FALSE(
    ca.check_join(j.challenge.data(), 32, j.key.public_part, j.prove(worker)));
  EXPECT_TRUE(
    ca.check_join(j.challenge.data(), 32, j.key.public_part, j.prove(fresh)));
}

TEST(Authority, IssuesCertificatesThatVerifyUntilRevoked) {
  auto ca = authority::create(3600s);
  keypair node = keypair::generate();
  auto now = std::chrono::system_clock::now();
  auto cert = ca.issue("node-1", node_role::worker, node.public_part, now);
  ASSERT_TRUE(cert);
  certificate_policy policy;
  policy.ca_key = ca.public_part();
  policy.now = now;
  auto fields = verify_certificate(cert->data(), cert->size(), policy);
  ASSERT_TRUE(fields) << fields.error().message;
  EXPECT_EQ(fields->node_id, "node-1");
  EXPECT_EQ(fields->expires_at - fields->issued_at, 3600s);
  auto again = ca.issue("node-1", node_role::worker, node.public_part, now);
  auto second = verify_certificate(again->data(), again->size(), policy);
  EXPECT_NE(fields->serial, second->serial);

  ca.revoke("node-1");
  auto refused = ca.issue("node-1", node_role::worker, node.public_part, now);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("removed"), std::string::npos);
  EXPECT_FALSE(ca.set_expiry(10s));
}

TEST(Authority, AnIdBelongsToTheFirstKeyItWasIssuedFor) {
  auto ca = authority::create();
  keypair first = keypair::generate(), second = keypair::generate();
  auto now = std::chrono::system_clock::now();
  ASSERT_TRUE(ca.issue("node-1", node_role::worker, first.public_part, now));
  EXPECT_TRUE(ca.may_hold("node-1", first.public_part));
  auto taken = ca.issue("node-1", node_role::manager, second.public_part, now);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, errc::already_exists);
  EXPECT_FALSE(ca.may_hold("node-1", second.public_part));
  // Renewal with the same key is fine; the binding survives a restart.
  EXPECT_TRUE(ca.issue("node-1", node_role::worker, first.public_part, now));
  test::temp_dir tmp;
  ASSERT_TRUE(ca.save(tmp.path() + "/ca"));
  auto back = authority::load(tmp.path() + "/ca");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_FALSE(back->may_hold("node-1", second.public_part));
  EXPECT_TRUE(back->may_hold("node-1", first.public_part));
}

TEST(Authority, SavesAndLoadsPrivately) {
  test::temp_dir tmp;
  auto dir = tmp.path() + "/ca";
  auto ca = authority::create(7200s);
  ca.rotate(node_role::manager);
  ca.revoke("gone-node");
  ASSERT_TRUE(ca.save(dir));
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/ca.state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto back = authority::load(dir);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->public_part(), ca.public_part());
  EXPECT_TRUE(back->token(node_role::worker) == ca.token(node_role::worker));
  EXPECT_TRUE(back->token(node_role::manager) == ca.token(node_role::manager));
  EXPECT_EQ(back->expiry(), 7200s);
  EXPECT_EQ(back->revoked().count("gone-node"), 1u);
}

TEST(Authority, DamagedOrExposedStateIsRefusedNamingTheFile) {
  test::temp_dir tmp;
  auto dir = tmp.path() + "/ca";
  ASSERT_TRUE(authority::create().save(dir));
  auto state = dir + "/ca.state";
  auto rewrite = [&](const std::string& text) {
    std::ofstream{state, std::ios::trunc} << text;
    ::chmod(state.c_str(), 0600);
  };
  rewrite("not-a-ca\n");
  auto bad = authority::load(dir);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(state), std::string::npos);

  rewrite("skep-ca-v1\nworker SKEP-1-x-y\n");
  bad = authority::load(dir);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("worker token"), std::string::npos)
    << bad.error().message;

  // Tokens of another CA in this CA's state.
  auto other = authority::create();
  rewrite(fmt::format("skep-ca-v1\nworker {}\nmanager {}\nexpiry 3600\n",
                      other.token(node_role::worker).to_string(),
                      other.token(node_role::manager).to_string()));
  bad = authority::load(dir);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("names another CA"), std::string::npos);

  ::chmod(state.c_str(), 0644);
  bad = authority::load(dir);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("readable by others"), std::string::npos);
}

} // namespace
} // namespace skep::ca
