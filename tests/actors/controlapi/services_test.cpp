// The control API's service and task requests, answered from a store with no
// actor system: create, update, rollback, list, inspect, remove and task
// lists. A commit is simulated by applying the proposed actions to the same
// store, as the leader would once Raft committed them.

#include "actors/controlapi/services.hpp"
#include "actors/events/store_events.hpp"

#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace skep::controlapi {
namespace {

namespace sc = schema::control;
using store::service_mode;
using store::service_spec;
using store::task_state;

std::string text_of(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

store::cluster_object make_cluster() {
  store::cluster_object c;
  c.id = "cluster-1";
  c.created_at_nanos = 1'000;
  c.ca_secret_key.fill(0x5a);
  c.worker_token = "SWMTKN-1-worker";
  c.manager_token = "SWMTKN-1-manager";
  return c;
}

store::node_object make_node(std::string id, std::string hostname) {
  store::node_object n;
  n.id = std::move(id);
  n.hostname = std::move(hostname);
  n.addr = "10.0.0.1:4242";
  n.engine_version = "0.1.0";
  n.public_key.fill(static_cast<uint8_t>(n.hostname.size()));
  n.created_at_nanos = 2'000;
  n.updated_at_nanos = 2'000;
  return n;
}

service_spec make_spec(std::string name) {
  service_spec spec;
  spec.name = std::move(name);
  spec.container.image = "sleep";
  spec.container.args = {"1000"};
  return spec;
}

store::port_config port(uint16_t published, uint16_t target,
                        std::string protocol = "tcp") {
  store::port_config p;
  p.published = published;
  p.target = target;
  p.protocol = std::move(protocol);
  return p;
}

/// What a request returned now: the failure it carries (a test failure when
/// it is not an error).
failure error_of(const service_answer& a) {
  if (!a.reply || a.reply->root().which() != sc::Reply::ERROR) {
    ADD_FAILURE() << "the answer is not an error";
    return {};
  }
  return skep::from_schema(a.reply->root().getError());
}

/// The one put_service an answer proposes (a test failure otherwise).
store::put_service put_of(const service_answer& a) {
  if (a.reply || a.actions.size() != 1
      || !std::holds_alternative<store::put_service>(a.actions[0])) {
    ADD_FAILURE() << "the answer does not propose exactly one put_service";
    return {};
  }
  return std::get<store::put_service>(a.actions[0]);
}

/// The task ids of a taskList answer, sorted.
std::vector<std::string> task_ids(const service_answer& a) {
  std::vector<std::string> out;
  if (!a.reply || a.reply->root().which() != sc::Reply::TASKS) {
    ADD_FAILURE() << "the answer is not a task list";
    return out;
  }
  for (auto view : a.reply->root().getTasks())
    out.push_back(text_of(view.getTask().getId()));
  std::sort(out.begin(), out.end());
  return out;
}

using ids = std::vector<std::string>;

/// What taskList filters on.
struct task_filter {
  ids services;
  ids nodes;
  ids tasks;
  std::string desired_state;
};

template <class List>
void set_texts(List list, const ids& values) {
  for (unsigned i = 0; i < values.size(); ++i)
    list.set(i, values[i]);
}

/// A swarm with nodes "node-a1" (host-a) and "node-b2" (host-b).
class ServiceRequests : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ok = commit({store::create_cluster{make_cluster()},
                      store::put_node{make_node("node-a1", "host-a"), 0},
                      store::put_node{make_node("node-b2", "host-b"), 0}});
    ASSERT_TRUE(ok) << ok.error().message;
  }

  /// Asks with the request `fill` writes.
  template <class Fill>
  service_answer ask(Fill&& fill) {
    capnp::MallocMessageBuilder b;
    auto req = b.initRoot<sc::Request>();
    fill(req);
    return handle_service_request(db, req.asReader(), now,
                                  [this] { return fresh_ids.at(ids_made++); });
  }

  service_answer create(const service_spec& spec) {
    return ask([&](sc::Request::Builder r) {
      store::to_schema(spec, r.initServiceCreate());
    });
  }

  service_answer update(const std::string& name, const service_spec& spec,
                        uint64_t expected_version = 0, bool force = false) {
    return ask([&](sc::Request::Builder r) {
      auto u = r.initServiceUpdate();
      u.setName(name);
      store::to_schema(spec, u.initSpec());
      u.setExpectedVersion(expected_version);
      u.setForce(force);
    });
  }

  service_answer rollback(const std::string& name) {
    return ask([&](sc::Request::Builder r) {
      auto u = r.initServiceUpdate();
      u.setName(name);
      u.setRollback(true);
    });
  }

  service_answer list() {
    return ask([](sc::Request::Builder r) { r.setServiceList(); });
  }

  service_answer inspect(const ids& names) {
    return ask([&](sc::Request::Builder r) {
      set_texts(
        r.initServiceInspect().initNames(static_cast<unsigned>(names.size())),
        names);
    });
  }

  service_answer remove(const ids& names) {
    return ask([&](sc::Request::Builder r) {
      set_texts(
        r.initServiceRemove().initNames(static_cast<unsigned>(names.size())),
        names);
    });
  }

  service_answer list_tasks(const task_filter& f) {
    return ask([&](sc::Request::Builder r) {
      auto out = r.initTaskList();
      auto size = [](const ids& v) { return static_cast<unsigned>(v.size()); };
      set_texts(out.initServices(size(f.services)), f.services);
      set_texts(out.initNodes(size(f.nodes)), f.nodes);
      set_texts(out.initTasks(size(f.tasks)), f.tasks);
      out.setDesiredState(f.desired_state);
    });
  }

  /// Applies `actions` as the next committed entry.
  result<std::vector<store::change>>
  commit(const std::vector<store::action>& actions) {
    return db.apply(++index, actions);
  }

  /// Creates `spec` through the API and commits it; the new service's id.
  std::string add(const service_spec& spec) {
    auto a = create(spec);
    if (a.reply) {
      ADD_FAILURE() << "create " << spec.name
                    << " was refused: " << error_of(a).message;
      return {};
    }
    auto ok = commit(a.actions);
    EXPECT_TRUE(ok) << ok.error().message;
    return text_of(a.on_commit.root().getCreated());
  }

  /// Updates through the API and commits it.
  void change(const std::string& name, const service_spec& spec) {
    auto a = update(name, spec);
    ASSERT_FALSE(a.reply) << error_of(a).message;
    auto ok = commit(a.actions);
    ASSERT_TRUE(ok) << ok.error().message;
  }

  /// Puts a task of `service_id` in `slot` on `node_id` (empty: not placed).
  void add_task(std::string id, std::string service_id, uint64_t slot,
                std::string node_id, task_state state,
                task_state desired = task_state::running) {
    store::task_object t;
    t.id = std::move(id);
    t.service_id = std::move(service_id);
    t.slot = slot;
    t.node_id = std::move(node_id);
    t.spec_version = 1;
    t.container.image = "sleep";
    t.desired_state = desired;
    t.status.state = state;
    t.created_at_nanos = now;
    auto ok = commit({store::put_task{std::move(t), 0}});
    ASSERT_TRUE(ok) << ok.error().message;
  }

  /// Services web (2 replicas) and api, with tasks:
  /// - web-t1: slot 1 on host-a, running;
  /// - web-t2: slot 2 on host-b, running;
  /// - web-t0: slot 1 on host-a, shut down (what web-t1 replaced);
  /// - api-t1: slot 1, pending, not placed.
  void add_tasks() {
    auto web = make_spec("web");
    web.replicas = 2;
    web_id = add(web);
    api_id = add(make_spec("api"));
    add_task("web-t1", web_id, 1, "node-a1", task_state::running);
    add_task("web-t2", web_id, 2, "node-b2", task_state::running);
    add_task("web-t0", web_id, 1, "node-a1", task_state::shutdown,
             task_state::shutdown);
    add_task("api-t1", api_id, 1, "", task_state::pending);
  }

  store::store db;
  uint64_t index = 0;
  int64_t now = 5'000;
  /// The ids new services get, in order: the first two share a prefix.
  ids fresh_ids{"a1b2c3", "a1x9y8", "q7r6s5", "z0z0z0"};
  size_t ids_made = 0;
  std::string web_id;
  std::string api_id;
};

// -- create -------------------------------------------------------------------

TEST_F(ServiceRequests, CreateProposesANewServiceAtVersionZero) {
  auto spec = make_spec("web");
  auto a = create(spec);
  auto put = put_of(a);
  EXPECT_EQ(put.expected_version, 0u);
  EXPECT_EQ(put.service.id, "a1b2c3");
  EXPECT_TRUE(put.service.spec == spec);
  EXPECT_FALSE(put.service.previous_spec);
  EXPECT_EQ(put.service.spec_version, 1u);
  EXPECT_EQ(put.service.created_at_nanos, now);
  EXPECT_EQ(put.service.updated_at_nanos, now);
  ASSERT_EQ(a.on_commit.root().which(), sc::Reply::CREATED);
  EXPECT_EQ(text_of(a.on_commit.root().getCreated()), "a1b2c3");
  EXPECT_TRUE(db.services().empty()) << "nothing is written before commit";
  auto ok = commit(a.actions);
  ASSERT_TRUE(ok) << ok.error().message;
  auto found = db.find_service("web");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ((*found)->id, "a1b2c3");
  EXPECT_EQ((*found)->version, index);
}

TEST_F(ServiceRequests, CreateRefusesANameInUse) {
  auto web = add(make_spec("web"));
  auto again = make_spec("web");
  again.container.image = "other";
  auto a = create(again);
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::already_exists);
  EXPECT_TRUE(contains(why.message, "'web'")) << why.message;
  EXPECT_TRUE(contains(why.message, web)) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, CreateRefusesAnUnknownConstraintKey) {
  auto spec = make_spec("web");
  spec.constraints = {"node.hostname==host-a", "node.colour==red"};
  auto a = create(spec);
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "node.colour")) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, CreateRefusesAPortPublishedTwice) {
  auto spec = make_spec("web");
  spec.ports = {port(8080, 80), port(8080, 81)};
  auto a = create(spec);
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "8080/tcp")) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, CreateAcceptsOnePortOverTcpAndUdp) {
  auto spec = make_spec("dns");
  spec.ports
    = {port(53, 53, "tcp"), port(53, 53, "udp"), port(0, 9000), port(0, 9001)};
  auto put = put_of(create(spec));
  EXPECT_EQ(put.service.spec.ports.size(), 4u);
}

TEST_F(ServiceRequests, CreateRefusesAPortAnotherServiceUses) {
  auto web = make_spec("web");
  web.ports = {port(8080, 80)};
  auto web_id = add(web);
  auto api = make_spec("api");
  api.ports = {port(9090, 90), port(8080, 8080)};
  auto a = create(api);
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::already_exists);
  EXPECT_TRUE(contains(why.message, "8080")) << why.message;
  EXPECT_TRUE(contains(why.message, "'web'")) << why.message;
  EXPECT_TRUE(contains(why.message, web_id)) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, CreateAcceptsAPortAnotherServiceUsesOverUdp) {
  auto web = make_spec("web");
  web.ports = {port(8080, 80, "tcp")};
  add(web);
  auto api = make_spec("api");
  api.ports = {port(8080, 80, "udp")};
  auto a = create(api);
  EXPECT_FALSE(a.reply);
  EXPECT_EQ(a.actions.size(), 1u);
}

TEST_F(ServiceRequests, CreateRefusesReplicasMaxPerNodeForAGlobalService) {
  auto spec = make_spec("agent");
  spec.mode = service_mode::global;
  spec.max_replicas_per_node = 1;
  auto a = create(spec);
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "--replicas-max-per-node")) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, CreateRefusesAnEmptyImage) {
  auto spec = make_spec("web");
  spec.container.image.clear();
  auto a = create(spec);
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "image")) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, CreateRefusesAnInvalidName) {
  auto a = create(make_spec("-web"));
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "\"-web\"")) << why.message;
  EXPECT_TRUE(a.actions.empty());
  EXPECT_EQ(ids_made, 0u) << "no id is drawn for a refused service";
}

// -- update -------------------------------------------------------------------

TEST_F(ServiceRequests, UpdateOfReplicasKeepsTheSpecVersion) {
  auto original = make_spec("web");
  auto id = add(original);
  auto created = *db.service(id);
  auto scaled = original;
  scaled.replicas = 3;
  now = 9'000;
  auto a = update("web", scaled);
  auto put = put_of(a);
  EXPECT_EQ(put.expected_version, created.version);
  EXPECT_EQ(put.service.id, id);
  EXPECT_TRUE(put.service.spec == scaled);
  ASSERT_TRUE(put.service.previous_spec);
  EXPECT_TRUE(*put.service.previous_spec == original);
  EXPECT_EQ(put.service.spec_version, 1u);
  EXPECT_EQ(put.service.created_at_nanos, created.created_at_nanos);
  EXPECT_EQ(put.service.updated_at_nanos, 9'000);
  EXPECT_EQ(a.on_commit.root().which(), sc::Reply::DONE);
  auto ok = commit(a.actions);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(db.service(id)->spec.replicas, 3u);
}

TEST_F(ServiceRequests, UpdateOfTheImageBumpsTheSpecVersion) {
  auto spec = make_spec("web");
  add(spec);
  spec.container.image = "sleep2";
  EXPECT_EQ(put_of(update("web", spec)).service.spec_version, 2u);
}

TEST_F(ServiceRequests, UpdateOfTheEnvironmentBumpsTheSpecVersion) {
  auto spec = make_spec("web");
  add(spec);
  spec.container.env = {"MODE=fast"};
  EXPECT_EQ(put_of(update("web", spec)).service.spec_version, 2u);
}

TEST_F(ServiceRequests, ForcedUpdateBumpsTheSpecVersion) {
  auto spec = make_spec("web");
  add(spec);
  auto put = put_of(update("web", spec, 0, true));
  EXPECT_EQ(put.service.spec_version, 2u);
  EXPECT_TRUE(put.service.spec == spec);
}

TEST_F(ServiceRequests, UpdateRefusesARename) {
  add(make_spec("web"));
  auto a = update("web", make_spec("www"));
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "web")) << why.message;
  EXPECT_TRUE(contains(why.message, "www")) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, UpdateRefusesAModeChange) {
  add(make_spec("web"));
  auto global = make_spec("web");
  global.mode = service_mode::global;
  auto a = update("web", global);
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "mode")) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, UpdateAtTheVersionReadIsProposedAtThatVersion) {
  auto spec = make_spec("web");
  auto id = add(spec);
  auto read = db.service(id)->version;
  spec.replicas = 2;
  auto a = update(id, spec, read);
  EXPECT_EQ(put_of(a).expected_version, read);
  EXPECT_TRUE(commit(a.actions));
}

TEST_F(ServiceRequests, UpdateAtAnotherVersionSaysToInspectAgain) {
  auto spec = make_spec("web");
  auto id = add(spec);
  auto read = db.service(id)->version;
  spec.replicas = 2;
  change("web", spec);
  spec.replicas = 5;
  auto a = update("web", spec, read);
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "inspect it again")) << why.message;
  EXPECT_TRUE(contains(why.message, std::to_string(read))) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, UpdateProposedBeforeAnotherCommitsIsRefusedByTheStore) {
  auto spec = make_spec("web");
  auto id = add(spec);
  auto first = spec;
  first.replicas = 2;
  auto second = spec;
  second.replicas = 3;
  auto late = update("web", second);
  change("web", first);
  auto refused = commit(late.actions);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
  EXPECT_EQ(db.service(id)->spec.replicas, 2u);
}

TEST_F(ServiceRequests, UpdateOfAnUnknownServiceIsNotFound) {
  add(make_spec("web"));
  auto a = update("nosuch", make_spec("nosuch"));
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::not_found);
  EXPECT_TRUE(contains(why.message, "nosuch")) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, UpdateRefusesAPortAnotherServiceUses) {
  auto web = make_spec("web");
  web.ports = {port(8080, 80)};
  add(web);
  auto api = make_spec("api");
  add(api);
  api.ports = {port(8080, 80)};
  auto why = error_of(update("api", api));
  EXPECT_EQ(why.code, errc::already_exists);
  EXPECT_TRUE(contains(why.message, "'web'")) << why.message;
}

TEST_F(ServiceRequests, UpdateKeepsItsOwnPublishedPorts) {
  auto web = make_spec("web");
  web.ports = {port(8080, 80)};
  add(web);
  web.replicas = 4;
  auto put = put_of(update("web", web));
  EXPECT_EQ(put.service.spec.ports.size(), 1u);
  EXPECT_EQ(put.service.spec_version, 1u);
}

TEST_F(ServiceRequests, UpdateRefusesAnEmptyImage) {
  auto spec = make_spec("web");
  add(spec);
  spec.container.image.clear();
  auto a = update("web", spec);
  EXPECT_EQ(error_of(a).code, errc::invalid_argument);
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, RollbackWithoutAPreviousSpecIsRefused) {
  add(make_spec("web"));
  auto a = rollback("web");
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "no previous spec")) << why.message;
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, RollbackRestoresThePreviousSpec) {
  auto original = make_spec("web");
  auto id = add(original);
  auto updated = original;
  updated.container.image = "sleep2";
  change("web", updated);
  ASSERT_EQ(db.service(id)->spec_version, 2u);
  auto a = rollback("web");
  auto put = put_of(a);
  EXPECT_EQ(put.expected_version, db.service(id)->version);
  EXPECT_TRUE(put.service.spec == original);
  ASSERT_TRUE(put.service.previous_spec);
  EXPECT_TRUE(*put.service.previous_spec == updated);
  EXPECT_EQ(put.service.spec_version, 3u) << "tasks run the old image again";
  ASSERT_TRUE(commit(a.actions));
  EXPECT_EQ(db.service(id)->spec.container.image, "sleep");
}

// -- list and inspect ---------------------------------------------------------

TEST_F(ServiceRequests, ListCountsRunningTasksAndReplicas) {
  add_tasks();
  // Running, but being stopped: not counted.
  add_task("web-t3", web_id, 2, "node-b2", task_state::running,
           task_state::shutdown);
  auto a = list();
  ASSERT_TRUE(a.reply);
  ASSERT_EQ(a.reply->root().which(), sc::Reply::SERVICES);
  auto views = a.reply->root().getServices();
  ASSERT_EQ(views.size(), 2u);
  // Sorted by name: api, then web.
  EXPECT_EQ(text_of(views[0].getService().getSpec().getName()), "api");
  EXPECT_EQ(views[0].getRunningTasks(), 0u);
  EXPECT_EQ(views[0].getDesiredTasks(), 1u);
  EXPECT_EQ(text_of(views[1].getService().getId()), web_id);
  EXPECT_EQ(views[1].getRunningTasks(), 2u);
  EXPECT_EQ(views[1].getDesiredTasks(), 2u);
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, GlobalServiceWantsItsLiveTasks) {
  auto spec = make_spec("agent");
  spec.mode = service_mode::global;
  auto id = add(spec);
  add_task("agent-a", id, 0, "node-a1", task_state::running);
  add_task("agent-b", id, 0, "node-b2", task_state::starting);
  add_task("agent-old", id, 0, "node-b2", task_state::failed,
           task_state::shutdown);
  auto a = inspect({"agent"});
  ASSERT_TRUE(a.reply);
  ASSERT_EQ(a.reply->root().which(), sc::Reply::SERVICES);
  auto view = a.reply->root().getServices()[0];
  EXPECT_EQ(view.getRunningTasks(), 1u);
  EXPECT_EQ(view.getDesiredTasks(), 2u) << "one per node with a live task";
}

TEST_F(ServiceRequests, InspectFindsServicesByNameIdAndIdPrefix) {
  auto web = add(make_spec("web"));
  auto api = add(make_spec("api"));
  ASSERT_EQ(web, "a1b2c3");
  ASSERT_EQ(api, "a1x9y8");
  auto a = inspect({"web", "a1x", web});
  ASSERT_TRUE(a.reply);
  ASSERT_EQ(a.reply->root().which(), sc::Reply::SERVICES);
  auto views = a.reply->root().getServices();
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(text_of(views[0].getService().getId()), web);
  EXPECT_EQ(text_of(views[1].getService().getId()), api);
  EXPECT_EQ(text_of(views[2].getService().getId()), web);
  EXPECT_EQ(text_of(views[1].getService().getSpec().getName()), "api");
  EXPECT_TRUE(a.actions.empty());
}

TEST_F(ServiceRequests, InspectOfAnUnknownServiceIsNotFound) {
  add(make_spec("web"));
  auto why = error_of(inspect({"web", "nosuch"}));
  EXPECT_EQ(why.code, errc::not_found);
  EXPECT_TRUE(contains(why.message, "nosuch")) << why.message;
}

TEST_F(ServiceRequests, InspectOfAnAmbiguousPrefixIsRefused) {
  add(make_spec("web"));
  add(make_spec("api"));
  auto why = error_of(inspect({"a1"}));
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "ambiguous")) << why.message;
}

// -- remove -------------------------------------------------------------------

TEST_F(ServiceRequests, RemoveProposesEachServiceAtTheVersionRead) {
  auto web = add(make_spec("web"));
  auto api = add(make_spec("api"));
  auto a = remove({"web", api});
  EXPECT_FALSE(a.reply);
  ASSERT_EQ(a.actions.size(), 2u);
  auto first = std::get_if<store::remove_service>(&a.actions[0]);
  auto second = std::get_if<store::remove_service>(&a.actions[1]);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->id, web);
  EXPECT_EQ(first->expected_version, db.service(web)->version);
  EXPECT_EQ(second->id, api);
  EXPECT_EQ(second->expected_version, db.service(api)->version);
  EXPECT_EQ(a.on_commit.root().which(), sc::Reply::DONE);
  ASSERT_TRUE(commit(a.actions));
  EXPECT_TRUE(db.services().empty());
}

TEST_F(ServiceRequests, RemoveWithAnUnknownNameRemovesNothing) {
  auto web = add(make_spec("web"));
  auto a = remove({"web", "nosuch"});
  auto why = error_of(a);
  EXPECT_EQ(why.code, errc::not_found);
  EXPECT_TRUE(contains(why.message, "nosuch")) << why.message;
  EXPECT_TRUE(a.actions.empty());
  EXPECT_NE(db.service(web), nullptr);
}

// Naming one service twice (by name and by id) removes it once.
TEST_F(ServiceRequests, RemoveNamingOneServiceTwiceRemovesIt) {
  auto web = add(make_spec("web"));
  auto a = remove({"web", web});
  ASSERT_FALSE(a.reply) << error_of(a).message;
  auto ok = commit(a.actions);
  EXPECT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(db.service(web), nullptr);
}

// -- task list ----------------------------------------------------------------

TEST_F(ServiceRequests, TaskListWithoutFilterHasEveryTask) {
  add_tasks();
  EXPECT_EQ(task_ids(list_tasks({})),
            (ids{"api-t1", "web-t0", "web-t1", "web-t2"}));
}

TEST_F(ServiceRequests, TaskListOfAServiceHasOnlyItsTasks) {
  add_tasks();
  task_filter f;
  f.services = {"web"};
  EXPECT_EQ(task_ids(list_tasks(f)), (ids{"web-t0", "web-t1", "web-t2"}));
  f.services = {api_id};
  EXPECT_EQ(task_ids(list_tasks(f)), (ids{"api-t1"}));
}

TEST_F(ServiceRequests, TaskListOnANodeByHostnameOrId) {
  add_tasks();
  task_filter f;
  f.nodes = {"host-a"};
  EXPECT_EQ(task_ids(list_tasks(f)), (ids{"web-t0", "web-t1"}));
  f.nodes = {"node-b2"};
  EXPECT_EQ(task_ids(list_tasks(f)), (ids{"web-t2"}));
}

TEST_F(ServiceRequests, TaskListOfAServiceOnANode) {
  add_tasks();
  task_filter f;
  f.services = {"web"};
  f.nodes = {"host-b"};
  EXPECT_EQ(task_ids(list_tasks(f)), (ids{"web-t2"}));
}

TEST_F(ServiceRequests, TaskListOfDesiredStateRunning) {
  add_tasks();
  task_filter f;
  f.desired_state = "running";
  EXPECT_EQ(task_ids(list_tasks(f)), (ids{"api-t1", "web-t1", "web-t2"}));
}

TEST_F(ServiceRequests, TaskListOfDesiredStateShutdown) {
  add_tasks();
  task_filter f;
  f.services = {"web"};
  f.desired_state = "shutdown";
  EXPECT_EQ(task_ids(list_tasks(f)), (ids{"web-t0"}));
}

TEST_F(ServiceRequests, TaskListRefusesAnUnknownDesiredState) {
  add_tasks();
  task_filter f;
  f.desired_state = "sleeping";
  auto why = error_of(list_tasks(f));
  EXPECT_EQ(why.code, errc::invalid_argument);
  EXPECT_TRUE(contains(why.message, "'sleeping'")) << why.message;
}

TEST_F(ServiceRequests, TaskListByTaskIdAndPrefix) {
  add_tasks();
  task_filter f;
  f.tasks = {"web-t1", "api"};
  EXPECT_EQ(task_ids(list_tasks(f)), (ids{"api-t1", "web-t1"}));
}

TEST_F(ServiceRequests, TaskListByTaskKeepsTheOtherFilters) {
  add_tasks();
  task_filter f;
  f.tasks = {"web-t1", "web-t2", "api-t1"};
  f.services = {"web"};
  f.nodes = {"host-b"};
  EXPECT_EQ(task_ids(list_tasks(f)), (ids{"web-t2"}));
  task_filter g;
  g.tasks = {"web-t1", "web-t0"};
  g.desired_state = "shutdown";
  EXPECT_EQ(task_ids(list_tasks(g)), (ids{"web-t0"}));
}

TEST_F(ServiceRequests, TaskListOfAnUnknownOrAmbiguousTaskIsRefused) {
  add_tasks();
  task_filter f;
  f.tasks = {"nosuch"};
  auto unknown = error_of(list_tasks(f));
  EXPECT_EQ(unknown.code, errc::not_found);
  EXPECT_TRUE(contains(unknown.message, "nosuch")) << unknown.message;
  f.tasks = {"web-t"};
  auto ambiguous = error_of(list_tasks(f));
  EXPECT_EQ(ambiguous.code, errc::invalid_argument);
  EXPECT_TRUE(contains(ambiguous.message, "ambiguous")) << ambiguous.message;
}

TEST_F(ServiceRequests, TaskListOfAnUnknownServiceOrNodeIsNotFound) {
  add_tasks();
  task_filter f;
  f.services = {"nosuch"};
  EXPECT_EQ(error_of(list_tasks(f)).code, errc::not_found);
  task_filter g;
  g.nodes = {"host-z"};
  auto why = error_of(list_tasks(g));
  EXPECT_EQ(why.code, errc::not_found);
  EXPECT_TRUE(contains(why.message, "host-z")) << why.message;
}

TEST_F(ServiceRequests, TaskViewNamesItsServiceAndNode) {
  add_tasks();
  task_filter f;
  f.tasks = {"web-t2", "api-t1"};
  auto a = list_tasks(f);
  ASSERT_TRUE(a.reply);
  ASSERT_EQ(a.reply->root().which(), sc::Reply::TASKS);
  auto views = a.reply->root().getTasks();
  ASSERT_EQ(views.size(), 2u);
  for (auto view : views) {
    auto id = text_of(view.getTask().getId());
    if (id == "web-t2") {
      EXPECT_EQ(text_of(view.getServiceName()), "web");
      EXPECT_EQ(text_of(view.getNodeHostname()), "host-b");
      EXPECT_EQ(text_of(view.getTask().getServiceId()), web_id);
      EXPECT_EQ(view.getTask().getStatus().getState(),
                schema::store::TaskState::RUNNING);
    } else {
      EXPECT_EQ(id, "api-t1");
      EXPECT_EQ(text_of(view.getServiceName()), "api");
      EXPECT_EQ(text_of(view.getNodeHostname()), "") << "not placed yet";
    }
  }
}

TEST_F(ServiceRequests, TaskViewOfARemovedServiceHasNoServiceName) {
  add_tasks();
  ASSERT_TRUE(commit(remove({"api"}).actions));
  task_filter f;
  f.tasks = {"api-t1"};
  auto a = list_tasks(f);
  ASSERT_EQ(task_ids(a), (ids{"api-t1"}));
  EXPECT_EQ(text_of(a.reply->root().getTasks()[0].getServiceName()), "");
}

// -- other requests -----------------------------------------------------------

TEST_F(ServiceRequests, OtherRequestsAreNotServiceRequests) {
  EXPECT_TRUE(is_service_request(sc::Request::SERVICE_CREATE));
  EXPECT_TRUE(is_service_request(sc::Request::TASK_LIST));
  EXPECT_FALSE(is_service_request(sc::Request::NODE_LIST));
  EXPECT_FALSE(is_service_request(sc::Request::SERVICE_LOGS));
  auto why = error_of(ask([](sc::Request::Builder r) { r.setNodeList(); }));
  EXPECT_EQ(why.code, errc::unsupported);
}

} // namespace
} // namespace skep::controlapi

namespace skep::controlapi {
namespace {

std::string attribute(const event& e, const std::string& key) {
  for (const auto& [k, v] : e.attributes)
    if (k == key)
      return v;
  return {};
}

// What `skep events` shows of store changes: type, action, names, the
// service a task belongs to, its node by id and hostname, the Raft index.
TEST_F(ServiceRequests, StoreChangesBecomeEventsWithTheirNames) {
  auto spec = make_spec("web");
  spec.replicas = 2;
  auto a = create(spec);
  ASSERT_FALSE(a.reply);
  auto created = commit(a.actions);
  ASSERT_TRUE(created) << created.error().message;
  auto service_events = events_of(db, *created, 7, 123);
  ASSERT_EQ(service_events.size(), 1u);
  EXPECT_EQ(service_events[0].type, "service");
  EXPECT_EQ(service_events[0].action, "create");
  EXPECT_EQ(service_events[0].name, "web");
  EXPECT_EQ(service_events[0].desired, "replicated 2");
  EXPECT_EQ(service_events[0].raft_index, 7u);
  EXPECT_EQ(service_events[0].time_nanos, 123);
  auto service_id = text_of(a.on_commit.root().getCreated());

  store::task_object t;
  t.id = "web-t1";
  t.service_id = service_id;
  t.slot = 1;
  t.node_id = "node-b2";
  t.desired_state = task_state::running;
  t.status.state = task_state::failed;
  t.status.err = "exit 3";
  t.spec_version = 1;
  t.container.image = "sleep";
  t.created_at_nanos = now;
  auto put = commit({store::put_task{t, 0}});
  ASSERT_TRUE(put) << put.error().message;
  auto task_events = events_of(db, *put, 8, 124);
  ASSERT_EQ(task_events.size(), 1u);
  const auto& e = task_events[0];
  EXPECT_EQ(e.type, "task");
  EXPECT_EQ(e.action, "create");
  EXPECT_EQ(e.name, "web.1");
  EXPECT_EQ(e.service, "web");
  EXPECT_EQ(attribute(e, "state"), "failed");
  EXPECT_EQ(attribute(e, "error"), "exit 3");
  EXPECT_EQ(attribute(e, std::string(attr_node)), "node-b2");
  EXPECT_EQ(attribute(e, std::string(attr_hostname)), "host-b");

  // The cluster object is no event type; a node update is.
  auto node = make_node("node-a1", "host-a");
  node.status = store::node_status::down;
  node.status_message = "heartbeat failure";
  auto marked = commit({store::put_node{node, 1}});
  ASSERT_TRUE(marked) << marked.error().message;
  auto node_events = events_of(db, *marked, 9, 125);
  ASSERT_EQ(node_events.size(), 1u);
  EXPECT_EQ(node_events[0].type, "node");
  EXPECT_EQ(node_events[0].action, "update");
  EXPECT_EQ(node_events[0].name, "host-a");
  EXPECT_EQ(attribute(node_events[0], "status"), "down");
  EXPECT_EQ(attribute(node_events[0], "message"), "heartbeat failure");
}

} // namespace
} // namespace skep::controlapi
