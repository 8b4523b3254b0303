// The console's conditions evaluated over what the cluster shows
// (`wait until service web converged`, `expect node w1 down`): pure, no I/O.

#include "actors/console/session/script.hpp"

#include <algorithm>
#include <iterator>
#include <map>

#include <fmt/format.h>

namespace skep::console {

namespace {

constexpr auto npos = std::string_view::npos;

bool one_of(std::string_view word, std::initializer_list<std::string_view> s) {
  return std::find(s.begin(), s.end(), word) != s.end();
}

} // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = npos; // the last `*` seen, and where its match ends
  size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

namespace {

const node_row* find_node(const cluster_view& view, std::string_view name) {
  for (const auto& n : view.nodes)
    if (n.hostname == name)
      return &n;
  for (const auto& n : view.nodes)
    if (n.id == name)
      return &n;
  return nullptr;
}

const service_row* find_service(const cluster_view& view,
                                std::string_view name) {
  for (const auto& s : view.services)
    if (s.name == name)
      return &s;
  return nullptr;
}

const node_row* find_leader(const cluster_view& view) {
  for (const auto& n : view.nodes)
    if (n.manager_status == "leader")
      return &n;
  return nullptr;
}

std::string node_name(const node_row& n) {
  return n.hostname.empty() ? n.id : n.hostname;
}

std::string plural(uint64_t n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

condition_result service_tasks(const condition& c, const cluster_view& view) {
  const auto* svc = find_service(view, c.name);
  if (svc == nullptr)
    return {false, fmt::format("no service named {}", c.name)};
  uint64_t running = 0;
  uint64_t not_running = 0;
  std::map<std::string, uint64_t> waiting; // desired running, by state
  for (const auto& t : view.tasks) {
    if (t.service_name != c.name || t.desired_state != "running")
      continue;
    if (t.state == "running") {
      ++running;
    } else {
      ++not_running;
      ++waiting[t.state];
    }
  }
  if (c.kind == condition_kind::service_running) {
    bool holds = running == c.count;
    return {holds,
            fmt::format("service {} has {}{}", c.name,
                        plural(running, "running task"),
                        holds ? "" : fmt::format(" (want {})", c.count))};
  }
  std::string others;
  for (const auto& [state, n] : waiting)
    others += fmt::format("{}{} {}", others.empty() ? "" : ", ", n, state);
  uint64_t wanted = svc->mode_global ? running + not_running : svc->replicas;
  bool holds = waiting.empty()
               && (svc->mode_global ? running > 0 : running == svc->replicas);
  if (svc->mode_global && running == 0 && waiting.empty())
    return {false, fmt::format("global service {} has no tasks", c.name)};
  return {holds,
          fmt::format("service {} has {} of {} running{}{}", c.name, running,
                      plural(wanted, "task"),
                      others.empty() ? "" : "; not yet running: ", others)};
}

condition_result node_state(const condition& c, const cluster_view& view) {
  const auto* n = find_node(view, c.name);
  if (n == nullptr)
    return {false, fmt::format("no node named {}", c.name)};
  const auto& want = c.state;
  std::string seen;
  if (one_of(want, {"ready", "down"}))
    seen = n->status;
  else if (one_of(want, {"active", "pause", "drain"}))
    seen = n->availability;
  else if (one_of(want, {"leader", "reachable", "unreachable"}))
    seen = n->manager_status;
  else
    seen = n->role;
  bool holds = seen == want;
  std::string is;
  if (one_of(want, {"manager", "worker"}))
    is = fmt::format("a {}", seen);
  else if (seen.empty() && one_of(want, {"leader", "reachable", "unreachable"}))
    is = "not a manager";
  else
    is = seen.empty() ? "in no known state" : seen;
  return {holds, fmt::format("node {} is {}{}", c.name, is,
                             holds ? "" : fmt::format(" (want {})", want))};
}

condition_result leader(const condition& c, const cluster_view& view) {
  const auto* l = find_leader(view);
  if (c.kind == condition_kind::leader_is) {
    const auto* n = find_node(view, c.name);
    if (n == nullptr)
      return {false, fmt::format("no node named {}", c.name)};
    if (l == nullptr)
      return {false, fmt::format("no manager is leader (want {})", c.name)};
    bool holds = l == n;
    return {holds, fmt::format("{} is leader{}", node_name(*l),
                               holds ? "" : fmt::format(" (want {})", c.name))};
  }
  if (l != nullptr)
    return {true, fmt::format("{} is leader", node_name(*l))};
  std::string managers;
  for (const auto& n : view.nodes)
    if (n.role == "manager")
      managers
        += fmt::format("{}{} {}", managers.empty() ? "" : ", ", node_name(n),
                       n.manager_status.empty() ? "unknown" : n.manager_status);
  return {false, fmt::format("no manager is leader ({})",
                             managers.empty() ? "no managers" : managers)};
}

/// Wanted: desired state at most running, as the reconciler counts occupants.
bool is_occupant(const task_row& t) {
  constexpr std::string_view wanted[]
    = {"new",       "pending",  "assigned", "accepted",
       "preparing", "starting", "running"};
  return std::find(std::begin(wanted), std::end(wanted), t.desired_state)
         != std::end(wanted);
}

condition_result task_state(const condition& c, const cluster_view& view) {
  const task_row* current = nullptr;
  for (const auto& t : view.tasks) {
    if (t.service_name != c.name || t.slot != c.slot)
      continue;
    // The newest occupant; without one, the newest task.
    bool better = current == nullptr || is_occupant(t) > is_occupant(*current)
                  || (is_occupant(t) == is_occupant(*current)
                      && t.created_at_nanos >= current->created_at_nanos);
    if (better)
      current = &t;
  }
  auto name = fmt::format("{}.{}", c.name, c.slot);
  if (current == nullptr)
    return {false, fmt::format("no task in slot {}", name)};
  bool holds = current->state == c.state;
  auto on = current->node_hostname.empty() ? current->node_id
                                           : current->node_hostname;
  return {holds, fmt::format("task {}{} is {}{}", name,
                             on.empty() ? "" : fmt::format(" on {}", on),
                             current->state,
                             holds ? "" : fmt::format(" (want {})", c.state))};
}

bool event_matches(const condition& c, const event_row& e) {
  if (!glob_match(c.name, e.type))
    return false;
  for (const auto& f : c.fields) {
    bool ok = false;
    if (f.key == "action")
      ok = glob_match(f.pattern, e.action);
    else if (f.key == "service")
      ok = glob_match(f.pattern, e.service);
    else if (f.key == "node")
      ok = glob_match(f.pattern, e.node);
    else if (f.key == "task")
      ok = glob_match(f.pattern, e.task);
    else
      ok = std::any_of(e.reasons.begin(), e.reasons.end(),
                       [&](const auto& r) { return glob_match(f.pattern, r); });
    if (!ok)
      return false;
  }
  return true;
}

condition_result event_seen(const condition& c,
                            const std::vector<event_row>& seen) {
  std::string wanted = c.name;
  for (const auto& f : c.fields)
    wanted += fmt::format(" {}={}", f.key, f.pattern);
  size_t same_type = 0;
  for (const auto& e : seen) {
    if (event_matches(c, e))
      return {true, fmt::format("saw event #{}: {}", e.seq, wanted)};
    same_type += glob_match(c.name, e.type) ? 1 : 0;
  }
  return {false,
          fmt::format("no event {} among {} seen ({} of type {})", wanted,
                      plural(seen.size(), "event"), same_type, c.name)};
}

} // namespace

condition_result evaluate(const condition& c, const cluster_view& view,
                          const std::vector<event_row>& seen) {
  condition_result out;
  switch (c.kind) {
  case condition_kind::service_running:
  case condition_kind::service_converged:
    out = service_tasks(c, view);
    break;
  case condition_kind::service_removed: {
    bool gone = find_service(view, c.name) == nullptr;
    out
      = {gone, gone ? fmt::format("no service named {}", c.name)
                    : fmt::format("service {} exists (want removed)", c.name)};
    break;
  }
  case condition_kind::node_is:
    out = node_state(c, view);
    break;
  case condition_kind::leader_elected:
  case condition_kind::leader_is:
    out = leader(c, view);
    break;
  case condition_kind::task_is:
    out = task_state(c, view);
    break;
  case condition_kind::event_seen:
    out = event_seen(c, seen);
    break;
  }
  if (c.negated)
    out.holds = !out.holds;
  return out;
}

// -- steps --------------------------------------------------------------------

} // namespace skep::console
