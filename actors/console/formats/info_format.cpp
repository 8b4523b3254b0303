#include "actors/console/formats/info_format.hpp"

#include "config/units.hpp"
#include "skep/build_info.hpp"

#include <chrono>
#include <ctime>
#include <sys/utsname.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace skep::console {

namespace {

const char* state_name(schema::control::LocalNodeState state) {
  switch (state) {
  case schema::control::LocalNodeState::INACTIVE:
    return "inactive";
  case schema::control::LocalNodeState::PENDING:
    return "pending";
  case schema::control::LocalNodeState::ACTIVE:
    return "active";
  case schema::control::LocalNodeState::ERROR:
    return "error";
  case schema::control::LocalNodeState::LOCKED:
    return "locked";
  }
  return "unknown";
}

std::string rfc3339(int64_t unix_nanos) {
  std::time_t secs = static_cast<std::time_t>(unix_nanos / 1'000'000'000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

// Uptime to the second: "3h2m1s".
std::string round_duration(int64_t nanos) {
  auto secs = std::chrono::seconds{nanos / 1'000'000'000};
  return config::format_duration(secs);
}

} // namespace

std::string human_bytes(uint64_t bytes) {
  constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0)
    return fmt::format("{}B", bytes);
  return fmt::format("{:.2f}{}", value, units[unit]);
}

std::string format_version(const schema::control::VersionInfo::Reader* server) {
  utsname uts{};
  ::uname(&uts);
  std::string out
    = fmt::format("Client:\n"
                  " Version:       {}\n"
                  " Git commit:    {}\n"
                  " OS/Arch:       linux/{}\n",
                  build_info::version, build_info::git_commit, uts.machine);
  if (server == nullptr)
    return out;
  out += fmt::format("\nServer:\n"
                     " Version:       {}\n"
                     " Git commit:    {}\n"
                     " Build type:    {}\n"
                     " OS/Arch:       {}/{}\n"
                     " CAF:           {}\n"
                     " Cap'n Proto:   {}\n",
                     server->getVersion().cStr(), server->getGitCommit().cStr(),
                     server->getBuildType().cStr(), server->getOs().cStr(),
                     server->getArch().cStr(), server->getCafVersion().cStr(),
                     server->getCapnpVersion().cStr());
  return out;
}

std::string format_info(schema::control::NodeInfo::Reader info) {
  std::string actors;
  for (auto name : info.getActors())
    actors += actors.empty() ? std::string{name.cStr()}
                             : fmt::format(", {}", name.cStr());
  std::string out
    = fmt::format("Client:\n Version: {}\n\nServer:\n", build_info::version);
  out += fmt::format(" Server Version: {}\n", info.getServerVersion().cStr());
  out += fmt::format(" Swarm: {}\n", state_name(info.getLocalNodeState()));
  out += fmt::format("  NodeID: {}\n", info.getNodeId().cStr());
  out += fmt::format("  Is Manager: {}\n",
                     info.getControlAvailable() ? "true" : "false");
  if (info.getSwarmError().size() > 0)
    out += fmt::format("  Error: {}\n", info.getSwarmError().cStr());
  if (info.hasSwarm()) {
    auto s = info.getSwarm();
    out += fmt::format("  ClusterID: {}\n", s.getClusterId().cStr());
    if (info.getControlAvailable()) {
      out += fmt::format("  Managers: {}\n", s.getManagers());
      out += fmt::format("  Nodes: {}\n", s.getNodes());
      out += fmt::format("  Raft:\n   Snapshot Interval: {}\n   Heartbeat "
                         "Tick: {}\n   Election Tick: {}\n   Leader: {}\n   "
                         "Term: {}\n   Commit: {}\n",
                         s.getSnapshotInterval(), s.getHeartbeatTicks(),
                         s.getElectionTicks(), s.getRaftLeader().cStr(),
                         s.getRaftTerm(), s.getRaftCommit());
      // 0 when the member did not answer in time: nothing to show.
      if (s.getRaftLongestTickGapNanos() > 0)
        out += fmt::format("   Longest Tick Gap: {}ms\n",
                           s.getRaftLongestTickGapNanos() / 1000000);
      out += fmt::format("  Dispatcher:\n   Heartbeat Period: {}\n",
                         round_duration(s.getDispatcherHeartbeatNanos()));
      out += fmt::format("  CA Configuration:\n   Expiry Duration: {}\n",
                         round_duration(s.getCertExpiryNanos()));
      out += fmt::format("  Task History Retention Limit: {}\n",
                         s.getTaskHistoryLimit());
      out += "  Manager Addresses:\n";
      for (auto a : s.getManagerAddrs())
        out += fmt::format("   {}\n", a.cStr());
    }
  }
  out += fmt::format("  Listen Address: {}\n", info.getListenAddr().cStr());
  out
    += fmt::format("  Advertise Address: {}\n", info.getAdvertiseAddr().cStr());
  out += fmt::format("  Ingress Address: {}\n", info.getIngressAddr().cStr());
  out += fmt::format(" Runtime: {}\n", info.getRuntime().cStr());
  out += fmt::format(" Name: {}\n", info.getHostname().cStr());
  out += fmt::format(" Data Dir: {}\n", info.getDataDir().cStr());
  out += fmt::format(" Control Socket: {}\n", info.getControlSocket().cStr());
  out += fmt::format(" Started: {} (up {})\n",
                     rfc3339(info.getStartedAt().getUnixNanos()),
                     round_duration(info.getUptime().getNanos()));
  out += fmt::format(" Actors: {}\n", actors);
  out
    += fmt::format(" Operating System: {}\n", info.getOperatingSystem().cStr());
  out += fmt::format(" Kernel Version: {}\n", info.getKernelVersion().cStr());
  out += fmt::format(" Architecture: {}\n", info.getArch().cStr());
  out += fmt::format(" CPUs: {}\n", info.getCpus());
  out += fmt::format(" Total Memory: {}\n", human_bytes(info.getMemoryBytes()));
  return out;
}

std::string info_json(schema::control::NodeInfo::Reader info) {
  nlohmann::ordered_json actors = nlohmann::ordered_json::array();
  for (auto name : info.getActors())
    actors.push_back(name.cStr());
  nlohmann::ordered_json swarm = {
    {"NodeID", info.getNodeId().cStr()},
    {"NodeAddr", info.getAdvertiseAddr().cStr()},
    {"LocalNodeState", state_name(info.getLocalNodeState())},
    {"ControlAvailable", info.getControlAvailable()},
    {"Error", info.getSwarmError().cStr()},
  };
  if (info.hasSwarm()) {
    auto s = info.getSwarm();
    swarm["Cluster"] = {{"ID", s.getClusterId().cStr()}};
    if (info.getControlAvailable()) {
      swarm["Managers"] = s.getManagers();
      swarm["Nodes"] = s.getNodes();
      nlohmann::ordered_json addrs = nlohmann::ordered_json::array();
      for (auto a : s.getManagerAddrs())
        addrs.push_back(a.cStr());
      swarm["RemoteManagers"] = addrs;
      swarm["Raft"] = {{"SnapshotInterval", s.getSnapshotInterval()},
                       {"HeartbeatTick", s.getHeartbeatTicks()},
                       {"ElectionTick", s.getElectionTicks()},
                       {"Leader", s.getRaftLeader().cStr()},
                       {"Term", s.getRaftTerm()},
                       {"Commit", s.getRaftCommit()},
                       {"Voters", s.getRaftVoters()},
                       {"Learners", s.getRaftLearners()},
                       {"LongestTickGap", s.getRaftLongestTickGapNanos()}};
      swarm["Dispatcher"]
        = {{"HeartbeatPeriod", s.getDispatcherHeartbeatNanos()}};
      swarm["CAConfig"] = {{"NodeCertExpiry", s.getCertExpiryNanos()}};
      swarm["TaskHistoryRetentionLimit"] = s.getTaskHistoryLimit();
    }
  }
  nlohmann::ordered_json out = {
    {"ID", info.getNodeId().cStr()},
    {"Name", info.getHostname().cStr()},
    {"ServerVersion", info.getServerVersion().cStr()},
    {"DataDir", info.getDataDir().cStr()},
    {"ControlSocket", info.getControlSocket().cStr()},
    {"ListenAddr", info.getListenAddr().cStr()},
    {"IngressAddr", info.getIngressAddr().cStr()},
    {"Runtime", info.getRuntime().cStr()},
    {"StartedAt", rfc3339(info.getStartedAt().getUnixNanos())},
    {"UptimeSeconds", info.getUptime().getNanos() / 1'000'000'000},
    {"Actors", actors},
    {"NCPU", info.getCpus()},
    {"MemTotal", info.getMemoryBytes()},
    {"OperatingSystem", info.getOperatingSystem().cStr()},
    {"KernelVersion", info.getKernelVersion().cStr()},
    {"Architecture", info.getArch().cStr()},
    {"Swarm", swarm},
  };
  // Paths and OS strings need not be UTF-8: replace bad bytes, never abort.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace skep::console
