#pragma once

#include "actors/ca/authority.hpp"
#include "actors/transport/transport_actor.hpp"

#include <memory>
#include <mutex>
#include <string>

#include <caf/fwd.hpp>

namespace skep::ca {

/// The CA of one manager, shared between its CA actor (which issues, rotates
/// and saves) and its transport (which judges joining nodes during
/// handshakes, synchronously). Every access holds the lock.
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
  /// current: a change that cannot be saved does not happen. Only the CA
  /// actor changes the CA, so nothing is lost between copy and commit.
  template <class F>
  result<void> change_and_save(F&& change) {
    auto copy = with([](authority& a) { return a; });
    change(copy);
    if (!dir_.empty())
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

/// What the transport asks when a node joins with a token.
transport::join_check make_join_check(std::shared_ptr<shared_authority> ca);

/// The CA actor (registered with the transport as "ca"). It handles:
///
/// - inbound CertificateRequest: a joining node gets a certificate in the
///   role its token granted; a certified node gets a renewed one in its
///   current role. The reply carries the certificate and the CA's key.
/// - (tokens) -> (worker token, manager token).
/// - (rotate, "worker"|"manager") -> the new token, saved before replying.
/// - (revoke, node id) -> (): no certificate for the node from now on.
caf::actor spawn_ca_actor(caf::actor_system& sys,
                          std::shared_ptr<shared_authority> ca);

} // namespace skep::ca
