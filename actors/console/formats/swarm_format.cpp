#include "actors/console/formats/swarm_format.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace skep::console {

namespace {

std::string str(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

std::string rfc3339(int64_t nanos) {
  std::time_t secs = static_cast<std::time_t>(nanos / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, nanos % 1'000'000'000);
}

using node_list = capnp::List<schema::control::NodeView>::Reader;

/// As docker/cli: by hostname in natural order ("node2" before "node10"),
/// then by id.
std::vector<schema::control::NodeView::Reader> by_hostname(node_list nodes) {
  std::vector<schema::control::NodeView::Reader> out;
  for (auto n : nodes)
    out.push_back(n);
  std::stable_sort(out.begin(), out.end(), [](auto x, auto y) {
    auto hx = str(x.getHostname());
    auto hy = str(y.getHostname());
    if (hx != hy)
      return natural_less(hx, hy);
    return str(x.getId()) < str(y.getId());
  });
  return out;
}

} // namespace

bool natural_less(const std::string& a, const std::string& b) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      auto si = i;
      auto sj = j;
      while (si < a.size() && a[si] == '0')
        ++si;
      while (sj < b.size() && b[sj] == '0')
        ++sj;
      auto ei = si;
      auto ej = sj;
      while (ei < a.size() && digit(a[ei]))
        ++ei;
      while (ej < b.size() && digit(b[ej]))
        ++ej;
      if (ei - si != ej - sj)
        return ei - si < ej - sj;
      auto cmp = a.compare(si, ei - si, b, sj, ej - sj);
      if (cmp != 0)
        return cmp < 0;
      i = ei;
      j = ej;
      continue;
    }
    if (a[i] != b[j])
      return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

std::string title_case(const std::string& word) {
  if (word.empty())
    return word;
  auto out = word;
  out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string format_swarm_init(schema::control::SwarmInitReply::Reader reply) {
  auto addr = str(reply.getAdvertiseAddr());
  if (reply.getWorkerToken().size() == 0) // --force-new-cluster: tokens kept
    return fmt::format(
      "Swarm initialized: current node ({}) is now a manager.\n\n"
      "The swarm's state and join tokens are kept; show the join commands "
      "with \"skep swarm join-token worker\" or \"... manager\".\n",
      str(reply.getNodeId()));
  return fmt::format(
    "Swarm initialized: current node ({}) is now a manager.\n\n"
    "To add a worker to this swarm, run the following command:\n\n"
    "    skep swarm join --token {} {}\n\n"
    "To add a manager to this swarm, run the following command:\n\n"
    "    skep swarm join --token {} {}\n\n",
    str(reply.getNodeId()), str(reply.getWorkerToken()), addr,
    str(reply.getManagerToken()), addr);
}

std::string format_join_token(schema::control::TokenReply::Reader reply,
                              bool quiet) {
  if (quiet)
    return str(reply.getToken()) + "\n";
  return fmt::format("To add a {} to this swarm, run the following command:\n\n"
                     "    skep swarm join --token {} {}\n\n",
                     str(reply.getRole()), str(reply.getToken()),
                     str(reply.getManagerAddr()));
}

std::string
format_node_table(capnp::List<schema::control::NodeView>::Reader nodes,
                  bool quiet) {
  std::vector<std::array<std::string, 6>> rows;
  rows.push_back({"ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS",
                  "ENGINE VERSION"});
  std::string out;
  for (auto n : by_hostname(nodes)) {
    if (quiet) {
      out += str(n.getId()) + "\n";
      continue;
    }
    rows.push_back(
      {str(n.getId()) + (n.getSelf() ? " *" : ""), str(n.getHostname()),
       title_case(str(n.getStatus())), title_case(str(n.getAvailability())),
       title_case(str(n.getManagerStatus())), str(n.getEngineVersion())});
  }
  if (quiet)
    return out;
  std::array<size_t, 6> width{};
  for (auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  for (auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(width[i] - row[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string
node_lines_json(capnp::List<schema::control::NodeView>::Reader nodes) {
  std::string out;
  for (auto n : by_hostname(nodes)) {
    nlohmann::json j{{"ID", str(n.getId())},
                     {"Hostname", str(n.getHostname())},
                     {"Status", title_case(str(n.getStatus()))},
                     {"Availability", title_case(str(n.getAvailability()))},
                     {"ManagerStatus", title_case(str(n.getManagerStatus()))},
                     {"EngineVersion", str(n.getEngineVersion())},
                     {"Self", n.getSelf()}};
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
           + "\n";
  }
  return out;
}

std::string
node_inspect_json(capnp::List<schema::control::NodeView>::Reader nodes) {
  auto all = nlohmann::json::array();
  for (auto n : nodes) {
    nlohmann::json labels = nlohmann::json::object();
    for (auto l : n.getLabels())
      labels[str(l.getKey())] = str(l.getValue());
    nlohmann::json j{
      {"ID", str(n.getId())},
      {"Version", {{"Index", n.getVersion()}}},
      {"CreatedAt", rfc3339(n.getCreatedAtNanos())},
      {"UpdatedAt", rfc3339(n.getUpdatedAtNanos())},
      {"Spec",
       {{"Labels", labels},
        {"Role", str(n.getRole())},
        {"Availability", str(n.getAvailability())}}},
      {"Description",
       {{"Hostname", str(n.getHostname())},
        {"Engine", {{"EngineVersion", str(n.getEngineVersion())}}}}},
      {"Status",
       {{"State", str(n.getStatus())},
        {"Message", str(n.getStatusMessage())},
        {"Addr", str(n.getAddr())}}}};
    if (n.getRole() == "manager")
      j["ManagerStatus"] = {{"Leader", n.getManagerStatus() == "leader"},
                            {"Reachability", n.getManagerStatus() == "leader"
                                               ? std::string{"reachable"}
                                               : str(n.getManagerStatus())},
                            {"Addr", str(n.getAddr())}};
    all.push_back(std::move(j));
  }
  return all.dump(4, ' ', false, nlohmann::json::error_handler_t::replace)
         + "\n";
}

std::string
format_node_pretty(capnp::List<schema::control::NodeView>::Reader nodes) {
  std::string out;
  bool first = true;
  for (auto n : nodes) {
    if (!first)
      out += "\n";
    first = false;
    out += fmt::format("ID:\t\t\t{}\n", str(n.getId()));
    if (n.getLabels().size() > 0) {
      out += "Labels:\n";
      for (auto l : n.getLabels())
        out += fmt::format(" - {}={}\n", str(l.getKey()), str(l.getValue()));
    }
    out += fmt::format("Hostname:\t\t{}\n", str(n.getHostname()));
    out += fmt::format("Joined at:\t\t{}\n", rfc3339(n.getCreatedAtNanos()));
    out += "Status:\n";
    out += fmt::format(" State:\t\t\t{}\n", title_case(str(n.getStatus())));
    out += fmt::format(" Availability:\t\t{}\n",
                       title_case(str(n.getAvailability())));
    out += fmt::format(" Address:\t\t{}\n", str(n.getAddr()));
    if (n.getRole() == "manager") {
      out += "Manager Status:\n";
      out += fmt::format(" Address:\t\t{}\n", str(n.getAddr()));
      out += fmt::format(" Raft Status:\t\t{}\n",
                         n.getManagerStatus() == "leader"
                           ? std::string{"Reachable"}
                           : title_case(str(n.getManagerStatus())));
      out += fmt::format(" Leader:\t\t{}\n",
                         n.getManagerStatus() == "leader" ? "Yes" : "No");
    }
    out += fmt::format("Engine Version:\t\t{}\n", str(n.getEngineVersion()));
  }
  return out;
}

} // namespace skep::console
