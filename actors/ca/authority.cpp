#include "actors/ca/authority.hpp"

#include "actors/logging/files.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include <fmt/format.h>
#include <sodium.h>

namespace skep::ca {

namespace {

constexpr std::string_view state_magic = "skep-ca-v1";
constexpr size_t max_state_bytes = 1024 * 1024;

std::string key_path(const std::string& dir) {
  return dir + "/ca.key";
}
std::string state_path(const std::string& dir) {
  return dir + "/ca.state";
}

} // namespace

authority authority::create(std::chrono::seconds expiry) {
  authority ca;
  ca.key_ = keypair::generate();
  auto id = key_id_of(ca.key_.public_part);
  ca.worker_ = make_join_token(id);
  ca.manager_ = make_join_token(id);
  ca.expiry_ = expiry;
  return ca;
}

result<authority> authority::from_parts(keypair key, join_token worker,
                                        join_token manager,
                                        std::chrono::seconds expiry) {
  auto id = key_id_of(key.public_part);
  if (worker.ca_digest != id || manager.ca_digest != id)
    return fail(errc::invalid_argument,
                "the join tokens do not belong to this CA key");
  authority ca;
  ca.key_ = key;
  ca.worker_ = worker;
  ca.manager_ = manager;
  ca.expiry_ = expiry;
  return ca;
}

const join_token& authority::token(node_role role) const noexcept {
  return role == node_role::manager ? manager_ : worker_;
}

const join_token& authority::rotate(node_role role) {
  auto& slot = role == node_role::manager ? manager_ : worker_;
  slot = make_join_token(key_id_of(key_.public_part));
  return slot;
}

result<node_role> authority::check_join(const uint8_t* challenge,
                                        size_t challenge_size,
                                        const public_key& node_key,
                                        const token_proof& proof) const {
  // Check both, always, so timing does not tell which role was tried.
  bool manager
    = check_token_proof(manager_, challenge, challenge_size, node_key, proof);
  bool worker
    = check_token_proof(worker_, challenge, challenge_size, node_key, proof);
  if (manager)
    return node_role::manager;
  if (worker)
    return node_role::worker;
  return fail(errc::permission_denied,
              "the join token is not valid for this swarm: it may have been "
              "rotated; get the current one with `skep swarm join-token "
              "worker` (or manager) on a manager");
}

result<void> authority::may_hold(const std::string& node_id,
                                 const public_key& node_key) const {
  if (revoked_.count(node_id) != 0)
    return fail(errc::permission_denied,
                fmt::format("node {} was removed from the swarm and gets no "
                            "certificate; join again as a new node",
                            node_id));
  auto bound = nodes_.find(node_id);
  if (bound != nodes_.end() && bound->second != node_key)
    return fail(errc::already_exists,
                fmt::format("node id {} already belongs to another node (a "
                            "different key); a joining node must use an id "
                            "of its own",
                            node_id));
  return {};
}

result<std::vector<uint8_t>> authority::issue(const std::string& node_id,
                                              node_role role,
                                              const public_key& node_key,
                                              time_point now) {
  if (auto allowed = may_hold(node_id, node_key); !allowed)
    return std::move(allowed).error();
  nodes_[node_id] = node_key;
  certificate_fields f;
  randombytes_buf(&f.serial, sizeof f.serial);
  f.node_id = node_id;
  f.role = role;
  f.node_key = node_key;
  f.issued_at = now;
  f.expires_at = now + expiry_;
  return issue_certificate(key_, f);
}

result<void> authority::set_expiry(std::chrono::seconds expiry) {
  if (expiry < std::chrono::minutes{1})
    return fail(errc::invalid_argument,
                fmt::format("certificate expiry of {} s is too short; use at "
                            "least 1m",
                            expiry.count()));
  expiry_ = expiry;
  return {};
}

result<void> authority::save(const std::string& dir) const {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(errc::internal, fmt::format("cannot create CA directory {}: {}",
                                            dir, std::strerror(errno)));
  if (auto saved = save_keypair(key_, key_path(dir)); !saved)
    return saved;
  std::string text
    = fmt::format("{}\nworker {}\nmanager {}\nexpiry {}\n", state_magic,
                  worker_.to_string(), manager_.to_string(), expiry_.count());
  for (auto& id : revoked_)
    text += fmt::format("revoked {}\n", id);
  for (auto& [id, key] : nodes_)
    text += fmt::format("node {} {}\n", id, hex(key.data(), key.size()));
  auto written = write_file_atomically(state_path(dir), text, 0600);
  sodium_memzero(text.data(), text.size());
  return written;
}

result<authority> authority::load(const std::string& dir) {
  auto key = load_keypair(key_path(dir));
  if (!key)
    return std::move(key).error();
  auto path = state_path(dir);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return fail(errc::not_found, fmt::format("cannot read CA state {}: {}",
                                             path, std::strerror(errno)));
  if ((st.st_mode & 0077) != 0)
    return fail(errc::permission_denied,
                fmt::format("CA state {} is readable by others (mode {:o}); "
                            "run chmod 600 on it",
                            path, st.st_mode & 0777));
  if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) > max_state_bytes)
    return fail(
      errc::invalid_argument,
      fmt::format("CA state {} is not a regular file under 1 MiB", path));
  std::ifstream in{path};
  std::string line;
  auto damaged = [&](std::string why) {
    return fail(errc::invalid_argument,
                fmt::format("CA state {} is damaged: {}", path, why));
  };
  if (!std::getline(in, line) || line != state_magic)
    return damaged("it does not start with skep-ca-v1");
  authority ca;
  ca.key_ = *key;
  auto id = key_id_of(ca.key_.public_part);
  bool have_worker = false, have_manager = false, have_expiry = false;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos)
      return damaged(fmt::format("line '{}' has no value", line));
    auto name = line.substr(0, space);
    auto value = line.substr(space + 1);
    if (name == "worker" || name == "manager") {
      auto token = parse_join_token(value);
      if (!token)
        return damaged(
          fmt::format("the {} token: {}", name, token.error().message));
      if (token->ca_digest != id)
        return damaged(fmt::format("the {} token names another CA", name));
      (name == "worker" ? ca.worker_ : ca.manager_) = *token;
      (name == "worker" ? have_worker : have_manager) = true;
    } else if (name == "expiry") {
      char* end = nullptr;
      errno = 0;
      auto secs = std::strtoll(value.c_str(), &end, 10);
      if (errno != 0 || end == value.c_str() || *end != '\0' || secs < 60)
        return damaged(fmt::format("expiry '{}' is not a number of seconds "
                                   ">= 60",
                                   value));
      ca.expiry_ = std::chrono::seconds{secs};
      have_expiry = true;
    } else if (name == "revoked") {
      ca.revoked_.insert(value);
    } else if (name == "node") {
      auto space2 = value.find(' ');
      public_key key{};
      size_t len = 0;
      if (space2 == std::string::npos
          || sodium_hex2bin(key.data(), key.size(), value.data() + space2 + 1,
                            value.size() - space2 - 1, nullptr, &len, nullptr)
               != 0
          || len != key.size())
        return damaged(
          fmt::format("node line '{}' is not <id> <hex key>", value));
      ca.nodes_[value.substr(0, space2)] = key;
    } else {
      return damaged(fmt::format("unknown entry '{}'", name));
    }
  }
  if (!have_worker || !have_manager || !have_expiry)
    return damaged("a token or the expiry is missing");
  return ca;
}

} // namespace skep::ca
