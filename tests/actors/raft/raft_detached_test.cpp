// The raft member as skepd runs it: on a thread of its own, writing
// snapshots from another. Real threads and a real
// SQLite file; conditions are awaited, never slept for.

#include "actors/raft/raft_actor.hpp"
#include "actors/raft/sqlite_storage.hpp"
#include "tests/support/process.hpp"

#include <chrono>
#include <dirent.h>
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

class RaftDetached : public ::testing::Test {
 protected:
  RaftDetached() : sys(cfg), self(sys) {}

  ~RaftDetached() override {
    if (member)
      self->send_exit(member, caf::exit_reason::user_shutdown);
  }

  void start(raft_actor_config rc) {
    auto storage = sqlite_storage::open(path());
    ASSERT_TRUE(storage) << storage.error().message;
    if ((*storage)->snapshot_metadata().config.voters.empty())
      bootstrap(**storage, configuration{{1}, {}});
    member = spawn_raft(sys, rc, std::move(*storage), sys.spawn(nowhere, 0),
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
  auto snaps = test::files_in(path() + "-snapshots");
  ASSERT_EQ(snaps.size(), 1u);
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

} // namespace
} // namespace skep::raft
