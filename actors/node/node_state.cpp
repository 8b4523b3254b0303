#include "actors/node/node_state.hpp"

#include "skep/build_info.hpp"

#include <fstream>
#include <sys/utsname.h>
#include <unistd.h>

#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::node {

namespace {

std::string os_pretty_name() {
  std::ifstream in{"/etc/os-release"};
  std::string line;
  while (std::getline(in, line)) {
    constexpr std::string_view key = "PRETTY_NAME=";
    if (line.compare(0, key.size(), key) != 0)
      continue;
    auto value = line.substr(key.size());
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value;
  }
  return "Linux";
}

schema::control::LocalNodeState swarm_state_of(const node_state&) {
  // Membership arrives with `swarm init` and `swarm join`; until then a node
  // belongs to no swarm.
  return schema::control::LocalNodeState::INACTIVE;
}

void fill_version(schema::control::VersionInfo::Builder out) {
  utsname uts{};
  ::uname(&uts);
  out.setVersion(build_info::version);
  out.setGitCommit(build_info::git_commit);
  out.setBuildType(build_info::build_type);
  out.setCafVersion(build_info::caf_version);
  out.setCapnpVersion(build_info::capnp_version);
  out.setOs("linux");
  out.setArch(uts.machine);
}

void fill_info(const node_state& state, std::chrono::nanoseconds uptime,
               const std::vector<std::string>& actors,
               schema::control::NodeInfo::Builder out) {
  const auto& cfg = state.config;
  out.setNodeId(state.node_id);
  out.setHostname(cfg.hostname);
  out.setServerVersion(build_info::version);
  out.setDataDir(cfg.data_dir);
  out.setListenAddr(cfg.listen_addr.to_string());
  out.setAdvertiseAddr(cfg.advertise_addr.to_string());
  out.setIngressAddr(cfg.ingress_addr);
  out.setControlSocket(cfg.control_socket);
  out.setRuntime(config::to_string(cfg.runtime));
  out.setLocalNodeState(swarm_state_of(state));
  out.setControlAvailable(false);
  out.initStartedAt().setUnixNanos(
    std::chrono::duration_cast<std::chrono::nanoseconds>(
      state.started_at.time_since_epoch())
      .count());
  out.initUptime().setNanos(uptime.count());
  out.setCpus(state.host.cpus);
  out.setMemoryBytes(state.host.memory_bytes);
  out.setOperatingSystem(state.host.operating_system);
  out.setKernelVersion(state.host.kernel_version);
  out.setArch(state.host.arch);
  auto names = out.initActors(static_cast<unsigned>(actors.size()));
  for (unsigned i = 0; i < actors.size(); ++i)
    names.set(i, actors[i]);
}

} // namespace

host_facts read_host_facts() {
  host_facts facts;
  auto cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  facts.cpus = cpus > 0 ? static_cast<uint32_t>(cpus) : 0;
  auto pages = ::sysconf(_SC_PHYS_PAGES);
  auto page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0)
    facts.memory_bytes
      = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
  facts.operating_system = os_pretty_name();
  utsname uts{};
  if (::uname(&uts) == 0) {
    facts.kernel_version = uts.release;
    facts.arch = uts.machine;
  }
  return facts;
}

control_reply handle_control_request(const node_state& state,
                                     const control_request& request,
                                     std::chrono::nanoseconds uptime,
                                     const std::vector<std::string>& actors) {
  capnp::MallocMessageBuilder builder;
  auto reply = builder.initRoot<schema::control::Reply>();
  auto req = request.root();
  switch (req.which()) {
  case schema::control::Request::VERSION:
    fill_version(reply.initVersion());
    break;
  case schema::control::Request::INFO:
    fill_info(state, uptime, actors, reply.initInfo());
    break;
  default:
    return make_error_reply(
      fail(errc::unsupported,
           fmt::format("this node does not handle control request type {}; "
                       "is skep newer than skepd?",
                       static_cast<uint16_t>(req.which()))));
  }
  return control_reply::from(builder);
}

} // namespace skep::node
