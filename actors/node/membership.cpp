#include "actors/node/membership.hpp"

#include "actors/node/data_dir.hpp"
#include "actors/raft/sqlite_storage.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sodium.h>

namespace skep::node {

namespace {

constexpr std::string_view state_magic = "skep-swarm-v1";
constexpr size_t max_file_bytes = 1024 * 1024;

result<std::optional<std::string>> read_private(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return std::optional<std::string>{};
    return fail(errc::internal,
                fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) > max_file_bytes)
    return fail(errc::invalid_argument,
                fmt::format("{} is not a regular file under 1 MiB", path));
  if ((st.st_mode & 0077) != 0)
    return fail(errc::permission_denied,
                fmt::format("{} is readable by others (mode {:o}); run chmod "
                            "600 on it",
                            path, st.st_mode & 0777));
  std::ifstream in{path, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return std::optional<std::string>{ss.str()};
}

} // namespace

result<ca::keypair> load_or_create_identity(const std::string& data_dir) {
  auto path = data_dir + "/node.key";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    auto fresh = ca::keypair::generate();
    if (auto saved = ca::save_keypair(fresh, path); !saved)
      return std::move(saved).error();
  }
  return ca::load_keypair(path);
}

result<std::optional<membership>> load_membership(const std::string& data_dir) {
  auto state_path = data_dir + "/swarm.state";
  auto text = read_private(state_path);
  if (!text)
    return std::move(text).error();
  if (!*text)
    return std::optional<membership>{};
  auto damaged = [&](const std::string& file, std::string why) {
    return fail(errc::invalid_argument,
                fmt::format("{} is damaged: {}; restore it from a backup, or "
                            "remove swarm.state to leave the swarm",
                            file, why));
  };
  membership m;
  std::istringstream in{**text};
  std::string line;
  if (!std::getline(in, line) || line != state_magic)
    return damaged(state_path, "it does not start with skep-swarm-v1");
  while (std::getline(in, line)) {
    std::istringstream words{line};
    std::string key;
    words >> key;
    if (key == "cluster") {
      words >> m.cluster_id;
    } else if (key == "advertise") {
      words >> m.advertise_addr;
    } else if (key == "manager") {
      std::string id, addr;
      words >> id >> addr;
      if (id.empty() || !parse_host_port(addr))
        return damaged(state_path, fmt::format("bad line '{}'", line));
      m.managers.emplace_back(id, addr);
    } else if (!key.empty()) {
      return damaged(state_path, fmt::format("unknown entry '{}'", key));
    }
  }
  if (m.cluster_id.empty())
    return damaged(state_path, "no cluster id");
  auto cert = read_private(data_dir + "/node.crt");
  if (!cert)
    return std::move(cert).error();
  if (!*cert)
    return damaged(data_dir + "/node.crt", "it is missing");
  m.certificate.assign((*cert)->begin(), (*cert)->end());
  auto hex = read_private(data_dir + "/ca.pub");
  if (!hex)
    return std::move(hex).error();
  size_t len = 0;
  if (!*hex
      || sodium_hex2bin(m.ca_key.data(), m.ca_key.size(), (*hex)->data(),
                        (*hex)->size(), "\n", &len, nullptr)
           != 0
      || len != m.ca_key.size())
    return damaged(data_dir + "/ca.pub", "it is not a 32-byte key in hex");
  return std::optional<membership>{std::move(m)};
}

result<void> save_membership(const std::string& data_dir, const membership& m) {
  if (auto ok = write_file_atomically(
        data_dir + "/node.crt",
        std::string(m.certificate.begin(), m.certificate.end()), 0600);
      !ok)
    return ok;
  if (auto ok = write_file_atomically(
        data_dir + "/ca.pub", ca::hex(m.ca_key.data(), m.ca_key.size()) + "\n",
        0600);
      !ok)
    return ok;
  std::string text = fmt::format("{}\ncluster {}\nadvertise {}\n", state_magic,
                                 m.cluster_id, m.advertise_addr);
  for (auto& [id, addr] : m.managers)
    text += fmt::format("manager {} {}\n", id, addr);
  return write_file_atomically(data_dir + "/swarm.state", text, 0600);
}

result<void> clear_membership(const std::string& data_dir) {
  if (auto removed = raft::sqlite_storage::remove(data_dir + "/raft.db");
      !removed)
    return removed;
  for (auto name : {"swarm.state", "node.crt", "ca.pub"}) {
    auto path = data_dir + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return fail(errc::internal, fmt::format("cannot remove {}: {}", path,
                                              std::strerror(errno)));
  }
  return {};
}

} // namespace skep::node
