#include "actors/raft/raft_actor.hpp"

#include "actors/logging/clock.hpp"
#include "actors/logging/log.hpp"
#include "actors/raft/member_threads.hpp"
#include "actors/raft/sqlite_storage.hpp"

#include <cerrno>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <pthread.h>
#include <thread>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <fmt/format.h>

namespace skep::raft {

namespace {

struct pending_proposal {
  term_t term;
  caf::typed_response_promise<outcome> promise;
};

struct raft_state {
  std::shared_ptr<log_storage> storage;
  std::unique_ptr<core> member;
  raft_outbox outbox;
  apply_sink sink;
  std::chrono::milliseconds tick{50};
  /// Whether the member runs on a thread of its own (skepd) or on the actor
  /// system's scheduler (the test coordinator, with virtual time).
  bool own_thread = false;
  /// A snapshot being written off this member's thread, and who asked.
  struct staging_snapshot {
    index_t index;
    caf::typed_response_promise<outcome> promise;
  };
  std::optional<staging_snapshot> staging;
  /// The thread that writes it (see take_snapshot).
  std::thread stager;
  /// The log is compacted up to here in steps (see compact_step).
  index_t compact_through = 0;
  index_t snapshot_keep_entries = 500;
  /// Proposals by log index, answered when that index commits.
  std::map<index_t, pending_proposal> proposals;
  /// Reads by request id, until leadership is confirmed.
  std::map<uint64_t, caf::typed_response_promise<outcome>> reads;
  /// Confirmed reads waiting for the sink to catch up, by index.
  std::multimap<index_t, caf::typed_response_promise<outcome>> ready_reads;
  uint64_t next_read = 1;
  index_t applied = 0;
  /// Index of the latest snapshot in storage.
  index_t snapshot_index = 0;
  /// The term in storage: a leader's messages of this term may leave before
  /// a sync, those of a term not yet stored may not.
  term_t stored_term = 0;
  /// With a flusher (a member on its own thread over a storage whose commits
  /// are not durable by themselves), readies are committed and the member
  /// goes on; what must wait for the disk waits here, oldest first, until
  /// the flusher reports. Commits are numbered from 1.
  struct unflushed_write {
    std::uint64_t commit = 0;
    /// The last entry written, when entries (or a snapshot) were.
    std::optional<std::pair<index_t, term_t>> through;
    /// The hard state's term, when one was written.
    std::optional<term_t> term;
    /// Replies and votes that vouch for what was written.
    std::vector<message> messages;
    /// Snapshot requests answered once this write is durable: the index,
    /// and who asked.
    std::vector<std::pair<index_t, caf::typed_response_promise<outcome>>>
      snapshot_replies;
  };
  std::deque<unflushed_write> unflushed;
  std::uint64_t commits = 0;
  /// Stopped first when the member ends: it waits for a running flush.
  std::unique_ptr<log_flusher> flusher;
  /// A member on its own thread gets its ticks from a thread of its own;
  /// under the test coordinator they are delayed messages in virtual time.
  std::unique_ptr<member_ticker> ticker;
  /// What the sink was last told (see apply_sink): role, term, leader and
  /// configuration.
  struct told_status {
    raft::role role = raft::role::follower;
    term_t term = 0;
    node_id leader = 0;
    configuration config;
    bool operator==(const told_status& o) const {
      return role == o.role && term == o.term && leader == o.leader
             && config == o.config;
    }
  };
  std::optional<told_status> told;
  /// When the last tick ran: a late tick means the thread was busy.
  std::chrono::steady_clock::time_point last_tick{};
  std::chrono::milliseconds longest_tick_gap{0};
  std::uint64_t ticks = 0;
  /// Since the last tick: drains run, time spent in them, longest persist,
  /// and time spent compacting the log and adopting a snapshot.
  struct since_tick_stats {
    std::size_t drains = 0;
    std::chrono::steady_clock::duration draining{};
    std::chrono::steady_clock::duration longest_persist{};
    std::chrono::steady_clock::duration compacting{};
    std::chrono::steady_clock::duration adopting{};
  } since_tick;
  std::string who;

  raft_state() = default;
  raft_state(const raft_state&) = delete;
  raft_state& operator=(const raft_state&) = delete;

  /// Unanswered requests get an error when the member stops.
  ~raft_state() {
    ticker.reset();
    flusher.reset();
    if (stager.joinable())
      stager.join();
    if (staging)
      staging->promise.deliver(outcome::refused("the raft member stopped"));
    auto stopped = outcome::refused("the raft member stopped");
    for (auto& entry : proposals)
      entry.second.promise.deliver(stopped);
    for (auto& entry : reads)
      entry.second.deliver(stopped);
    for (auto& entry : ready_reads)
      entry.second.deliver(stopped);
    for (auto& write : unflushed)
      for (auto& reply : write.snapshot_replies)
        reply.second.deliver(stopped);
  }

  static inline const char* name = "raft";
};

using raft_self = raft_actor::stateful_pointer<raft_state>;

// The messages only a leader sends: they vouch for no entry it has not
// synced (it counts its own entries only once stable), only for its term, so
// they may leave before the sync once that term is stored. A leader whose
// term is new in this ready (a lone voter elects itself at once) waits: were
// it to crash before the sync, it could lead the same term again with other
// entries.
/// Persisting a ready for longer than this is logged as a warning.
constexpr std::chrono::milliseconds slow_persist{100};

bool sent_before_sync(const message& msg, term_t stored_term) {
  if (msg.term > stored_term)
    return false;
  switch (msg.type) {
  case message_type::append:
  case message_type::heartbeat:
  case message_type::install_snapshot:
  case message_type::timeout_now:
    return true;
  default:
    return false;
  }
}

/// Persists, sends and applies everything the core has ready. Storage
/// failures end the member: Raft cannot go on without its log.
status status_of(raft_self self) {
  const auto& m = *self->state.member;
  status out;
  out.id = m.id();
  out.role = m.role();
  out.term = m.term();
  out.leader = m.leader();
  out.commit = m.commit_index();
  out.applied = self->state.applied;
  out.last_index = m.last_index();
  out.config = m.configuration();
  out.chain_fault = m.chain_fault().value_or("");
  out.first_index = self->state.storage->first_index();
  out.snapshot_index = self->state.snapshot_index;
  out.longest_tick_gap = self->state.longest_tick_gap;
  out.ticks = self->state.ticks;
  return out;
}

/// Tells the sink the member's status when its role, term, leader or
/// configuration changed since it was last told.
void tell_status(raft_self self) {
  auto& st = self->state;
  const auto& m = *st.member;
  raft_state::told_status now{m.role(), m.term(), m.leader(),
                              m.configuration()};
  if (st.told && *st.told == now)
    return;
  st.told = now;
  self->send(st.sink, atom::status_v, status_of(self));
}

/// With a flusher: the ready `rd` was committed, not synced. `after_sync`
/// waits for the flush that covers it, as does everything after it that
/// vouches for a write (a reply to a repeated append acknowledges entries
/// written earlier). Only when nothing was written and nothing waits does it
/// leave at once.
void hold_until_flushed(raft_self self, const ready& rd,
                        std::vector<message> after_sync) {
  auto& st = self->state;
  bool wrote = rd.snapshot || !rd.entries.empty() || rd.state;
  if (!wrote) {
    if (st.unflushed.empty()) {
      for (auto& msg : after_sync)
        self->send(st.outbox, std::move(msg));
    } else {
      auto& last = st.unflushed.back().messages;
      std::move(after_sync.begin(), after_sync.end(), std::back_inserter(last));
    }
    return;
  }
  raft_state::unflushed_write w;
  w.commit = ++st.commits;
  if (!rd.entries.empty())
    w.through = std::make_pair(rd.entries.back().index, rd.entries.back().term);
  else if (rd.snapshot)
    w.through = std::make_pair(rd.snapshot->meta.index, rd.snapshot->meta.term);
  if (rd.state)
    w.term = rd.state->term;
  w.messages = std::move(after_sync);
  st.unflushed.push_back(std::move(w));
}

void drain(raft_self self);

/// The flusher made every commit up to `through` durable: what waited for
/// them leaves, and a leader counts its own entries.
void flushed(raft_self self, std::uint64_t through) {
  auto& st = self->state;
  while (!st.unflushed.empty() && st.unflushed.front().commit <= through) {
    auto w = std::move(st.unflushed.front());
    st.unflushed.pop_front();
    if (w.term)
      st.stored_term = std::max(st.stored_term, *w.term);
    if (w.through)
      st.member->persisted_through(w.through->first, w.through->second);
    for (auto& msg : w.messages)
      self->send(st.outbox, std::move(msg));
    for (auto& reply : w.snapshot_replies)
      reply.second.deliver(outcome::success(reply.first));
  }
  drain(self);
}

void drain(raft_self self) {
  auto& st = self->state;
  auto drain_start = clock::now(self);
  ++st.since_tick.drains;
  try {
    while (st.member->has_ready()) {
      auto rd = st.member->take_ready();
      if (rd.snapshot) {
        // A snapshot installed by the leader is written here, on the
        // member's thread (unlike its own: see take_snapshot); the member
        // has nothing to apply until it is stored anyway.
        st.storage->save_snapshot(*rd.snapshot);
        st.snapshot_index = rd.snapshot->meta.index;
      }
      // A leader's appends and heartbeats leave before the sync (Raft
      // thesis 10.2.1), so a slow disk delays no follower's election timer;
      // replies and votes wait for it.
      std::vector<message> after_sync;
      for (auto& msg : rd.messages) {
        if (sent_before_sync(msg, st.stored_term))
          self->send(st.outbox, std::move(msg));
        else
          after_sync.push_back(std::move(msg));
      }
      auto persist_start = clock::now(self);
      st.storage->append(rd.entries);
      if (rd.state)
        st.storage->save_hard_state(*rd.state);
      if (st.flusher) {
        st.storage->commit();
        hold_until_flushed(self, rd, std::move(after_sync));
      } else {
        st.storage->sync();
      }
      auto persisted = clock::now(self) - persist_start;
      st.since_tick.longest_persist
        = std::max(st.since_tick.longest_persist, persisted);
      if (persisted > slow_persist)
        log::warn(
          st.who, "persisting {} entries took {} ms (slow disk?)",
          rd.entries.size(),
          std::chrono::duration_cast<std::chrono::milliseconds>(persisted)
            .count());
      if (!st.flusher) {
        if (rd.state)
          st.stored_term = rd.state->term;
        for (auto& msg : after_sync)
          self->send(st.outbox, std::move(msg));
      }
      if (rd.snapshot) {
        self->send(st.sink, atom::restore_v, *rd.snapshot);
        st.applied = std::max(st.applied, rd.snapshot->meta.index);
      }
      if (!rd.committed.empty()) {
        st.applied = rd.committed.back().index;
        // Answer proposals whose index committed: with success when the
        // committed entry is the proposed one (same term), else it was lost.
        for (const auto& e : rd.committed) {
          auto it = st.proposals.find(e.index);
          if (it == st.proposals.end())
            continue;
          if (it->second.term == e.term)
            it->second.promise.deliver(outcome::success(e.index));
          else
            it->second.promise.deliver(outcome::refused(
              "the proposal was lost when leadership changed; retry",
              st.member->leader()));
          st.proposals.erase(it);
        }
        // A copy: advance() below reads rd.committed.
        self->send(st.sink, atom::apply_v, rd.committed);
      }
      for (const auto& r : rd.reads) {
        auto it = st.reads.find(r.request_id);
        if (it == st.reads.end())
          continue;
        st.ready_reads.emplace(r.index, std::move(it->second));
        st.reads.erase(it);
      }
      for (auto id : rd.failed_reads) {
        auto it = st.reads.find(id);
        if (it == st.reads.end())
          continue;
        it->second.deliver(outcome::refused("leadership was lost before the "
                                            "read was confirmed; retry",
                                            st.member->leader()));
        st.reads.erase(it);
      }
      st.member->advance(rd);
    }
    if (st.flusher)
      st.flusher->request(st.commits);
  } catch (const storage_failure& e) {
    log::error(st.who, "stopping: {}", e.what());
    self->quit(caf::make_error(caf::sec::runtime_error, e.what()));
    return;
  }
  st.since_tick.draining += clock::now(self) - drain_start;
  tell_status(self);
  // Serve reads the sink has caught up with.
  while (!st.ready_reads.empty()
         && st.ready_reads.begin()->first <= st.applied) {
    st.ready_reads.begin()->second.deliver(
      outcome::success(st.ready_reads.begin()->first));
    st.ready_reads.erase(st.ready_reads.begin());
  }
}

/// Adds the time until the end of its scope to one of since_tick's figures.
class timed_scope {
 public:
  timed_scope(raft_self self, std::chrono::steady_clock::duration& total)
    : self_(self), total_(total), start_(clock::now(self)) {}
  timed_scope(const timed_scope&) = delete;
  timed_scope& operator=(const timed_scope&) = delete;
  ~timed_scope() { total_ += clock::now(self_) - start_; }

 private:
  raft_self self_;
  std::chrono::steady_clock::duration& total_;
  std::chrono::steady_clock::time_point start_;
};

/// Compacting the log toward st.compact_through drops this many entries at
/// a time, for at most compact_budget per tick: entries of a large store are
/// close to a megabyte each, and dropping 16 of them (with the space they
/// gave back) held the member's thread for up to 150 ms.
constexpr index_t compact_step_entries = 4;
constexpr std::chrono::milliseconds compact_budget{10};

void compact_step(raft_self self) {
  auto& st = self->state;
  timed_scope timed{self, st.since_tick.compacting};
  auto start = clock::now(self);
  auto base = st.storage->first_index() - 1;
  bool compacted = false;
  while (st.compact_through > base) {
    st.storage->compact(
      std::min(st.compact_through, base + compact_step_entries));
    base = st.storage->first_index() - 1;
    compacted = true;
    if (clock::now(self) - start >= compact_budget)
      break;
  }
  // What compaction freed goes back in bounded parts, one per tick, even
  // when nothing else is written (a lone, idle leader). None of it need be
  // durable at once (a crash only keeps entries a snapshot covers): a
  // commit, which the next sync or flush covers.
  st.storage->reclaim();
  st.storage->commit();
  if (compacted && base >= st.compact_through)
    log::info(st.who, "the log now starts at {}", base + 1);
}

/// Answers a snapshot request with `index` once every write so far is
/// durable: at once when nothing waits for the flusher.
void answer_snapshot_when_durable(
  raft_self self, index_t index, caf::typed_response_promise<outcome> promise) {
  auto& st = self->state;
  if (st.unflushed.empty())
    promise.deliver(outcome::success(index));
  else
    st.unflushed.back().snapshot_replies.emplace_back(index,
                                                      std::move(promise));
}

/// Makes the staged snapshot this member's snapshot (the job that wrote it
/// ran elsewhere) and answers the request that asked for it.
void adopt_staged(raft_self self, staged_snapshot staged) {
  auto& st = self->state;
  timed_scope timed{self, st.since_tick.adopting};
  auto promise = std::move(st.staging->promise);
  st.staging.reset();
  auto index = staged.meta.index;
  if (!staged.error.empty()) {
    log::error(st.who, "no snapshot at index {}: {}", index, staged.error);
    promise.deliver(outcome::refused(
      fmt::format("cannot snapshot at index {}: {}", index, staged.error)));
    return;
  }
  try {
    if (index <= st.storage->snapshot_metadata().index) {
      // A leader installed a later snapshot meanwhile.
      st.storage->drop_staged_snapshot(staged);
      answer_snapshot_when_durable(self, index, std::move(promise));
      return;
    }
    st.storage->adopt_snapshot(std::move(staged));
    if (st.flusher) {
      // Answered once the flusher made it durable. Compacting before is
      // safe: a crash never keeps a later commit without an earlier one.
      st.storage->commit();
      raft_state::unflushed_write w;
      w.commit = ++st.commits;
      st.unflushed.push_back(std::move(w));
      answer_snapshot_when_durable(self, index, std::move(promise));
      st.flusher->request(st.commits);
    } else {
      st.storage->sync();
    }
    st.snapshot_index = index;
    st.compact_through
      = compaction_point_keeping_tail(*st.storage, st.snapshot_keep_entries);
    log::info(st.who, "snapshot at index {}; compacting the log up to {}",
              index, st.compact_through);
    compact_step(self); // the first step now, the rest on the next ticks
  } catch (const storage_failure& e) {
    log::error(st.who, "stopping: {}", e.what());
    if (promise.pending())
      promise.deliver(outcome::refused("the raft member stopped"));
    self->quit(caf::make_error(caf::sec::runtime_error, e.what()));
    return;
  }
  if (!st.flusher)
    promise.deliver(outcome::success(index));
}

/// Stores `data` as the snapshot at `index`. Writing it takes seconds for a
/// large store, so on a member with its own thread the storage stages it
/// from a thread of its own, and the member only adopts it (adopt_staged);
/// the log is then compacted in steps, keeping a tail. Nothing changes when
/// the index is refused.
caf::typed_response_promise<outcome> take_snapshot(raft_self self,
                                                   index_t index, bytes data) {
  auto& st = self->state;
  auto& m = *st.member;
  auto promise = self->make_response_promise<outcome>();
  auto refuse = [&](failure why) {
    why.message
      = fmt::format("cannot snapshot at index {}: {}", index, why.message);
    promise.deliver(outcome::refused(std::move(why)));
    return promise;
  };
  if (st.staging)
    return refuse(failure{errc::unavailable,
                          fmt::format("the snapshot at index {} is still being "
                                      "written",
                                      st.staging->index)});
  if (index > m.applied_index())
    return refuse(
      failure{errc::invalid_argument,
              fmt::format("this member has applied only up to index {}; "
                          "snapshot an applied index",
                          m.applied_index())});
  std::function<staged_snapshot()> job;
  try {
    auto current = st.storage->snapshot_metadata().index;
    if (index < current)
      return refuse(
        failure{errc::invalid_argument,
                fmt::format("the log is already compacted up to the "
                            "snapshot at index {}; snapshot a later index",
                            current)});
    if (index == current) { // already stored
      answer_snapshot_when_durable(self, index, promise);
      return promise;
    }
    auto snap = m.make_snapshot(index, std::move(data));
    if (!snap)
      return refuse(snap.error());
    job = st.storage->stage_snapshot(std::move(*snap));
  } catch (const storage_failure& e) {
    log::error(st.who, "stopping: {}", e.what());
    self->quit(caf::make_error(caf::sec::runtime_error, e.what()));
    promise.deliver(outcome::refused("the raft member stopped"));
    return promise;
  }
  st.staging = raft_state::staging_snapshot{index, promise};
  if (!st.own_thread) {
    // Under the test coordinator: one thread, virtual time.
    adopt_staged(self, job());
    return promise;
  }
  if (st.stager.joinable())
    st.stager.join(); // the last one finished: it answered
  st.stager = std::thread{[job = std::move(job),
                           weak = caf::actor_cast<caf::weak_actor_ptr>(
                             self)]() mutable {
    pthread_setname_np(pthread_self(), "skep-raft-snap");
    auto staged = job();
    if (auto target = caf::actor_cast<caf::actor>(weak.lock()))
      caf::anon_send(target, atom::snapshot_v, atom::done_v, std::move(staged));
  }};
  return promise;
}

/// Hands the storage's snapshot to the sink when the state machine has not
/// applied its index yet; returns the index the state machine is at then.
index_t restore_stored_snapshot(raft_self self, index_t applied) {
  auto& st = self->state;
  auto meta = st.storage->snapshot_metadata();
  auto index = meta.index;
  if (index <= applied)
    return applied;
  auto data = st.storage->snapshot_data();
  // Sent before any entry, so the sink restores first.
  self->send(st.sink, atom::restore_v,
             snapshot{std::move(meta), std::move(data)});
  return index;
}

template <class F>
outcome request_change(raft_self self, F&& change) {
  auto result = change(*self->state.member);
  drain(self);
  if (!result)
    return outcome::refused(result.error());
  return outcome::success(*result);
}

/// The nice value of a member's own thread (see raft_member).
constexpr int member_nice = -10;

/// Where the member runs: on a thread of its own (skepd), or on the actor
/// system's scheduler (the test coordinator, with virtual time).
enum class runs_on { own_thread, scheduler };

raft_actor::behavior_type raft_member(raft_self self, raft_actor_config cfg,
                                      std::shared_ptr<log_storage> storage,
                                      raft_outbox outbox, apply_sink sink,
                                      runs_on where) {
  auto& st = self->state;
  st.who = fmt::format("raft/{}", cfg.core.id);
  st.own_thread = where == runs_on::own_thread;
  st.storage = std::move(storage);
  st.outbox = std::move(outbox);
  st.sink = std::move(sink);
  st.tick = cfg.tick;
  st.snapshot_keep_entries = cfg.snapshot_keep_entries;
  try {
    // The core hands out committed entries after core.applied only.
    cfg.core.applied = restore_stored_snapshot(self, cfg.core.applied);
    // On its own thread a member commits each ready and lets another thread
    // wait for the disk (see log_flusher); under the test coordinator the
    // disk is memory and time is virtual.
    if (st.own_thread) {
      if (auto job = st.storage->flush_job()) {
        cfg.core.async_durability = true;
        st.flusher = std::make_unique<log_flusher>(
          std::move(job), caf::actor_cast<caf::weak_actor_ptr>(self));
      }
    }
    st.member = std::make_unique<core>(cfg.core, *st.storage);
    st.stored_term = st.storage->load_hard_state().term;
    st.applied = st.member->applied_index();
    st.snapshot_index = st.storage->snapshot_metadata().index;
  } catch (const storage_failure& e) {
    log::error(st.who, "cannot start: {}", e.what());
    self->quit(caf::make_error(caf::sec::runtime_error, e.what()));
  }
  if (st.member) {
    if (const auto& fault = st.member->chain_fault())
      log::error(st.who,
                 "log hash chain is broken: {}; this member will not "
                 "vote or lead until its storage is repaired",
                 *fault);
    // Named for `top -H` and profilers, as is the thread that writes its
    // snapshots: skep-raft, skep-raft-snap.
    if (st.own_thread) {
      pthread_setname_np(pthread_self(), "skep-raft");
      // Ahead of the node's busy threads for a CPU: under a 1,000,000-task
      // create its thread waited 94 ms for one at nice 0. Only a privileged
      // skepd may raise it; otherwise it stays as it is.
      if (!set_thread_nice(member_nice))
        log::debug(st.who, "runs at the default priority: {}",
                   std::strerror(errno));
      st.ticker = std::make_unique<member_ticker>(
        st.tick, member_nice, caf::actor_cast<caf::weak_actor_ptr>(self));
    } else {
      self->delayed_send(self, st.tick, atom::tick_v);
    }
    tell_status(self);
  }
  return {
    [self](message& msg) {
      self->state.member->step(msg);
      drain(self);
    },
    [self](atom::propose,
           bytes& payload) -> caf::typed_response_promise<outcome> {
      auto& st = self->state;
      auto promise = self->make_response_promise<outcome>();
      auto index = st.member->propose(std::move(payload));
      if (!index) {
        promise.deliver(outcome::refused(index.error()));
        return promise;
      }
      st.proposals.emplace(*index,
                           pending_proposal{st.member->term(), promise});
      drain(self);
      return promise;
    },
    [self](atom::read) -> caf::typed_response_promise<outcome> {
      auto& st = self->state;
      auto promise = self->make_response_promise<outcome>();
      auto id = st.next_read++;
      auto started = st.member->read_index(id);
      if (!started) {
        promise.deliver(outcome::refused(started.error()));
        return promise;
      }
      st.reads.emplace(id, promise);
      drain(self);
      return promise;
    },
    [self](atom::add_learner, node_id id) {
      return request_change(self, [id](core& c) { return c.add_learner(id); });
    },
    [self](atom::promote, node_id id) {
      return request_change(self,
                            [id](core& c) { return c.promote_learner(id); });
    },
    [self](atom::remove, node_id id) {
      return request_change(self,
                            [id](core& c) { return c.remove_member(id); });
    },
    [self](atom::transfer, node_id id) -> outcome {
      auto result = self->state.member->transfer_leadership(id);
      drain(self);
      if (!result)
        return outcome::refused(result.error());
      return outcome::success(0); // the transfer started
    },
    [self](atom::status) { return status_of(self); },
    [self](atom::verify) -> outcome {
      auto report = self->state.member->verify_log();
      if (report.ok())
        return outcome::success(self->state.member->last_index());
      log::error(self->state.who, "log hash chain is broken: {}",
                 report.reason);
      auto refused = outcome::refused(
        raft_failure(error_code::broken_chain, 0, report.reason));
      refused.index = report.first_bad_index;
      return refused;
    },
    [self](atom::snapshot, index_t index, bytes& data) {
      return take_snapshot(self, index, std::move(data));
    },
    [self](atom::flush, std::uint64_t through, std::string& error) {
      auto& st = self->state;
      if (!error.empty()) {
        log::error(st.who, "stopping: {}", error);
        self->quit(caf::make_error(caf::sec::runtime_error, error));
        return;
      }
      flushed(self, through);
    },
    [self](atom::snapshot, atom::done, staged_snapshot& staged) {
      if (self->state.staging)
        adopt_staged(self, std::move(staged));
      else
        self->state.storage->drop_staged_snapshot(staged);
    },
    [self](atom::tick) {
      using std::chrono::duration_cast;
      using std::chrono::milliseconds;
      auto& st = self->state;
      auto now = clock::now(self);
      if (st.last_tick != std::chrono::steady_clock::time_point{}) {
        auto gap = duration_cast<milliseconds>(now - st.last_tick);
        st.longest_tick_gap = std::max(st.longest_tick_gap, gap);
        if (gap > 5 * st.tick)
          log::warn(
            st.who,
            "{} ms since the last tick of {} ms: {} drains took {} ms "
            "of it (the longest persist {} ms), compacting the log {} ms, "
            "adopting a snapshot {} ms; the rest of the time the member's "
            "thread was busy elsewhere or starved",
            gap.count(), st.tick.count(), st.since_tick.drains,
            duration_cast<milliseconds>(st.since_tick.draining).count(),
            duration_cast<milliseconds>(st.since_tick.longest_persist).count(),
            duration_cast<milliseconds>(st.since_tick.compacting).count(),
            duration_cast<milliseconds>(st.since_tick.adopting).count());
      }
      // A tick that waited in the mailbox behind another (the member was
      // busy) only advances the clock: compacting then would add to the lag.
      bool catching_up = st.last_tick != std::chrono::steady_clock::time_point{}
                         && now - st.last_tick < st.tick / 2;
      st.last_tick = now;
      st.since_tick = {};
      ++st.ticks;
      st.member->tick();
      drain(self);
      try {
        if (!catching_up)
          compact_step(self);
      } catch (const storage_failure& e) {
        log::error(st.who, "stopping: {}", e.what());
        self->quit(caf::make_error(caf::sec::runtime_error, e.what()));
        return;
      }
      if (!st.ticker)
        self->delayed_send(self, st.tick, atom::tick_v);
    },
  };
}

} // namespace

raft_actor spawn_raft(caf::actor_system& sys, raft_actor_config cfg,
                      std::unique_ptr<log_storage> storage, raft_outbox outbox,
                      apply_sink sink) {
  // Storage fsyncs block: give the member its own thread.
  return sys.spawn<caf::detached>(
    raft_member, std::move(cfg),
    std::shared_ptr<log_storage>(std::move(storage)), std::move(outbox),
    std::move(sink), runs_on::own_thread);
}

raft_actor spawn_raft_scheduled(caf::actor_system& sys, raft_actor_config cfg,
                                std::unique_ptr<log_storage> storage,
                                raft_outbox outbox, apply_sink sink) {
  return sys.spawn(raft_member, std::move(cfg),
                   std::shared_ptr<log_storage>(std::move(storage)),
                   std::move(outbox), std::move(sink), runs_on::scheduler);
}

} // namespace skep::raft
