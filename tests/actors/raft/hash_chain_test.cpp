// Unit tests of the hash chain encoding and verification.

#include "actors/raft/hash_chain.hpp"
#include "actors/raft/memory_storage.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

using namespace skep::raft;

TEST(HashChain, EncodingIsPrevHashThenLittleEndianTermIndexTypeAndPayload) {
  chain_hash prev;
  for (std::size_t i = 0; i < prev.size(); ++i)
    prev[i] = static_cast<std::uint8_t>(i);
  bytes payload{'a', 'b', 'c'};
  bytes input(prev.begin(), prev.end());
  bytes header{0x02, 0x01, 0, 0, 0, 0, 0, 0, // term 0x0102
               0x04, 0x03, 0, 0, 0, 0, 0, 0, // index 0x0304
               0x02};                        // entry_type::configuration
  input.insert(input.end(), header.begin(), header.end());
  input.insert(input.end(), payload.begin(), payload.end());
  ASSERT_EQ(sodium_init() >= 0, true);
  chain_hash expected;
  crypto_generichash(expected.data(), expected.size(), input.data(),
                     input.size(), nullptr, 0);
  EXPECT_EQ(compute_chain_hash(prev, 0x0102, 0x0304, entry_type::configuration,
                               payload),
            expected);
}

TEST(HashChain, EveryFieldChangesTheHash) {
  bytes payload{1};
  auto base
    = compute_chain_hash(genesis_hash, 1, 1, entry_type::normal, payload);
  chain_hash other_prev{};
  other_prev[31] = 1;
  EXPECT_NE(base,
            compute_chain_hash(other_prev, 1, 1, entry_type::normal, payload));
  EXPECT_NE(
    base, compute_chain_hash(genesis_hash, 2, 1, entry_type::normal, payload));
  EXPECT_NE(
    base, compute_chain_hash(genesis_hash, 1, 2, entry_type::normal, payload));
  EXPECT_NE(base,
            compute_chain_hash(genesis_hash, 1, 1, entry_type::empty, payload));
  EXPECT_NE(
    base, compute_chain_hash(genesis_hash, 1, 1, entry_type::normal, bytes{2}));
}

TEST(HashChain, VerifyReportsTheFirstTamperedIndex) {
  memory_storage s;
  auto prev = genesis_hash;
  std::vector<entry> log;
  for (index_t i = 1; i <= 10; ++i) {
    entry e;
    e.term = 1;
    e.index = i;
    e.payload = {static_cast<std::uint8_t>(i)};
    seal_entry(e, prev);
    prev = e.hash;
    log.push_back(e);
  }
  s.append(log);
  EXPECT_TRUE(verify_chain(s).ok());
  s.corrupt_payload(8, {0});
  s.corrupt_payload(6, {0});
  auto report = verify_chain(s);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.first_bad_index, 6u);
  EXPECT_NE(report.reason.find("entry 6"), std::string::npos);
}

TEST(HashChain, VerifyStartsFromTheCompactionPoint) {
  memory_storage s;
  snapshot snap;
  snap.meta.index = 100;
  snap.meta.term = 4;
  snap.meta.hash[5] = 9;
  s.save_snapshot(snap);
  entry e;
  e.term = 4;
  e.index = 101;
  seal_entry(e, snap.meta.hash);
  s.append({e});
  EXPECT_TRUE(verify_chain(s).ok());
  entry unlinked = e;
  seal_entry(unlinked, genesis_hash);
  s.append({unlinked});
  EXPECT_EQ(verify_chain(s).first_bad_index, 101u);
}

TEST(ConfigurationEncoding, RoundTripsAndRejectsMalformedPayloads) {
  configuration config;
  config.voters = {1, 2, 300};
  config.learners = {7};
  configuration decoded;
  ASSERT_TRUE(decode_configuration(encode_configuration(config), decoded));
  EXPECT_EQ(decoded, config);
  auto truncated = encode_configuration(config);
  truncated.pop_back();
  EXPECT_FALSE(decode_configuration(truncated, decoded));
  EXPECT_FALSE(decode_configuration({1, 2}, decoded));
}
