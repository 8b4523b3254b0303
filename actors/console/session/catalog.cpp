// The console's catalog (see catalog.hpp): actor names, their messages,
// schemas, and tab completion, which walks the same schema tables, so they
// share this file; the client's code, not the daemon's.

#include "actors/console/session/catalog.hpp"

#include "actors/console/formats/service_format.hpp"
#include "actors/console/session/message_text.hpp"
#include "actors/console/session/script.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <fmt/format.h>

namespace skep::console {

namespace {

using capnp::DynamicStruct;
using capnp::StructSchema;

constexpr size_t max_name_length = 128;

const char* const actor_list = "leader/controlapi, node/NAME/agent, "
                               "node/NAME/transport, dispatcher, scheduler, "
                               "reconciler/SERVICE";

/// An Envelope.body message: who takes it and where its reply comes.
struct body_message {
  actor_kind actor;
  const char* name;
  const char* reply; // Envelope.body member; nullptr: one-way
};

const body_message body_messages[] = {
  {actor_kind::agent, "taskLogs", "taskLogsReply"},
  {actor_kind::transport, "ping", "pong"},
  {actor_kind::transport, "fault", "faultReply"},
  {actor_kind::dispatcher, "heartbeat", "heartbeatReply"},
  {actor_kind::dispatcher, "taskStatus", "taskStatusReply"},
  {actor_kind::dispatcher, "inspect", "dispatcherState"},
  {actor_kind::scheduler, "inspect", "schedulerState"},
  {actor_kind::reconciler, "inspect", "reconcilerState"},
  {actor_kind::reconciler, "reconcile", nullptr},
};

/// Where the control API answers each request.
const std::map<std::string, std::string>& control_reply_members() {
  static const std::map<std::string, std::string> members = {
    {"version", "version"},         {"info", "info"},
    {"swarmInit", "swarmInit"},     {"swarmJoin", "joined"},
    {"joinToken", "token"},         {"swarmLeave", "done"},
    {"swarmUpdate", "done"},        {"nodeList", "nodes"},
    {"nodeInspect", "nodes"},       {"nodeUpdate", "done"},
    {"nodeRemove", "done"},         {"propose", "done"},
    {"serviceCreate", "created"},   {"serviceList", "services"},
    {"serviceInspect", "services"}, {"serviceUpdate", "done"},
    {"serviceRemove", "done"},      {"taskList", "tasks"},
    {"serviceLogs", "logs"},        {"deliver", "delivered"},
    {"events", "events"},           {"actors", "actors"},
  };
  return members;
}

StructSchema request_schema() {
  return capnp::Schema::from<schema::control::Request>();
}

StructSchema body_schema() {
  return capnp::Schema::from<schema::Envelope::Body>();
}

StructSchema schema_of(actor_kind kind) {
  return kind == actor_kind::controlapi ? request_schema() : body_schema();
}

std::string name_of(StructSchema::Field f) {
  return f.getProto().getName().cStr();
}

/// "services :List(ServiceView)" for a member of `schema`.
std::string member_text(StructSchema schema, const std::string& member) {
  KJ_IF_MAYBE (f, schema.findFieldByName(member.c_str())) {
    return member + " :" + type_name(f->getType());
  }
  return member;
}

bool valid_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
           || c == '.';
  });
}

result<std::string> check_name(std::string_view name, const char* what) {
  if (!valid_name(name))
    return fail(errc::invalid_argument,
                fmt::format("{} name '{}' may contain only letters, digits, "
                            "'-', '_' and '.'",
                            what, name));
  return std::string(name);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// Names from `candidates` close to `word`: same prefix, substring either
/// way, or at most two edits, ignoring case.
std::vector<std::string>
close_names(std::string_view word, const std::vector<std::string>& candidates) {
  std::vector<std::string> out;
  auto w = lower(word);
  for (const auto& c : candidates) {
    auto l = lower(c);
    bool near
      = (!w.empty()
         && (l.find(w) != std::string::npos || w.find(l) != std::string::npos))
        || edit_distance(w, l) <= 2;
    if (near && std::find(out.begin(), out.end(), c) == out.end())
      out.push_back(c);
  }
  return out;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& item : items)
    out += (out.empty() ? "" : sep) + item;
  return out;
}

} // namespace

// ---------------------------------------------------------------------------
// Actors

const std::vector<actor_kind>& actor_kinds() {
  static const std::vector<actor_kind> kinds = {
    actor_kind::controlapi, actor_kind::agent,     actor_kind::transport,
    actor_kind::dispatcher, actor_kind::scheduler, actor_kind::reconciler,
  };
  return kinds;
}

std::string actor_pattern(actor_kind kind) {
  switch (kind) {
  case actor_kind::controlapi:
    return "leader/controlapi";
  case actor_kind::agent:
    return "node/NAME/agent";
  case actor_kind::transport:
    return "node/NAME/transport";
  case actor_kind::dispatcher:
    return "dispatcher";
  case actor_kind::scheduler:
    return "scheduler";
  case actor_kind::reconciler:
    return "reconciler/SERVICE";
  }
  return "?";
}

std::string actor_route(actor_kind kind) {
  switch (kind) {
  case actor_kind::controlapi:
    return "controlapi";
  case actor_kind::agent:
    return "agent";
  case actor_kind::transport:
    return "transport";
  case actor_kind::dispatcher:
    return "dispatcher";
  case actor_kind::scheduler:
    return "scheduler";
  case actor_kind::reconciler:
    return "reconciler";
  }
  return "?";
}

result<actor_name> parse_actor(std::string_view text) {
  actor_name out;
  out.text = std::string(text);
  if (text.empty())
    return fail(errc::invalid_argument,
                fmt::format("name an actor: {}", actor_list));
  if (text.size() > max_name_length)
    return fail(errc::invalid_argument,
                fmt::format("actor name is {} characters; at most {}",
                            text.size(), max_name_length));
  if (text == "leader/controlapi") {
    out.kind = actor_kind::controlapi;
    return out;
  }
  if (text == "dispatcher" || text == "scheduler") {
    out.kind
      = text == "dispatcher" ? actor_kind::dispatcher : actor_kind::scheduler;
    return out;
  }
  if (text == "node" || text.rfind("node/", 0) == 0) {
    auto rest = text.substr(std::min(text.size(), size_t{5}));
    auto slash = rest.find('/');
    auto node = rest.substr(0, slash);
    if (node.empty())
      return fail(errc::invalid_argument,
                  "node/ needs a node name: node/NAME/agent or "
                  "node/NAME/transport");
    if (auto r = check_name(node, "node"); !r)
      return std::move(r).error();
    auto role = slash == std::string_view::npos ? std::string_view{}
                                                : rest.substr(slash + 1);
    if (role == "agent" || role == "transport") {
      out.kind = role == "agent" ? actor_kind::agent : actor_kind::transport;
      out.node = std::string(node);
      return out;
    }
    if (role.empty())
      return fail(errc::invalid_argument,
                  fmt::format("node/{0} needs an actor: node/{0}/agent or "
                              "node/{0}/transport",
                              node));
    return fail(errc::invalid_argument,
                fmt::format("unknown actor '{}' on node {}; node actors are: "
                            "agent, transport",
                            role, node));
  }
  if (text == "reconciler" || text.rfind("reconciler/", 0) == 0) {
    auto service = text.substr(std::min(text.size(), size_t{11}));
    if (service.empty())
      return fail(errc::invalid_argument,
                  "reconciler/ needs a service name: reconciler/SERVICE");
    if (auto r = check_name(service, "service"); !r)
      return std::move(r).error();
    out.kind = actor_kind::reconciler;
    out.service = std::string(service);
    return out;
  }
  auto near = close_names(text, {"leader/controlapi", "dispatcher", "scheduler",
                                 "node/NAME/agent", "node/NAME/transport",
                                 "reconciler/SERVICE", "controlapi"});
  std::string hint;
  if (!near.empty())
    hint = fmt::format(" (did you mean {}?)",
                       near[0] == "controlapi" ? "leader/controlapi" : near[0]);
  return fail(errc::invalid_argument,
              fmt::format("unknown actor '{}'{}; actors are: {}", text, hint,
                          actor_list));
}

// ---------------------------------------------------------------------------
// Messages

std::vector<message_info> messages_of(actor_kind kind) {
  std::vector<message_info> out;
  if (kind == actor_kind::controlapi) {
    auto reply = capnp::Schema::from<schema::control::Reply>();
    for (auto f : request_schema().getUnionFields()) {
      message_info m;
      m.actor = kind;
      m.name = name_of(f);
      m.argument = type_name(f.getType());
      m.reply = "Reply";
      auto member = control_reply_members().find(m.name);
      if (member != control_reply_members().end())
        m.reply_member = member_text(reply, member->second);
      out.push_back(std::move(m));
    }
    return out;
  }
  for (const auto& b : body_messages) {
    if (b.actor != kind)
      continue;
    message_info m;
    m.actor = kind;
    m.name = b.name;
    m.argument = type_name(body_schema().getFieldByName(b.name).getType());
    m.call = b.reply != nullptr;
    if (m.call) {
      m.reply = type_name(body_schema().getFieldByName(b.reply).getType());
      m.reply_member = member_text(body_schema(), b.reply);
    }
    out.push_back(std::move(m));
  }
  return out;
}

namespace {

/// "(ServiceSpec)", or "()" for Void and field-less structs.
std::string argument_text(const message_info& m) {
  auto f = schema_of(m.actor).getFieldByName(m.name.c_str());
  auto type = f.getType();
  if (type.isVoid()
      || (type.isStruct() && type.asStruct().getFields().size() == 0))
    return "()";
  return "(" + m.argument + ")";
}

std::string format_kinds(const std::vector<actor_kind>& kinds) {
  std::vector<std::vector<std::string>> rows;
  for (auto kind : kinds)
    for (const auto& m : messages_of(kind)) {
      std::string reply = "(one-way)";
      if (m.call)
        reply = "-> "
                + (m.reply == "Reply" && !m.reply_member.empty()
                     ? "Reply." + m.reply_member
                     : m.reply);
      rows.push_back({actor_pattern(kind), m.call ? "call" : "send", m.name,
                      argument_text(m), reply});
    }
  return render_table(rows, 2);
}

result<message_info> find_message(actor_kind kind, std::string_view name) {
  auto messages = messages_of(kind);
  for (auto& m : messages)
    if (m.name == name)
      return m;
  std::vector<std::string> names;
  for (const auto& m : messages)
    names.push_back(m.name);
  std::string where;
  for (auto other : actor_kinds())
    for (const auto& m : messages_of(other))
      if (m.name == name && other != kind && where.empty())
        where = fmt::format(" ('{}' goes to {})", name, actor_pattern(other));
  return fail(errc::invalid_argument,
              fmt::format("{} does not accept '{}'{}; it accepts: {}",
                          actor_pattern(kind), name, where, join(names, ", ")));
}

} // namespace

std::string format_messages() {
  return format_kinds(actor_kinds());
}

std::string format_messages(actor_kind kind) {
  return format_kinds({kind});
}

// ---------------------------------------------------------------------------
// Schemas

namespace {

/// Every struct and enum reachable from the console's messages, by name:
/// a walk over their fields, `unvisited` holding the structs still to read.
const std::map<std::string, capnp::Schema>& type_registry() {
  static const auto registry = [] {
    std::map<std::string, capnp::Schema> out;
    std::vector<StructSchema> unvisited
      = {request_schema(), capnp::Schema::from<schema::control::Reply>(),
         capnp::Schema::from<schema::Envelope>()};
    auto add_type = [&](capnp::Type t) {
      while (t.isList())
        t = t.asList().getElementType();
      if (t.isStruct()) {
        auto s = t.asStruct();
        if (out.emplace(s.getShortDisplayName().cStr(), s).second)
          unvisited.push_back(s);
      } else if (t.isEnum()) {
        out.emplace(t.asEnum().getShortDisplayName().cStr(), t.asEnum());
      }
    };
    out.emplace("Request", request_schema());
    out.emplace("Reply", capnp::Schema::from<schema::control::Reply>());
    out.emplace("Envelope", capnp::Schema::from<schema::Envelope>());
    while (!unvisited.empty()) {
      auto s = unvisited.back();
      unvisited.pop_back();
      for (auto f : s.getFields()) {
        if (f.getProto().isGroup())
          unvisited.push_back(
            f.getType().asStruct()); // its fields, not its name
        else
          add_type(f.getType());
      }
    }
    return out;
  }();
  return registry;
}

std::string enumerants(capnp::EnumSchema e) {
  std::vector<std::string> names;
  for (auto v : e.getEnumerants())
    names.push_back(v.getProto().getName().cStr());
  return join(names, ", ");
}

void format_fields(DynamicStruct::Reader defaults, size_t level,
                   std::string& out);

void format_field(DynamicStruct::Reader defaults, StructSchema::Field f,
                  size_t level, std::string& out) {
  std::string pad(2 * level, ' ');
  auto proto = f.getProto();
  if (proto.isGroup()) {
    auto group = f.getType().asStruct();
    bool only_union = group.getNonUnionFields().size() == 0;
    out += fmt::format("{}{} :{} {{\n", pad, name_of(f),
                       only_union ? "union" : "group");
    if (only_union) {
      for (auto member : group.getFields())
        format_field(defaults.get(f).as<DynamicStruct>(), member, level + 1,
                     out);
    } else {
      format_fields(defaults.get(f).as<DynamicStruct>(), level + 1, out);
    }
    out += pad + "}\n";
    return;
  }
  auto type = f.getType();
  out += fmt::format("{}{} @{} :{}", pad, name_of(f),
                     proto.getOrdinal().getExplicit(), type_name(type));
  bool member_of_union
    = proto.getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT;
  if (!member_of_union && proto.getSlot().getHadExplicitDefault())
    out += " = " + print_value_text(defaults.get(f), type);
  auto base = type;
  while (base.isList())
    base = base.asList().getElementType();
  if (base.isEnum())
    out += "  # " + enumerants(base.asEnum());
  out += "\n";
}

void format_fields(DynamicStruct::Reader defaults, size_t level,
                   std::string& out) {
  auto schema = defaults.getSchema();
  bool union_done = false;
  for (auto f : schema.getFields()) {
    bool member_of_union = f.getProto().getDiscriminantValue()
                           != capnp::schema::Field::NO_DISCRIMINANT;
    if (!member_of_union) {
      format_field(defaults, f, level, out);
    } else if (!union_done) {
      union_done = true;
      std::string pad(2 * level, ' ');
      out += pad + "union {\n";
      for (auto member : schema.getUnionFields())
        format_field(defaults, member, level + 1, out);
      out += pad + "}\n";
    }
  }
}

std::string format_struct(StructSchema s) {
  capnp::MallocMessageBuilder builder;
  auto defaults = builder.initRoot<DynamicStruct>(s).asReader();
  std::string out
    = fmt::format("struct {} {{\n", s.getShortDisplayName().cStr());
  format_fields(defaults, 1, out);
  return out + "}";
}

std::string format_enum(capnp::EnumSchema e) {
  std::string out = fmt::format("enum {} {{\n", e.getShortDisplayName().cStr());
  for (auto v : e.getEnumerants())
    out += fmt::format("  {} @{}\n", v.getProto().getName().cStr(),
                       v.getOrdinal());
  return out + "}";
}

std::string format_schema(capnp::Schema s) {
  auto proto = s.getProto();
  if (proto.isEnum())
    return format_enum(s.asEnum());
  return format_struct(s.asStruct());
}

} // namespace

result<std::string> schema_text(std::string_view name) {
  std::vector<std::string> candidates;
  for (auto kind : actor_kinds())
    for (const auto& m : messages_of(kind)) {
      if (m.name == name) {
        auto type = schema_of(kind).getFieldByName(m.name.c_str()).getType();
        if (type.isStruct())
          return format_struct(type.asStruct());
        if (type.isVoid())
          return fmt::format("{} takes no arguments (Void)", name);
        return fmt::format("{} takes {}", name, type_name(type));
      }
      candidates.push_back(m.name);
    }
  const auto& types = type_registry();
  auto it = types.find(std::string(name));
  if (it != types.end())
    return format_schema(it->second);
  for (const auto& [type, schema] : types)
    candidates.push_back(type);
  auto near = close_names(name, candidates);
  std::string hint = near.empty() ? "run `messages` for the message names"
                                  : "did you mean: " + join(near, ", ") + "?";
  return fail(errc::not_found,
              fmt::format("no message or type '{}'; {}", name, hint));
}

// ---------------------------------------------------------------------------
// Building messages

namespace {

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c));
  });
}

/// Sets `member` of `target` from the arguments as typed.
result<void> fill_member(DynamicStruct::Builder target,
                         StructSchema::Field member, std::string_view args,
                         size_t column_offset) {
  auto type = member.getType();
  auto name = name_of(member);
  if (type.isVoid()) {
    std::string compact;
    for (char c : args)
      if (!std::isspace(static_cast<unsigned char>(c)))
        compact += c;
    if (compact.empty() || compact == "()" || compact == "void") {
      target.set(member, capnp::VOID);
      return {};
    }
    size_t first = args.find_first_not_of(" \t\r\n");
    return fail(errc::invalid_argument,
                fmt::format("column {}: {} takes no arguments (it is Void); "
                            "write `{}` alone or with ()",
                            column_offset + first + 1, name, name));
  }
  if (type.isStruct()) {
    auto inner = target.init(member).as<DynamicStruct>();
    return parse_struct_text(args, inner, column_offset);
  }
  if (blank(args))
    return fail(
      errc::invalid_argument,
      fmt::format("{} needs a value of type {}", name, type_name(type)));
  return parse_field_text(args, target, member, column_offset);
}

} // namespace

result<built_message> build_message(const actor_name& actor,
                                    std::string_view message,
                                    std::string_view args_text,
                                    size_t args_column, delivery how) {
  auto info = find_message(actor.kind, message);
  if (!info)
    return std::move(info).error();
  if (how == delivery::call && !info->call)
    return fail(errc::invalid_argument,
                fmt::format("{} is one-way and has no reply: use send {} {}",
                            info->name, actor.text, info->name));
  size_t offset = args_column > 0 ? args_column - 1 : 0;
  built_message out;
  out.control = actor.kind == actor_kind::controlapi;
  out.expects_reply = how == delivery::call;
  auto member = schema_of(actor.kind).getFieldByName(info->name.c_str());
  try {
    if (out.control) {
      capnp::MallocMessageBuilder builder;
      auto root = builder.initRoot<schema::control::Request>();
      auto filled
        = fill_member(capnp::toDynamic(root), member, args_text, offset);
      if (!filled)
        return std::move(filled).error();
      out.request = control_request::from(builder);
      return out;
    }
    result<void> filled;
    auto kind = how == delivery::call ? schema::Envelope::Kind::REQUEST
                                      : schema::Envelope::Kind::ONE_WAY;
    out.env = make_envelope(
      kind, 0, actor_ref{"", "console"}, actor_ref{"", actor_route(actor.kind)},
      [&](schema::Envelope::Body::Builder body) {
        filled = fill_member(capnp::toDynamic(body), member, args_text, offset);
      });
    if (!filled)
      return std::move(filled).error();
    return out;
  } catch (const kj::Exception& e) {
    return fail(errc::internal,
                fmt::format("could not build {}: {}", info->name,
                            e.getDescription().cStr()));
  }
}

// ---------------------------------------------------------------------------
// Replies

namespace {

/// "member = value" (or "member" for Void) of the active union member of
/// `r`, or JSON.
result<std::string> format_member(DynamicStruct::Reader r,
                                  const reply_format& format) {
  if (format.json)
    return to_json_text(r, format.indent);
  KJ_IF_MAYBE (active, r.which()) {
    auto name = name_of(*active);
    if (active->getType().isVoid())
      return name;
    return name + " = "
           + print_value_text(r.get(*active), active->getType(), format.indent);
  }
  return fail(errc::unsupported,
              "the reply holds a message this build does not know");
}

} // namespace

result<envelope> delivered_envelope(const control_reply& reply) {
  auto root = reply.root();
  if (!root.isDelivered())
    return fail(errc::invalid_argument,
                "the reply is not a delivered envelope");
  auto bytes = root.getDelivered();
  auto env = envelope::decode(bytes.begin(), bytes.size());
  if (!env)
    return fail(env.error().code,
                "the delivered reply does not decode: " + env.error().message);
  return std::move(*env);
}

result<std::string> format_reply(const control_reply& reply,
                                 const reply_format& format) {
  auto root = reply.root();
  if (root.isError())
    return from_schema(root.getError());
  if (root.isDelivered()) {
    auto env = delivered_envelope(reply);
    if (!env)
      return std::move(env).error();
    return format_reply(*env, format);
  }
  return format_member(capnp::toDynamic(root), format);
}

result<std::string> format_reply(const envelope& reply,
                                 const reply_format& format) {
  auto body = reply.root().getBody();
  if (body.isError())
    return from_schema(body.getError());
  if (body.isControlReply())
    return format_reply(control_reply::from(body.getControlReply()), format);
  return format_member(capnp::toDynamic(body), format);
}

// ---------------------------------------------------------------------------
// Completion

namespace {

const char* const step_keywords[] = {
  "send",     "call",      "let",  "wait", "expect", "sleep",
  "watch",    "partition", "heal", "drop", "delay",  "actors",
  "messages", "schema",    "help", "exit", "exec",   "echo",
};

bool is_separator(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == '(' || c == ')'
         || c == '[' || c == ']' || c == ',' || c == '=' || c == '"';
}

std::vector<std::string> actor_candidates(std::string_view word,
                                          const known_names& known) {
  std::vector<std::string> out
    = {"leader/controlapi", "node/", "dispatcher", "scheduler", "reconciler/"};
  if (word.rfind("node/", 0) == 0) {
    auto rest = word.substr(5);
    auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
      auto node = std::string(rest.substr(0, slash));
      out.push_back("node/" + node + "/agent");
      out.push_back("node/" + node + "/transport");
    } else {
      for (const auto& node : known.nodes)
        out.push_back("node/" + node + "/");
    }
  } else if (word.rfind("reconciler/", 0) == 0) {
    for (const auto& service : known.services)
      out.push_back("reconciler/" + service);
  }
  return out;
}

std::vector<std::string> value_candidates(capnp::Type type) {
  std::vector<std::string> out;
  if (type.isEnum())
    for (auto e : type.asEnum().getEnumerants())
      out.push_back(e.getProto().getName().cStr());
  else if (type.isBool())
    out = {"true", "false"};
  else if (type.isVoid())
    out = {"void"};
  return out;
}

/// Field names (or values) for the innermost struct being written in
/// `args`, which starts with the message's '('.
std::vector<std::string> argument_candidates(capnp::Type argument,
                                             std::string_view args) {
  struct frame {
    bool is_struct = false;
    bool is_list = false;
    StructSchema schema;
    capnp::Type element;
  };
  std::vector<frame> stack;
  capnp::Type pending = argument; // the type of the value about to start
  bool have_pending = true;
  bool after_equals = false;
  std::string ident;
  for (size_t i = 0; i < args.size(); ++i) {
    char c = args[i];
    if (c == '"' || c == '#') {
      char stop = c == '"' ? '"' : '\n';
      for (++i; i < args.size() && args[i] != stop; ++i)
        if (c == '"' && args[i] == '\\')
          ++i;
      if (i >= args.size())
        return {}; // inside a string or comment
      continue;
    }
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      ident += c;
      continue;
    }
    if (c == '(' || c == '[') {
      frame f;
      if (have_pending && c == '(' && pending.isStruct()) {
        f.is_struct = true;
        f.schema = pending.asStruct();
      } else if (have_pending && c == '[' && pending.isList()) {
        f.is_list = true;
        f.element = pending.asList().getElementType();
      }
      stack.push_back(f);
      have_pending = f.is_list;
      pending = f.element;
      after_equals = false;
    } else if (c == ')' || c == ']') {
      if (!stack.empty())
        stack.pop_back();
      have_pending = false;
      if (stack.empty())
        return {}; // the arguments are closed
    } else if (c == ',') {
      after_equals = false;
      have_pending = !stack.empty() && stack.back().is_list;
      if (have_pending)
        pending = stack.back().element;
    } else if (c == '=') {
      after_equals = true;
      have_pending = false;
      if (!stack.empty() && stack.back().is_struct) {
        KJ_IF_MAYBE (f, stack.back().schema.findFieldByName(ident.c_str())) {
          pending = f->getType();
          have_pending = true;
        }
      }
    }
    if (!std::isspace(static_cast<unsigned char>(c)))
      ident.clear();
  }
  if (stack.empty())
    return {};
  const auto& top = stack.back();
  if (have_pending && (after_equals || top.is_list))
    return value_candidates(pending);
  std::vector<std::string> out;
  if (top.is_struct && !after_equals)
    for (auto f : top.schema.getFields())
      out.push_back(name_of(f));
  return out;
}

std::vector<std::string> candidates_for(std::string_view line,
                                        const known_names& known) {
  std::vector<std::string> words;
  std::string current;
  size_t args_at = std::string_view::npos;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '(' || std::isspace(static_cast<unsigned char>(c))) {
      if (!current.empty())
        words.push_back(current);
      current.clear();
      if (c == '(') {
        args_at = i;
        break;
      }
    } else {
      current += c;
    }
  }
  if (words.size() >= 3 && words[0] == "let" && words[2] == "=")
    words.erase(words.begin(), words.begin() + 3);
  bool step = !words.empty() && (words[0] == "send" || words[0] == "call");
  if (args_at != std::string_view::npos) {
    if (!step || words.size() != 3)
      return {};
    auto actor = parse_actor(words[1]);
    if (!actor)
      return {};
    auto info = find_message(actor->kind, words[2]);
    if (!info)
      return {};
    auto type
      = schema_of(actor->kind).getFieldByName(info->name.c_str()).getType();
    return argument_candidates(type, line.substr(args_at));
  }
  std::vector<std::string> out;
  if (words.empty()) {
    out.assign(std::begin(step_keywords), std::end(step_keywords));
  } else if ((step || words[0] == "messages") && words.size() == 1) {
    out = actor_candidates(current, known);
  } else if (step && words.size() == 2) {
    if (auto actor = parse_actor(words[1]))
      for (const auto& m : messages_of(actor->kind))
        out.push_back(m.name);
  } else if (words[0] == "schema" && words.size() == 1) {
    for (auto kind : actor_kinds())
      for (const auto& m : messages_of(kind))
        out.push_back(m.name);
    for (const auto& [name, type] : type_registry())
      out.push_back(name);
  }
  return out;
}

} // namespace

size_t completion_start(std::string_view line_prefix) {
  size_t i = line_prefix.size();
  while (i > 0 && !is_separator(line_prefix[i - 1]))
    --i;
  return i;
}

std::vector<std::string> complete(std::string_view line_prefix,
                                  const known_names& known) {
  auto word = line_prefix.substr(completion_start(line_prefix));
  std::set<std::string> unique;
  for (auto& c : candidates_for(line_prefix, known))
    if (c.rfind(word, 0) == 0)
      unique.insert(std::move(c));
  return {unique.begin(), unique.end()};
}

} // namespace skep::console
