#include "actors/ca/join_token.hpp"

#include <cctype>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <sodium.h>

namespace skep::ca {

namespace {

constexpr std::string_view token_prefix = "SKEP-";
constexpr std::string_view token_version = "1";
constexpr size_t digest_chars = 52; // 32 bytes in base32
constexpr size_t secret_chars = 32; // 20 bytes in base32

failure bad_token(std::string why) {
  return fail(errc::invalid_argument,
              fmt::format("invalid join token: {}; expected "
                          "SKEP-1-<52 characters>-<32 characters>, as printed "
                          "by `skep swarm join-token`",
                          why));
}

template <size_t N>
result<std::array<uint8_t, N>> decode_part(std::string_view text,
                                           const char* name, size_t chars) {
  if (text.size() != chars)
    return bad_token(fmt::format("the {} has {} characters, not {}", name,
                                 text.size(), chars));
  auto decoded = base32_decode(text);
  if (!decoded)
    return bad_token(fmt::format("the {}: {}", name, decoded.error().message));
  std::array<uint8_t, N> out{};
  if (decoded->size() != N)
    return bad_token(fmt::format("the {} has the wrong length", name));
  std::memcpy(out.data(), decoded->data(), N);
  return out;
}

} // namespace

std::string join_token::to_string() const {
  return fmt::format("{}{}-{}-{}", token_prefix, token_version,
                     base32(ca_digest.data(), ca_digest.size()),
                     base32(secret.data(), secret.size()));
}

join_token make_join_token(const key_id& ca_digest) {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium failed to initialize");
  join_token out;
  out.ca_digest = ca_digest;
  randombytes_buf(out.secret.data(), out.secret.size());
  return out;
}

result<join_token> parse_join_token(std::string_view text) {
  while (!text.empty()
         && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  if (text.empty())
    return bad_token("it is empty");
  if (text.compare(0, token_prefix.size(), token_prefix) != 0)
    return bad_token("it does not start with SKEP-");
  text.remove_prefix(token_prefix.size());
  auto dash = text.find('-');
  if (dash == std::string_view::npos)
    return bad_token("it is truncated after the version");
  if (text.substr(0, dash) != token_version)
    return bad_token(fmt::format("version {} is not supported (this node "
                                 "reads version {})",
                                 text.substr(0, dash), token_version));
  text.remove_prefix(dash + 1);
  auto second = text.find('-');
  if (second == std::string_view::npos)
    return bad_token("the secret is missing");
  auto digest
    = decode_part<32>(text.substr(0, second), "CA digest", digest_chars);
  if (!digest)
    return std::move(digest).error();
  auto secret
    = decode_part<20>(text.substr(second + 1), "secret", secret_chars);
  if (!secret)
    return std::move(secret).error();
  return join_token{*digest, *secret};
}

token_proof prove_token(const join_token& token, const uint8_t* challenge,
                        size_t challenge_size, const public_key& node_key) {
  token_proof out{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, token.secret.data(), token.secret.size(),
                          out.size());
  static constexpr uint8_t context[] = "skep join proof v1";
  crypto_generichash_update(&state, context, sizeof(context));
  crypto_generichash_update(&state, challenge, challenge_size);
  crypto_generichash_update(&state, node_key.data(), node_key.size());
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

bool check_token_proof(const join_token& token, const uint8_t* challenge,
                       size_t challenge_size, const public_key& node_key,
                       const token_proof& proof) {
  auto expected = prove_token(token, challenge, challenge_size, node_key);
  return sodium_memcmp(expected.data(), proof.data(), proof.size()) == 0;
}

} // namespace skep::ca
