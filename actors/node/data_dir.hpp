#pragma once

#include "actors/logging/files.hpp"
#include "messages/result.hpp"

#include <string>

namespace skep::node {

/// Creates `path` (and its parents) with mode 0700 when missing, and checks
/// it is a directory this process can write.
result<void> prepare_data_dir(const std::string& path);

/// An exclusive lock on a data dir, held while a skepd serves it so that two
/// daemons never share one. The kernel drops it when the process dies.
class data_dir_lock {
 public:
  /// Takes the lock on `data_dir`/skepd.lock without waiting. Fails naming
  /// the directory when another process holds it.
  static result<data_dir_lock> acquire(const std::string& data_dir);

  data_dir_lock(data_dir_lock&& other) noexcept;
  data_dir_lock& operator=(data_dir_lock&&) = delete;
  data_dir_lock(const data_dir_lock&) = delete;
  ~data_dir_lock();

 private:
  explicit data_dir_lock(int fd) : fd_(fd) {}
  int fd_;
};

/// True for node ids as Skep makes them: 25 characters of [0-9a-z].
bool is_valid_node_id(const std::string& id);

/// Returns the node id kept in `data_dir`/node-id, creating a random one on
/// first start. Fails when the file exists but holds no valid id.
result<std::string> load_or_create_node_id(const std::string& data_dir);

} // namespace skep::node
