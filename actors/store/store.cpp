#include "actors/store/store.hpp"

#include "actors/store/apply.hpp"
#include "messages/message.hpp"
#include "messages/store.capnp.h"

#include <utility>

#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::store {

namespace sc = schema::store;

namespace {

// "KIND name NAME is ambiguous: matches ID1, ID2; HINT"
template <class Object>
failure ambiguous(std::string_view kind, std::string_view name,
                  const std::vector<const Object*>& matches,
                  std::string_view hint) {
  std::string ids;
  for (auto* match : matches) {
    if (!ids.empty())
      ids += ", ";
    ids += match->id;
  }
  return fail(errc::invalid_argument,
              fmt::format("{} name {} is ambiguous: matches {}; {}", kind, name,
                          ids, hint));
}

// The objects of `map` whose id starts with `prefix`.
template <class Map>
auto with_prefix(const Map& map, std::string_view prefix) {
  std::vector<const typename Map::mapped_type*> out;
  for (auto i = map.lower_bound(prefix);
       i != map.end() && i->first.compare(0, prefix.size(), prefix) == 0; ++i)
    out.push_back(&i->second);
  return out;
}

failure out_of_order(uint64_t index, uint64_t applied_index) {
  return fail(errc::internal,
              fmt::format("entry {} is not after the applied index {}; "
                          "entries must be applied once, in order",
                          index, applied_index));
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

// Reads one object of a snapshot list: valid, at a sane version and after
// `previous_id` (lists are sorted by id, each id once).
template <class Reader>
auto read_listed(Reader in, std::string_view kind,
                 const std::string* previous_id, uint64_t applied)
  -> decltype(from_schema(in)) {
  auto read = from_schema(in);
  if (!read)
    return fail(read.error().code,
                fmt::format("snapshot: {}", read.error().message));
  auto what = fmt::format("{} {}", kind, read->id);
  if (auto ok = check_version(what, read->version, applied); !ok)
    return std::move(ok).error();
  if (previous_id && *previous_id >= read->id)
    return fail(errc::invalid_argument,
                fmt::format("snapshot: {} follows {} {}: {}s must be sorted "
                            "by id, each once",
                            what, kind, *previous_id, kind));
  return read;
}

} // namespace

result<std::vector<change>> store::apply(uint64_t index, const uint8_t* data,
                                         size_t size) {
  if (index <= applied_index_)
    return out_of_order(index, applied_index_);
  applied_index_ = index;
  auto actions = decode_batch(data, size);
  if (!actions)
    return std::move(actions).error();
  return detail::apply_actions(state_, index, std::move(*actions));
}

result<std::vector<change>> store::apply(uint64_t index,
                                         const std::vector<action>& actions) {
  if (index <= applied_index_)
    return out_of_order(index, applied_index_);
  applied_index_ = index;
  for (size_t i = 0; i < actions.size(); ++i) {
    auto ok = validate(actions[i]);
    if (ok)
      continue;
    if (actions.size() == 1)
      return std::move(ok).error();
    return fail(ok.error().code,
                fmt::format("action {} of {}: {}", i + 1, actions.size(),
                            ok.error().message));
  }
  return detail::apply_actions(state_, index, actions);
}

std::vector<uint8_t> store::snapshot() const {
  capnp::MallocMessageBuilder builder;
  auto snap = builder.initRoot<sc::Snapshot>();
  if (state_.cluster)
    to_schema(*state_.cluster, snap.initCluster());
  auto nodes = snap.initNodes(static_cast<unsigned>(state_.nodes.size()));
  unsigned i = 0;
  for (const auto& entry : state_.nodes)
    to_schema(entry.second, nodes[i++]);
  snap.setAppliedIndex(applied_index_);
  const auto& all_services = state_.services();
  auto services = snap.initServices(static_cast<unsigned>(all_services.size()));
  i = 0;
  for (const auto& entry : all_services)
    to_schema(entry.second, services[i++]);
  const auto& all_tasks = state_.tasks();
  auto tasks = snap.initTasks(static_cast<unsigned>(all_tasks.size()));
  i = 0;
  for (const auto& entry : all_tasks)
    to_schema(entry.second, tasks[i++]);
  return message<sc::Snapshot>::from(builder).encode();
}

result<void> store::restore(const uint8_t* data, size_t size) {
  auto msg = message<sc::Snapshot>::decode(
    data, size, read_limits_for_frames(max_snapshot_bytes));
  if (!msg)
    return std::move(msg).error();
  auto snap = msg->root();
  auto applied = snap.getAppliedIndex();
  detail::objects state;
  if (snap.hasCluster()) {
    auto read = from_schema(snap.getCluster());
    if (!read)
      return fail(read.error().code,
                  fmt::format("snapshot: {}", read.error().message));
    if (auto ok = check_version("cluster " + read->id, read->version, applied);
        !ok)
      return std::move(ok).error();
    state.cluster = std::move(*read);
  }
  for (auto in : snap.getNodes()) {
    auto last = state.nodes.empty() ? nullptr : &state.nodes.rbegin()->first;
    auto read = read_listed(in, "node", last, applied);
    if (!read)
      return std::move(read).error();
    auto id = read->id;
    state.nodes.emplace_hint(state.nodes.end(), std::move(id),
                             std::move(*read));
  }
  std::string last_service;
  for (auto in : snap.getServices()) {
    auto read = read_listed(in, "service",
                            state.services().empty() ? nullptr : &last_service,
                            applied);
    if (!read)
      return std::move(read).error();
    if (auto other = state.service_named(read->spec.name))
      return fail(errc::invalid_argument,
                  fmt::format("snapshot: services {} and {} are both named "
                              "{}",
                              other->id, read->id, read->spec.name));
    last_service = read->id;
    state.put_service(std::move(*read));
  }
  std::string last_task;
  for (auto in : snap.getTasks()) {
    auto read = read_listed(
      in, "task", state.tasks().empty() ? nullptr : &last_task, applied);
    if (!read)
      return std::move(read).error();
    last_task = read->id;
    state.put_task(std::move(*read));
  }
  bool has_objects = !state.nodes.empty() || !state.services().empty()
                     || !state.tasks().empty();
  if (!state.cluster && has_objects)
    return fail(errc::invalid_argument,
                "snapshot: it lists nodes, services or tasks but no cluster");
  state_ = std::move(state);
  applied_index_ = applied;
  return {};
}

const node_object* store::node(std::string_view id) const {
  auto i = state_.nodes.find(id);
  return i != state_.nodes.end() ? &i->second : nullptr;
}

std::vector<const node_object*> store::nodes() const {
  std::vector<const node_object*> out;
  out.reserve(state_.nodes.size());
  for (const auto& entry : state_.nodes)
    out.push_back(&entry.second);
  return out;
}

result<const node_object*> store::find_node(std::string_view name) const {
  if (name.empty())
    return fail(errc::invalid_argument, "give a node ID or hostname");
  if (auto exact = node(name))
    return exact;
  std::vector<const node_object*> matches;
  for (const auto& entry : state_.nodes)
    if (entry.second.hostname == name)
      matches.push_back(&entry.second);
  if (matches.size() == 1)
    return matches.front();
  if (matches.size() > 1)
    return ambiguous("node", name, matches,
                     "several nodes have this hostname, use a node ID");
  matches = with_prefix(state_.nodes, name);
  if (matches.size() == 1)
    return matches.front();
  if (matches.size() > 1)
    return ambiguous("node", name, matches, "give more characters of the ID");
  return fail(errc::not_found, fmt::format("node {} not found", name));
}

const service_object* store::service(std::string_view id) const {
  return state_.service(id);
}

std::vector<const service_object*> store::services() const {
  std::vector<const service_object*> out;
  out.reserve(state_.services().size());
  for (const auto& entry : state_.services())
    out.push_back(&entry.second);
  return out;
}

result<const service_object*> store::find_service(std::string_view name) const {
  if (name.empty())
    return fail(errc::invalid_argument, "give a service ID or name");
  if (auto exact = service(name))
    return exact;
  if (auto named = state_.service_named(name))
    return named;
  auto matches = with_prefix(state_.services(), name);
  if (matches.size() == 1)
    return matches.front();
  if (matches.size() > 1)
    return ambiguous("service", name, matches,
                     "give more characters of the ID");
  return fail(errc::not_found, fmt::format("service {} not found", name));
}

const task_object* store::task(std::string_view id) const {
  return state_.task(id);
}

std::vector<const task_object*> store::tasks() const {
  std::vector<const task_object*> out;
  out.reserve(state_.tasks().size());
  for (const auto& entry : state_.tasks())
    out.push_back(&entry.second);
  return out;
}

std::vector<const task_object*>
store::tasks_of_service(std::string_view service_id) const {
  auto [begin, end]
    = state_.by_service().equal_range(detail::service_probe{service_id});
  return {begin, end};
}

std::vector<const task_object*>
store::tasks_on_node(std::string_view node_id) const {
  auto [begin, end] = state_.by_node().equal_range(detail::node_probe{node_id});
  return {begin, end};
}

std::vector<const task_object*>
store::tasks_in_slot(std::string_view service_id, uint64_t slot) const {
  auto [begin, end]
    = state_.by_service().equal_range(detail::slot_probe{service_id, slot});
  return {begin, end};
}

result<const task_object*> store::find_task(std::string_view name) const {
  if (name.empty())
    return fail(errc::invalid_argument, "give a task ID");
  if (auto exact = task(name))
    return exact;
  auto matches = with_prefix(state_.tasks(), name);
  if (matches.size() == 1)
    return matches.front();
  if (matches.size() > 1)
    return ambiguous("task", name, matches, "give more characters of the ID");
  return fail(errc::not_found, fmt::format("task {} not found", name));
}

} // namespace skep::store
