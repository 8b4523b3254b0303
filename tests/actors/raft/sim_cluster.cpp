#include "tests/actors/raft/sim_cluster.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace skep::raft::sim {

namespace {

std::vector<std::uint64_t> decode_values(const bytes& data) {
  std::vector<std::uint64_t> values;
  for (std::size_t pos = 0; pos + 8 <= data.size(); pos += 8) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<std::uint64_t>(data[pos + i]) << (8 * i);
    values.push_back(v);
  }
  return values;
}

bytes encode_values(const std::vector<std::uint64_t>& values) {
  bytes data;
  for (auto v : values)
    for (int i = 0; i < 8; ++i)
      data.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  return data;
}

} // namespace

int seed_count(int fallback) {
  if (auto env = std::getenv("SKEP_RAFT_SEEDS")) {
    auto n = std::atoi(env);
    if (n > 0)
      return n;
  }
  return fallback;
}

bytes encode_value(std::uint64_t value, std::size_t padding) {
  auto data = encode_values({value});
  data.resize(8 + padding, 0xab);
  return data;
}

std::uint64_t decode_value(const bytes& payload) {
  if (payload.size() < 8)
    return 0; // never proposed: the harness reports it
  return decode_values(bytes(payload.begin(), payload.begin() + 8)).front();
}

cluster::cluster(std::uint64_t seed, cluster_options options)
  : options_(options), rng_(seed) {
  configuration founders;
  for (node_id id = 1; id <= options_.voters; ++id)
    founders.voters.push_back(id);
  for (auto id : founders.voters) {
    bootstrap(nodes_[id].storage, founders);
    start(id);
  }
}

bool cluster::chance(double p) {
  if (p <= 0)
    return false;
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p;
}

void cluster::fail(const std::string& what) {
  if (failure_.empty())
    failure_ = what + " (tick " + std::to_string(now_) + ")";
}

std::vector<node_id> cluster::ids() const {
  std::vector<node_id> out;
  for (auto& [id, n] : nodes_)
    out.push_back(id);
  return out;
}

std::vector<node_id> cluster::live_ids() const {
  std::vector<node_id> out;
  for (auto& [id, n] : nodes_)
    if (n.raft)
      out.push_back(id);
  return out;
}

void cluster::start(node_id id, bool force_new_cluster) {
  auto& n = nodes_.at(id);
  auto meta = n.storage.snapshot_metadata();
  auto data = n.storage.snapshot_chunk(0, n.storage.snapshot_size());
  n.values.clear();
  n.applied = meta.index;
  n.last_snapshot = meta.index;
  n.crash_on_sync = false;
  n.leader_checked_term = 0;
  auto config = options_.raft;
  config.id = id;
  config.seed = rng_();
  config.applied = meta.index;
  config.force_new_cluster = force_new_cluster;
  n.raft.emplace(config, n.storage);
  n.commit_seen = n.raft->commit_index();
  if (n.commit_seen < n.synced_commit)
    fail("node " + std::to_string(id) + " restarted with commit "
         + std::to_string(n.commit_seen) + " below its synced commit "
         + std::to_string(n.synced_commit));
  restore_state_machine(id, snapshot{meta, data});
  process_ready(id);
}

void cluster::add_empty_node(node_id id) {
  nodes_[id];
  start(id);
}

void cluster::crash(node_id id) {
  auto& n = nodes_.at(id);
  n.raft.reset();
  n.storage.crash();
  n.crash_on_sync = false;
}

void cluster::restart(node_id id, bool force_new_cluster) {
  if (!nodes_.at(id).raft)
    start(id, force_new_cluster);
}

void cluster::partition(const std::vector<std::vector<node_id>>& groups) {
  group_.clear();
  int next_group = 1;
  for (auto& group : groups) {
    for (auto id : group)
      group_[id] = next_group;
    ++next_group;
  }
  for (auto& [id, n] : nodes_)
    if (group_.count(id) == 0)
      group_[id] = next_group++;
}

void cluster::isolate(node_id id) {
  if (group_.empty())
    for (auto& [other, n] : nodes_)
      group_[other] = 0;
  group_[id] = -static_cast<int>(id);
}

void cluster::heal() {
  group_.clear();
}

bool cluster::connected(node_id a, node_id b) const {
  auto group_of = [&](node_id id) {
    auto i = group_.find(id);
    return i == group_.end() ? 0 : i->second;
  };
  return group_of(a) == group_of(b);
}

const link_faults& cluster::faults(node_id from, node_id to) const {
  auto i = links_.find({from, to});
  return i == links_.end() ? options_.network : i->second;
}

void cluster::send(const message& msg) {
  ++sent_[msg.type];
  if (msg.type == message_type::append_reply && msg.reject)
    ++append_rejections_;
  if (!connected(msg.from, msg.to))
    return;
  auto& f = faults(msg.from, msg.to);
  if (chance(f.drop))
    return;
  int copies = chance(f.duplicate) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    auto span = static_cast<std::uint64_t>(f.max_delay - f.min_delay + 1);
    std::uint64_t delay
      = f.min_delay + random(std::max<std::uint64_t>(span, 1));
    if (chance(f.long_delay))
      delay = random(static_cast<std::uint64_t>(f.long_delay_max) + 1);
    network_.push_back({now_ + delay, msg});
  }
}

void cluster::deliver(message msg) {
  auto it = nodes_.find(msg.to);
  if (it == nodes_.end() || !it->second.raft)
    return;
  if (!connected(msg.from, msg.to))
    return;
  try {
    it->second.raft->step(msg);
  } catch (const std::exception& e) {
    fail("node " + std::to_string(msg.to) + " threw on " + to_string(msg.type)
         + ": " + e.what());
    return;
  }
  process_ready(msg.to);
}

void cluster::tick() {
  ++now_;
  for (auto id : live_ids()) {
    auto& n = nodes_.at(id);
    if (!n.raft)
      continue;
    n.raft->tick();
    process_ready(id);
  }
  for (int round = 0; round < 64 && ok(); ++round) {
    auto due_begin = std::stable_partition(
      network_.begin(), network_.end(),
      [&](const in_flight& m) { return m.deliver_at > now_; });
    if (due_begin == network_.end())
      break;
    std::vector<in_flight> due(std::make_move_iterator(due_begin),
                               std::make_move_iterator(network_.end()));
    network_.erase(due_begin, network_.end());
    for (std::size_t i = due.size(); i > 1; --i)
      std::swap(due[i - 1], due[random(i)]);
    for (auto& m : due)
      deliver(std::move(m.msg));
  }
}

void cluster::run(int ticks) {
  for (int i = 0; i < ticks && ok(); ++i)
    tick();
}

bool cluster::run_until(const std::function<bool()>& done, int max_ticks) {
  for (int i = 0; i < max_ticks && ok(); ++i) {
    if (done())
      return true;
    tick();
  }
  return ok() && done();
}

node_id cluster::leader() const {
  node_id best = 0;
  term_t best_term = 0;
  for (auto& [id, n] : nodes_)
    if (n.raft && n.raft->role() == role::leader
        && n.raft->term() >= best_term) {
      best = id;
      best_term = n.raft->term();
    }
  return best;
}

node_id cluster::await_leader(int max_ticks) {
  auto stable = [&] {
    auto l = leader();
    if (l == 0)
      return false;
    auto& config = node(l).configuration();
    std::size_t followers = 0;
    for (auto voter : config.voters)
      if (is_up(voter) && connected(l, voter)
          && node(voter).term() == node(l).term() && node(voter).leader() == l)
        ++followers;
    return followers >= config.quorum();
  };
  return run_until(stable, max_ticks) ? leader() : 0;
}

std::optional<std::uint64_t> cluster::propose(node_id at) {
  if (at == 0)
    at = leader();
  if (at == 0 || !is_up(at))
    return std::nullopt;
  auto value = next_value_;
  auto result = node(at).propose(encode_value(value, options_.payload_padding));
  if (!result)
    return std::nullopt;
  ++next_value_;
  proposed_.insert(value);
  process_ready(at);
  return value;
}

std::size_t cluster::propose_and_commit(std::size_t count, int max_ticks) {
  std::size_t done = 0;
  std::map<std::uint64_t, std::uint64_t> outstanding; // value -> deadline
  auto start = now_;
  while (done < count && now_ - start < static_cast<std::uint64_t>(max_ticks)
         && ok()) {
    for (auto it = outstanding.begin(); it != outstanding.end();) {
      if (acknowledged(it->first)) {
        ++done;
        it = outstanding.erase(it);
      } else if (it->second < now_) {
        it = outstanding.erase(it); // lost with its leader; not counted
      } else {
        ++it;
      }
    }
    while (outstanding.size() < std::min<std::size_t>(4, count - done)) {
      auto value = propose();
      if (!value)
        break;
      outstanding[*value] = now_ + 100;
    }
    tick();
  }
  for (auto& [value, deadline] : outstanding)
    if (acknowledged(value) && done < count)
      ++done;
  return done;
}

bool cluster::read(node_id at) {
  if (at == 0)
    at = leader();
  if (at == 0 || !is_up(at))
    return false;
  index_t required = 0;
  for (auto& [value, index] : acked_)
    required = std::max(required, index);
  auto id = next_read_++;
  if (!node(at).read_index(id))
    return false;
  pending_reads_[id] = required;
  process_ready(at);
  return true;
}

bool cluster::converged() const {
  auto l = leader();
  if (l == 0)
    return false;
  auto& lead = node(l);
  if (lead.commit_index() != lead.last_index())
    return false;
  for (auto& [id, n] : nodes_) {
    if (!n.raft || !lead.configuration().is_member(id))
      continue;
    if (n.applied != lead.commit_index()
        || n.raft->last_index() != lead.last_index())
      return false;
  }
  return true;
}

bool cluster::settle(int max_ticks) {
  heal();
  clear_links();
  set_network(link_faults{});
  if (!run_until([&] { return converged(); }, max_ticks)) {
    fail("cluster did not converge after healing");
    return false;
  }
  for (auto& [id, n] : nodes_) {
    if (!n.raft || !node(leader()).configuration().is_member(id))
      continue;
    std::set<std::uint64_t> have(n.values.begin(), n.values.end());
    for (auto& [value, index] : acked_)
      if (have.count(value) == 0) {
        fail("acknowledged value " + std::to_string(value) + " (index "
             + std::to_string(index) + ") missing on node "
             + std::to_string(id));
        return false;
      }
  }
  return ok();
}

} // namespace skep::raft::sim
