#pragma once

#include "actors/store/store.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

namespace skep::store {

/// The manager's replica of the store, shared with the leader-only actors of
/// the same process (orchestrator, reconcilers, scheduler, dispatcher) the
/// way SwarmKit shares its memdb: the manager is the only writer and applies
/// committed entries under the write lock; the others read under the read
/// lock, briefly, and learn what changed from `changes` messages.
class shared_store {
 public:
  /// Runs `f(const store&)` under the read lock and returns its result.
  /// `f` must not keep pointers into the store after it returns.
  template <class F>
  auto read(F&& f) const {
    std::shared_lock<std::shared_mutex> guard{mutex_};
    return f(static_cast<const store&>(db_));
  }

  /// Runs `f(store&)` under the write lock: the manager applying entries.
  template <class F>
  auto write(F&& f) {
    std::unique_lock<std::shared_mutex> guard{mutex_};
    return f(db_);
  }

  /// The store without the lock, for the writer's own reads (the manager's
  /// thread is the only one that changes it).
  const store& writer_view() const noexcept { return db_; }

 private:
  mutable std::shared_mutex mutex_;
  store db_;
};

/// What one committed entry (or a restore) changed, as sent to the
/// subscribers of the manager's store.
struct changes {
  uint64_t index = 0;
  bool restored = false; ///< the whole store was replaced: look at everything
  std::vector<change> items;
};

using changes_ptr = std::shared_ptr<const changes>;

} // namespace skep::store
