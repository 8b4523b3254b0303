#include "actors/console/session/console_session.hpp"

#include "actors/console/session/message_text.hpp"
#include "actors/events/event_log.hpp"
#include "messages/console.capnp.h"
#include "messages/events.capnp.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <thread>

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::console {

namespace {

using namespace std::chrono;

std::string text_of(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

int64_t now_nanos() {
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch())
    .count();
}

std::string task_state_name(schema::store::TaskState state) {
  auto names = capnp::Schema::from<schema::store::TaskState>().getEnumerants();
  auto i = static_cast<unsigned>(state);
  return i < names.size() ? std::string(names[i].getProto().getName().cStr())
                          : "unknown";
}

std::string duration_text(nanoseconds d) {
  auto ms = duration_cast<milliseconds>(d).count();
  if (ms % 1000 == 0)
    return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

constexpr const char* help_text = R"(Steps (one per line; # starts a comment):
  send ACTOR MESSAGE [(FIELDS)]        one-way message
  call ACTOR MESSAGE [(FIELDS)]        request; prints the reply
  let NAME = call ACTOR MESSAGE (...)  keeps the reply: ${NAME.path.to.field}
  wait CONDITION [timeout DUR]         until it holds (default 30s)
  expect CONDITION                     fails the script unless it holds now
  sleep DUR | echo TEXT | exec COMMAND
  watch [K=V ...] | unwatch            print events (type=, service=, node=...)
  partition A B | C    heal [A ...]    drop A->B 0.2    delay A->B 50ms
  actors | messages [ACTOR] | schema NAME | help | exit
Conditions: service NAME running N | service NAME converged | service NAME
  removed | node NAME ready|down|active|pause|drain|leader|reachable|manager|
  worker | leader elected | leader is NAME | task NAME.SLOT STATE |
  event TYPE [KEY=VALUE ...] | not CONDITION
Actors: leader/controlapi, node/NAME/agent, node/NAME/transport, dispatcher,
  scheduler, reconciler/SERVICE. Fields are Cap'n Proto text (schema NAME
  shows them). Examples:
)";

/// Steps shown after help_text, one per line; a test runs each through the
/// parser and the message builder.
const std::vector<std::string> examples{
  R"(call leader/controlapi serviceCreate (name = "web", replicas = 3, container = (image = "sleep", args = ["1000"])))",
  R"(let svc = call leader/controlapi serviceInspect (names = ["web"]))",
  R"(echo web is ${svc.services.0.service.id})",
  R"(wait service web converged timeout 60s)",
  R"(call reconciler/web inspect)",
  R"(partition node1 | node2 node3)",
  R"(wait leader elected)",
  R"(heal)",
  R"(expect not task web.1 failed)",
};

} // namespace

const std::vector<std::string>& help_examples() {
  return examples;
}

result<void> check_script(const script& sc) {
  for (const auto& s : sc.steps) {
    auto where = [&](const failure& f) {
      return failure{f.code, fmt::format("line {}: {}", s.line, f.message)};
    };
    if (s.kind != step_kind::send && s.kind != step_kind::call
        && s.kind != step_kind::let)
      continue;
    auto how = s.kind == step_kind::send ? delivery::send : delivery::call;
    if (!s.deferred) {
      auto actor = parse_actor(s.actor);
      if (!actor)
        return where(actor.error());
      auto built
        = build_message(*actor, s.message, s.fields, s.fields_column, how);
      if (!built)
        return where(built.error());
      continue;
    }
    // Variables stand for values only known as the script runs: check the
    // actor and the message when they are written out.
    auto bound = bind_variables(
      s, [](std::string_view) { return result<std::string>{"0"}; });
    if (!bound)
      continue;
    bool literal_actor = s.source.find(bound->actor) != std::string::npos
                         && !has_variables(bound->actor);
    if (!literal_actor)
      continue;
    auto actor = parse_actor(bound->actor);
    if (!actor)
      return where(actor.error());
    if (s.source.find(bound->message) == std::string::npos)
      continue;
    auto known = messages_of(actor->kind);
    bool found = std::any_of(known.begin(), known.end(), [&](const auto& m) {
      return m.name == bound->message;
    });
    if (found)
      continue;
    // Unknown: the builder says so, with the names close to it.
    auto built = build_message(*actor, bound->message, "", 1, how);
    if (!built)
      return where(built.error());
  }
  return {};
}

console_session::console_session(session_options opts)
  : opts_(std::move(opts)), started_nanos_(now_nanos()) {}

void console_session::print(const std::string& text) {
  if (opts_.out)
    *opts_.out << text << (text.empty() || text.back() != '\n' ? "\n" : "")
               << std::flush;
}

void console_session::set_variable(const std::string& name, std::string value) {
  variables_[name] = variable{std::nullopt, std::nullopt, std::move(value)};
}

result<control_reply> console_session::call(const control_request& request,
                                            milliseconds timeout) {
  auto reply = call_node(opts_.node, request, timeout);
  if (!reply)
    return reply;
  if (reply->root().which() == schema::control::Reply::ERROR)
    return from_schema(reply->root().getError());
  return reply;
}

result<std::string> console_session::lookup(std::string_view name) const {
  constexpr std::string_view env_prefix = "env.";
  if (name.substr(0, env_prefix.size()) == env_prefix) {
    auto key = std::string(name.substr(env_prefix.size()));
    if (const char* value = std::getenv(key.c_str()))
      return std::string(value);
    return fail(errc::not_found,
                fmt::format("environment variable {} is not set", key));
  }
  auto dot = name.find('.');
  auto var = std::string(name.substr(0, dot));
  auto path
    = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
  auto it = variables_.find(var);
  if (it == variables_.end())
    return fail(errc::not_found, fmt::format("unknown variable `{}`", name));
  const auto& v = it->second;
  if (v.reply) {
    auto root = capnp::toDynamic(v.reply->root());
    return console::lookup(root, path);
  }
  if (v.env) {
    auto root = capnp::toDynamic(v.env->root());
    return console::lookup(root.get("body").as<capnp::DynamicStruct>(), path);
  }
  if (!path.empty())
    return fail(errc::not_found,
                fmt::format("`{}` is text: it has no field `{}`", var, path));
  return v.text;
}

result<step> console_session::bind(const step& s) const {
  return bind_variables(s,
                        [this](std::string_view name) { return lookup(name); });
}

result<void> console_session::run(const step& s) {
  switch (s.kind) {
  case step_kind::send:
  case step_kind::call:
  case step_kind::let:
    return run_message(s);
  case step_kind::wait:
  case step_kind::expect:
    return run_condition(s);
  case step_kind::sleep:
    return sleep_for(s.duration);
  case step_kind::echo:
    print(s.text);
    return {};
  case step_kind::exec: {
    auto code = std::system(s.text.c_str());
    if (code == -1)
      return fail(errc::internal, "cannot run /bin/sh");
    if (WIFEXITED(code) && WEXITSTATUS(code) == 0)
      return {};
    return fail(errc::internal,
                WIFEXITED(code)
                  ? fmt::format("the command exited with {}", WEXITSTATUS(code))
                  : "the command was killed by a signal");
  }
  case step_kind::watch:
    return run_watch(s);
  case step_kind::unwatch:
    watch_.reset();
    return {};
  case step_kind::partition:
  case step_kind::heal:
  case step_kind::drop:
  case step_kind::delay:
    return run_fault(s);
  case step_kind::actors:
    return run_actors();
  case step_kind::messages:
    if (s.argument.empty()) {
      print(format_messages());
      return {};
    } else {
      auto actor = parse_actor(s.argument);
      if (!actor)
        return std::move(actor).error();
      print(format_messages(actor->kind));
      return {};
    }
  case step_kind::schema: {
    auto text = schema_text(s.argument);
    if (!text)
      return std::move(text).error();
    print(*text);
    return {};
  }
  case step_kind::help: {
    std::string text = help_text;
    for (const auto& e : examples)
      text += "  " + e + "\n";
    print(text);
    return {};
  }
  case step_kind::exit:
    exit_requested_ = true;
    return {};
  }
  return fail(errc::internal, "unknown step");
}

// ---- messages -------------------------------------------------------------

result<void> console_session::run_message(const step& s) {
  auto actor = parse_actor(s.actor);
  if (!actor)
    return std::move(actor).error();
  auto how = s.kind == step_kind::send ? delivery::send : delivery::call;
  auto built = build_message(*actor, s.message, s.fields, s.fields_column, how);
  if (!built)
    return std::move(built).error();
  reply_format format{opts_.json, true};
  control_request request = built->request;
  if (!built->control) {
    capnp::MallocMessageBuilder b;
    auto d = b.initRoot<schema::control::Request>().initDeliver();
    d.setActor(actor->text);
    d.setOneWay(how == delivery::send);
    auto bytes = built->env.encode();
    d.setEnvelope(kj::arrayPtr(bytes.data(), bytes.size()));
    d.setTimeoutMillis(static_cast<uint32_t>(opts_.call_timeout.count()));
    request = control_request::from(b);
  }
  auto reply = call(request, opts_.call_timeout + seconds{2});
  if (!reply)
    return std::move(reply).error();
  if (how == delivery::send)
    return {};
  auto text = format_reply(*reply, format);
  if (!text)
    return std::move(text).error();
  if (s.kind == step_kind::let) {
    variable v;
    if (built->control) {
      v.reply = *reply;
    } else {
      auto env = delivered_envelope(*reply);
      if (!env)
        return std::move(env).error();
      v.env = *env;
    }
    variables_[s.variable] = std::move(v);
    return {};
  }
  print(*text);
  return {};
}

// ---- conditions -----------------------------------------------------------

result<cluster_view> console_session::fetch(const data_needs& needs) {
  cluster_view view;
  if (needs.nodes) {
    capnp::MallocMessageBuilder b;
    b.initRoot<schema::control::Request>().setNodeList();
    auto reply = call(control_request::from(b));
    if (!reply)
      return std::move(reply).error();
    for (auto n : reply->root().getNodes())
      view.nodes.push_back(
        node_row{text_of(n.getId()), text_of(n.getHostname()),
                 text_of(n.getStatus()), text_of(n.getAvailability()),
                 text_of(n.getManagerStatus()), text_of(n.getRole())});
  }
  if (needs.services) {
    capnp::MallocMessageBuilder b;
    b.initRoot<schema::control::Request>().setServiceList();
    auto reply = call(control_request::from(b));
    if (!reply)
      return std::move(reply).error();
    for (auto v : reply->root().getServices()) {
      auto service = v.getService();
      auto spec = service.getSpec();
      view.services.push_back(
        service_row{text_of(service.getId()), text_of(spec.getName()),
                    spec.getMode() == schema::store::ServiceMode::GLOBAL,
                    spec.getReplicas()});
    }
  }
  if (needs.tasks) {
    capnp::MallocMessageBuilder b;
    b.initRoot<schema::control::Request>().initTaskList();
    auto reply = call(control_request::from(b));
    if (!reply)
      return std::move(reply).error();
    for (auto v : reply->root().getTasks()) {
      auto t = v.getTask();
      task_row row;
      row.id = text_of(t.getId());
      row.service_name = text_of(v.getServiceName());
      row.slot = t.getSlot();
      row.node_id = text_of(t.getNodeId());
      row.node_hostname = text_of(v.getNodeHostname());
      row.desired_state = task_state_name(t.getDesiredState());
      row.state = task_state_name(t.getStatus().getState());
      row.created_at_nanos = t.getCreatedAtNanos();
      view.tasks.push_back(std::move(row));
    }
  }
  return view;
}

void console_session::read_events() {
  for (int batch = 0; batch < 100; ++batch) {
    capnp::MallocMessageBuilder b;
    auto r = b.initRoot<schema::control::Request>().initEvents();
    r.setAfterSeq(events_after_);
    r.setSinceNanos(started_nanos_);
    r.setLog(events_log_);
    r.setLimit(1000);
    auto reply = call(control_request::from(b), seconds{10});
    if (!reply)
      return; // no leader right now: the next look catches up
    auto got = reply->root().getEvents();
    auto log = text_of(got.getLog());
    if (log != events_log_) {
      // Leadership moved: the new leader's log, from where this one stopped
      // in time.
      events_log_ = log;
      if (!seen_.empty() && got.getEvents().size() > 0)
        started_nanos_ = std::max(started_nanos_, now_nanos() - 1);
    }
    events_after_ = got.getNextSeq();
    std::optional<controlapi::filter_set> filters;
    if (watch_) {
      auto parsed = controlapi::parse_filters(*watch_);
      if (parsed)
        filters = std::move(*parsed);
    }
    for (auto ev : got.getEvents()) {
      auto e = controlapi::from_schema(ev);
      event_row row;
      row.seq = e.seq;
      row.type = e.type;
      row.action = e.action;
      row.service = e.service;
      for (auto& [k, v] : e.attributes)
        if (k == "hostname")
          row.node = v;
      if (e.type == "node")
        row.node = e.name;
      if (e.type == "task")
        row.task = e.name;
      for (auto& d : e.decisions) {
        row.reasons.push_back(d.reason);
        if (row.task.empty())
          row.task = d.task_id;
        if (row.node.empty())
          row.node = d.node_id;
      }
      // One row per decision too, so a condition can name one action of a
      // reconcile that took several ("create+shutdown") and the reason it
      // gave.
      for (auto& d : e.decisions) {
        event_row one = row;
        one.action = d.action;
        one.reasons = {d.reason};
        if (!d.task_id.empty())
          one.task = d.task_id;
        if (!d.node_id.empty())
          one.node = d.node_id;
        seen_.push_back(std::move(one));
      }
      seen_.push_back(std::move(row));
      if (filters && controlapi::matches(*filters, e))
        print(opts_.json ? controlapi::event_json(e)
                         : controlapi::format_event(e));
    }
    if (got.getEvents().size() < 1000)
      return;
  }
}

void console_session::pump_events() {
  if (watch_)
    read_events();
}

result<condition_result> console_session::check(const condition& c) {
  auto n = needs(c);
  if (n.events)
    read_events();
  auto view = fetch(n);
  if (!view)
    return std::move(view).error();
  return evaluate(c, *view, seen_);
}

result<void> console_session::run_condition(const step& s) {
  if (s.kind == step_kind::expect) {
    pump_events();
    auto r = check(s.cond);
    if (!r)
      return std::move(r).error();
    if (!r->holds)
      return fail(errc::invalid_argument,
                  fmt::format("expected {}, but {}", s.cond.text, r->observed));
    return {};
  }
  auto deadline = steady_clock::now() + s.timeout;
  std::string last = "the node did not answer";
  for (;;) {
    pump_events();
    auto r = check(s.cond);
    if (r && r->holds)
      return {};
    last = r ? r->observed : r.error().message;
    if (steady_clock::now() >= deadline || interrupted())
      return fail(errc::timeout,
                  fmt::format("timed out after {} waiting for {}: {}",
                              duration_text(s.timeout), s.cond.text, last));
    std::this_thread::sleep_for(opts_.poll);
  }
}

result<void> console_session::sleep_for(nanoseconds how_long) {
  auto until = steady_clock::now() + how_long;
  while (steady_clock::now() < until && !interrupted()) {
    pump_events();
    auto left = duration_cast<milliseconds>(until - steady_clock::now());
    std::this_thread::sleep_for(std::clamp(left, milliseconds{0}, opts_.poll));
  }
  return {};
}

// ---- events, faults, actors ------------------------------------------------

result<void> console_session::run_watch(const step& s) {
  if (auto ok = controlapi::parse_filters(s.filters); !ok)
    return std::move(ok).error();
  watch_ = s.filters;
  if (!interactive)
    return {};
  // Interactive: stream until interrupted, then stop watching.
  print("watching events; press Ctrl-C to stop");
  while (!interrupted()) {
    read_events();
    std::this_thread::sleep_for(opts_.poll);
  }
  watch_.reset();
  return {};
}

result<std::vector<std::string>> console_session::all_nodes() {
  auto view = fetch(data_needs{true, false, false, false});
  if (!view)
    return std::move(view).error();
  std::vector<std::string> names;
  for (auto& n : view->nodes)
    names.push_back(n.hostname);
  return names;
}

result<void> console_session::send_fault(const std::string& node,
                                         const std::string& args) {
  step s;
  s.kind = step_kind::call;
  s.actor = fmt::format("node/{}/transport", node);
  s.message = "fault";
  s.fields = args;
  s.fields_column = 1;
  auto actor = parse_actor(s.actor);
  if (!actor)
    return std::move(actor).error();
  auto built = build_message(*actor, "fault", args, 1, delivery::call);
  if (!built)
    return std::move(built).error();
  capnp::MallocMessageBuilder b;
  auto d = b.initRoot<schema::control::Request>().initDeliver();
  d.setActor(actor->text);
  auto bytes = built->env.encode();
  d.setEnvelope(kj::arrayPtr(bytes.data(), bytes.size()));
  d.setTimeoutMillis(10000);
  auto reply = call(control_request::from(b), seconds{12});
  if (!reply)
    return fail(reply.error().code,
                fmt::format("node {}: {}", node, reply.error().message));
  auto env = delivered_envelope(*reply);
  if (!env)
    return std::move(env).error();
  auto body = env->root().getBody();
  if (body.which() == schema::Envelope::Body::ERROR)
    return fail(
      errc::unavailable,
      fmt::format("node {}: {}", node, text_of(body.getError().getMessage())));
  return {};
}

namespace {

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i)
    out += fmt::format("{}\"{}\"", i ? ", " : "", names[i]);
  return out + "]";
}

} // namespace

result<void> console_session::run_fault(const step& s) {
  switch (s.kind) {
  case step_kind::partition:
    for (size_t g = 0; g < s.groups.size(); ++g) {
      std::vector<std::string> others;
      for (size_t o = 0; o < s.groups.size(); ++o)
        if (o != g)
          others.insert(others.end(), s.groups[o].begin(), s.groups[o].end());
      for (const auto& node : s.groups[g])
        if (auto ok
            = send_fault(node, fmt::format("(peers = {}, partitioned = true)",
                                           quoted_list(others)));
            !ok)
          return ok;
    }
    return {};
  case step_kind::heal: {
    if (!s.nodes.empty()) {
      for (const auto& node : s.nodes)
        if (auto ok = send_fault(node, "(heal = true)"); !ok)
          return ok;
      return {};
    }
    // Every node: one that cannot be reached (stopped) has no faults to
    // heal that matter now; it starts without any.
    auto all = all_nodes();
    if (!all)
      return std::move(all).error();
    for (const auto& node : *all)
      if (auto ok = send_fault(node, "(heal = true)"); !ok && opts_.err)
        *opts_.err << fmt::format("warning: {}\n", ok.error().message);
    return {};
  }
  case step_kind::drop:
    return send_fault(s.from, fmt::format("(peers = [\"{}\"], drop = {})", s.to,
                                          s.probability));
  case step_kind::delay:
    return send_fault(s.from, fmt::format("(peers = [\"{}\"], delayNanos = {})",
                                          s.to, s.duration.count()));
  default:
    return fail(errc::internal, "not a fault step");
  }
}

result<void> console_session::run_actors() {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Request>().setActors();
  auto reply = call(control_request::from(b));
  if (!reply)
    return std::move(reply).error();
  if (opts_.json) {
    auto text = format_reply(*reply, reply_format{true, true});
    if (!text)
      return std::move(text).error();
    print(*text);
    return {};
  }
  auto actors = reply->root().getActors();
  size_t width = 5;
  for (auto a : actors)
    width = std::max(width, a.getName().size());
  std::string out = fmt::format("{:<{}}   {:<12}   {:<25}   {}\n", "ACTOR",
                                width, "NODE", "NODE ID", "STATUS");
  for (auto a : actors)
    out += fmt::format("{:<{}}   {:<12}   {:<25}   {}\n", text_of(a.getName()),
                       width, text_of(a.getHostname()), text_of(a.getNodeId()),
                       text_of(a.getStatus()));
  print(out);
  return {};
}

known_names console_session::names() {
  known_names known;
  auto view = fetch(data_needs{true, true, false, false});
  if (!view)
    return known;
  for (auto& n : view->nodes)
    known.nodes.push_back(n.hostname);
  for (auto& s : view->services)
    known.services.push_back(s.name);
  return known;
}

} // namespace skep::console
