#include "actors/controlapi/console_routes.hpp"

#include <cctype>

#include <fmt/format.h>

namespace skep::controlapi {

namespace {

using body = schema::Envelope::Body::Which;

constexpr const char* valid_actors
  = "leader/controlapi, node/NAME/agent, node/NAME/transport, dispatcher, "
    "scheduler or reconciler/SERVICE";

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128)
    return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
          || c == '.'))
      return false;
  return true;
}

} // namespace

result<console_target> parse_console_target(std::string_view actor) {
  console_target t;
  if (actor == "leader/controlapi")
    return t;
  if (actor == "dispatcher") {
    t.kind = console_target_kind::dispatcher;
    return t;
  }
  if (actor == "scheduler") {
    t.kind = console_target_kind::scheduler;
    return t;
  }
  constexpr std::string_view reconciler = "reconciler/";
  if (actor.substr(0, reconciler.size()) == reconciler) {
    t.kind = console_target_kind::reconciler;
    t.service = std::string(actor.substr(reconciler.size()));
    if (!valid_name(t.service))
      return fail(errc::invalid_argument,
                  fmt::format("'{}' does not name a service: use "
                              "reconciler/SERVICE",
                              actor));
    return t;
  }
  constexpr std::string_view node = "node/";
  if (actor.substr(0, node.size()) == node) {
    auto rest = actor.substr(node.size());
    auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
      t.kind = console_target_kind::node_actor;
      t.node = std::string(rest.substr(0, slash));
      t.route = std::string(rest.substr(slash + 1));
      if (valid_name(t.node) && (t.route == "agent" || t.route == "transport"))
        return t;
    }
    return fail(errc::invalid_argument,
                fmt::format("'{}' does not name a node's actor: use "
                            "node/NAME/agent or node/NAME/transport",
                            actor));
  }
  return fail(
    errc::invalid_argument,
    fmt::format("unknown actor '{}': actors are {}", actor, valid_actors));
}

result<void> check_console_body(const console_target& target, body which,
                                bool one_way) {
  auto refuse = [&](const char* accepts) -> result<void> {
    return fail(errc::invalid_argument,
                fmt::format("this actor does not accept that message; it "
                            "accepts {}",
                            accepts));
  };
  switch (target.kind) {
  case console_target_kind::controlapi:
    if (which != body::CONTROL_REQUEST)
      return refuse("control requests");
    return {};
  case console_target_kind::node_actor:
    if (target.route == "agent")
      return which == body::TASK_LOGS ? result<void>{} : refuse("taskLogs");
    return which == body::PING || which == body::FAULT
             ? result<void>{}
             : refuse("ping and fault");
  case console_target_kind::dispatcher:
    return which == body::HEARTBEAT || which == body::TASK_STATUS
               || which == body::INSPECT
             ? result<void>{}
             : refuse("heartbeat, taskStatus and inspect");
  case console_target_kind::scheduler:
    return which == body::INSPECT ? result<void>{} : refuse("inspect");
  case console_target_kind::reconciler:
    if (which == body::RECONCILE)
      return {};
    if (which == body::INSPECT) {
      if (one_way)
        return fail(errc::invalid_argument,
                    "inspect answers with the reconciler's state: call it");
      return {};
    }
    return refuse("inspect and reconcile");
  }
  return refuse("nothing");
}

bool runs_on_leader(const console_target& target) {
  return target.kind != console_target_kind::node_actor;
}

} // namespace skep::controlapi
