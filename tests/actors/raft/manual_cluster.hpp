#pragma once

#include "actors/raft/core.hpp"
#include "actors/raft/memory_storage.hpp"

#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace skep::raft::testing {

/// A few cores wired by hand for unit tests: the test decides which message
/// is delivered, dropped or inspected. Readies are handled at once (persist,
/// collect messages, record applied entries).
class manual_cluster {
 public:
  using filter = std::function<bool(const message&)>;

  manual_cluster(std::vector<node_id> voters, core_config base = {}) {
    configuration config;
    config.voters = voters;
    for (auto id : voters) {
      bootstrap(members_[id].storage, config);
      start(id, base);
    }
  }

  /// Creates `id` from its current storage (after bootstrap or tampering).
  void start(node_id id, core_config base = {}) {
    auto& m = members_[id];
    base.id = id;
    base.seed = id;
    m.raft.emplace(base, m.storage);
    flush(id);
  }

  core& operator[](node_id id) { return *members_.at(id).raft; }
  memory_storage& storage(node_id id) { return members_.at(id).storage; }
  const std::vector<entry>& applied(node_id id) {
    return members_.at(id).applied;
  }

  /// Handles every ready of `id`; outgoing messages go to the outbox.
  void flush(node_id id) {
    auto& m = members_.at(id);
    while (m.raft->has_ready()) {
      auto rd = m.raft->take_ready();
      if (rd.snapshot)
        m.storage.save_snapshot(*rd.snapshot);
      m.storage.append(rd.entries);
      if (rd.state)
        m.storage.save_hard_state(*rd.state);
      for (auto& msg : rd.messages)
        outbox.push_back(msg);
      m.applied.insert(m.applied.end(), rd.committed.begin(),
                       rd.committed.end());
      for (auto& read : rd.reads)
        reads.push_back(read);
      m.raft->advance(rd);
    }
  }

  /// Delivers outbox messages (and the replies they cause) until none is
  /// left; messages for which `keep` is false are dropped.
  void deliver(const filter& keep = [](const message&) { return true; }) {
    for (int guard = 0; guard < 10000 && !outbox.empty(); ++guard) {
      auto msg = outbox.front();
      outbox.erase(outbox.begin());
      if (!keep(msg) || members_.count(msg.to) == 0)
        continue;
      (*this)[msg.to].step(msg);
      flush(msg.to);
    }
  }

  /// Makes `id` start an election now and runs it to the end.
  void elect(
    node_id id, const filter& keep = [](const message&) { return true; }) {
    message timeout;
    timeout.type = message_type::timeout_now;
    timeout.to = id;
    timeout.term = (*this)[id].term();
    (*this)[id].step(timeout);
    flush(id);
    deliver(keep);
  }

  /// Proposes `payload` on `id` and handles the ready.
  result<index_t> propose(node_id id, bytes payload) {
    auto result = (*this)[id].propose(std::move(payload));
    flush(id);
    return result;
  }

  void tick(node_id id, int times = 1) {
    for (int i = 0; i < times; ++i) {
      (*this)[id].tick();
      flush(id);
    }
  }

  std::vector<message> outbox;
  std::vector<read_state> reads;

 private:
  struct member {
    memory_storage storage;
    std::optional<core> raft;
    std::vector<entry> applied;
  };
  std::map<node_id, member> members_;
};

/// Keeps only messages between members of `group`.
inline manual_cluster::filter only(std::vector<node_id> group) {
  return [group](const message& msg) {
    auto in = [&](node_id id) {
      for (auto g : group)
        if (g == id)
          return true;
      return false;
    };
    return in(msg.from) && in(msg.to);
  };
}

} // namespace skep::raft::testing
