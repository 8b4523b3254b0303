// The replicated state machine: batches of actions applied all-or-nothing,
// optimistic versions, snapshots, node lookups, hostile bytes, determinism.

#include "actors/store/store.hpp"
#include "messages/message.hpp"
#include "messages/store.capnp.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <random>

#include <capnp/any.h>
#include <capnp/message.h>
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

// What a store holds, without its applied index.
struct contents {
  std::optional<cluster_object> cluster;
  std::vector<node_object> nodes;

  friend bool operator==(const contents& x, const contents& y) {
    return x.cluster == y.cluster && x.nodes == y.nodes;
  }
};

contents contents_of(const store& s) {
  contents out;
  if (s.cluster())
    out.cluster = *s.cluster();
  for (auto* n : s.nodes())
    out.nodes.push_back(*n);
  return out;
}

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

} // namespace
} // namespace skep::store
