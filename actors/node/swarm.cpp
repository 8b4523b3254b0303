#include "actors/node/swarm.hpp"

#include "actors/agent/agent.hpp"
#include "actors/logging/log.hpp"
#include "actors/manager/manager.hpp"
#include "actors/raft/raft_wire.hpp"
#include "actors/raft/sqlite_storage.hpp"
#include "actors/store/cluster_settings.hpp"
#include "actors/store/codec.hpp"
#include "actors/transport/ca_join_check.hpp"
#include "actors/transport/transport_actor.hpp"
#include "runtime-adapters/process.hpp"
#include "runtime-adapters/sim.hpp"
#include "skep/build_info.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>
#include <sodium.h>

namespace skep::node {

namespace {

using namespace std::chrono;
constexpr std::string_view who = "node";

std::string random_id() {
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id(25, '0');
  for (auto& c : id)
    c = alphabet[randombytes_uniform(36)];
  return id;
}

/// The runtime the node's config names, for the agent's tasks.
std::shared_ptr<runtime::adapter> make_runtime(const node_state& node) {
  switch (node.config.runtime) {
  case config::runtime_kind::process:
    return std::make_shared<runtime::process_adapter>(node.config.data_dir
                                                      + "/tasks");
  case config::runtime_kind::sim:
    return std::make_shared<runtime::sim_adapter>();
  default:
    log::warn(who,
              "the {} runtime is not available in this build; this "
              "node takes no tasks",
              config::to_string(node.config.runtime));
    return nullptr;
  }
}

} // namespace

void member_runtime::stop() {
  auto stop = [](const auto& a) {
    if (a)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  };
  stop(agent);
  stop(manager);
  stop(transport);
}

result<swarm_seed> seed_swarm(const node_state& node,
                              const ca::keypair& identity,
                              const init_options& opts,
                              system_clock::time_point now) {
  auto advertise = opts.advertise_addr.empty()
                     ? node.config.advertise_addr.to_string()
                     : opts.advertise_addr;
  auto hp = parse_host_port(advertise);
  if (!hp)
    return std::move(hp).error();
  if (hp->first == "0.0.0.0" || hp->first == "::")
    return fail(errc::invalid_argument,
                fmt::format("cannot advertise {}: other nodes could not reach "
                            "it; give --advertise-addr HOST:PORT (or start "
                            "skepd with --advertise-addr)",
                            advertise));
  auto checked = store::apply_settings(
    store::cluster_spec{},
    store::cluster_settings{opts.task_history_limit,
                            opts.dispatcher_heartbeat_nanos,
                            opts.cert_expiry_nanos, opts.snapshot_interval});
  if (!checked)
    return std::move(checked).error();
  auto spec = *checked;

  auto ca_auth
    = ca::authority::create(duration_cast<seconds>(spec.cert_expiry));
  auto cert = ca_auth.issue(node.node_id, ca::node_role::manager,
                            identity.public_part, now);
  if (!cert)
    return std::move(cert).error();

  store::cluster_object cluster;
  cluster.id = random_id();
  cluster.created_at_nanos
    = duration_cast<nanoseconds>(now.time_since_epoch()).count();
  cluster.spec = spec;
  cluster.ca_secret_key = ca_auth.key().secret_part;
  cluster.worker_token = ca_auth.token(ca::node_role::worker).to_string();
  cluster.manager_token = ca_auth.token(ca::node_role::manager).to_string();

  store::node_object self;
  self.id = node.node_id;
  self.hostname = node.config.hostname;
  self.role = ca::node_role::manager;
  self.addr = advertise;
  self.status = store::node_status::ready;
  self.engine_version = build_info::version;
  self.capacity.nano_cpus = int64_t{node.host.cpus} * 1'000'000'000;
  self.capacity.memory_bytes = static_cast<int64_t>(node.host.memory_bytes);
  self.public_key = identity.public_part;
  self.created_at_nanos = self.updated_at_nanos = cluster.created_at_nanos;

  swarm_seed seed;
  seed.files.cluster_id = cluster.id;
  seed.files.advertise_addr = advertise;
  seed.files.managers.emplace_back(node.node_id, advertise);
  seed.files.certificate = *cert;
  seed.files.ca_key = ca_auth.public_part();
  seed.worker_token = cluster.worker_token;
  seed.manager_token = cluster.manager_token;
  seed.init_batch = store::encode_batch(
    {store::create_cluster{cluster}, store::put_node{self, 0}});
  return seed;
}

result<member_runtime> start_member(
  caf::actor_system& sys, const node_state& node, const ca::keypair& identity,
  const membership& m, caf::actor supervisor, system_clock::time_point now,
  std::vector<uint8_t> init_batch, bool bootstrap, bool force_new_cluster) {
  ca::certificate_policy policy;
  policy.ca_key = m.ca_key;
  policy.now = now;
  auto fields = ca::verify_certificate(m.certificate.data(),
                                       m.certificate.size(), policy);
  if (!fields)
    return fail(errc::permission_denied,
                fmt::format("this node's certificate is not valid: {}; leave "
                            "the swarm and join again",
                            fields.error().message));
  member_runtime rt;
  rt.role = fields->role;
  rt.cluster_id = m.cluster_id;
  std::shared_ptr<ca::shared_authority> authority;
  if (rt.role == ca::node_role::manager)
    // A stand-in until the replicated cluster object arrives: its tokens
    // are random, so nobody joins through this node before then.
    authority = std::make_shared<ca::shared_authority>(ca::authority::create(),
                                                       std::string{});

  transport::transport_config tc;
  tc.node_id = node.node_id;
  tc.listen_host = node.config.listen_addr.host;
  tc.listen_port = node.config.listen_addr.port;
  tc.identity = std::make_shared<const ca::keypair>(identity);
  tc.certificate = m.certificate;
  tc.role = rt.role;
  tc.ca_key = m.ca_key;
  tc.max_frame_bytes = node.config.max_frame_bytes;
  if (authority)
    tc.accept_join = transport::make_join_check(authority);
  auto net = transport::transport::spawn(sys, tc);
  if (!net)
    return std::move(net).error();
  rt.transport = *net;

  if (rt.role == ca::node_role::manager) {
    auto storage
      = raft::sqlite_storage::open(node.config.data_dir + "/raft.db");
    if (!storage) {
      rt.stop();
      return std::move(storage).error();
    }
    if (bootstrap)
      raft::bootstrap(
        **storage, raft::configuration{{raft::member_id_of(node.node_id)}, {}});
    controlapi::manager_config mc;
    mc.node_id = node.node_id;
    mc.hostname = node.config.hostname;
    mc.advertise_addr = m.advertise_addr;
    mc.engine_version = build_info::version;
    mc.transport = rt.transport;
    mc.ca = authority;
    mc.raft.core.seed = raft::member_id_of(node.node_id);
    mc.init_batch = std::move(init_batch);
    mc.force_new_cluster = force_new_cluster;
    mc.raft.core.force_new_cluster = force_new_cluster;
    rt.manager = controlapi::spawn_manager(sys, mc, std::move(*storage));
  }

  agent::agent_config ac;
  ac.node_id = node.node_id;
  ac.transport = rt.transport;
  ac.local_manager = caf::actor_cast<caf::actor>(rt.manager);
  ac.role = ca::to_string(rt.role);
  ac.certificate = *fields;
  ac.ca_key = m.ca_key;
  ac.supervisor = std::move(supervisor);
  ac.managers = m.managers;
  auto data_dir = node.config.data_dir;
  ac.managers_changed = [data_dir](const agent::manager_list& managers) {
    auto current = load_membership(data_dir);
    if (!current || !*current)
      return;
    (*current)->managers = managers;
    if (auto saved = save_membership(data_dir, **current); !saved)
      log::warn(who, "cannot record the managers: {}", saved.error().message);
  };
  ac.runtime = make_runtime(node);
  rt.agent = agent::spawn_agent(sys, ac);
  log::info(who, "member of swarm {} as a {}, listening on {}", m.cluster_id,
            ca::to_string(rt.role), node.config.listen_addr.to_string());
  return rt;
}

} // namespace skep::node
