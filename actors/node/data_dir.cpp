#include "actors/node/data_dir.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sodium.h>

namespace skep::node {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

} // namespace

result<void> prepare_data_dir(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec)
    return fail(
      errc::invalid_argument,
      fmt::format("cannot create data dir {}: {}", path, ec.message()));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return fail(errc::invalid_argument,
                fmt::format("data dir {} is not a directory", path));
  if (::access(path.c_str(), W_OK | X_OK) != 0)
    return fail(
      errc::permission_denied,
      fmt::format("cannot write to data dir {}: {}", path, errno_text()));
  // Node keys and Raft data live here: keep it private.
  if ((st.st_mode & 0077) != 0)
    ::chmod(path.c_str(), 0700);
  return {};
}

result<data_dir_lock> data_dir_lock::acquire(const std::string& data_dir) {
  auto path = data_dir + "/skepd.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(errc::invalid_argument,
                fmt::format("cannot open {}: {}", path, errno_text()));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    auto why = errno;
    ::close(fd);
    if (why == EWOULDBLOCK)
      return fail(errc::unavailable,
                  fmt::format("data dir {} is in use by another skepd; stop "
                              "it first or choose another --data-dir",
                              data_dir));
    return fail(errc::internal,
                fmt::format("cannot lock {}: {}", path, std::strerror(why)));
  }
  // Record the holder's pid for operators; the lock itself is the flock.
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0)
    (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return data_dir_lock{fd};
}

data_dir_lock::data_dir_lock(data_dir_lock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

data_dir_lock::~data_dir_lock() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool is_valid_node_id(const std::string& id) {
  if (id.size() != 25)
    return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
      return false;
  return true;
}

result<std::string> load_or_create_node_id(const std::string& data_dir) {
  auto path = data_dir + "/node-id";
  std::ifstream in{path};
  if (in) {
    std::string id;
    std::getline(in, id);
    if (!is_valid_node_id(id))
      return fail(errc::internal,
                  fmt::format("{} does not hold a valid node id; the data dir "
                              "is damaged (restore it, or start with an empty "
                              "data dir to make a new node)",
                              path));
    return id;
  }
  if (errno != ENOENT)
    return fail(errc::internal,
                fmt::format("cannot read {}: {}", path, errno_text()));
  if (sodium_init() < 0)
    return fail(errc::internal, "libsodium failed to initialize");
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id(25, '0');
  for (auto& c : id)
    c = alphabet[randombytes_uniform(36)];
  if (auto written = write_file_atomically(path, id + "\n", 0600); !written)
    return std::move(written).error();
  return id;
}

} // namespace skep::node
