#pragma once

// What the tests of the leader-only actors share: store objects, and a
// fixture whose fake manager (fake_manager.hpp) holds a cluster of three
// ready, active nodes.

#include "actors/store/object_id.hpp"
#include "tests/support/actor_fixture.hpp"
#include "tests/support/fake_manager.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <caf/send.hpp>

namespace skep::store {
/// Task states by name in assertion failures.
inline void PrintTo(task_state state, std::ostream* os) {
  *os << to_string(state);
}
} // namespace skep::store

namespace skep::test {

/// The system clock as Unix nanoseconds, for objects a test writes; the
/// actors stamp theirs by their actor clock (logging/clock.hpp), which
/// starts from the system clock too.
inline int64_t unix_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// A swarm with valid keys and tokens.
inline store::cluster_object make_cluster() {
  store::cluster_object c;
  c.id = "cluster-1";
  c.created_at_nanos = 1'000;
  c.ca_secret_key.fill(0x5a);
  c.worker_token = "SWMTKN-1-worker";
  c.manager_token = "SWMTKN-1-manager";
  return c;
}

/// A ready, active worker.
inline store::node_object make_node(const std::string& id) {
  store::node_object n;
  n.id = id;
  n.hostname = "host-" + id;
  n.addr = "10.0.0.1:4242";
  n.status = store::node_status::ready;
  n.avail = store::availability::active;
  n.public_key.fill(7);
  n.created_at_nanos = 2'000;
  n.updated_at_nanos = 2'000;
  return n;
}

/// A replicated service named "svc-ID" with Swarm's default policies.
inline store::service_object make_service(const std::string& id,
                                          uint64_t replicas) {
  store::service_object s;
  s.id = id;
  s.spec.name = "svc-" + id;
  s.spec.container.image = "busybox";
  s.spec.container.args = {"sleep", "1000"};
  s.spec.replicas = replicas;
  s.created_at_nanos = unix_nanos();
  s.updated_at_nanos = s.created_at_nanos;
  return s;
}

/// A task of `service_id` in `slot`, already placed on `node_id`.
inline std::vector<store::action> placed_task(const std::string& id,
                                              const std::string& service_id,
                                              uint64_t slot,
                                              const std::string& node_id) {
  store::task_object t;
  t.id = id;
  t.service_id = service_id;
  t.slot = slot;
  t.spec_version = 1;
  t.container.image = "busybox";
  t.status.state = store::task_state::pending;
  t.status.at_nanos = 4'000;
  t.created_at_nanos = 4'000;
  return {store::put_task{t, 0},
          store::assign_task{id, node_id, 5'000, "assigned"}};
}

/// A status as a worker reports it.
inline store::task_status status_of(store::task_state state,
                                    std::string message,
                                    int64_t at_nanos = unix_nanos()) {
  store::task_status s;
  s.state = state;
  s.at_nanos = at_nanos;
  s.message = std::move(message);
  return s;
}

/// Its desired state is at most running: it holds its slot.
inline bool is_wanted(const store::task_object& t) {
  return t.desired_state <= store::task_state::running;
}

/// How many of `tasks` each node holds.
inline std::map<std::string, size_t>
per_node(const std::vector<store::task_object>& tasks) {
  std::map<std::string, size_t> out;
  for (const auto& t : tasks)
    ++out[t.node_id];
  return out;
}

/// How many of `actions` are an `Action`.
template <class Action>
size_t count_of(const std::vector<store::action>& actions) {
  return static_cast<size_t>(
    std::count_if(actions.begin(), actions.end(), [](const auto& a) {
      return std::holds_alternative<Action>(a);
    }));
}

/// A cluster with three ready, active nodes in the store of a fake manager.
class leader_fixture : public actor_fixture {
 protected:
  leader_fixture() : m(std::make_shared<fake_manager_state>()) {
    manager = spawn_fake_manager(sys, m);
    auto seeded = write({store::create_cluster{make_cluster()},
                         store::put_node{make_node("node-a"), 0},
                         store::put_node{make_node("node-b"), 0},
                         store::put_node{make_node("node-c"), 0}});
    EXPECT_TRUE(seeded.ok) << seeded.error;
    m->writes.clear();
  }

  ~leader_fixture() override {
    for (const auto& a : started)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(manager, caf::exit_reason::user_shutdown);
    run();
    m->subscribers.clear();
    m->held.clear();
  }

  /// What the manager gives its leader-only actors.
  controlapi::leader_link link() const {
    return {m->db, caf::actor_cast<decltype(controlapi::leader_link::manager)>(
                     manager)};
  }

  /// Keeps `a` told of store changes, after those subscribed before it.
  caf::actor subscribe(caf::actor a) {
    m->subscribers.push_back(a);
    started.push_back(a);
    run();
    return a;
  }

  /// Writes through the fake manager as an operator's request would, and
  /// runs every actor until nothing is left to do.
  controlapi::write_verdict write(std::vector<store::action> actions) {
    auto v = request<controlapi::write_verdict>(
      manager, atom::write_v,
      controlapi::write_request{std::move(actions), "test"});
    return v ? *v : controlapi::write_verdict{false, "no reply"};
  }

  /// Applies the writes the fake manager held, and runs.
  void release_held_writes() {
    m->hold.clear();
    caf::anon_send(manager, atom::flush_v);
    run();
  }

  /// Creates `s`, which must not exist.
  void put_service(const store::service_object& s) {
    auto v = write({store::put_service{s, 0}});
    ASSERT_TRUE(v.ok) << v.error;
  }

  /// The stored service, or an empty one.
  store::service_object service(const std::string& id) {
    return m->db->read([&](const store::store& db) {
      const auto* s = db.service(id);
      return s ? *s : store::service_object{};
    });
  }

  /// Changes the replicas of a stored service.
  void scale(const std::string& id, uint64_t replicas) {
    auto s = service(id);
    auto version = s.version;
    s.spec.replicas = replicas;
    auto v = write({store::put_service{s, version}});
    ASSERT_TRUE(v.ok) << v.error;
  }

  /// Every task of the service, by slot.
  std::vector<store::task_object> tasks_of(const std::string& service_id) {
    return m->db->read([&](const store::store& db) {
      std::vector<store::task_object> out;
      for (const auto* t : db.tasks_of_service(service_id))
        out.push_back(*t);
      return out;
    });
  }

  /// The tasks of the service whose desired state is at most running.
  std::vector<store::task_object> wanted(const std::string& service_id) {
    auto all = tasks_of(service_id);
    std::vector<store::task_object> out;
    std::copy_if(all.begin(), all.end(), std::back_inserter(out), is_wanted);
    return out;
  }

  /// The stored task, or an empty one.
  store::task_object task(const std::string& id) {
    return m->db->read([&](const store::store& db) {
      const auto* t = db.task(id);
      return t ? *t : store::task_object{};
    });
  }

  std::shared_ptr<fake_manager_state> m;
  caf::actor manager;
  /// Stopped at teardown.
  std::vector<caf::actor> started;
};

} // namespace skep::test
