#pragma once
// The threads a Raft member on a thread of its own keeps beside it, so that
// its own thread neither waits for the disk nor for the actor system's
// clock: a flusher and a ticker. Both report to the member by message and
// stop (joined) when destroyed. Included by raft_actor.cpp only.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <caf/actor_control_block.hpp>
#include <caf/fwd.hpp>
#include <caf/weak_intrusive_ptr.hpp>

namespace skep::raft {

/// Makes a member's commits durable (log_storage::flush_job) on a thread of
/// its own: a flush took 60 to 175 ms under a 1,000,000-task create, longer
/// than a tick. The member asks for a flush through its latest commit; the
/// thread reports (atom::flush, through, error) once a flush that began
/// after that commit returned. Requests made while a flush runs share the
/// next one. After a failed flush it stops flushing: nothing written after
/// can be trusted durable.
class log_flusher {
 public:
  log_flusher(std::function<std::string()> job, caf::weak_actor_ptr member);

  /// Waits for a flush that is running (a disk that never answers keeps
  /// the member from stopping, as it would keep it from syncing).
  ~log_flusher();

  log_flusher(const log_flusher&) = delete;
  log_flusher& operator=(const log_flusher&) = delete;

  /// Asks for every commit up to number `through` to be made durable.
  void request(std::uint64_t through);

 private:
  void run();

  std::function<std::string()> job_;
  caf::weak_actor_ptr member_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::uint64_t requested_ = 0;
  std::uint64_t done_ = 0;
  bool stopping_ = false;
  std::thread thread_; // last: starts once the rest is ready
};

/// Sends a member atom::tick every `period` from a thread of its own, at
/// the member's priority. The actor system's clock thread, which carries
/// every delayed message and request timeout of the node, delivered ticks
/// up to 95 ms late under a 1,000,000-task create while the member sat
/// idle. Ticks that come while the member is busy wait in its mailbox and
/// are handled in a row, so its logical clock keeps up with the wall
/// clock; ticks this thread could not send on time are not made up.
class member_ticker {
 public:
  member_ticker(std::chrono::milliseconds period, int nice,
                caf::weak_actor_ptr member);
  ~member_ticker();

  member_ticker(const member_ticker&) = delete;
  member_ticker& operator=(const member_ticker&) = delete;

 private:
  void run();

  std::chrono::milliseconds period_;
  int nice_;
  caf::weak_actor_ptr member_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_; // last: starts once the rest is ready
};

/// Gives the calling thread the nice value `nice` when the process may;
/// false (and nothing changes) when it may not.
bool set_thread_nice(int nice);

} // namespace skep::raft
