#include "actors/logging/files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace skep {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

} // namespace

result<void> write_file_atomically(const std::string& path,
                                   const std::string& contents, int mode) {
  return write_file_atomically(path, contents.data(), contents.size(), mode);
}

result<void> write_file_atomically(const std::string& path, const void* data,
                                   size_t size, int mode) {
  auto tmp = path + ".tmp";
  // A leftover temporary (from a crash) must not lend us its permissions,
  // and a link planted there must not redirect the write.
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return fail(errc::internal,
                fmt::format("cannot create {}: {}", tmp, errno_text()));
  auto give_up = [&](const std::string& what) {
    auto why = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(errc::internal,
                fmt::format("cannot {} {}: {}", what, tmp, why));
  };
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0)
    return give_up("set the mode of");
  // Written and synced in chunks, so that the disk never holds more than
  // one chunk of this file in flight or in its cache. A disk's cache flush
  // (every fsync ends with one) waits for all of it: one fsync at the end of
  // hundreds of MB held the disk for half a second, and every fsync of the
  // Raft log with it.
  constexpr size_t chunk = 8 << 20;
  const char* p = static_cast<const char*>(data);
  size_t written = 0;
  while (written < size) {
    auto end = std::min(size, written + chunk);
    while (written < end) {
      auto n = ::write(fd, p + written, end - written);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return give_up("write");
      written += static_cast<size_t>(n);
    }
    if (written < size && ::fdatasync(fd) != 0)
      return give_up("sync");
  }
  if (::fsync(fd) != 0)
    return give_up("sync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return fail(errc::internal,
                fmt::format("cannot close {}: {}", tmp, errno_text()));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto why = errno_text();
    ::unlink(tmp.c_str());
    return fail(errc::internal,
                fmt::format("cannot rename {} to {}: {}", tmp, path, why));
  }
  // Until the directory is synced the rename itself may be lost.
  return sync_directory_of(path);
}

result<void> sync_directory_of(const std::string& path) {
  auto dir = std::filesystem::path{path}.parent_path().string();
  if (dir.empty())
    dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    auto why = errno_text();
    if (dfd >= 0)
      ::close(dfd);
    return fail(errc::internal,
                fmt::format("cannot sync directory {}: {}", dir, why));
  }
  ::close(dfd);
  return {};
}

} // namespace skep
