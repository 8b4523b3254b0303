#include "actors/ca/keys.hpp"

#include "actors/logging/files.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>

#include <fmt/format.h>
#include <sodium.h>

namespace skep::ca {

namespace {

constexpr char base32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view key_file_magic = "skep-ed25519-v1 ";

void ensure_sodium() {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium failed to initialize");
}

} // namespace

keypair keypair::generate() {
  ensure_sodium();
  keypair out;
  crypto_sign_keypair(out.public_part.data(), out.secret_part.data());
  return out;
}

keypair::~keypair() {
  sodium_memzero(secret_part.data(), secret_part.size());
}

key_id key_id_of(const public_key& ca) {
  key_id out{};
  crypto_generichash(out.data(), out.size(), ca.data(), ca.size(), nullptr, 0);
  return out;
}

std::string base32(const uint8_t* data, size_t size) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out += base32_alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0)
    out += base32_alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

result<std::string> base32_decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto pos = std::strchr(base32_alphabet, text[i]);
    if (text[i] == '\0' || pos == nullptr)
      return fail(errc::invalid_argument,
                  fmt::format("character {} ('{}') is not base32 (a-z, 2-7)",
                              i + 1, text[i]));
    buffer = (buffer << 5) | static_cast<uint32_t>(pos - base32_alphabet);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  // Leftover bits must be padding zeros of the last character.
  if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0)
    return fail(errc::invalid_argument,
                "base32 text does not encode a whole number of bytes");
  return out;
}

std::string hex(const uint8_t* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

result<keypair> keypair::from_secret(const uint8_t* secret, size_t size) {
  keypair out;
  if (size != out.secret_part.size())
    return fail(
      errc::invalid_argument,
      fmt::format("an Ed25519 secret key has 64 bytes, not {}", size));
  std::memcpy(out.secret_part.data(), secret, size);
  crypto_sign_ed25519_sk_to_pk(out.public_part.data(), out.secret_part.data());
  return out;
}

result<void> save_keypair(const keypair& pair, const std::string& path) {
  auto text = std::string{key_file_magic}
              + hex(pair.secret_part.data(), pair.secret_part.size()) + "\n";
  auto written = write_file_atomically(path, text, 0600);
  sodium_memzero(text.data(), text.size());
  return written;
}

result<keypair> load_keypair(const std::string& path) {
  ensure_sodium();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return fail(errc::not_found, fmt::format("cannot read key file {}: {}",
                                             path, std::strerror(errno)));
  if ((st.st_mode & 0077) != 0)
    return fail(errc::permission_denied,
                fmt::format("key file {} is readable by others (mode {:o}); "
                            "run chmod 600 on it",
                            path, st.st_mode & 0777));
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  auto bad
    = fail(errc::invalid_argument, fmt::format("key file {} is damaged", path));
  if (text.size() != key_file_magic.size() + 128 + 1
      || text.compare(0, key_file_magic.size(), key_file_magic) != 0)
    return bad;
  keypair out;
  size_t decoded = 0;
  if (sodium_hex2bin(out.secret_part.data(), out.secret_part.size(),
                     text.data() + key_file_magic.size(), 128, nullptr,
                     &decoded, nullptr)
        != 0
      || decoded != out.secret_part.size())
    return bad;
  sodium_memzero(text.data(), text.size());
  crypto_sign_ed25519_sk_to_pk(out.public_part.data(), out.secret_part.data());
  // Prove the pair works: sign and verify a probe.
  uint8_t sig[crypto_sign_BYTES];
  const uint8_t probe[] = "skep key check";
  crypto_sign_detached(sig, nullptr, probe, sizeof(probe),
                       out.secret_part.data());
  if (crypto_sign_verify_detached(sig, probe, sizeof(probe),
                                  out.public_part.data())
      != 0)
    return bad;
  return out;
}

} // namespace skep::ca
