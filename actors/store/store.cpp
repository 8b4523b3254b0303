#include "actors/store/store.hpp"

#include "messages/message.hpp"
#include "messages/store.capnp.h"

#include <utility>

#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::store {

namespace sc = schema::store;

namespace {

using node_map = std::map<std::string, node_object, std::less<>>;

// The changes of a batch in progress, over the committed state: nothing
// touches the store until every action succeeded.
class staging {
 public:
  staging(const std::optional<cluster_object>& cluster, const node_map& nodes)
    : base_cluster_(cluster), base_nodes_(nodes) {}

  const cluster_object* cluster() const {
    if (cluster_)
      return &*cluster_;
    return base_cluster_ ? &*base_cluster_ : nullptr;
  }

  const node_object* node(const std::string& id) const {
    if (auto i = nodes_.find(id); i != nodes_.end())
      return i->second ? &*i->second : nullptr;
    auto j = base_nodes_.find(id);
    return j != base_nodes_.end() ? &j->second : nullptr;
  }

  void put_cluster(cluster_object cluster) { cluster_ = std::move(cluster); }

  void put_node(node_object node) {
    auto id = node.id;
    nodes_[id] = std::move(node);
  }

  void remove_node(const std::string& id) { nodes_[id] = std::nullopt; }

  void commit_to(std::optional<cluster_object>& cluster, node_map& nodes) && {
    if (cluster_)
      cluster = std::move(cluster_);
    for (auto& [id, node] : nodes_) {
      if (node)
        nodes.insert_or_assign(id, std::move(*node));
      else
        nodes.erase(id);
    }
  }

 private:
  const std::optional<cluster_object>& base_cluster_;
  const node_map& base_nodes_;
  std::optional<cluster_object> cluster_;
  std::map<std::string, std::optional<node_object>> nodes_; // nullopt: gone
};

failure out_of_sequence(const std::string& what, uint64_t stored,
                        uint64_t expected) {
  return fail(errc::invalid_argument,
              fmt::format("update out of sequence: {} is at version {}, not "
                          "{}; read it again and retry",
                          what, stored, expected));
}

failure no_swarm() {
  return fail(errc::not_found, "there is no swarm yet: create one with `skep "
                               "swarm init`");
}

failure node_not_found(const std::string& id) {
  return fail(errc::not_found, fmt::format("node {} not found", id));
}

// Checks one action against the staged state and stages its effect.
struct action_applier {
  staging& state;
  uint64_t index;

  result<change> operator()(const create_cluster& a) {
    if (auto existing = state.cluster())
      return fail(errc::already_exists,
                  fmt::format("a swarm already exists (cluster {}); leave it "
                              "before creating another",
                              existing->id));
    auto cluster = a.cluster;
    cluster.version = index;
    state.put_cluster(std::move(cluster));
    return change{change::kind::cluster, a.cluster.id};
  }

  result<change> operator()(const update_cluster& a) {
    auto current = state.cluster();
    if (!current)
      return no_swarm();
    if (a.expected_version != current->version)
      return out_of_sequence("cluster " + current->id, current->version,
                             a.expected_version);
    if (a.cluster.id != current->id)
      return fail(errc::invalid_argument,
                  fmt::format("the cluster id cannot change (from {} to {})",
                              current->id, a.cluster.id));
    if (a.cluster.created_at_nanos != current->created_at_nanos)
      return fail(errc::invalid_argument,
                  fmt::format("cluster {}: the creation time cannot change",
                              current->id));
    auto cluster = a.cluster;
    cluster.version = index;
    state.put_cluster(std::move(cluster));
    return change{change::kind::cluster, a.cluster.id};
  }

  result<change> operator()(const put_node& a) {
    if (!state.cluster())
      return no_swarm();
    auto current = state.node(a.node.id);
    if (a.expected_version == 0 && current)
      return fail(errc::already_exists,
                  fmt::format("node {} already exists", a.node.id));
    if (a.expected_version != 0) {
      if (!current)
        return node_not_found(a.node.id);
      if (a.expected_version != current->version)
        return out_of_sequence("node " + a.node.id, current->version,
                               a.expected_version);
      if (a.node.created_at_nanos != current->created_at_nanos)
        return fail(
          errc::invalid_argument,
          fmt::format("node {}: the join time cannot change", a.node.id));
    }
    auto what
      = current ? change::kind::node_updated : change::kind::node_created;
    auto node = a.node;
    node.version = index;
    state.put_node(std::move(node));
    return change{what, a.node.id};
  }

  result<change> operator()(const remove_node& a) {
    if (!state.cluster())
      return no_swarm();
    auto current = state.node(a.id);
    if (!current)
      return node_not_found(a.id);
    if (a.expected_version != 0 && a.expected_version != current->version)
      return out_of_sequence("node " + a.id, current->version,
                             a.expected_version);
    state.remove_node(a.id);
    return change{change::kind::node_removed, a.id};
  }

  result<change> operator()(const set_node_status& a) {
    if (!state.cluster())
      return no_swarm();
    auto current = state.node(a.id);
    if (!current)
      return node_not_found(a.id);
    auto node = *current;
    node.status = a.status;
    node.status_message = a.message;
    node.updated_at_nanos = a.at_nanos;
    node.version = index;
    state.put_node(std::move(node));
    return change{change::kind::node_updated, a.id};
  }
};

failure ambiguous(std::string_view name,
                  const std::vector<const node_object*>& matches,
                  std::string_view hint) {
  std::string ids;
  for (auto* node : matches) {
    if (!ids.empty())
      ids += ", ";
    ids += node->id;
  }
  return fail(
    errc::invalid_argument,
    fmt::format("node name {} is ambiguous: matches {}; {}", name, ids, hint));
}

result<void> check_version(const std::string& what, uint64_t version,
                           uint64_t applied_index) {
  if (version == 0 || version > applied_index)
    return fail(errc::invalid_argument,
                fmt::format("snapshot: {} has version {}, outside 1..{} (the "
                            "applied index)",
                            what, version, applied_index));
  return {};
}

} // namespace

result<std::vector<change>> store::apply(uint64_t index, const uint8_t* data,
                                         size_t size) {
  if (index <= applied_index_)
    return fail(errc::internal,
                fmt::format("entry {} is not after the applied index {}; "
                            "entries must be applied once, in order",
                            index, applied_index_));
  auto actions = decode_batch(data, size);
  if (!actions) {
    applied_index_ = index;
    return std::move(actions).error();
  }
  return apply(index, *actions);
}

result<std::vector<change>> store::apply(uint64_t index,
                                         const std::vector<action>& actions) {
  if (index <= applied_index_)
    return fail(errc::internal,
                fmt::format("entry {} is not after the applied index {}; "
                            "entries must be applied once, in order",
                            index, applied_index_));
  applied_index_ = index;
  staging staged{cluster_, nodes_};
  std::vector<change> changes;
  changes.reserve(actions.size());
  for (size_t i = 0; i < actions.size(); ++i) {
    auto done = std::visit(action_applier{staged, index}, actions[i]);
    if (!done) {
      if (actions.size() == 1)
        return std::move(done).error();
      return fail(done.error().code,
                  fmt::format("action {} of {}: {}", i + 1, actions.size(),
                              done.error().message));
    }
    changes.push_back(std::move(*done));
  }
  std::move(staged).commit_to(cluster_, nodes_);
  return changes;
}

std::vector<uint8_t> store::snapshot() const {
  capnp::MallocMessageBuilder builder;
  auto snap = builder.initRoot<sc::Snapshot>();
  if (cluster_)
    to_schema(*cluster_, snap.initCluster());
  auto list = snap.initNodes(static_cast<unsigned>(nodes_.size()));
  unsigned i = 0;
  for (const auto& entry : nodes_)
    to_schema(entry.second, list[i++]);
  snap.setAppliedIndex(applied_index_);
  return message<sc::Snapshot>::from(builder).encode();
}

result<void> store::restore(const uint8_t* data, size_t size) {
  auto msg = message<sc::Snapshot>::decode(
    data, size, read_limits_for_frames(max_snapshot_bytes));
  if (!msg)
    return std::move(msg).error();
  auto snap = msg->root();
  auto applied = snap.getAppliedIndex();
  std::optional<cluster_object> cluster;
  if (snap.hasCluster()) {
    auto read = from_schema(snap.getCluster());
    if (!read)
      return fail(read.error().code,
                  fmt::format("snapshot: {}", read.error().message));
    if (auto ok = check_version("cluster " + read->id, read->version, applied);
        !ok)
      return std::move(ok).error();
    cluster = std::move(*read);
  }
  node_map nodes;
  for (auto in : snap.getNodes()) {
    auto read = from_schema(in);
    if (!read)
      return fail(read.error().code,
                  fmt::format("snapshot: {}", read.error().message));
    if (auto ok = check_version("node " + read->id, read->version, applied);
        !ok)
      return std::move(ok).error();
    if (!nodes.empty() && nodes.rbegin()->first >= read->id)
      return fail(errc::invalid_argument,
                  fmt::format("snapshot: node {} follows node {}: nodes must "
                              "be sorted by id, each once",
                              read->id, nodes.rbegin()->first));
    auto id = read->id;
    nodes.emplace_hint(nodes.end(), std::move(id), std::move(*read));
  }
  if (!cluster && !nodes.empty())
    return fail(errc::invalid_argument,
                "snapshot: it lists nodes but no cluster");
  cluster_ = std::move(cluster);
  nodes_ = std::move(nodes);
  applied_index_ = applied;
  return {};
}

const node_object* store::node(std::string_view id) const {
  auto i = nodes_.find(id);
  return i != nodes_.end() ? &i->second : nullptr;
}

std::vector<const node_object*> store::nodes() const {
  std::vector<const node_object*> out;
  out.reserve(nodes_.size());
  for (const auto& entry : nodes_)
    out.push_back(&entry.second);
  return out;
}

result<const node_object*> store::find_node(std::string_view name) const {
  if (name.empty())
    return fail(errc::invalid_argument, "give a node ID or hostname");
  if (auto exact = node(name))
    return exact;
  std::vector<const node_object*> matches;
  for (const auto& entry : nodes_)
    if (entry.second.hostname == name)
      matches.push_back(&entry.second);
  if (matches.size() == 1)
    return matches.front();
  if (matches.size() > 1)
    return ambiguous(name, matches,
                     "several nodes have this hostname, use a node ID");
  for (auto i = nodes_.lower_bound(name);
       i != nodes_.end() && i->first.compare(0, name.size(), name) == 0; ++i)
    matches.push_back(&i->second);
  if (matches.size() == 1)
    return matches.front();
  if (matches.size() > 1)
    return ambiguous(name, matches, "give more characters of the ID");
  return fail(errc::not_found, fmt::format("node {} not found", name));
}

} // namespace skep::store
