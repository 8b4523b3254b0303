// The replicated state machine: batches of actions applied all-or-nothing,
// optimistic versions, snapshots, node lookups, hostile bytes, determinism.

#include "actors/store/store.hpp"
#include "messages/message.hpp"
#include "messages/store.capnp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <tuple>

#include <capnp/any.h>
#include <capnp/message.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

namespace skep::store {
namespace {

namespace sc = schema::store;

cluster_object make_cluster(std::string id = "cluster-1") {
  cluster_object c;
  c.id = std::move(id);
  c.created_at_nanos = 1'000;
  c.ca_secret_key.fill(0x5a);
  c.worker_token = "SWMTKN-1-worker";
  c.manager_token = "SWMTKN-1-manager";
  return c;
}

node_object make_node(std::string id, std::string hostname) {
  node_object n;
  n.id = std::move(id);
  n.hostname = std::move(hostname);
  n.addr = "10.0.0.1:4242";
  n.engine_version = "0.1.0";
  n.public_key.fill(static_cast<uint8_t>(n.id.size()));
  n.created_at_nanos = 2'000;
  n.updated_at_nanos = 2'000;
  return n;
}

service_object make_service(std::string id, std::string name) {
  service_object svc;
  svc.id = std::move(id);
  svc.spec.name = std::move(name);
  svc.spec.container.image = "sleep";
  svc.spec.container.args = {"1000"};
  svc.created_at_nanos = 3'000;
  svc.updated_at_nanos = 3'000;
  return svc;
}

task_object make_task(std::string id, std::string service_id, uint64_t slot,
                      int64_t created_at_nanos = 4'000) {
  task_object t;
  t.id = std::move(id);
  t.service_id = std::move(service_id);
  t.slot = slot;
  t.spec_version = 1;
  t.container.image = "sleep";
  t.container.args = {"1000"};
  t.status.state = task_state::pending;
  t.status.at_nanos = created_at_nanos;
  t.created_at_nanos = created_at_nanos;
  return t;
}

// What a store holds, without its applied index.
struct contents {
  std::optional<cluster_object> cluster;
  std::vector<node_object> nodes;
  std::vector<service_object> services;
  std::vector<task_object> tasks;

  friend bool operator==(const contents& x, const contents& y) {
    return x.cluster == y.cluster && x.nodes == y.nodes
           && x.services == y.services && x.tasks == y.tasks;
  }
};

contents contents_of(const store& s) {
  contents out;
  if (s.cluster())
    out.cluster = *s.cluster();
  for (auto* n : s.nodes())
    out.nodes.push_back(*n);
  for (auto* svc : s.services())
    out.services.push_back(*svc);
  for (auto* t : s.tasks())
    out.tasks.push_back(*t);
  return out;
}

template <class Object>
std::vector<std::string> ids_of(const std::vector<const Object*>& objects) {
  std::vector<std::string> out;
  for (auto* object : objects)
    out.push_back(object->id);
  return out;
}

using ids = std::vector<std::string>;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class StoreTest : public ::testing::Test {
 protected:
  /// Applies `actions` as the next entry, through the wire format.
  result<std::vector<change>> apply(const std::vector<action>& actions) {
    auto bytes = encode_batch(actions);
    return s.apply(++index, bytes.data(), bytes.size());
  }

  /// A swarm with nodes "alpha0001" (host-a) and "beta0002" (host-b).
  void init_swarm() {
    ASSERT_TRUE(apply({create_cluster{make_cluster()},
                       put_node{make_node("alpha0001", "host-a"), 0},
                       put_node{make_node("beta0002", "host-b"), 0}}));
  }

  store s;
  uint64_t index = 0;
};

TEST_F(StoreTest, CreateClusterOnlyOnce) {
  auto first = apply({create_cluster{make_cluster("first")}});
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].what, change::kind::cluster);
  EXPECT_EQ((*first)[0].id, "first");
  ASSERT_NE(s.cluster(), nullptr);
  EXPECT_EQ(s.cluster()->version, 1u);
  auto before = contents_of(s);
  auto second = apply({create_cluster{make_cluster("second")}});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, errc::already_exists);
  EXPECT_TRUE(contains(second.error().message, "first"));
  EXPECT_TRUE(contents_of(s) == before);
  EXPECT_EQ(s.cluster()->id, "first");
  EXPECT_EQ(s.applied_index(), 2u) << "a refused entry still counts as applied";
}

TEST_F(StoreTest, NodesNeedASwarm) {
  auto put = apply({put_node{make_node("alpha0001", "host-a"), 0}});
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, errc::not_found);
  EXPECT_TRUE(s.nodes().empty());
}

TEST_F(StoreTest, LaterActionsInABatchSeeEarlierOnes) {
  init_swarm();
  ASSERT_NE(s.cluster(), nullptr);
  ASSERT_EQ(s.nodes().size(), 2u);
  EXPECT_EQ(s.nodes()[0]->id, "alpha0001");
  EXPECT_EQ(s.nodes()[1]->id, "beta0002");
  EXPECT_EQ(s.nodes()[0]->version, 1u);
}

TEST_F(StoreTest, PutNodeWithVersionZeroRefusesAnExistingNode) {
  init_swarm();
  auto node = make_node("gamma0003", "host-c");
  auto first = apply({put_node{node, 0}});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ((*first)[0].what, change::kind::node_created);
  node.hostname = "other";
  auto second = apply({put_node{node, 0}});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, errc::already_exists);
  EXPECT_EQ(s.node("gamma0003")->hostname, "host-c");
  EXPECT_EQ(s.node("gamma0003")->version, 2u);
}

TEST_F(StoreTest, PutNodeReplacesOnlyTheVersionItRead) {
  init_swarm();
  auto read = *s.node("alpha0001");
  ASSERT_TRUE(apply({set_node_status{"alpha0001", node_status::ready, "", 5}}));
  auto stale = read;
  stale.avail = availability::drain;
  auto refused = apply({put_node{stale, read.version}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
  EXPECT_TRUE(contains(refused.error().message, "out of sequence"));
  EXPECT_EQ(s.node("alpha0001")->avail, availability::active);
  auto current = *s.node("alpha0001");
  current.avail = availability::drain;
  current.version = 999; // ignored: the store sets versions
  auto accepted = apply({put_node{current, s.node("alpha0001")->version}});
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ((*accepted)[0].what, change::kind::node_updated);
  EXPECT_EQ(s.node("alpha0001")->avail, availability::drain);
  EXPECT_EQ(s.node("alpha0001")->version, index);
}

TEST_F(StoreTest, PutNodeKeepsTheJoinTime) {
  init_swarm();
  auto node = *s.node("alpha0001");
  node.created_at_nanos += 1;
  auto refused = apply({put_node{node, node.version}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
}

TEST_F(StoreTest, PutNodeWithAVersionNeedsTheNode) {
  init_swarm();
  auto refused = apply({put_node{make_node("gamma0003", "host-c"), 1}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::not_found);
}

TEST_F(StoreTest, UpdateClusterChecksVersionAndKeepsIdentity) {
  init_swarm();
  auto cluster = *s.cluster();
  cluster.spec.task_history_limit = 9;
  auto stale = apply({update_cluster{cluster, cluster.version + 1}});
  ASSERT_FALSE(stale);
  EXPECT_TRUE(contains(stale.error().message, "out of sequence"));
  auto renamed = cluster;
  renamed.id = "other";
  EXPECT_FALSE(apply({update_cluster{renamed, cluster.version}}));
  auto accepted = apply({update_cluster{cluster, cluster.version}});
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(s.cluster()->spec.task_history_limit, 9u);
  EXPECT_EQ(s.cluster()->version, index);
}

TEST_F(StoreTest, UpdateClusterWithoutASwarmIsRefused) {
  auto refused = apply({update_cluster{make_cluster(), 0}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::not_found);
  EXPECT_EQ(s.cluster(), nullptr);
}

TEST_F(StoreTest, BatchIsAllOrNothing) {
  init_swarm();
  auto before = contents_of(s);
  auto refused
    = apply({put_node{make_node("gamma0003", "host-c"), 0},
             remove_node{"alpha0001", 0}, remove_node{"missing", 0}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::not_found);
  EXPECT_TRUE(contains(refused.error().message, "action 3 of 3"));
  EXPECT_TRUE(contains(refused.error().message, "node missing not found"));
  EXPECT_EQ(s.node("gamma0003"), nullptr);
  EXPECT_NE(s.node("alpha0001"), nullptr);
  EXPECT_TRUE(contents_of(s) == before);
  EXPECT_EQ(s.applied_index(), index);
}

TEST_F(StoreTest, RemoveNodeChecksTheVersionUnlessZero) {
  init_swarm();
  auto version = s.node("alpha0001")->version;
  EXPECT_FALSE(apply({remove_node{"alpha0001", version + 7}}));
  EXPECT_NE(s.node("alpha0001"), nullptr);
  auto removed = apply({remove_node{"alpha0001", version}});
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ((*removed)[0].what, change::kind::node_removed);
  EXPECT_EQ((*removed)[0].id, "alpha0001");
  EXPECT_EQ(s.node("alpha0001"), nullptr);
  ASSERT_TRUE(apply({remove_node{"beta0002", 0}}));
  EXPECT_TRUE(s.nodes().empty());
  auto again = apply({remove_node{"beta0002", 0}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::not_found);
}

TEST_F(StoreTest, SetNodeStatusNeedsAKnownNode) {
  init_swarm();
  auto before = contents_of(s);
  auto refused = apply({set_node_status{"nobody", node_status::down, "", 1}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::not_found);
  EXPECT_TRUE(contents_of(s) == before);
}

TEST_F(StoreTest, SetNodeStatusIgnoresVersionsAndStampsTheNode) {
  init_swarm();
  auto changed = apply(
    {set_node_status{"beta0002", node_status::disconnected, "no heartbeat", 77},
     set_node_status{"beta0002", node_status::ready, "back", 88}});
  ASSERT_TRUE(changed) << changed.error().message;
  ASSERT_EQ(changed->size(), 2u);
  auto* node = s.node("beta0002");
  EXPECT_EQ(node->status, node_status::ready);
  EXPECT_EQ(node->status_message, "back");
  EXPECT_EQ(node->updated_at_nanos, 88);
  EXPECT_EQ(node->version, index);
  EXPECT_EQ(node->hostname, "host-b");
}

TEST_F(StoreTest, EntriesApplyOnceAndInOrder) {
  init_swarm();
  auto before = contents_of(s);
  auto bytes = encode_batch({remove_node{"alpha0001", 0}});
  auto replay = s.apply(index, bytes.data(), bytes.size());
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, errc::internal);
  EXPECT_EQ(s.applied_index(), index);
  EXPECT_TRUE(contents_of(s) == before);
  // Gaps are fine: other entry kinds take indexes too.
  ASSERT_TRUE(s.apply(index + 10, bytes.data(), bytes.size()));
  EXPECT_EQ(s.applied_index(), index + 10);
}

TEST_F(StoreTest, SnapshotRestoresIntoAFreshStoreExactly) {
  init_swarm();
  auto node = *s.node("beta0002");
  node.labels = {{"zone", "b"}, {"disk", "ssd"}, {"empty", ""}};
  node.role = ca::node_role::manager;
  node.avail = availability::pause;
  ASSERT_TRUE(
    apply({put_node{node, node.version},
           set_node_status{"alpha0001", node_status::down, "gone", 9}}));
  auto bytes = s.snapshot();
  store copy;
  auto restored = copy.restore(bytes.data(), bytes.size());
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(copy.snapshot(), bytes);
  EXPECT_TRUE(contents_of(copy) == contents_of(s));
  EXPECT_EQ(copy.applied_index(), s.applied_index());
  EXPECT_EQ(copy.node("beta0002")->labels.at("disk"), "ssd");
  EXPECT_EQ(copy.node("beta0002")->role, ca::node_role::manager);
  // An empty store round-trips too.
  store empty;
  auto none = store{}.snapshot();
  ASSERT_TRUE(empty.restore(none.data(), none.size()));
  EXPECT_EQ(empty.cluster(), nullptr);
}

// A snapshot built by hand, for the checks restore() makes.
std::vector<uint8_t> snapshot_of(const std::vector<node_object>& nodes,
                                 uint64_t applied, bool with_cluster = true) {
  capnp::MallocMessageBuilder builder;
  auto snap = builder.initRoot<sc::Snapshot>();
  if (with_cluster) {
    auto cluster = make_cluster();
    cluster.version = 1;
    to_schema(cluster, snap.initCluster());
  }
  auto list = snap.initNodes(static_cast<unsigned>(nodes.size()));
  for (unsigned i = 0; i < nodes.size(); ++i)
    to_schema(nodes[i], list[i]);
  snap.setAppliedIndex(applied);
  return message<sc::Snapshot>::from(builder).encode();
}

TEST_F(StoreTest, RestoreRefusesBadSnapshotsAndKeepsState) {
  init_swarm();
  auto before = s.snapshot();
  auto a = make_node("a", "ha");
  auto b = make_node("b", "hb");
  a.version = b.version = 3;
  auto future = b;
  future.version = 11;
  std::vector<std::vector<uint8_t>> bad{
    {},
    {1, 2, 3},
    std::vector<uint8_t>(64, 0xff),
    snapshot_of({b, a}, 10),      // unsorted
    snapshot_of({a, a}, 10),      // duplicate
    snapshot_of({a, future}, 10), // version after the index
    snapshot_of({a}, 10, false),  // nodes without a cluster
  };
  auto truncated = before;
  truncated.resize(truncated.size() - 8);
  bad.push_back(truncated);
  for (size_t i = 0; i < bad.size(); ++i) {
    auto refused = s.restore(bad[i].data(), bad[i].size());
    EXPECT_FALSE(refused) << "snapshot " << i;
    EXPECT_EQ(s.snapshot(), before) << "snapshot " << i;
  }
  auto good = snapshot_of({a, b}, 10);
  ASSERT_TRUE(s.restore(good.data(), good.size()));
  EXPECT_EQ(s.applied_index(), 10u);
  EXPECT_EQ(s.nodes().size(), 2u);
  EXPECT_EQ(s.node("alpha0001"), nullptr);
}

TEST_F(StoreTest, FindNodeResolvesIdsHostnamesAndPrefixes) {
  init_swarm();
  ASSERT_TRUE(apply({put_node{make_node("alpha0009", "twin"), 0},
                     put_node{make_node("delta0004", "twin"), 0},
                     put_node{make_node("host-b", "elsewhere"), 0}}));
  auto by_id = s.find_node("alpha0001");
  ASSERT_TRUE(by_id);
  EXPECT_EQ((*by_id)->id, "alpha0001");
  auto by_host = s.find_node("host-a");
  ASSERT_TRUE(by_host);
  EXPECT_EQ((*by_host)->id, "alpha0001");
  // An exact id beats another node's hostname.
  auto id_first = s.find_node("host-b");
  ASSERT_TRUE(id_first);
  EXPECT_EQ((*id_first)->id, "host-b");
  auto by_prefix = s.find_node("be");
  ASSERT_TRUE(by_prefix);
  EXPECT_EQ((*by_prefix)->id, "beta0002");
  auto ambiguous_prefix = s.find_node("alpha");
  ASSERT_FALSE(ambiguous_prefix);
  EXPECT_EQ(ambiguous_prefix.error().code, errc::invalid_argument);
  EXPECT_TRUE(contains(ambiguous_prefix.error().message,
                       "node name alpha is ambiguous: matches alpha0001, "
                       "alpha0009"));
  auto twins = s.find_node("twin");
  ASSERT_FALSE(twins);
  EXPECT_EQ(twins.error().code, errc::invalid_argument);
  EXPECT_TRUE(contains(twins.error().message, "alpha0009, delta0004"));
  auto unknown = s.find_node("zzz");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, errc::not_found);
  EXPECT_EQ(unknown.error().message, "node zzz not found");
  auto empty = s.find_node("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, errc::invalid_argument);
}

TEST(StoreCodec, BatchesRoundTrip) {
  auto node = make_node("alpha0001", "host-a");
  node.labels = {{"k", "v"}};
  node.status = node_status::disconnected;
  auto cluster = make_cluster();
  cluster.spec.cert_expiry = std::chrono::hours{1};
  std::vector<action> in{create_cluster{cluster}, update_cluster{cluster, 4},
                         put_node{node, 3}, remove_node{"x", 2},
                         set_node_status{"y", node_status::ready, "ok", 42}};
  auto bytes = encode_batch(in);
  auto out = decode_batch(bytes.data(), bytes.size());
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->size(), in.size());
  EXPECT_TRUE(std::get<create_cluster>((*out)[0]).cluster == cluster);
  EXPECT_EQ(std::get<update_cluster>((*out)[1]).expected_version, 4u);
  EXPECT_TRUE(std::get<put_node>((*out)[2]).node == node);
  EXPECT_EQ(std::get<remove_node>((*out)[3]).id, "x");
  auto status = std::get<set_node_status>((*out)[4]);
  EXPECT_EQ(status.status, node_status::ready);
  EXPECT_EQ(status.message, "ok");
  EXPECT_EQ(status.at_nanos, 42);
}

TEST(StoreCodec, AProposalTagTravelsWithTheBatchAndTheStoreIgnoresIt) {
  std::vector<action> in{remove_node{"x", 2}};
  auto plain = encode_batch(in);
  EXPECT_EQ(proposal_of(plain.data(), plain.size()).seq, 0u);
  auto tagged = encode_batch(in, proposal_tag{7, 42});
  auto tag = proposal_of(tagged.data(), tagged.size());
  EXPECT_EQ(tag.proposer, 7u);
  EXPECT_EQ(tag.seq, 42u);
  // Stamping replaces the tag and keeps the actions.
  auto restamped = stamp_batch(tagged.data(), tagged.size(), {9, 43});
  ASSERT_TRUE(restamped) << restamped.error().message;
  tag = proposal_of(restamped->data(), restamped->size());
  EXPECT_EQ(tag.proposer, 9u);
  EXPECT_EQ(tag.seq, 43u);
  auto out = decode_batch(restamped->data(), restamped->size());
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ(std::get<remove_node>((*out)[0]).id, "x");
  // Bytes that are not a batch have no tag, and cannot be stamped.
  std::vector<uint8_t> junk(64, 0xff);
  EXPECT_EQ(proposal_of(junk.data(), junk.size()).seq, 0u);
  EXPECT_FALSE(stamp_batch(junk.data(), junk.size(), {1, 1}));
  std::vector<uint8_t> cut(tagged.begin(), tagged.begin() + 16);
  EXPECT_EQ(proposal_of(cut.data(), cut.size()).seq, 0u);
}

TEST(StoreCodec, SchemaDefaultsMatchTheSpecDefaults) {
  capnp::MallocMessageBuilder builder;
  auto cluster = builder.initRoot<sc::Cluster>();
  cluster.setId("c");
  cluster.initCaSecretKey(64);
  cluster.setWorkerToken("w");
  cluster.setManagerToken("m");
  auto read = from_schema(cluster.asReader());
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_TRUE(read->spec == cluster_spec{});
  EXPECT_EQ(read->spec.cert_expiry, std::chrono::hours{24 * 90});
}

// Encodes a batch with one put_node whose Node `edit` changes.
template <class Edit>
std::vector<uint8_t> put_node_with(Edit&& edit) {
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<sc::Batch>();
  auto node = batch.initActions(1)[0].initPutNode().initNode();
  to_schema(make_node("alpha0001", "host-a"), node);
  edit(node);
  return message<sc::Batch>::from(builder).encode();
}

TEST(StoreCodec, RefusesFieldsOutOfRange) {
  std::vector<std::pair<const char*, std::vector<uint8_t>>> cases{
    {"short key",
     put_node_with([](sc::Node::Builder n) { n.initPublicKey(31); })},
    {"empty id", put_node_with([](sc::Node::Builder n) { n.setId(""); })},
    {"bad id", put_node_with([](sc::Node::Builder n) { n.setId("a b"); })},
    {"long id",
     put_node_with([](sc::Node::Builder n) { n.setId(std::string(65, 'a')); })},
    {"unknown availability", put_node_with([](sc::Node::Builder n) {
       n.setAvailability(static_cast<sc::Availability>(7));
     })},
    {"unknown status", put_node_with([](sc::Node::Builder n) {
       n.setStatus(static_cast<sc::NodeStatus>(4));
     })},
    {"unknown role", put_node_with([](sc::Node::Builder n) {
       n.setRole(static_cast<schema::ca::NodeRole>(2));
     })},
    {"empty label key", put_node_with([](sc::Node::Builder n) {
       n.initLabels(1)[0].setValue("v");
     })},
    {"duplicate label", put_node_with([](sc::Node::Builder n) {
       auto labels = n.initLabels(2);
       labels[0].setKey("k");
       labels[1].setKey("k");
     })},
  };
  for (auto& [what, bytes] : cases) {
    auto decoded = decode_batch(bytes.data(), bytes.size());
    ASSERT_FALSE(decoded) << what;
    EXPECT_EQ(decoded.error().code, errc::invalid_argument) << what;
  }
  auto fine = put_node_with([](sc::Node::Builder) {});
  EXPECT_TRUE(decode_batch(fine.data(), fine.size()));
}

TEST(StoreCodec, RefusesBadClusters) {
  capnp::MallocMessageBuilder builder;
  auto cluster = builder.initRoot<sc::Cluster>();
  to_schema(make_cluster(), cluster);
  cluster.initCaSecretKey(63);
  EXPECT_FALSE(from_schema(cluster.asReader()));
  to_schema(make_cluster(), cluster);
  cluster.getSpec().setElectionTicks(1);
  EXPECT_FALSE(from_schema(cluster.asReader()));
  to_schema(make_cluster(), cluster);
  cluster.getSpec().setDispatcherHeartbeatNanos(0);
  EXPECT_FALSE(from_schema(cluster.asReader()));
  to_schema(make_cluster(), cluster);
  cluster.setWorkerToken("");
  EXPECT_FALSE(from_schema(cluster.asReader()));
  to_schema(make_cluster(), cluster);
  EXPECT_TRUE(from_schema(cluster.asReader()));
}

TEST(StoreCodec, RefusesActionsFromANewerSchema) {
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<sc::Batch>();
  auto action = batch.initActions(1)[0];
  action.initRemoveNode().setId("alpha0001");
  auto offset = capnp::Schema::from<sc::Action>()
                  .getProto()
                  .getStruct()
                  .getDiscriminantOffset();
  auto data = capnp::toAny(action).getDataSection();
  data[offset * 2] = 40; // a member this build does not know
  data[offset * 2 + 1] = 0;
  auto bytes = message<sc::Batch>::from(builder).encode();
  auto decoded = decode_batch(bytes.data(), bytes.size());
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, errc::malformed_message);
}

// Random bytes and mutated valid batches: never a crash, and a refused
// entry leaves the objects exactly as they were.
TEST_F(StoreTest, HostileEntriesNeverCrashNorChangeStateWhenRefused) {
  init_swarm();
  std::mt19937_64 rng{20240611};
  auto node = make_node("gamma0003", "host-c");
  node.labels = {{"a", "1"}, {"b", "2"}};
  auto valid = encode_batch(
    {put_node{node, 0},
     set_node_status{"alpha0001", node_status::ready, "hello", 3},
     remove_node{"beta0002", 0}});
  store twin;
  auto start = s.snapshot();
  ASSERT_TRUE(twin.restore(start.data(), start.size()));
  int refused = 0;
  int accepted_mutations = 0;
  for (int round = 0; round < 600; ++round) {
    std::vector<uint8_t> bytes;
    if (round % 2 == 0) {
      bytes.resize(rng() % 512);
      for (auto& b : bytes)
        b = static_cast<uint8_t>(rng());
      if (bytes.size() >= 8 && round % 4 == 0) {
        // Make the segment table plausible so decoding gets further.
        bytes[0] = bytes[1] = bytes[2] = bytes[3] = 0;
        uint32_t words = static_cast<uint32_t>(bytes.size() / 8 - 1);
        std::memcpy(bytes.data() + 4, &words, 4);
        bytes.resize((bytes.size() / 8) * 8);
      }
    } else {
      // Start from the same state each time, so the mutation decides.
      ASSERT_TRUE(s.restore(start.data(), start.size()));
      ASSERT_TRUE(twin.restore(start.data(), start.size()));
      bytes = valid;
      auto flips = 1 + rng() % 4;
      for (size_t i = 0; i < flips; ++i)
        bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    }
    auto before = contents_of(s);
    ++index;
    auto applied = s.apply(index, bytes.data(), bytes.size());
    auto on_twin = twin.apply(index, bytes.data(), bytes.size());
    EXPECT_EQ(applied.ok(), on_twin.ok()) << "round " << round;
    if (applied && round % 2 == 1)
      ++accepted_mutations;
    if (!applied) {
      ++refused;
      EXPECT_TRUE(contents_of(s) == before) << "round " << round;
    }
    ASSERT_EQ(s.snapshot(), twin.snapshot()) << "round " << round;
    auto restored = store{}.restore(bytes.data(), bytes.size());
    (void)restored; // must simply not crash
  }
  EXPECT_GT(refused, 300);
  EXPECT_GT(accepted_mutations, 10) << "mutations should not all break it";
  EXPECT_EQ(s.applied_index(), index);
}

// A random but reproducible workload, with conflicts and failures mixed in.
std::vector<std::vector<uint8_t>> random_workload(uint64_t seed, int size) {
  std::mt19937_64 rng{seed};
  std::vector<std::vector<uint8_t>> entries;
  entries.push_back(encode_batch({create_cluster{make_cluster()}}));
  auto id_of = [&] { return "node" + std::to_string(rng() % 12); };
  for (int i = 0; i < size; ++i) {
    std::vector<action> batch;
    auto actions = 1 + rng() % 3;
    for (size_t j = 0; j < actions; ++j) {
      switch (rng() % 4) {
      case 0: {
        auto node = make_node(id_of(), "host" + std::to_string(rng() % 5));
        node.labels["rack"] = std::to_string(rng() % 3);
        batch.push_back(put_node{node, rng() % 2 ? 0 : rng() % 40});
        break;
      }
      case 1:
        batch.push_back(remove_node{id_of(), rng() % 3 ? 0 : rng() % 40});
        break;
      case 2:
        batch.push_back(
          set_node_status{id_of(), static_cast<node_status>(rng() % 4), "s",
                          static_cast<int64_t>(rng() % 1000)});
        break;
      default: {
        auto cluster = make_cluster();
        cluster.spec.task_history_limit = static_cast<uint32_t>(rng() % 9);
        batch.push_back(update_cluster{cluster, rng() % 40});
        break;
      }
      }
    }
    entries.push_back(encode_batch(batch));
  }
  return entries;
}

TEST(StoreDeterminism, SameEntriesGiveIdenticalSnapshots) {
  auto entries = random_workload(7, 400);
  store a;
  store b;
  store late; // joins halfway through from a snapshot
  int applied = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto index = 1 + i * 2; // gaps, as other entry kinds leave
    auto ra = a.apply(index, entries[i].data(), entries[i].size());
    auto rb = b.apply(index, entries[i].data(), entries[i].size());
    ASSERT_EQ(ra.ok(), rb.ok()) << "entry " << i;
    if (ra)
      ++applied;
    else
      EXPECT_EQ(ra.error().message, rb.error().message);
    if (i == entries.size() / 2) {
      auto snap = a.snapshot();
      ASSERT_TRUE(late.restore(snap.data(), snap.size()));
    } else if (i > entries.size() / 2) {
      ASSERT_EQ(late.apply(index, entries[i].data(), entries[i].size()).ok(),
                ra.ok());
    }
    ASSERT_EQ(a.snapshot(), b.snapshot()) << "entry " << i;
  }
  EXPECT_EQ(a.snapshot(), late.snapshot());
  // The workload must exercise both outcomes to mean anything.
  EXPECT_GT(applied, 50);
  EXPECT_LT(applied, static_cast<int>(entries.size()) - 50);
  EXPECT_FALSE(a.nodes().empty());
}

// ---------------------------------------------------------------------------
// Services and tasks

// The indexes agree with a scan of every task, for the given service and
// node ids (and every id a task names).
void expect_indexes_match(const store& s,
                          const std::vector<std::string>& services,
                          const std::vector<std::string>& nodes) {
  using task_list = std::vector<const task_object*>;
  std::map<std::string, task_list> by_service;
  std::map<std::pair<std::string, uint64_t>, task_list> by_slot;
  std::map<std::string, task_list> by_node;
  for (const auto& id : services)
    by_service[id];
  for (const auto& id : nodes)
    by_node[id];
  for (auto* t : s.tasks()) { // sorted by id
    by_service[t->service_id].push_back(t);
    by_node[t->node_id].push_back(t);
  }
  auto slot_order = [](const task_object* x, const task_object* y) {
    return std::tie(x->slot, x->created_at_nanos, x->id)
           < std::tie(y->slot, y->created_at_nanos, y->id);
  };
  for (auto& [service, expected] : by_service) {
    std::sort(expected.begin(), expected.end(), slot_order);
    EXPECT_EQ(s.tasks_of_service(service), expected) << "service " << service;
    for (auto* t : expected)
      by_slot[{service, t->slot}].push_back(t);
  }
  for (const auto& [key, expected] : by_slot)
    EXPECT_EQ(s.tasks_in_slot(key.first, key.second), expected)
      << "service " << key.first << " slot " << key.second;
  for (const auto& [node, expected] : by_node)
    EXPECT_EQ(s.tasks_on_node(node), expected) << "node " << node;
}

class ServiceStoreTest : public StoreTest {
 protected:
  /// A swarm with two nodes and service "svc1" named "web".
  void init_service() {
    init_swarm();
    ASSERT_TRUE(apply({put_service{make_service("svc1", "web"), 0}}));
  }

  /// Adds pending task `id` of svc1 in `slot`.
  void add_task(std::string id, uint64_t slot, int64_t created = 4'000) {
    auto added
      = apply({put_task{make_task(std::move(id), "svc1", slot, created), 0}});
    ASSERT_TRUE(added) << added.error().message;
  }
};

TEST_F(ServiceStoreTest, PutServiceCreatesAndNeedsASwarm) {
  auto refused = apply({put_service{make_service("svc1", "web"), 0}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::not_found);
  init_swarm();
  auto created = apply({put_service{make_service("svc1", "web"), 0}});
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_EQ(created->size(), 1u);
  EXPECT_EQ((*created)[0].what, change::kind::service_created);
  EXPECT_EQ((*created)[0].id, "svc1");
  ASSERT_NE(s.service("svc1"), nullptr);
  EXPECT_EQ(s.service("svc1")->version, index);
  EXPECT_EQ(s.service("svc1")->spec.name, "web");
  EXPECT_EQ(ids_of(s.services()), ids{"svc1"});
}

TEST_F(ServiceStoreTest, PutServiceRefusesATakenIdOrName) {
  init_service();
  auto same_id = apply({put_service{make_service("svc1", "other"), 0}});
  ASSERT_FALSE(same_id);
  EXPECT_EQ(same_id.error().code, errc::already_exists);
  auto same_name = apply({put_service{make_service("svc2", "web"), 0}});
  ASSERT_FALSE(same_name);
  EXPECT_EQ(same_name.error().code, errc::already_exists);
  EXPECT_TRUE(contains(same_name.error().message,
                       "service name web is already in use by service svc1"))
    << same_name.error().message;
  // Within one batch too.
  auto twins = apply({put_service{make_service("svc2", "api"), 0},
                      put_service{make_service("svc3", "api"), 0}});
  ASSERT_FALSE(twins);
  EXPECT_EQ(twins.error().code, errc::already_exists);
  EXPECT_EQ(s.service("svc2"), nullptr);
  // Renaming svc1 to its own name is fine.
  auto svc = *s.service("svc1");
  svc.spec.replicas = 3;
  ASSERT_TRUE(apply({put_service{svc, svc.version}}));
  EXPECT_EQ(s.service("svc1")->spec.replicas, 3u);
}

TEST_F(ServiceStoreTest, PutServiceReplacesOnlyTheVersionItRead) {
  init_service();
  auto read = *s.service("svc1");
  auto update = read;
  update.spec.replicas = 5;
  update.updated_at_nanos = 9'000;
  update.previous_spec = read.spec;
  update.spec_version = 2;
  auto stale = apply({put_service{update, read.version + 1}});
  ASSERT_FALSE(stale);
  EXPECT_TRUE(contains(stale.error().message, "out of sequence"));
  auto missing = make_service("svc9", "nine");
  auto not_there = apply({put_service{missing, 3}});
  ASSERT_FALSE(not_there);
  EXPECT_EQ(not_there.error().code, errc::not_found);
  auto moved = update;
  moved.created_at_nanos += 1;
  auto refused = apply({put_service{moved, read.version}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
  auto accepted = apply({put_service{update, read.version}});
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ((*accepted)[0].what, change::kind::service_updated);
  auto* stored = s.service("svc1");
  EXPECT_EQ(stored->spec.replicas, 5u);
  EXPECT_EQ(stored->version, index);
  EXPECT_EQ(stored->created_at_nanos, read.created_at_nanos);
  ASSERT_TRUE(stored->previous_spec.has_value());
  EXPECT_TRUE(*stored->previous_spec == read.spec);
}

TEST_F(ServiceStoreTest, RenamesFreeTheOldNameEvenWithinABatch) {
  init_swarm();
  ASSERT_TRUE(apply({put_service{make_service("a", "x"), 0},
                     put_service{make_service("b", "y"), 0}}));
  // b: y -> z, a: x -> y, b: z -> x: the two swap names in one entry.
  auto a = *s.service("a");
  auto b = *s.service("b");
  auto b1 = b;
  b1.spec.name = "z";
  auto a1 = a;
  a1.spec.name = "y";
  auto swapped = apply({put_service{b1, b.version}, put_service{a1, a.version},
                        put_service{[&] {
                                      auto b2 = b1;
                                      b2.spec.name = "x";
                                      return b2;
                                    }(),
                                    index}});
  ASSERT_FALSE(swapped) << "after its first put, b is at the entry's index";
  auto b2 = b1;
  b2.spec.name = "x";
  // Versions inside a batch are the entry's index: the third put names it.
  auto entry = index + 1;
  swapped = apply({put_service{b1, b.version}, put_service{a1, a.version},
                   put_service{b2, entry}});
  ASSERT_TRUE(swapped) << swapped.error().message;
  EXPECT_EQ((*s.find_service("x"))->id, "b");
  EXPECT_EQ((*s.find_service("y"))->id, "a");
  EXPECT_FALSE(s.find_service("z"));
  // A removed service's name is free again in the same batch.
  ASSERT_TRUE(
    apply({remove_service{"a", 0}, put_service{make_service("c", "y"), 0}}));
  EXPECT_EQ((*s.find_service("y"))->id, "c");
  auto snap = s.snapshot();
  store copy;
  ASSERT_TRUE(copy.restore(snap.data(), snap.size()));
  EXPECT_EQ((*copy.find_service("x"))->id, "b");
  EXPECT_EQ((*copy.find_service("y"))->id, "c");
}

TEST_F(ServiceStoreTest, RemoveServiceChecksVersionAndLeavesItsTasks) {
  init_service();
  add_task("t1", 1);
  auto version = s.service("svc1")->version;
  auto stale = apply({remove_service{"svc1", version + 1}});
  ASSERT_FALSE(stale);
  EXPECT_TRUE(contains(stale.error().message, "out of sequence"));
  auto removed = apply({remove_service{"svc1", version}});
  ASSERT_TRUE(removed) << removed.error().message;
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_EQ((*removed)[0].what, change::kind::service_removed);
  EXPECT_EQ(s.service("svc1"), nullptr);
  EXPECT_TRUE(s.services().empty());
  EXPECT_FALSE(s.find_service("web"));
  ASSERT_NE(s.task("t1"), nullptr);
  EXPECT_EQ(ids_of(s.tasks_of_service("svc1")), ids{"t1"});
  auto again = apply({remove_service{"svc1", 0}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::not_found);
  // The name can be used again; the orphan tasks stay with the old id.
  ASSERT_TRUE(apply({put_service{make_service("svc2", "web"), 0}}));
  EXPECT_TRUE(s.tasks_of_service("svc2").empty());
}

TEST_F(ServiceStoreTest, FindServiceResolvesIdsNamesAndPrefixes) {
  init_swarm();
  ASSERT_TRUE(apply({put_service{make_service("abc123", "web"), 0},
                     put_service{make_service("abd456", "api"), 0},
                     put_service{make_service("web", "db"), 0}}));
  EXPECT_EQ((*s.find_service("abc123"))->id, "abc123");
  EXPECT_EQ((*s.find_service("api"))->id, "abd456");
  // An exact id beats another service's name.
  EXPECT_EQ((*s.find_service("web"))->id, "web");
  EXPECT_EQ((*s.find_service("db"))->id, "web");
  EXPECT_EQ((*s.find_service("abc"))->id, "abc123");
  auto ambiguous = s.find_service("ab");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().code, errc::invalid_argument);
  EXPECT_TRUE(contains(ambiguous.error().message,
                       "service name ab is ambiguous: matches abc123, abd456"))
    << ambiguous.error().message;
  auto unknown = s.find_service("zzz");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, errc::not_found);
  EXPECT_EQ(unknown.error().message, "service zzz not found");
  auto empty = s.find_service("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, errc::invalid_argument);
}

TEST_F(ServiceStoreTest, PutTaskNeedsItsServiceAndChecksVersions) {
  init_service();
  auto orphan = apply({put_task{make_task("t1", "nosuch", 1), 0}});
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, errc::not_found);
  EXPECT_TRUE(contains(orphan.error().message, "service nosuch not found"));
  auto created = apply({put_task{make_task("t1", "svc1", 1), 0}});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ((*created)[0].what, change::kind::task_created);
  EXPECT_EQ(s.task("t1")->version, index);
  auto twice = apply({put_task{make_task("t1", "svc1", 1), 0}});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, errc::already_exists);
  auto t = *s.task("t1");
  t.slot = 2;
  auto stale = apply({put_task{t, t.version + 1}});
  ASSERT_FALSE(stale);
  EXPECT_TRUE(contains(stale.error().message, "out of sequence"));
  auto moved = t;
  moved.service_id = "svc2";
  EXPECT_FALSE(apply({put_task{moved, t.version}}));
  EXPECT_FALSE(apply({put_task{make_task("t9", "svc1", 1), 4}}));
  // Replacing needs no service: it may be gone by then.
  ASSERT_TRUE(apply({remove_service{"svc1", 0}}));
  auto replaced = apply({put_task{t, t.version}});
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ((*replaced)[0].what, change::kind::task_updated);
  EXPECT_EQ(s.task("t1")->slot, 2u);
}

TEST_F(ServiceStoreTest, RemoveTaskSkipsAMissingTask) {
  init_service();
  add_task("t1", 1);
  auto removed = apply({remove_task{"t1"}, remove_task{"t1"},
                        remove_task{"never"}, remove_node{"beta0002", 0}});
  ASSERT_TRUE(removed) << removed.error().message;
  ASSERT_EQ(removed->size(), 2u);
  EXPECT_EQ((*removed)[0].what, change::kind::task_removed);
  EXPECT_EQ((*removed)[0].id, "t1");
  EXPECT_EQ((*removed)[1].what, change::kind::node_removed);
  EXPECT_EQ(s.task("t1"), nullptr);
  EXPECT_TRUE(s.tasks_of_service("svc1").empty());
  EXPECT_TRUE(s.tasks_on_node("").empty());
}

TEST_F(ServiceStoreTest, AssignTaskPlacesOnlyPendingTasksOnKnownNodes) {
  init_service();
  add_task("t1", 1);
  auto stuck = *s.task("t1");
  stuck.status.err = "no suitable node";
  ASSERT_TRUE(apply({put_task{stuck, stuck.version}}));
  auto fresh = make_task("t2", "svc1", 2);
  fresh.status.state = task_state::new_task;
  auto stopping = make_task("t3", "svc1", 3);
  stopping.desired_state = task_state::shutdown;
  ASSERT_TRUE(apply({put_task{fresh, 0}, put_task{stopping, 0}}));
  auto before = contents_of(s);
  auto none = apply({assign_task{"t1", "nosuch", 10, "assigned"},
                     assign_task{"t2", "alpha0001", 10, "assigned"},
                     assign_task{"t3", "alpha0001", 10, "assigned"},
                     assign_task{"t9", "alpha0001", 10, "assigned"}});
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE(contents_of(s) == before);
  auto placed = apply({assign_task{"t1", "alpha0001", 20, "assigned"},
                       assign_task{"t1", "beta0002", 30, "assigned again"}});
  ASSERT_TRUE(placed) << placed.error().message;
  ASSERT_EQ(placed->size(), 1u) << "the second one sees an assigned task";
  EXPECT_EQ((*placed)[0].what, change::kind::task_updated);
  auto* t = s.task("t1");
  EXPECT_EQ(t->node_id, "alpha0001");
  EXPECT_EQ(t->status.state, task_state::assigned);
  EXPECT_EQ(t->status.at_nanos, 20);
  EXPECT_EQ(t->status.message, "assigned");
  EXPECT_EQ(t->status.err, "");
  EXPECT_EQ(t->version, index);
  EXPECT_EQ(ids_of(s.tasks_on_node("alpha0001")), ids{"t1"});
  EXPECT_EQ(ids_of(s.tasks_on_node("")), (ids{"t2", "t3"}));
  // A node removed in the same batch is not there to take it.
  ASSERT_TRUE(apply({put_task{make_task("t4", "svc1", 4), 0}}));
  auto gone = apply({remove_node{"beta0002", 0},
                     assign_task{"t4", "beta0002", 40, "assigned"}});
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->size(), 1u);
  EXPECT_EQ(s.task("t4")->status.state, task_state::pending);
}

TEST_F(ServiceStoreTest, SetTaskStatusOnlyMovesForward) {
  init_service();
  add_task("t1", 1);
  ASSERT_TRUE(apply({assign_task{"t1", "alpha0001", 10, "assigned"}}));
  task_status running;
  running.state = task_state::running;
  running.at_nanos = 50;
  running.message = "started";
  running.host_ports = {30001};
  auto ran = apply({set_task_status{"t1", running}});
  ASSERT_TRUE(ran) << ran.error().message;
  ASSERT_EQ(ran->size(), 1u);
  EXPECT_TRUE(s.task("t1")->status == running);
  auto version = s.task("t1")->version;
  // Going back is skipped, and so is an identical report.
  task_status back;
  back.state = task_state::starting;
  back.at_nanos = 60;
  auto skipped
    = apply({set_task_status{"t1", back}, set_task_status{"t1", running},
             set_task_status{"nosuch", running}});
  ASSERT_TRUE(skipped) << skipped.error().message;
  EXPECT_TRUE(skipped->empty());
  EXPECT_EQ(s.task("t1")->version, version);
  EXPECT_EQ(s.task("t1")->status.state, task_state::running);
  // The same state updates the details but keeps when it was entered.
  auto again = running;
  again.at_nanos = 70;
  again.message = "healthy";
  auto same = apply({set_task_status{"t1", again}});
  ASSERT_TRUE(same);
  ASSERT_EQ(same->size(), 1u);
  EXPECT_EQ(s.task("t1")->status.at_nanos, 50);
  EXPECT_EQ(s.task("t1")->status.message, "healthy");
  task_status failed;
  failed.state = task_state::failed;
  failed.at_nanos = 80;
  failed.err = "exit code 3";
  failed.exit_code = 3;
  ASSERT_TRUE(apply({set_task_status{"t1", failed}}));
  EXPECT_TRUE(s.task("t1")->status == failed);
  EXPECT_TRUE(apply({set_task_status{"t1", running}})->empty());
  EXPECT_EQ(s.task("t1")->status.state, task_state::failed);
}

TEST_F(ServiceStoreTest, SetTaskDesiredStateOnlyMovesForward) {
  init_service();
  add_task("t1", 1);
  auto stop = apply({set_task_desired_state{"t1", task_state::shutdown},
                     set_task_desired_state{"t1", task_state::running},
                     set_task_desired_state{"t1", task_state::shutdown},
                     set_task_desired_state{"nosuch", task_state::shutdown}});
  ASSERT_TRUE(stop) << stop.error().message;
  ASSERT_EQ(stop->size(), 1u);
  EXPECT_EQ((*stop)[0].id, "t1");
  EXPECT_EQ(s.task("t1")->desired_state, task_state::shutdown);
  // A task told to stop is not placed any more.
  EXPECT_TRUE(apply({assign_task{"t1", "alpha0001", 1, ""}})->empty());
  EXPECT_TRUE(s.task("t1")->node_id.empty());
}

TEST_F(ServiceStoreTest, StaleConditionalActionsNeverFailTheBatch) {
  init_service();
  add_task("t1", 1);
  add_task("t2", 2);
  // A reaper removed t1 while the scheduler and a dispatcher raced it.
  task_status running;
  running.state = task_state::running;
  auto outcome
    = apply({remove_task{"t1"}, assign_task{"t1", "alpha0001", 5, "assigned"},
             set_task_status{"t1", running},
             set_task_desired_state{"t1", task_state::shutdown},
             assign_task{"t2", "beta0002", 5, "assigned"}});
  ASSERT_TRUE(outcome) << outcome.error().message;
  ASSERT_EQ(outcome->size(), 2u);
  EXPECT_EQ((*outcome)[0].what, change::kind::task_removed);
  EXPECT_EQ((*outcome)[1].id, "t2");
  EXPECT_EQ(s.task("t1"), nullptr);
  EXPECT_EQ(s.task("t2")->node_id, "beta0002");
}

TEST_F(ServiceStoreTest, AFailedBatchLeavesTasksAndIndexesAlone) {
  init_service();
  add_task("t1", 1);
  add_task("t2", 2);
  auto before = contents_of(s);
  auto refused
    = apply({assign_task{"t1", "alpha0001", 5, "assigned"}, remove_task{"t2"},
             put_task{make_task("t3", "svc1", 3), 0},
             put_service{make_service("svc2", "web"), 0}});
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error().message, "action 4 of 4"));
  EXPECT_TRUE(contents_of(s) == before);
  EXPECT_EQ(ids_of(s.tasks_on_node("")), (ids{"t1", "t2"}));
  EXPECT_TRUE(s.tasks_on_node("alpha0001").empty());
  EXPECT_EQ(ids_of(s.tasks_of_service("svc1")), (ids{"t1", "t2"}));
  expect_indexes_match(s, {"svc1"}, {"alpha0001"});
}

TEST_F(ServiceStoreTest, IndexesFollowEveryChange) {
  init_service();
  ASSERT_TRUE(apply({put_service{make_service("svc2", "api"), 0}}));
  // Out of order on purpose: slot, then creation time, then id decide.
  ASSERT_TRUE(apply({put_task{make_task("t5", "svc1", 2, 100), 0},
                     put_task{make_task("t4", "svc1", 2, 100), 0},
                     put_task{make_task("t3", "svc1", 2, 50), 0},
                     put_task{make_task("t2", "svc1", 1, 900), 0},
                     put_task{make_task("t1", "svc2", 1, 1), 0}}));
  EXPECT_EQ(ids_of(s.tasks_of_service("svc1")), (ids{"t2", "t3", "t4", "t5"}));
  EXPECT_EQ(ids_of(s.tasks_in_slot("svc1", 2)), (ids{"t3", "t4", "t5"}));
  EXPECT_EQ(ids_of(s.tasks_in_slot("svc1", 1)), ids{"t2"});
  EXPECT_TRUE(s.tasks_in_slot("svc1", 3).empty());
  EXPECT_EQ(ids_of(s.tasks_of_service("svc2")), ids{"t1"});
  EXPECT_TRUE(s.tasks_of_service("svc").empty());
  EXPECT_TRUE(s.tasks_of_service("svc10").empty());
  ASSERT_TRUE(apply({assign_task{"t3", "beta0002", 1, ""},
                     assign_task{"t4", "alpha0001", 1, ""},
                     assign_task{"t1", "alpha0001", 1, ""}}));
  EXPECT_EQ(ids_of(s.tasks_on_node("alpha0001")), (ids{"t1", "t4"}));
  EXPECT_EQ(ids_of(s.tasks_on_node("beta0002")), ids{"t3"});
  EXPECT_EQ(ids_of(s.tasks_on_node("")), (ids{"t2", "t5"}));
  // A replacement that moves a task to another slot and node.
  auto t4 = *s.task("t4");
  t4.slot = 1;
  t4.node_id = "beta0002";
  ASSERT_TRUE(apply({put_task{t4, t4.version}, remove_task{"t3"}}));
  EXPECT_EQ(ids_of(s.tasks_in_slot("svc1", 1)), (ids{"t4", "t2"}));
  EXPECT_EQ(ids_of(s.tasks_in_slot("svc1", 2)), ids{"t5"});
  EXPECT_EQ(ids_of(s.tasks_on_node("beta0002")), ids{"t4"});
  EXPECT_EQ(ids_of(s.tasks_on_node("alpha0001")), ids{"t1"});
  expect_indexes_match(s, {"svc1", "svc2"}, {"alpha0001", "beta0002"});
  // Pointers come from the store's own objects.
  EXPECT_EQ(s.tasks_of_service("svc2").front(), s.task("t1"));
}

TEST_F(ServiceStoreTest, ACopyHasItsOwnIndexes) {
  init_service();
  add_task("t1", 1);
  add_task("t2", 2);
  store copy{s};
  ASSERT_TRUE(
    apply({remove_task{"t1"}, assign_task{"t2", "alpha0001", 1, "assigned"}}));
  EXPECT_EQ(ids_of(copy.tasks_of_service("svc1")), (ids{"t1", "t2"}));
  EXPECT_EQ(ids_of(copy.tasks_on_node("")), (ids{"t1", "t2"}));
  EXPECT_EQ(copy.tasks_of_service("svc1").front(), copy.task("t1"));
  store assigned;
  assigned = copy;
  EXPECT_EQ(assigned.tasks_on_node("").back(), assigned.task("t2"));
  store moved{std::move(assigned)};
  EXPECT_EQ(moved.tasks_on_node("").back(), moved.task("t2"));
  expect_indexes_match(copy, {"svc1"}, {"alpha0001"});
  expect_indexes_match(moved, {"svc1"}, {"alpha0001"});
}

TEST_F(ServiceStoreTest, FindTaskResolvesIdsAndPrefixes) {
  init_service();
  add_task("task-aa1", 1);
  add_task("task-ab2", 2);
  add_task("task-a", 3);
  EXPECT_EQ((*s.find_task("task-a"))->id, "task-a");
  EXPECT_EQ((*s.find_task("task-ab"))->id, "task-ab2");
  auto ambiguous = s.find_task("task-");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().code, errc::invalid_argument);
  EXPECT_TRUE(contains(ambiguous.error().message,
                       "task name task- is ambiguous: matches task-a, "
                       "task-aa1, task-ab2"))
    << ambiguous.error().message;
  auto unknown = s.find_task("x");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, errc::not_found);
  EXPECT_EQ(unknown.error().message, "task x not found");
  EXPECT_FALSE(s.find_task(""));
}

// A service with every field away from its default.
service_object full_service(std::string id, std::string name) {
  auto svc = make_service(std::move(id), std::move(name));
  svc.spec.labels = {{"tier", "front"}, {"empty", ""}};
  svc.spec.container.env = {"A=1", "B=", "C=x=y"};
  svc.spec.container.workdir = "/srv";
  svc.spec.container.stop_grace = std::chrono::seconds{3};
  svc.spec.mode = service_mode::global;
  svc.spec.replicas = 7;
  svc.spec.constraints = {"node.role==worker", "node.labels.zone!=b"};
  svc.spec.max_replicas_per_node = 2;
  svc.spec.reservations = {500'000'000, 64 << 20};
  svc.spec.limits = {1'000'000'000, 128 << 20};
  svc.spec.restart = {restart_condition::on_failure, std::chrono::seconds{1}, 4,
                      std::chrono::minutes{2}};
  svc.spec.update = {2,
                     std::chrono::seconds{1},
                     std::chrono::seconds{9},
                     failure_action::rollback,
                     0.25,
                     update_order::start_first};
  svc.spec.rollback.on_failure = failure_action::proceed;
  svc.spec.ports = {{8080, 80, "tcp"}, {0, 53, "udp"}};
  svc.previous_spec = make_service("", "old").spec;
  svc.spec_version = 4;
  svc.updated_at_nanos = 5'000;
  return svc;
}

task_object full_task(std::string id, const service_object& svc) {
  auto t = make_task(std::move(id), svc.id, 3, 6'000);
  t.node_id = "alpha0001";
  t.spec_version = svc.spec_version;
  t.container = svc.spec.container;
  t.reservations = svc.spec.reservations;
  t.limits = svc.spec.limits;
  t.ports = svc.spec.ports;
  t.desired_state = task_state::shutdown;
  t.status
    = {task_state::failed, 7'000, "exited", "exit code 2", 2, {30001, 30002}};
  return t;
}

TEST_F(ServiceStoreTest, SnapshotRoundTripsServicesAndTasks) {
  init_swarm();
  auto svc = full_service("svc1", "web");
  auto t = full_task("t1", svc);
  ASSERT_TRUE(apply({put_service{svc, 0}, put_task{t, 0},
                     put_service{make_service("svc2", "api"), 0},
                     put_task{make_task("t0", "svc2", 1), 0},
                     put_task{make_task("t2", "svc2", 2), 0}}));
  ASSERT_TRUE(apply(
    {remove_service{"svc2", 0}, assign_task{"t2", "beta0002", 9, "assigned"}}));
  auto bytes = s.snapshot();
  store copy;
  auto restored = copy.restore(bytes.data(), bytes.size());
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(copy.snapshot(), bytes);
  EXPECT_TRUE(contents_of(copy) == contents_of(s));
  svc.version = t.version = index - 1;
  EXPECT_TRUE(*copy.service("svc1") == svc);
  EXPECT_TRUE(*copy.task("t1") == t);
  EXPECT_EQ((*copy.find_service("web"))->id, "svc1");
  EXPECT_EQ(copy.service("svc2"), nullptr);
  EXPECT_EQ(ids_of(copy.tasks_of_service("svc2")), (ids{"t0", "t2"}));
  EXPECT_EQ(ids_of(copy.tasks_on_node("beta0002")), ids{"t2"});
  expect_indexes_match(copy, {"svc1", "svc2"}, {"alpha0001", "beta0002"});
  // Restoring over a store with other tasks replaces them and their indexes.
  ASSERT_TRUE(s.restore(bytes.data(), bytes.size()));
  store other;
  ASSERT_TRUE(other.restore(bytes.data(), bytes.size()));
  auto empty = store{}.snapshot();
  ASSERT_TRUE(other.restore(empty.data(), empty.size()));
  EXPECT_TRUE(other.tasks().empty());
  EXPECT_TRUE(other.tasks_on_node("").empty());
  EXPECT_TRUE(other.tasks_of_service("svc2").empty());
}

// A snapshot of a cluster, services and tasks, built by hand.
std::vector<uint8_t> snapshot_with(const std::vector<service_object>& services,
                                   const std::vector<task_object>& tasks,
                                   uint64_t applied, bool with_cluster = true) {
  capnp::MallocMessageBuilder builder;
  auto snap = builder.initRoot<sc::Snapshot>();
  if (with_cluster) {
    auto cluster = make_cluster();
    cluster.version = 1;
    to_schema(cluster, snap.initCluster());
  }
  auto list = snap.initServices(static_cast<unsigned>(services.size()));
  for (unsigned i = 0; i < services.size(); ++i)
    to_schema(services[i], list[i]);
  auto task_list = snap.initTasks(static_cast<unsigned>(tasks.size()));
  for (unsigned i = 0; i < tasks.size(); ++i)
    to_schema(tasks[i], task_list[i]);
  snap.setAppliedIndex(applied);
  return message<sc::Snapshot>::from(builder).encode();
}

TEST_F(ServiceStoreTest, RestoreRefusesBadServiceAndTaskLists) {
  init_service();
  add_task("t0", 1);
  auto before = s.snapshot();
  auto a = make_service("a", "web");
  auto b = make_service("b", "api");
  a.version = b.version = 2;
  auto b_as_web = b;
  b_as_web.spec.name = "web";
  auto t1 = make_task("t1", "a", 1);
  auto t2 = make_task("t2", "gone", 1);
  t1.version = t2.version = 3;
  auto future = t2;
  future.version = 11;
  auto unversioned = b;
  unversioned.version = 0;
  auto bad_name = b;
  bad_name.spec.name = "-bad";
  std::vector<std::pair<const char*, std::vector<uint8_t>>> bad{
    {"unsorted services", snapshot_with({b, a}, {}, 10)},
    {"duplicate services", snapshot_with({a, a}, {}, 10)},
    {"duplicate names", snapshot_with({a, b_as_web}, {}, 10)},
    {"service version 0", snapshot_with({a, unversioned}, {}, 10)},
    {"bad service name", snapshot_with({a, bad_name}, {}, 10)},
    {"unsorted tasks", snapshot_with({a}, {t2, t1}, 10)},
    {"duplicate tasks", snapshot_with({a}, {t1, t1}, 10)},
    {"task after the index", snapshot_with({a}, {t1, future}, 10)},
    {"services without a cluster", snapshot_with({a}, {}, 10, false)},
    {"tasks without a cluster", snapshot_with({}, {t2}, 10, false)},
  };
  for (auto& [what, bytes] : bad) {
    auto refused = s.restore(bytes.data(), bytes.size());
    EXPECT_FALSE(refused) << what;
    EXPECT_EQ(s.snapshot(), before) << what;
  }
  // Tasks of a service that is gone are fine.
  auto good = snapshot_with({a, b}, {t1, t2}, 10);
  auto restored = s.restore(good.data(), good.size());
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(ids_of(s.tasks_of_service("gone")), ids{"t2"});
  EXPECT_EQ(s.task("t0"), nullptr);
  EXPECT_EQ(s.service("svc1"), nullptr);
}

TEST(StoreCodec, ServiceAndTaskActionsRoundTrip) {
  auto svc = full_service("svc1", "web");
  auto t = full_task("t1", svc);
  task_status status{task_state::running, 12, "started", "", 0, {30001}};
  std::vector<action> in{put_service{svc, 7},
                         remove_service{"svc2", 8},
                         put_task{t, 9},
                         remove_task{"t2"},
                         assign_task{"t3", "alpha0001", 11, "assigned"},
                         set_task_status{"t4", status},
                         set_task_desired_state{"t5", task_state::shutdown}};
  auto bytes = encode_batch(in);
  auto out = decode_batch(bytes.data(), bytes.size());
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->size(), in.size());
  auto put = std::get<put_service>((*out)[0]);
  EXPECT_TRUE(put.service == svc);
  EXPECT_EQ(put.expected_version, 7u);
  auto remove = std::get<remove_service>((*out)[1]);
  EXPECT_EQ(remove.id, "svc2");
  EXPECT_EQ(remove.expected_version, 8u);
  EXPECT_TRUE(std::get<put_task>((*out)[2]).task == t);
  EXPECT_EQ(std::get<put_task>((*out)[2]).expected_version, 9u);
  EXPECT_EQ(std::get<remove_task>((*out)[3]).id, "t2");
  auto assign = std::get<assign_task>((*out)[4]);
  EXPECT_EQ(assign.id, "t3");
  EXPECT_EQ(assign.node_id, "alpha0001");
  EXPECT_EQ(assign.at_nanos, 11);
  EXPECT_EQ(assign.message, "assigned");
  EXPECT_TRUE(std::get<set_task_status>((*out)[5]).status == status);
  EXPECT_EQ(std::get<set_task_desired_state>((*out)[6]).desired_state,
            task_state::shutdown);
  // A service without a previous spec stays without one.
  auto plain = make_service("svc3", "plain");
  auto plain_bytes = encode_batch({put_service{plain, 0}});
  auto plain_out = decode_batch(plain_bytes.data(), plain_bytes.size());
  ASSERT_TRUE(plain_out);
  EXPECT_FALSE(std::get<put_service>((*plain_out)[0]).service.previous_spec);
}

TEST(StoreCodec, ServiceAndTaskSchemaDefaultsMatchTheCppDefaults) {
  capnp::MallocMessageBuilder builder;
  auto svc = builder.initRoot<sc::Service>();
  svc.setId("s");
  svc.initSpec().setName("n");
  svc.getSpec().initContainer().setImage("i");
  auto read = from_schema(svc.asReader());
  ASSERT_TRUE(read) << read.error().message;
  service_object expected;
  expected.id = "s";
  expected.spec.name = "n";
  expected.spec.container.image = "i";
  EXPECT_TRUE(*read == expected);
  capnp::MallocMessageBuilder task_builder;
  auto t = task_builder.initRoot<sc::Task>();
  t.setId("t");
  t.setServiceId("s");
  t.initContainer().setImage("i");
  auto task = from_schema(t.asReader());
  ASSERT_TRUE(task) << task.error().message;
  task_object expected_task;
  expected_task.id = "t";
  expected_task.service_id = "s";
  expected_task.container.image = "i";
  EXPECT_TRUE(*task == expected_task);
  capnp::MallocMessageBuilder port_builder;
  auto port = port_builder.initRoot<sc::PortConfig>();
  EXPECT_EQ(std::string(port.getProtocol().cStr()), port_config{}.protocol);
}

TEST(StoreCodec, ServiceNames) {
  for (const char* good : {"web", "a", "A9", "9lives", "my_app.v2-beta"})
    EXPECT_TRUE(is_valid_service_name(good)) << good;
  for (const char* bad :
       {"", "-web", ".web", "_web", "a b", "a/b", "web!", "caf\xc3\xa9"})
    EXPECT_FALSE(is_valid_service_name(bad)) << bad;
  EXPECT_TRUE(is_valid_service_name(std::string(63, 'a')));
  EXPECT_FALSE(is_valid_service_name(std::string(64, 'a')));
}

// Encodes a batch with one put_service whose Service `edit` changes.
template <class Edit>
std::vector<uint8_t> put_service_with(Edit&& edit) {
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<sc::Batch>();
  auto svc = batch.initActions(1)[0].initPutService().initService();
  to_schema(full_service("svc1", "web"), svc);
  edit(svc);
  return message<sc::Batch>::from(builder).encode();
}

// Encodes a batch with one put_task whose Task `edit` changes.
template <class Edit>
std::vector<uint8_t> put_task_with(Edit&& edit) {
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<sc::Batch>();
  auto t = batch.initActions(1)[0].initPutTask().initTask();
  to_schema(full_task("t1", full_service("svc1", "web")), t);
  edit(t);
  return message<sc::Batch>::from(builder).encode();
}

// Encodes a batch with one action that `edit` writes.
template <class Edit>
std::vector<uint8_t> action_with(Edit&& edit) {
  capnp::MallocMessageBuilder builder;
  auto batch = builder.initRoot<sc::Batch>();
  edit(batch.initActions(1)[0]);
  return message<sc::Batch>::from(builder).encode();
}

using spec_builder = sc::ServiceSpec::Builder;

template <class Edit>
std::vector<uint8_t> spec_with(Edit&& edit) {
  return put_service_with(
    [&](sc::Service::Builder svc) { edit(svc.getSpec()); });
}

template <class Edit>
std::vector<uint8_t> container_with(Edit&& edit) {
  return spec_with([&](spec_builder spec) { edit(spec.getContainer()); });
}

void fill_texts(capnp::List<capnp::Text>::Builder list, const char* text) {
  for (unsigned i = 0; i < list.size(); ++i)
    list.set(i, text);
}

TEST(StoreCodec, RefusesBadServicesAndTasks) {
  using container = sc::ContainerSpec::Builder;
  auto big = std::string(max_text_size + 1, 'x');
  auto over = static_cast<unsigned>(max_list_size + 1);
  std::vector<std::pair<const char*, std::vector<uint8_t>>> cases{
    {"bad service id",
     put_service_with([](sc::Service::Builder svc) { svc.setId("a b"); })},
    {"empty name", spec_with([](spec_builder spec) { spec.setName(""); })},
    {"bad name", spec_with([](spec_builder spec) { spec.setName("-web"); })},
    {"long name",
     spec_with([](spec_builder spec) { spec.setName(std::string(64, 'a')); })},
    {"bad previous name", put_service_with([](sc::Service::Builder svc) {
       svc.getPreviousSpec().setName("a b");
     })},
    {"empty image", container_with([](container c) { c.setImage(""); })},
    {"huge image", container_with([&](container c) { c.setImage(big); })},
    {"env without =",
     container_with([](container c) { c.initEnv(1).set(0, "PATH"); })},
    {"env without key",
     container_with([](container c) { c.initEnv(1).set(0, "=x"); })},
    {"env twice", container_with([](container c) {
       auto env = c.initEnv(2);
       env.set(0, "A=1");
       env.set(1, "A=2");
     })},
    {"too many args",
     container_with([&](container c) { fill_texts(c.initArgs(over), "x"); })},
    {"too many env entries", container_with([&](container c) {
       auto env = c.initEnv(over);
       for (unsigned i = 0; i < env.size(); ++i)
         env.set(i, "K" + std::to_string(i) + "=v");
     })},
    {"huge arg",
     container_with([&](container c) { c.initArgs(1).set(0, big); })},
    {"negative stop grace",
     container_with([](container c) { c.setStopGraceNanos(-1); })},
    {"too many constraints", spec_with([&](spec_builder spec) {
       fill_texts(spec.initConstraints(over), "node.role==worker");
     })},
    {"bad constraint", spec_with([](spec_builder spec) {
       spec.initConstraints(1).set(0, "node.role");
     })},
    {"too many labels", spec_with([&](spec_builder spec) {
       auto labels = spec.initLabels(over);
       for (unsigned i = 0; i < labels.size(); ++i)
         labels[i].setKey("k" + std::to_string(i));
     })},
    {"empty label key",
     spec_with([](spec_builder spec) { spec.initLabels(1)[0].setValue("v"); })},
    {"unknown mode", spec_with([](spec_builder spec) {
       spec.setMode(static_cast<sc::ServiceMode>(2));
     })},
    {"too many replicas",
     spec_with([](spec_builder spec) { spec.setReplicas(max_replicas + 1); })},
    {"negative reservation", spec_with([](spec_builder spec) {
       spec.getReservations().setMemoryBytes(-1);
     })},
    {"unknown restart condition", spec_with([](spec_builder spec) {
       spec.getRestart().setCondition(static_cast<sc::RestartCondition>(3));
     })},
    {"negative restart delay",
     spec_with([](spec_builder spec) { spec.getRestart().setDelayNanos(-5); })},
    {"negative window", spec_with([](spec_builder spec) {
       spec.getRestart().setWindowNanos(-5);
     })},
    {"unknown failure action", spec_with([](spec_builder spec) {
       spec.getUpdate().setOnFailure(static_cast<sc::FailureAction>(3));
     })},
    {"unknown order", spec_with([](spec_builder spec) {
       spec.getRollback().setOrder(static_cast<sc::UpdateOrder>(2));
     })},
    {"negative monitor", spec_with([](spec_builder spec) {
       spec.getUpdate().setMonitorNanos(-1);
     })},
    {"ratio above 1", spec_with([](spec_builder spec) {
       spec.getUpdate().setMaxFailureRatio(1.5);
     })},
    {"negative ratio", spec_with([](spec_builder spec) {
       spec.getRollback().setMaxFailureRatio(-0.1);
     })},
    {"NaN ratio", spec_with([](spec_builder spec) {
       spec.getUpdate().setMaxFailureRatio(std::nan(""));
     })},
    {"infinite ratio", spec_with([](spec_builder spec) {
       spec.getUpdate().setMaxFailureRatio(HUGE_VAL);
     })},
    {"port without target", spec_with([](spec_builder spec) {
       spec.initPorts(1)[0].setPublished(80);
     })},
    {"sctp port", spec_with([](spec_builder spec) {
       auto port = spec.initPorts(1)[0];
       port.setTarget(80);
       port.setProtocol("sctp");
     })},
    {"too many ports", spec_with([&](spec_builder spec) {
       auto ports = spec.initPorts(over);
       for (unsigned i = 0; i < ports.size(); ++i)
         ports[i].setTarget(80);
     })},
    {"bad task id",
     put_task_with([](sc::Task::Builder t) { t.setId(std::string(65, 'a')); })},
    {"bad task service id",
     put_task_with([](sc::Task::Builder t) { t.setServiceId(""); })},
    {"bad task node id",
     put_task_with([](sc::Task::Builder t) { t.setNodeId("a/b"); })},
    {"task slot too high",
     put_task_with([](sc::Task::Builder t) { t.setSlot(max_replicas + 1); })},
    {"task without image",
     put_task_with([](sc::Task::Builder t) { t.getContainer().setImage(""); })},
    {"task with bad env", put_task_with([](sc::Task::Builder t) {
       t.getContainer().initEnv(1).set(0, "NOEQUALS");
     })},
    {"task with bad port", put_task_with([](sc::Task::Builder t) {
       t.initPorts(1)[0].setProtocol("tcp");
     })},
    {"unknown desired state", put_task_with([](sc::Task::Builder t) {
       t.setDesiredState(static_cast<sc::TaskState>(13));
     })},
    {"a task in state remove", put_task_with([](sc::Task::Builder t) {
       t.getStatus().setState(sc::TaskState::REMOVE);
     })},
    {"unknown task state", put_task_with([](sc::Task::Builder t) {
       t.getStatus().setState(static_cast<sc::TaskState>(99));
     })},
    {"too many host ports", put_task_with([&](sc::Task::Builder t) {
       t.getStatus().initHostPorts(over);
     })},
    {"huge status message",
     put_task_with([&](sc::Task::Builder t) { t.getStatus().setErr(big); })},
    {"remove service bad id", action_with([](sc::Action::Builder a) {
       a.initRemoveService().setId("");
     })},
    {"remove task bad id", action_with([](sc::Action::Builder a) {
       a.initRemoveTask().setId("a b");
     })},
    {"assign without node", action_with([](sc::Action::Builder a) {
       a.initAssignTask().setId("t1");
     })},
    {"assign with huge message", action_with([&](sc::Action::Builder a) {
       auto assign = a.initAssignTask();
       assign.setId("t1");
       assign.setNodeId("n1");
       assign.setMessage(big);
     })},
    {"status of unknown state", action_with([](sc::Action::Builder a) {
       auto set = a.initSetTaskStatus();
       set.setId("t1");
       set.initStatus().setState(static_cast<sc::TaskState>(13));
     })},
    {"unknown desired state", action_with([](sc::Action::Builder a) {
       auto set = a.initSetTaskDesiredState();
       set.setId("t1");
       set.setDesiredState(static_cast<sc::TaskState>(40));
     })},
    {"remove as a task's state", action_with([](sc::Action::Builder a) {
       auto set = a.initSetTaskStatus();
       set.setId("t1");
       set.initStatus().setState(sc::TaskState::REMOVE);
     })},
  };
  for (auto& [what, bytes] : cases) {
    auto decoded = decode_batch(bytes.data(), bytes.size());
    ASSERT_FALSE(decoded) << what;
    EXPECT_EQ(decoded.error().code, errc::invalid_argument)
      << what << ": " << decoded.error().message;
  }
  auto fine = put_service_with([](sc::Service::Builder) {});
  EXPECT_TRUE(decode_batch(fine.data(), fine.size()));
  auto fine_task = put_task_with([](sc::Task::Builder) {});
  EXPECT_TRUE(decode_batch(fine_task.data(), fine_task.size()));
  // Exactly at the limits is fine.
  auto at_limit = container_with([](sc::ContainerSpec::Builder c) {
    fill_texts(c.initArgs(max_list_size), "x");
    c.initEnv(1).set(0, "K=" + std::string(max_text_size - 2, 'v'));
  });
  auto decoded = decode_batch(at_limit.data(), at_limit.size());
  EXPECT_TRUE(decoded) << decoded.error().message;
}

TEST(StoreCodec, ErrorsNameTheObjectAndTheField) {
  auto bytes = container_with(
    [](sc::ContainerSpec::Builder c) { c.initEnv(1).set(0, "PATH"); });
  auto decoded = decode_batch(bytes.data(), bytes.size());
  ASSERT_FALSE(decoded);
  EXPECT_TRUE(contains(decoded.error().message, "service svc1"))
    << decoded.error().message;
  EXPECT_TRUE(contains(decoded.error().message, "PATH"));
  auto name = spec_with([](spec_builder spec) { spec.setName("a b"); });
  decoded = decode_batch(name.data(), name.size());
  ASSERT_FALSE(decoded);
  EXPECT_TRUE(contains(decoded.error().message, "service name \"a b\""))
    << decoded.error().message;
}

TEST_F(ServiceStoreTest, InMemoryActionsAreCheckedLikeDecodedOnes) {
  init_service();
  auto before = contents_of(s);
  auto bad = make_service("svc2", "api");
  bad.spec.container.env = {"NOEQUALS"};
  auto bad_task = make_task("t1", "svc1", 1);
  bad_task.desired_state = static_cast<task_state>(42);
  task_status bad_status;
  bad_status.state = task_state::remove; // a desired state only
  std::vector<std::vector<action>> cases{
    {put_service{bad, 0}},
    {put_task{bad_task, 0}},
    {put_task{make_task("t1", "svc1", 1), 0},
     set_task_status{"t1", bad_status}},
    {set_task_desired_state{"t1", static_cast<task_state>(13)}},
    {assign_task{"t1", "", 0, ""}},
    {remove_task{""}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto bytes = encode_batch(cases[i]);
    EXPECT_FALSE(decode_batch(bytes.data(), bytes.size())) << "case " << i;
    auto refused = s.apply(++index, cases[i]);
    ASSERT_FALSE(refused) << "case " << i;
    EXPECT_EQ(refused.error().code, errc::invalid_argument) << "case " << i;
    EXPECT_EQ(s.applied_index(), index);
  }
  EXPECT_TRUE(contents_of(s) == before);
  auto good = s.apply(++index, {put_task{make_task("t1", "svc1", 1), 0}});
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_NE(s.task("t1"), nullptr);
}

// The scheduler's pattern at a smaller scale: many tasks created in one
// entry, then assigned in batches, reported, stopped and reaped.
TEST_F(ServiceStoreTest, ManyTasksInBatches) {
  init_service();
  constexpr int count = 6'000;
  constexpr int batch = 1'000;
  auto name = [](int i) { return fmt::format("task{:05}", i); };
  std::vector<action> create;
  for (int i = 0; i < count; ++i)
    create.push_back(put_task{make_task(name(i), "svc1", 1 + i % 3000), 0});
  auto created = apply(create);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->size(), static_cast<size_t>(count));
  EXPECT_EQ(s.tasks_on_node("").size(), static_cast<size_t>(count));
  for (int first = 0; first < count; first += batch) {
    std::vector<action> assign;
    for (int i = first; i < first + batch; ++i)
      assign.push_back(
        assign_task{name(i), i % 2 ? "alpha0001" : "beta0002", i, "assigned"});
    auto assigned = apply(assign);
    ASSERT_TRUE(assigned) << assigned.error().message;
    EXPECT_EQ(assigned->size(), static_cast<size_t>(batch));
  }
  EXPECT_TRUE(s.tasks_on_node("").empty());
  EXPECT_EQ(s.tasks_on_node("alpha0001").size(), count / 2u);
  EXPECT_EQ(s.tasks_in_slot("svc1", 7).size(), 2u);
  std::vector<action> stop;
  for (int i = 0; i < count; i += 2)
    stop.push_back(set_task_desired_state{name(i), task_state::shutdown});
  ASSERT_TRUE(apply(stop));
  std::vector<action> reap;
  for (int i = 0; i < count; i += 2)
    reap.push_back(remove_task{name(i)});
  ASSERT_TRUE(apply(reap));
  EXPECT_EQ(s.tasks().size(), count / 2u);
  EXPECT_TRUE(s.tasks_on_node("beta0002").empty());
  expect_indexes_match(s, {"svc1"}, {"alpha0001", "beta0002", ""});
}

// A random workload over services and tasks, with stale and conflicting
// actions mixed in.
std::vector<std::vector<uint8_t>> random_task_workload(uint64_t seed,
                                                       int size) {
  std::mt19937_64 rng{seed};
  std::vector<std::vector<uint8_t>> entries;
  entries.push_back(encode_batch({create_cluster{make_cluster()},
                                  put_node{make_node("node0", "h0"), 0},
                                  put_node{make_node("node1", "h1"), 0}}));
  auto service_id = [&] { return "svc" + std::to_string(rng() % 4); };
  auto task_id = [&] { return "task" + std::to_string(rng() % 40); };
  auto node_id = [&] { return "node" + std::to_string(rng() % 3); };
  for (int i = 0; i < size; ++i) {
    std::vector<action> batch;
    auto actions = 1 + rng() % 4;
    for (size_t j = 0; j < actions; ++j) {
      switch (rng() % 10) {
      case 0: {
        auto svc
          = make_service(service_id(), "name" + std::to_string(rng() % 5));
        svc.spec.replicas = rng() % 5;
        batch.push_back(put_service{svc, rng() % 2 ? 0 : rng() % 60});
        break;
      }
      case 1:
        batch.push_back(
          remove_service{service_id(), rng() % 3 ? 0 : rng() % 60});
        break;
      case 2:
      case 3: {
        auto t = make_task(task_id(), service_id(), rng() % 4,
                           static_cast<int64_t>(rng() % 5));
        if (rng() % 3 == 0)
          t.node_id = node_id();
        batch.push_back(put_task{t, rng() % 3 ? 0 : rng() % 60});
        break;
      }
      case 4:
        batch.push_back(remove_task{task_id()});
        break;
      case 5:
      case 6:
        batch.push_back(assign_task{task_id(), node_id(),
                                    static_cast<int64_t>(rng() % 100), "a"});
        break;
      case 7: {
        task_status status;
        status.state = static_cast<task_state>(rng() % 12);
        status.at_nanos = static_cast<int64_t>(rng() % 100);
        status.message = std::to_string(rng() % 3);
        batch.push_back(set_task_status{task_id(), status});
        break;
      }
      case 8:
        batch.push_back(set_task_desired_state{
          task_id(), static_cast<task_state>(rng() % 12)});
        break;
      default:
        batch.push_back(remove_node{node_id(), 0});
        batch.push_back(put_node{make_node(node_id(), "h"), 0});
        break;
      }
    }
    entries.push_back(encode_batch(batch));
  }
  return entries;
}

TEST(StoreDeterminism, ServicesAndTasksGiveIdenticalSnapshotsAndIndexes) {
  auto entries = random_task_workload(11, 600);
  store a;
  store b;
  store late;
  int applied = 0;
  ids services{"svc0", "svc1", "svc2", "svc3"};
  ids nodes{"", "node0", "node1", "node2"};
  for (size_t i = 0; i < entries.size(); ++i) {
    auto index = 1 + i;
    auto ra = a.apply(index, entries[i].data(), entries[i].size());
    auto rb = b.apply(index, entries[i].data(), entries[i].size());
    ASSERT_EQ(ra.ok(), rb.ok()) << "entry " << i;
    if (ra)
      ++applied;
    if (i == entries.size() / 2) {
      auto snap = a.snapshot();
      ASSERT_TRUE(late.restore(snap.data(), snap.size()));
    } else if (i > entries.size() / 2) {
      ASSERT_EQ(late.apply(index, entries[i].data(), entries[i].size()).ok(),
                ra.ok());
    }
    ASSERT_EQ(a.snapshot(), b.snapshot()) << "entry " << i;
    if (i % 20 == 0)
      expect_indexes_match(a, services, nodes);
  }
  EXPECT_EQ(a.snapshot(), late.snapshot());
  expect_indexes_match(a, services, nodes);
  expect_indexes_match(late, services, nodes);
  EXPECT_GT(applied, 100);
  EXPECT_LT(applied, static_cast<int>(entries.size()) - 50);
  EXPECT_FALSE(a.tasks().empty());
}

} // namespace
} // namespace skep::store
