// Cluster PKI: join tokens, node certificates, key files.

#include "actors/ca/certificate.hpp"
#include "actors/ca/join_token.hpp"
#include "actors/ca/keys.hpp"
#include "tests/support/process.hpp"

#include <fstream>
#include <sys/stat.h>

#include <gtest/gtest.h>

namespace skep::ca {
namespace {

using namespace std::chrono_literals;

// --- join tokens ----------------------------------------------------------

class JoinToken : public ::testing::Test {
 protected:
  keypair ca = keypair::generate();
  key_id digest = key_id_of(ca.public_part);
  join_token token = make_join_token(digest);
  std::string text = token.to_string();
};

TEST_F(JoinToken, HasTheDocumentedShapeAndRoundTrips) {
  ASSERT_EQ(text.size(), 7u + 52 + 1 + 32);
  EXPECT_EQ(text.rfind("SKEP-1-", 0), 0u);
  auto parsed = parse_join_token("  " + text + "\n");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, token);
  EXPECT_EQ(parsed->ca_digest, digest);
}

TEST_F(JoinToken, EachTokenHasItsOwnSecret) {
  EXPECT_NE(make_join_token(digest).secret, token.secret);
}

void expect_refused(const std::string& text, const std::string& why) {
  auto parsed = parse_join_token(text);
  ASSERT_FALSE(parsed) << text;
  EXPECT_EQ(parsed.error().code, errc::invalid_argument);
  EXPECT_NE(parsed.error().message.find(why), std::string::npos)
    << parsed.error().message;
}

TEST_F(JoinToken, WrongPrefixIsRefused) {
  expect_refused("SWMTKN-1-" + text.substr(7), "does not start with SKEP-");
  expect_refused("", "empty");
}

TEST_F(JoinToken, UnknownVersionIsRefused) {
  expect_refused("SKEP-2-" + text.substr(7), "version 2 is not supported");
}

TEST_F(JoinToken, TruncatedTokensAreRefused) {
  expect_refused("SKEP-1", "truncated");
  expect_refused(text.substr(0, 7 + 52), "secret is missing");
  expect_refused(text.substr(0, text.size() - 1), "secret has 31 characters");
  expect_refused("SKEP-1-" + text.substr(8), "CA digest has 51 characters");
}

TEST_F(JoinToken, BadCharactersAreRefused) {
  auto upper = text;
  upper[10] = 'A';
  expect_refused(upper, "not base32");
  auto one = text;
  one[text.size() - 3] = '1';
  expect_refused(one, "not base32");
}

TEST_F(JoinToken, TokensCompareBySecret) {
  auto same = parse_join_token(text);
  ASSERT_TRUE(same);
  EXPECT_TRUE(*same == token);
  EXPECT_FALSE(make_join_token(digest) == token);
}

TEST_F(JoinToken, ProofChecksOnlyWithTheSameSecretChallengeAndKey) {
  auto node = keypair::generate();
  uint8_t challenge[32] = {1, 2, 3};
  auto proof
    = prove_token(token, challenge, sizeof(challenge), node.public_part);
  EXPECT_TRUE(check_token_proof(token, challenge, sizeof(challenge),
                                node.public_part, proof));
  // The proof is not the secret.
  EXPECT_EQ(std::search(proof.begin(), proof.end(), token.secret.begin(),
                        token.secret.end()),
            proof.end());
  uint8_t other_challenge[32] = {9};
  EXPECT_FALSE(check_token_proof(
    token, other_challenge, sizeof(other_challenge), node.public_part, proof));
  EXPECT_FALSE(check_token_proof(token, challenge, sizeof(challenge),
                                 keypair::generate().public_part, proof));
}

TEST_F(JoinToken, RotatedTokenNoLongerProves) {
  auto node = keypair::generate();
  uint8_t challenge[32] = {7};
  auto old_proof
    = prove_token(token, challenge, sizeof(challenge), node.public_part);
  auto rotated = make_join_token(digest);
  EXPECT_FALSE(check_token_proof(rotated, challenge, sizeof(challenge),
                                 node.public_part, old_proof));
  EXPECT_EQ(rotated.ca_digest, token.ca_digest); // same CA, new secret
}

TEST(Base32, RoundTripsAndRefusesNonCanonicalText) {
  for (size_t n : {0, 1, 2, 5, 19, 20, 32}) {
    std::string data(n, '\0');
    for (size_t i = 0; i < n; ++i)
      data[i] = static_cast<char>(i * 37 + 1);
    auto text = base32(reinterpret_cast<const uint8_t*>(data.data()), n);
    auto back = base32_decode(text);
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(*back, data);
  }
  EXPECT_FALSE(base32_decode("ab")); // leftover bits not zero
  EXPECT_FALSE(base32_decode("a"));  // not a whole byte
}

// --- certificates --------------------------------------------------------

class Certificates : public ::testing::Test {
 protected:
  certificate_fields fields(node_role role = node_role::worker) {
    certificate_fields f;
    f.serial = 17;
    f.node_id = "n1234567890abcdefghijklm";
    f.role = role;
    f.node_key = node.public_part;
    f.issued_at = now - 1h;
    f.expires_at = now + 90 * 24h;
    return f;
  }
  certificate_policy policy() {
    certificate_policy p;
    p.ca_key = ca.public_part;
    p.now = now;
    return p;
  }

  keypair ca = keypair::generate();
  keypair node = keypair::generate();
  time_point now = std::chrono::system_clock::now();
};

TEST_F(Certificates, IssuedCertificateVerifiesWithItsFields) {
  auto cert = issue_certificate(ca, fields(node_role::manager));
  auto checked = verify_certificate(cert.data(), cert.size(), policy());
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(checked->serial, 17u);
  EXPECT_EQ(checked->node_id, "n1234567890abcdefghijklm");
  EXPECT_EQ(checked->role, node_role::manager);
  EXPECT_EQ(checked->node_key, node.public_part);
  EXPECT_EQ(checked->ca, key_id_of(ca.public_part));
}

void expect_refused(const std::vector<uint8_t>& cert,
                    const certificate_policy& policy, const std::string& why) {
  auto checked = verify_certificate(cert.data(), cert.size(), policy);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, errc::permission_denied);
  EXPECT_NE(checked.error().message.find(why), std::string::npos)
    << checked.error().message;
}

TEST_F(Certificates, ExpiredIsRefused) {
  auto f = fields();
  f.expires_at = now - 1s;
  expect_refused(issue_certificate(ca, f), policy(), "expired at");
}

TEST_F(Certificates, NotYetValidIsRefused) {
  auto f = fields();
  f.issued_at = now + 1h;
  expect_refused(issue_certificate(ca, f), policy(), "not valid before");
}

TEST_F(Certificates, OtherCaIsRefused) {
  auto rogue = keypair::generate();
  expect_refused(issue_certificate(rogue, fields()), policy(),
                 "issued by another CA");
}

TEST_F(Certificates, ForgedCaIdWithoutItsKeyIsRefused) {
  // A rogue CA that copies our CA's id into the body still cannot sign.
  auto rogue = keypair::generate();
  keypair impostor = rogue;
  impostor.public_part = ca.public_part; // claims our id, signs with its key
  expect_refused(issue_certificate(impostor, fields()), policy(),
                 "signature does not match");
}

TEST_F(Certificates, WorkerIsRefusedWhereAManagerIsRequired) {
  auto p = policy();
  p.require_manager = true;
  expect_refused(issue_certificate(ca, fields(node_role::worker)), p,
                 "only managers");
  EXPECT_TRUE(verify_certificate(
    issue_certificate(ca, fields(node_role::manager)).data(),
    issue_certificate(ca, fields(node_role::manager)).size(), p));
}

TEST_F(Certificates, RemovedNodeIsRefused) {
  std::set<std::string> removed{"n1234567890abcdefghijklm"};
  auto p = policy();
  p.revoked = &removed;
  expect_refused(issue_certificate(ca, fields()), p, "removed from the swarm");
}

TEST_F(Certificates, EveryTamperedByteIsCaught) {
  auto cert = issue_certificate(ca, fields(node_role::worker));
  size_t accepted = 0;
  for (size_t i = 0; i < cert.size(); ++i) {
    auto copy = cert;
    copy[i] ^= 0x01;
    auto checked = verify_certificate(copy.data(), copy.size(), policy());
    if (checked) {
      // Only bytes outside what is signed (e.g. padding) may change
      // harmlessly; the fields must then be exactly the original ones.
      ++accepted;
      EXPECT_EQ(checked->role, node_role::worker);
      EXPECT_EQ(checked->node_id, "n1234567890abcdefghijklm");
      EXPECT_EQ(checked->node_key, node.public_part);
    }
  }
  EXPECT_LT(accepted, cert.size() / 4);
}

TEST_F(Certificates, GarbageIsRefused) {
  std::vector<uint8_t> junk(64, 0x42);
  expect_refused(junk, policy(), "unreadable");
}

TEST_F(Certificates, RenewalStartsInTheLastThirdOfTheLifetime) {
  auto f = fields();
  f.issued_at = now;
  f.expires_at = now + 90 * 24h;
  EXPECT_FALSE(needs_renewal(f, now + 59 * 24h));
  EXPECT_TRUE(needs_renewal(f, now + 61 * 24h));
}

// --- key files -----------------------------------------------------------

TEST(KeyFiles, SavedKeyLoadsBackPrivately) {
  test::temp_dir dir;
  auto path = dir.path() + "/node.key";
  auto pair = keypair::generate();
  ASSERT_TRUE(save_keypair(pair, path));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = load_keypair(path);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->public_part, pair.public_part);
  EXPECT_EQ(loaded->secret_part, pair.secret_part);
}

TEST(KeyFiles, WorldReadableKeyIsRefused) {
  test::temp_dir dir;
  auto path = dir.path() + "/node.key";
  ASSERT_TRUE(save_keypair(keypair::generate(), path));
  ::chmod(path.c_str(), 0644);
  auto loaded = load_keypair(path);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos);
}

TEST(KeyFiles, DamagedKeyIsRefused) {
  test::temp_dir dir;
  auto path = dir.path() + "/node.key";
  ASSERT_TRUE(save_keypair(keypair::generate(), path));
  {
    std::fstream f{path, std::ios::in | std::ios::out};
    f.seekp(20);
    f << "zz";
  }
  auto loaded = load_keypair(path);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("damaged"), std::string::npos);
}

TEST(KeyFiles, InconsistentKeyIsRefused) {
  // Valid hex throughout, but the public half no longer belongs to the seed:
  // only the sign-and-verify probe can tell.
  test::temp_dir dir;
  auto path = dir.path() + "/node.key";
  ASSERT_TRUE(save_keypair(keypair::generate(), path));
  std::string text;
  {
    std::ifstream in{path};
    std::getline(in, text);
  }
  auto pos = std::string{"skep-ed25519-v1 "}.size() + 100; // public half
  text[pos] = text[pos] == '0' ? '1' : '0';
  {
    std::ofstream out{path, std::ios::trunc};
    out << text << "\n";
  }
  ::chmod(path.c_str(), 0600);
  auto loaded = load_keypair(path);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("damaged"), std::string::npos);
}

TEST(KeyFiles, MissingKeyIsRefusedNamingIt) {
  auto loaded = load_keypair("/nonexistent/node.key");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("/nonexistent/node.key"),
            std::string::npos);
}

} // namespace
} // namespace skep::ca
