#pragma once

#include "actors/ca/authority.hpp"

#include <memory>
#include <mutex>
#include <string>

namespace skep::ca {

/// The CA of one manager, shared between its CA actor (which issues
/// certificates, see ca_actor.hpp), the manager (which keeps it in step with
/// the replicated cluster object) and its transport (which judges joining nodes
/// during handshakes, synchronously). Every access holds the lock.
class shared_authority {
 public:
  /// `dir` is where changes are saved (see authority::save); empty: never.
  shared_authority(authority ca, std::string dir)
    : ca_(std::move(ca)), dir_(std::move(dir)) {}

  /// Runs `f(authority&)` under the lock and returns what it returns.
  template <class F>
  auto with(F&& f) {
    std::lock_guard<std::mutex> guard{mutex_};
    return f(ca_);
  }

  /// Saves the CA to its directory. The files are written from a copy,
  /// outside the lock, so handshakes never wait for the disk.
  result<void> save() {
    auto copy = with([](authority& a) { return a; });
    return dir_.empty() ? result<void>{} : copy.save(dir_);
  }

  /// Applies `change` to a copy, saves the copy, and only then makes it
  /// current: a change that cannot be saved does not happen. Only the test
  /// node's CA actor changes a CA that saves, so nothing is lost between
  /// copy and commit. A CA that never saves (a manager's, which the manager
  /// also replaces whenever the replicated cluster object changes) is
  /// changed in place under the lock, so a change never undoes such a
  /// replacement.
  template <class F>
  result<void> change_and_save(F&& change) {
    if (dir_.empty()) {
      with([&](authority& a) {
        change(a);
        return 0;
      });
      return {};
    }
    auto copy = with([](authority& a) { return a; });
    change(copy);
    if (auto saved = copy.save(dir_); !saved)
      return saved;
    with([&](authority& a) {
      a = std::move(copy);
      return 0;
    });
    return {};
  }

 private:
  std::mutex mutex_;
  authority ca_;
  std::string dir_;
};

} // namespace skep::ca
