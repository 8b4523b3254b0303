#pragma once

// Raft members as actors under the test coordinator: virtual time drives
// ticks, a network actor routes messages and can cut members off.

#include "actors/raft/memory_storage.hpp"
#include "actors/raft/raft_actor.hpp"
#include "actors/raft/sqlite_storage.hpp"
#include "tests/support/actor_fixture.hpp"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace skep::raft::testing {

using namespace std::chrono_literals;

/// Who may talk to whom; shared by the test and its network actor.
struct network_state {
  std::map<node_id, raft_actor> members;
  std::set<node_id> isolated;
  size_t delivered = 0;
};

inline raft_outbox::behavior_type network(raft_outbox::pointer self,
                                          std::shared_ptr<network_state> net) {
  return {
    [self, net](message& msg) {
      if (net->isolated.count(msg.from) || net->isolated.count(msg.to))
        return; // dropped
      auto it = net->members.find(msg.to);
      if (it == net->members.end())
        return;
      ++net->delivered;
      self->send(it->second, std::move(msg));
    },
  };
}

/// What one member's state machine was handed.
struct applied_log {
  std::vector<entry> entries;
  std::optional<snapshot> restored;
  int restores = 0;
  /// Entries handed before the latest restore.
  std::size_t entries_before_restore = 0;
  /// Statuses the member told, in order.
  std::vector<status> statuses;
};

inline apply_sink::behavior_type recorder(apply_sink::pointer,
                                          std::shared_ptr<applied_log> log) {
  return {
    [log](atom::apply, std::vector<entry>& batch) {
      for (auto& e : batch)
        log->entries.push_back(std::move(e));
    },
    [log](atom::restore, snapshot& snap) {
      log->restored = std::move(snap);
      ++log->restores;
      log->entries_before_restore = log->entries.size();
    },
    [log](atom::status, status& s) { log->statuses.push_back(std::move(s)); },
  };
}

class RaftActor : public test::actor_fixture {
 protected:
  RaftActor() : net(std::make_shared<network_state>()) {
    outbox = sys.spawn(network, net);
  }

  ~RaftActor() override {
    for (auto& [id, member] : net->members)
      caf::anon_send_exit(member, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(outbox, caf::exit_reason::user_shutdown);
    run();
  }

  raft_actor_config config_for(node_id id) {
    raft_actor_config cfg;
    cfg.core.id = id;
    cfg.core.seed = 1000 + id;
    cfg.tick = 50ms;
    return cfg;
  }

  void add_member(node_id id, std::unique_ptr<log_storage> storage) {
    add_member(id, std::move(storage), config_for(id));
  }

  void add_member(node_id id, std::unique_ptr<log_storage> storage,
                  raft_actor_config cfg) {
    auto log = std::make_shared<applied_log>();
    applied[id] = log;
    net->members[id]
      = spawn_raft_scheduled(sys, std::move(cfg), std::move(storage), outbox,
                             sys.spawn(recorder, log));
  }

  void start_cluster(std::vector<node_id> ids) {
    configuration founders{ids, {}};
    for (auto id : ids) {
      auto storage = std::make_unique<memory_storage>();
      bootstrap(*storage, founders);
      add_member(id, std::move(storage));
    }
    run();
  }

  /// Starts member 1 alone over the SQLite file at `path`, bootstrapping the
  /// file when it is new.
  void start_sqlite_member(const std::string& path) {
    start_sqlite_member(path, config_for(1));
  }

  void start_sqlite_member(const std::string& path, raft_actor_config cfg) {
    auto storage = sqlite_storage::open(path);
    ASSERT_TRUE(storage) << storage.error().message;
    if ((*storage)->snapshot_metadata().config.voters.empty())
      bootstrap(**storage, configuration{{1}, {}});
    add_member(1, std::move(*storage), std::move(cfg));
    run();
  }

  /// Stops member `id` and forgets it, as a process exit would.
  void stop_member(node_id id) {
    caf::anon_send_exit(net->members.at(id), caf::exit_reason::user_shutdown);
    run();
    net->members.erase(id);
  }

  status status_of(node_id id) {
    auto st = request<status>(net->members.at(id), atom::status_v);
    return st ? *st : status{};
  }

  /// Advances virtual time tick by tick until one reachable member leads;
  /// returns its id, or 0 when none does within `limit` ticks.
  node_id await_leader(int limit = 200) {
    for (int i = 0; i < limit; ++i) {
      for (auto& [id, member] : net->members)
        if (!net->isolated.count(id) && status_of(id).role == role::leader)
          return id;
      advance(50ms);
    }
    return 0;
  }

  outcome propose(node_id on, const std::string& text) {
    auto out = request<outcome>(net->members.at(on), atom::propose_v,
                                bytes(text.begin(), text.end()));
    return out ? *out : outcome::refused("no reply");
  }

  /// Asks member `on` to store `state` as its snapshot at `index`.
  outcome snapshot_at(node_id on, index_t index, const std::string& state) {
    auto out = request<outcome>(net->members.at(on), atom::snapshot_v, index,
                                bytes(state.begin(), state.end()));
    return out ? *out : outcome::refused("no reply");
  }

  outcome verify(node_id on) {
    auto out = request<outcome>(net->members.at(on), atom::verify_v);
    return out ? *out : outcome::refused("no reply");
  }

  std::vector<std::string> payloads_applied_by(node_id id) {
    std::vector<std::string> out;
    for (const auto& e : applied.at(id)->entries)
      if (e.type == entry_type::normal)
        out.emplace_back(e.payload.begin(), e.payload.end());
    return out;
  }

  std::shared_ptr<network_state> net;
  raft_outbox outbox;
  std::map<node_id, std::shared_ptr<applied_log>> applied;
};

} // namespace skep::raft::testing
