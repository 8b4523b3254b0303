#include "actors/raft/member_threads.hpp"

#include "messages/type_ids.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace skep::raft {

namespace {

/// Sends `xs` to the member unless it is gone.
template <class... Ts>
void tell(const caf::weak_actor_ptr& member, Ts&&... xs) {
  if (auto target = caf::actor_cast<caf::actor>(member.lock()))
    caf::anon_send(target, std::forward<Ts>(xs)...);
}

/// Tells a helper thread waiting on `wake` to stop, and waits for it.
void stop_and_join(std::mutex& mu, std::condition_variable& wake,
                   bool& stopping, std::thread& thread) {
  {
    std::lock_guard<std::mutex> lock{mu};
    stopping = true;
  }
  wake.notify_one();
  thread.join();
}

} // namespace

bool set_thread_nice(int nice) {
  return ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) == 0;
}

log_flusher::log_flusher(std::function<std::string()> job,
                         caf::weak_actor_ptr member)
  : job_(std::move(job)), member_(std::move(member)),
    thread_([this] { run(); }) {}

log_flusher::~log_flusher() {
  stop_and_join(mu_, wake_, stopping_, thread_);
}

void log_flusher::request(std::uint64_t through) {
  {
    std::lock_guard<std::mutex> lock{mu_};
    if (through <= requested_)
      return;
    requested_ = through;
  }
  wake_.notify_one();
}

void log_flusher::run() {
  pthread_setname_np(pthread_self(), "skep-raft-sync");
  std::unique_lock<std::mutex> lock{mu_};
  for (;;) {
    wake_.wait(lock, [this] { return requested_ > done_ || stopping_; });
    if (stopping_)
      return;
    auto through = requested_;
    lock.unlock();
    auto error = job_();
    tell(member_, atom::flush_v, through, error);
    lock.lock();
    done_ = through;
    if (!error.empty())
      return;
  }
}

member_ticker::member_ticker(std::chrono::milliseconds period, int nice,
                             caf::weak_actor_ptr member)
  : period_(period), nice_(nice), member_(std::move(member)),
    thread_([this] { run(); }) {}

member_ticker::~member_ticker() {
  stop_and_join(mu_, wake_, stopping_, thread_);
}

void member_ticker::run() {
  pthread_setname_np(pthread_self(), "skep-raft-tick");
  set_thread_nice(nice_);
  auto next = std::chrono::steady_clock::now() + period_;
  std::unique_lock<std::mutex> lock{mu_};
  for (;;) {
    if (wake_.wait_until(lock, next, [this] { return stopping_; }))
      return;
    lock.unlock();
    tell(member_, atom::tick_v);
    lock.lock();
    next += period_;
    auto now = std::chrono::steady_clock::now();
    if (next <= now)
      next = now + period_; // this thread was late: no burst of ticks
  }
}

} // namespace skep::raft
