// The raft member as skepd runs it: on a thread of its own, writing
// snapshots from another. Real threads and a real
// SQLite file; conditions are awaited, never slept for.

#include "actors/raft/memory_storage.hpp"
#include "actors/raft/raft_actor.hpp"
#include "actors/raft/sqlite_storage.hpp"
#include "tests/support/process.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <dirent.h>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <gtest/gtest.h>

namespace skep::raft {
namespace {

using namespace std::chrono_literals;

struct system_config : caf::actor_system_config {
  system_config() { skep::register_types(*this); }
};

// (Both get an argument: CAF 0.17 dereferences a null pointer when spawning
// a function without any.)
raft_outbox::behavior_type nowhere(raft_outbox::pointer, int) {
  return {[](message&) {}};
}

apply_sink::behavior_type ignoring(apply_sink::pointer, int) {
  return {
    [](atom::apply, std::vector<entry>&) {},
    [](atom::restore, snapshot&) {},
    [](atom::status, status&) {},
  };
}

/// Counts the appends and heartbeats a leader sends to node 2.
raft_outbox::behavior_type counting(raft_outbox::pointer,
                                    std::shared_ptr<std::atomic<int>> sent) {
  return {[sent](message& msg) {
    if (msg.to == 2
        && (msg.type == message_type::heartbeat
            || msg.type == message_type::append))
      ++*sent;
  }};
}

/// Counts the votes granted to node 2.
raft_outbox::behavior_type
counting_votes(raft_outbox::pointer,
               std::shared_ptr<std::atomic<int>> granted) {
  return {[granted](message& msg) {
    if (msg.to == 2 && msg.type == message_type::vote_reply && !msg.reject)
      ++*granted;
  }};
}

/// A disk the test holds: flushes run only while the gate is open, each
/// one blocking until then.
struct flush_gate {
  std::mutex mu;
  std::condition_variable changed;
  bool open = true;
  int started = 0;
  int finished = 0;

  void set_open(bool now) {
    {
      std::lock_guard<std::mutex> lock{mu};
      open = now;
    }
    changed.notify_all();
  }
  /// Waits until `n` flushes have started (a closed gate holds them).
  bool wait_started(int n) {
    std::unique_lock<std::mutex> lock{mu};
    return changed.wait_for(lock, 20s, [&] { return started >= n; });
  }
  int started_now() {
    std::lock_guard<std::mutex> lock{mu};
    return started;
  }
};

/// A storage in memory whose commits are durable only once a flush job has
/// run, the way sqlite_storage's are, and whose flushes the gate holds.
class gated_storage : public memory_storage {
 public:
  explicit gated_storage(std::shared_ptr<flush_gate> gate)
    : gate_(std::move(gate)) {}
  std::function<std::string()> flush_job() override {
    return [gate = gate_] {
      std::unique_lock<std::mutex> lock{gate->mu};
      ++gate->started;
      gate->changed.notify_all();
      gate->changed.wait(lock, [&] { return gate->open; });
      ++gate->finished;
      return std::string{};
    };
  }

 private:
  std::shared_ptr<flush_gate> gate_;
};

class RaftDetached : public ::testing::Test {
 protected:
  RaftDetached() : sys(cfg), self(sys) {}

  ~RaftDetached() override {
    // A member waits for its running flush before it stops.
    gate->set_open(true);
    if (member) {
      self->send_exit(member, caf::exit_reason::user_shutdown);
      self->wait_for(member);
    }
  }

  void start(raft_actor_config rc) {
    auto storage = sqlite_storage::open(path());
    ASSERT_TRUE(storage) << storage.error().message;
    if ((*storage)->snapshot_metadata().config.voters.empty())
      bootstrap(**storage, configuration{{1}, {}});
    member = spawn_raft(sys, rc, std::move(*storage), sys.spawn(nowhere, 0),
                        sys.spawn(ignoring, 0));
  }

  /// A member over a gated_storage whose founders are voter 1 and learner
  /// 2 (which never answers); its messages to 2 are counted in `sent`.
  void start_gated(raft_actor_config rc) {
    auto storage = std::make_unique<gated_storage>(gate);
    bootstrap(*storage, configuration{{1}, {2}});
    member = spawn_raft(sys, rc, std::move(storage), sys.spawn(counting, sent),
                        sys.spawn(ignoring, 0));
  }

  std::string path() const { return dir.path() + "/raft.db"; }

  status status_now() {
    status out;
    self->request(member, 5s, atom::status_v)
      .receive([&](const status& s) { out = s; },
               [&](caf::error& err) { ADD_FAILURE() << caf::to_string(err); });
    return out;
  }

  template <class Pred>
  bool eventually(Pred pred, std::chrono::seconds limit = 20s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (pred())
        return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  outcome snapshot_at(index_t index, bytes data) {
    auto out = outcome::refused("no reply");
    self->request(member, 60s, atom::snapshot_v, index, std::move(data))
      .receive([&](const outcome& o) { out = o; },
               [&](caf::error& err) { out.why.message = caf::to_string(err); });
    return out;
  }

  outcome propose(std::string text) {
    auto out = outcome::refused("no reply");
    self->request(member, 10s, atom::propose_v, bytes(text.begin(), text.end()))
      .receive([&](const outcome& o) { out = o; },
               [&](caf::error& err) { out.why.message = caf::to_string(err); });
    return out;
  }

  std::shared_ptr<flush_gate> gate = std::make_shared<flush_gate>();
  std::shared_ptr<std::atomic<int>> sent
    = std::make_shared<std::atomic<int>>(0);
  test::temp_dir dir;
  system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  raft_actor member;
};

TEST_F(RaftDetached, ALoneVoterElectsItselfAndReportsItsLongestTickGap) {
  raft_actor_config rc;
  rc.core.id = 1;
  rc.tick = 20ms;
  start(rc);
  ASSERT_TRUE(eventually([&] { return status_now().role == role::leader; }))
    << "a lone voter elects itself once its ticks arrive";
  // Ticks go on: the longest gap between two of them is measured.
  ASSERT_TRUE(
    eventually([&] { return status_now().longest_tick_gap >= rc.tick; }));
}

TEST_F(RaftDetached, ASnapshotIsWrittenOffTheMembersThreadThenCompacted) {
  raft_actor_config rc;
  rc.core.id = 1;
  rc.tick = 20ms;
  rc.snapshot_keep_entries = 5;
  start(rc);
  ASSERT_TRUE(eventually([&] { return status_now().role == role::leader; }));
  for (int i = 0; i < 60; ++i)
    ASSERT_TRUE(propose("entry " + std::to_string(i)).ok);
  auto k = status_now().applied;
  ASSERT_GT(k, 60u);
  // 32 MiB: seconds of writing on a slow disk, none of it on the member.
  bytes state(32u << 20, 0x42);
  auto out = snapshot_at(k, state);
  ASSERT_TRUE(out.ok) << out.why.message;
  EXPECT_EQ(out.index, k);
  EXPECT_EQ(status_now().snapshot_index, k);
  // Compacted in steps of a few entries per tick, down to the kept tail.
  ASSERT_TRUE(eventually([&] { return status_now().first_index == k - 5 + 1; }))
    << "first index " << status_now().first_index;
  // The file it replaced goes once the new one's row is durable.
  ASSERT_TRUE(eventually(
    [&] { return test::files_in(path() + "-snapshots").size() == 1u; }));
  // The member goes on: a proposal after the snapshot commits.
  EXPECT_TRUE(propose("after").ok);
  self->send_exit(member, caf::exit_reason::user_shutdown);
  self->wait_for(member);
  member = nullptr;
  auto reopened = sqlite_storage::open(path());
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_EQ((*reopened)->snapshot_metadata().index, k);
  EXPECT_EQ((*reopened)->snapshot_data(), state);
}

TEST_F(RaftDetached, ASnapshotOfAnUnappliedIndexIsRefusedAndWritesNothing) {
  raft_actor_config rc;
  rc.core.id = 1;
  rc.tick = 20ms;
  start(rc);
  ASSERT_TRUE(eventually([&] { return status_now().role == role::leader; }));
  auto applied = status_now().applied;
  auto out = snapshot_at(applied + 10, bytes{1, 2, 3});
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.why.message.find("applied only up to index"), std::string::npos)
    << out.why.message;
  EXPECT_EQ(status_now().snapshot_index, 0u);
  EXPECT_EQ(test::files_in(path() + "-snapshots").size(), 1u)
    << "only the bootstrap snapshot's file";
}

TEST_F(RaftDetached, AHangingDiskHoldsCommitmentButNotTheMembersTicks) {
  raft_actor_config rc;
  rc.core.id = 1;
  rc.tick = 20ms;
  start_gated(rc);
  ASSERT_TRUE(eventually([&] {
    auto now = status_now();
    return now.role == role::leader && now.commit == now.last_index;
  }))
    << "a lone voter elects itself and commits its first entry";
  auto before = status_now();
  // The disk stops answering: the next flush hangs until the gate opens.
  gate->set_open(false);
  auto flushes = gate->started_now();
  auto proposal = self->request(member, 30s, atom::propose_v, bytes{7, 7, 7});
  ASSERT_TRUE(gate->wait_started(flushes + 1));
  // The member's thread goes on: it answers, and ticks send heartbeats to
  // node 2 while the flush hangs.
  auto heartbeats = sent->load();
  ASSERT_TRUE(eventually([&] { return sent->load() >= heartbeats + 5; }))
    << "no heartbeats while a flush hung";
  auto during = status_now();
  EXPECT_EQ(during.role, role::leader);
  EXPECT_EQ(during.term, before.term);
  EXPECT_EQ(during.last_index, before.last_index + 1)
    << "the proposal is written";
  EXPECT_EQ(during.commit, before.commit)
    << "a lone leader commits only what is durable";
  // The disk comes back: the proposal commits.
  gate->set_open(true);
  outcome answer = outcome::refused("no reply");
  proposal.receive([&](const outcome& o) { answer = o; },
                   [&](caf::error& err) { ADD_FAILURE() << to_string(err); });
  ASSERT_TRUE(answer.ok) << answer.why.message;
  EXPECT_EQ(answer.index, before.last_index + 1);
  EXPECT_GE(status_now().commit, answer.index);
}

TEST_F(RaftDetached, MessagesOfANewTermWaitForTheFlushThatStoresIt) {
  // A member on a closed gate from the start elects itself in term 1, but
  // none of its messages of term 1 leaves before that term is durable.
  raft_actor_config rc;
  rc.core.id = 1;
  rc.tick = 20ms;
  gate->set_open(false);
  start_gated(rc);
  ASSERT_TRUE(gate->wait_started(1));
  ASSERT_TRUE(eventually([&] { return status_now().role == role::leader; }));
  // Ticks go on, each one a heartbeat to node 2 were the term stored; none
  // leaves.
  auto now = status_now();
  ASSERT_TRUE(eventually([&] { return status_now().ticks >= now.ticks + 5; }));
  auto term = now.term;
  EXPECT_EQ(sent->load(), 0) << "a message of an unstored term left";
  gate->set_open(true);
  ASSERT_TRUE(eventually([&] { return sent->load() > 0; }));
  EXPECT_GE(status_now().term, term);
}

TEST_F(RaftDetached, AVoteIsGrantedOnlyOnceItIsDurable) {
  // Voter 1 of {1, 2} on a disk that does not answer yet: node 2 asks for
  // its vote in term 50. Granting it writes the vote; the reply that says
  // so must not leave before that write is durable.
  raft_actor_config rc;
  rc.core.id = 1;
  rc.tick = 20ms;
  gate->set_open(false);
  auto storage = std::make_unique<gated_storage>(gate);
  bootstrap(*storage, configuration{{1, 2}, {}});
  member = spawn_raft(sys, rc, std::move(storage),
                      sys.spawn(counting_votes, sent), sys.spawn(ignoring, 0));
  message ask;
  ask.type = message_type::vote;
  ask.from = 2;
  ask.to = 1;
  ask.term = 50;
  self->send(member, ask);
  ASSERT_TRUE(gate->wait_started(1));
  ASSERT_TRUE(eventually([&] { return status_now().term == 50; }));
  auto now = status_now();
  ASSERT_TRUE(eventually([&] { return status_now().ticks >= now.ticks + 5; }));
  EXPECT_EQ(sent->load(), 0) << "a vote was granted before it was durable";
  gate->set_open(true);
  ASSERT_TRUE(eventually([&] { return sent->load() == 1; }))
    << "the vote was never granted";
}

} // namespace
} // namespace skep::raft
