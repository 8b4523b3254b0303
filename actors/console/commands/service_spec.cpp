// `skep service create/update` flags turned into a service spec, and the
// other pure parsers of the service commands' operands.

#include "actors/console/commands/service_spec.hpp"

#include "config/units.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::console {

namespace {

using schema::store::ServiceSpec;

failure invalid(std::string_view flag, std::string_view text,
                std::string_view why) {
  return fail(errc::invalid_argument,
              fmt::format("invalid {} '{}': {}", flag, text, why));
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return std::string{s};
}

std::string str(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

result<uint16_t> parse_port(std::string_view flag, std::string_view text,
                            std::string_view part, std::string_view port,
                            bool zero_ok) {
  const auto* hint = "use PUBLISHED:TARGET[/tcp|udp] or TARGET[/tcp|udp]";
  if (!all_digits(port) || port.size() > 5)
    return invalid(
      flag, text,
      fmt::format("{} '{}' is not a port number; {}", part, port, hint));
  auto n = std::stoul(std::string{port});
  if (n > 65535 || (n == 0 && !zero_ok))
    return invalid(flag, text,
                   fmt::format("{} {} is out of range (1-65535)", part, n));
  return static_cast<uint16_t>(n);
}

result<std::string> parse_protocol(std::string_view flag, std::string_view text,
                                   std::string_view proto) {
  if (proto != "tcp" && proto != "udp")
    return invalid(
      flag, text,
      fmt::format("protocol '{}' is not supported; use tcp or udp", proto));
  return std::string{proto};
}

/// Docker's long form: published=8080,target=80,protocol=udp,mode=ingress.
result<port_flag> parse_publish_long(std::string_view flag,
                                     std::string_view text) {
  port_flag p;
  bool has_target = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = std::min(text.find(',', pos), text.size());
    auto field = text.substr(pos, comma - pos);
    pos = comma + 1;
    auto eq = field.find('=');
    if (eq == std::string_view::npos)
      return invalid(flag, text,
                     fmt::format("'{}' is not KEY=VALUE (keys: published, "
                                 "target, protocol, mode)",
                                 field));
    auto key = field.substr(0, eq);
    auto value = field.substr(eq + 1);
    if (key == "published" || key == "target") {
      auto port = parse_port(flag, text, key, value, key == "published");
      if (!port)
        return port.error();
      (key == "published" ? p.published : p.target) = *port;
      has_target = has_target || key == "target";
    } else if (key == "protocol") {
      auto proto = parse_protocol(flag, text, value);
      if (!proto)
        return proto.error();
      p.protocol = *proto;
    } else if (key == "mode") {
      if (value != "ingress")
        return invalid(flag, text, "only mode=ingress is supported");
    } else {
      return invalid(flag, text,
                     fmt::format("unknown key '{}' (keys: published, target, "
                                 "protocol, mode)",
                                 key));
    }
  }
  if (!has_target)
    return invalid(flag, text, "target=PORT is missing");
  return p;
}

template <class Enum>
result<Enum>
pick(std::string_view flag, std::string_view text,
     std::initializer_list<std::pair<std::string_view, Enum>> choices) {
  std::string names;
  for (const auto& [name, value] : choices) {
    if (name == text)
      return value;
    names += (names.empty() ? "" : ", ") + std::string{name};
  }
  return invalid(flag, text, fmt::format("use one of {}", names));
}

/// Runs `parse` on `text` when given and hands the value to `set`.
template <class Parse, class Set>
result<void> with(const std::optional<std::string>& text, Parse&& parse,
                  Set&& set) {
  if (!text)
    return {};
  auto value = parse(*text);
  if (!value)
    return value.error();
  set(*value);
  return {};
}

#define SKEP_TRY(expr)                                                         \
  if (auto ok_ = (expr); !ok_)                                                 \
    return std::move(ok_).error();

result<void> apply_rolling(const rolling_flags& f, std::string_view prefix,
                           schema::store::UpdateConfig::Builder u) {
  using schema::store::FailureAction;
  using schema::store::UpdateOrder;
  auto name
    = [&](const char* what) { return fmt::format("--{}-{}", prefix, what); };
  SKEP_TRY(with(
    f.parallelism, [&](auto& t) { return parse_count(name("parallelism"), t); },
    [&](auto v) { u.setParallelism(v); }));
  SKEP_TRY(with(
    f.delay, [&](auto& t) { return parse_duration_flag(name("delay"), t); },
    [&](auto v) { u.setDelayNanos(v); }));
  SKEP_TRY(with(
    f.monitor, [&](auto& t) { return parse_duration_flag(name("monitor"), t); },
    [&](auto v) { u.setMonitorNanos(v); }));
  SKEP_TRY(with(
    f.failure_action,
    [&](auto& t) {
      if (prefix != "update") // a rollback cannot roll back
        return pick<FailureAction>(name("failure-action"), t,
                                   {{"pause", FailureAction::PAUSE},
                                    {"continue", FailureAction::PROCEED}});
      return pick<FailureAction>(name("failure-action"), t,
                                 {{"pause", FailureAction::PAUSE},
                                  {"continue", FailureAction::PROCEED},
                                  {"rollback", FailureAction::ROLLBACK}});
    },
    [&](auto v) { u.setOnFailure(v); }));
  SKEP_TRY(with(
    f.max_failure_ratio,
    [&](auto& t) { return parse_ratio(name("max-failure-ratio"), t); },
    [&](auto v) { u.setMaxFailureRatio(v); }));
  SKEP_TRY(with(
    f.order,
    [&](auto& t) {
      return pick<UpdateOrder>(name("order"), t,
                               {{"stop-first", UpdateOrder::STOP_FIRST},
                                {"start-first", UpdateOrder::START_FIRST}});
    },
    [&](auto v) { u.setOrder(v); }));
  return {};
}

void set_texts(capnp::List<capnp::Text>::Builder out,
               const std::vector<std::string>& items) {
  for (unsigned i = 0; i < items.size(); ++i)
    out.set(i, items[i]);
}

std::vector<std::string> texts(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  for (auto t : list)
    out.push_back(str(t));
  return out;
}

result<void> apply_env(const service_flags& f, ServiceSpec::Builder spec) {
  if (f.env_add.empty() && f.env_rm.empty())
    return {};
  auto container = spec.getContainer();
  auto env = texts(container.getEnv().asReader());
  auto key_of
    = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  for (const auto& key : f.env_rm)
    env.erase(std::remove_if(env.begin(), env.end(),
                             [&](auto& kv) { return key_of(kv) == key; }),
              env.end());
  for (const auto& text : f.env_add) {
    auto kv = parse_key_value("--env", text, false);
    if (!kv)
      return kv.error();
    auto entry = kv->first + "=" + kv->second;
    auto same = std::find_if(env.begin(), env.end(),
                             [&](auto& e) { return key_of(e) == kv->first; });
    if (same != env.end())
      *same = entry;
    else
      env.push_back(entry);
  }
  set_texts(container.initEnv(static_cast<unsigned>(env.size())), env);
  return {};
}

result<void> apply_labels(const service_flags& f, ServiceSpec::Builder spec) {
  if (f.label_add.empty() && f.label_rm.empty())
    return {};
  std::map<std::string, std::string> labels;
  for (auto l : spec.getLabels().asReader())
    labels[str(l.getKey())] = str(l.getValue());
  for (const auto& key : f.label_rm)
    labels.erase(key);
  for (const auto& text : f.label_add) {
    auto kv = parse_key_value("--label", text, true);
    if (!kv)
      return kv.error();
    labels[kv->first] = kv->second;
  }
  auto out = spec.initLabels(static_cast<unsigned>(labels.size()));
  unsigned i = 0;
  for (const auto& [key, value] : labels) {
    out[i].setKey(key);
    out[i++].setValue(value);
  }
  return {};
}

void apply_constraints(const service_flags& f, ServiceSpec::Builder spec) {
  if (f.constraint_add.empty() && f.constraint_rm.empty())
    return;
  auto list = texts(spec.getConstraints().asReader());
  for (const auto& c : f.constraint_rm)
    list.erase(std::remove(list.begin(), list.end(), trim(c)), list.end());
  for (const auto& c : f.constraint_add)
    if (std::find(list.begin(), list.end(), trim(c)) == list.end())
      list.push_back(trim(c));
  set_texts(spec.initConstraints(static_cast<unsigned>(list.size())), list);
}

result<void> apply_ports(const service_flags& f, ServiceSpec::Builder spec) {
  if (f.publish_add.empty() && f.publish_rm.empty())
    return {};
  std::vector<port_flag> ports;
  for (auto p : spec.getPorts().asReader())
    ports.push_back({p.getPublished(), p.getTarget(), str(p.getProtocol())});
  for (const auto& text : f.publish_rm) {
    auto rm = parse_publish("--publish-rm", text);
    if (!rm)
      return rm.error();
    ports.erase(std::remove_if(ports.begin(), ports.end(),
                               [&](const port_flag& p) {
                                 return p.target == rm->target
                                        && p.protocol == rm->protocol
                                        && (rm->published == 0
                                            || p.published == rm->published);
                               }),
                ports.end());
  }
  std::set<std::pair<uint16_t, std::string>> given;
  for (const auto& text : f.publish_add) {
    auto add = parse_publish("--publish", text);
    if (!add)
      return add.error();
    // Given twice in one command: refused, as Docker does; published again
    // by an update: it replaces the old mapping.
    if (add->published != 0
        && !given.emplace(add->published, add->protocol).second)
      return fail(errc::invalid_argument,
                  fmt::format("--publish: published port {}/{} is given "
                              "twice",
                              add->published, add->protocol));
    // A port published again replaces its old target.
    ports.erase(std::remove_if(ports.begin(), ports.end(),
                               [&](const port_flag& p) {
                                 return p.protocol == add->protocol
                                        && (add->published != 0
                                              ? p.published == add->published
                                              : p.published == 0
                                                  && p.target == add->target);
                               }),
                ports.end());
    ports.push_back(*add);
  }
  auto out = spec.initPorts(static_cast<unsigned>(ports.size()));
  for (unsigned i = 0; i < ports.size(); ++i) {
    out[i].setPublished(ports[i].published);
    out[i].setTarget(ports[i].target);
    out[i].setProtocol(ports[i].protocol);
  }
  return {};
}

result<void> apply_resources(const service_flags& f,
                             ServiceSpec::Builder spec) {
  auto cpu = [](const char* flag) {
    return [flag](auto& t) { return parse_cpus(flag, t); };
  };
  auto memory = [](const char* flag) {
    return [flag](auto& t) { return parse_memory(flag, t); };
  };
  SKEP_TRY(with(f.reserve_cpu, cpu("--reserve-cpu"),
                [&](auto v) { spec.getReservations().setNanoCpus(v); }));
  SKEP_TRY(with(f.reserve_memory, memory("--reserve-memory"),
                [&](auto v) { spec.getReservations().setMemoryBytes(v); }));
  SKEP_TRY(with(f.limit_cpu, cpu("--limit-cpu"),
                [&](auto v) { spec.getLimits().setNanoCpus(v); }));
  SKEP_TRY(with(f.limit_memory, memory("--limit-memory"),
                [&](auto v) { spec.getLimits().setMemoryBytes(v); }));
  return {};
}

result<void> apply_restart(const service_flags& f, ServiceSpec::Builder spec) {
  using schema::store::RestartCondition;
  auto r = spec.getRestart();
  SKEP_TRY(with(
    f.restart_condition,
    [](auto& t) {
      return pick<RestartCondition>(
        "--restart-condition", t,
        {{"none", RestartCondition::NONE},
         {"on-failure", RestartCondition::ON_FAILURE},
         {"any", RestartCondition::ANY}});
    },
    [&](auto v) { r.setCondition(v); }));
  SKEP_TRY(with(
    f.restart_delay,
    [](auto& t) { return parse_duration_flag("--restart-delay", t); },
    [&](auto v) { r.setDelayNanos(v); }));
  SKEP_TRY(with(
    f.restart_max_attempts,
    [](auto& t) { return parse_count("--restart-max-attempts", t); },
    [&](auto v) { r.setMaxAttempts(v); }));
  SKEP_TRY(with(
    f.restart_window,
    [](auto& t) { return parse_duration_flag("--restart-window", t); },
    [&](auto v) { r.setWindowNanos(v); }));
  SKEP_TRY(with(
    f.stop_grace_period,
    [](auto& t) { return parse_duration_flag("--stop-grace-period", t); },
    [&](auto v) { spec.getContainer().setStopGraceNanos(v); }));
  return {};
}

} // namespace

bool service_flags::empty() const {
  auto none = [](const auto&... o) { return (!o && ...); };
  auto none_of = [](const rolling_flags& r) {
    return !r.parallelism && !r.delay && !r.monitor && !r.failure_action
           && !r.max_failure_ratio && !r.order;
  };
  return none(name, image, args, mode, replicas, replicas_max_per_node, workdir,
              reserve_cpu, reserve_memory, limit_cpu, limit_memory,
              restart_condition, restart_delay, restart_max_attempts,
              restart_window, stop_grace_period, health.cmd, health.interval,
              health.timeout, health.retries, health.start_period)
         && env_add.empty() && env_rm.empty() && publish_add.empty()
         && publish_rm.empty() && constraint_add.empty()
         && constraint_rm.empty() && label_add.empty() && label_rm.empty()
         && none_of(update) && none_of(rollback);
}

result<port_flag> parse_publish(std::string_view flag, std::string_view text) {
  if (text.find('=') != std::string_view::npos)
    return parse_publish_long(flag, text);
  port_flag p;
  auto ports = text;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    auto proto = parse_protocol(flag, text, text.substr(slash + 1));
    if (!proto)
      return proto.error();
    p.protocol = *proto;
    ports = text.substr(0, slash);
  }
  auto colon = ports.find(':');
  if (colon == std::string_view::npos) {
    auto target = parse_port(flag, text, "TARGET", ports, false);
    if (!target)
      return target.error();
    p.target = *target;
    return p;
  }
  if (ports.find(':', colon + 1) != std::string_view::npos)
    return invalid(flag, text,
                   "binding to a host address is not supported; use "
                   "PUBLISHED:TARGET[/tcp|udp]");
  auto published
    = parse_port(flag, text, "PUBLISHED", ports.substr(0, colon), true);
  if (!published)
    return published.error();
  auto target
    = parse_port(flag, text, "TARGET", ports.substr(colon + 1), false);
  if (!target)
    return target.error();
  p.published = *published;
  p.target = *target;
  return p;
}

result<std::pair<std::string, std::string>>
parse_key_value(std::string_view flag, std::string_view text,
                bool value_optional) {
  auto eq = text.find('=');
  if (eq == 0 || text.empty()
      || (eq == std::string_view::npos && !value_optional))
    return invalid(flag, text,
                   value_optional ? "use KEY=VALUE or KEY" : "use KEY=VALUE");
  if (eq == std::string_view::npos)
    return std::pair{std::string{text}, std::string{}};
  return std::pair{std::string{text.substr(0, eq)},
                   std::string{text.substr(eq + 1)}};
}

result<int64_t> parse_cpus(std::string_view flag, std::string_view text) {
  auto dot = text.find('.');
  auto whole = text.substr(0, dot);
  auto frac
    = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if ((whole.empty() && frac.empty()) || (!whole.empty() && !all_digits(whole))
      || (!frac.empty() && !all_digits(frac)))
    return invalid(flag, text, "expected a number of CPUs, e.g. 0.5 or 2");
  if (frac.size() > 9)
    return invalid(flag, text, "too precise (at most 9 decimals)");
  if (whole.size() > 6)
    return invalid(flag, text, "too many CPUs");
  int64_t nanos = whole.empty() ? 0 : std::stoll(std::string{whole});
  nanos *= 1'000'000'000;
  if (!frac.empty()) {
    auto digits = std::string{frac} + std::string(9 - frac.size(), '0');
    nanos += std::stoll(digits);
  }
  return nanos;
}

result<int64_t> parse_memory(std::string_view flag, std::string_view text) {
  auto bytes = config::parse_byte_size(text);
  if (!bytes)
    return fail(errc::invalid_argument,
                fmt::format("{}: {}", flag, bytes.error().message));
  if (*bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return invalid(flag, text, "too large");
  return static_cast<int64_t>(*bytes);
}

result<int64_t> parse_duration_flag(std::string_view flag,
                                    std::string_view text) {
  auto d = config::parse_duration(text);
  if (!d)
    return fail(errc::invalid_argument,
                fmt::format("{}: {}", flag, d.error().message));
  return static_cast<int64_t>(d->count());
}

result<uint64_t> parse_count(std::string_view flag, std::string_view text) {
  if (!all_digits(text) || text.size() > 19)
    return invalid(flag, text, "expected a whole number >= 0");
  return static_cast<uint64_t>(std::stoull(std::string{text}));
}

result<double> parse_ratio(std::string_view flag, std::string_view text) {
  std::string copy{text};
  char* end = nullptr;
  double v = copy.empty() ? NAN : std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || !std::isfinite(v)
      || v < 0 || v > 1)
    return invalid(flag, text, "expected a number from 0 to 1, e.g. 0.2");
  return v;
}

result<void> check_health_flags(const health_flags& f) {
  auto duration = [](const char* flag) {
    return [flag](auto& t) { return parse_duration_flag(flag, t); };
  };
  auto ignore = [](auto) {};
  SKEP_TRY(with(f.interval, duration("--health-interval"), ignore));
  SKEP_TRY(with(f.timeout, duration("--health-timeout"), ignore));
  SKEP_TRY(with(f.start_period, duration("--health-start-period"), ignore));
  SKEP_TRY(with(
    f.retries, [](auto& t) { return parse_count("--health-retries", t); },
    ignore));
  if (f.cmd || f.interval || f.timeout || f.retries || f.start_period)
    return fail(errc::unsupported, "--health-* is not supported yet");
  return {};
}

result<void> apply_flags(const service_flags& f, ServiceSpec::Builder spec) {
  using schema::store::ServiceMode;
  SKEP_TRY(check_health_flags(f.health));
  SKEP_TRY(with(
    f.mode,
    [](auto& t) {
      return pick<ServiceMode>("--mode", t,
                               {{"replicated", ServiceMode::REPLICATED},
                                {"global", ServiceMode::GLOBAL}});
    },
    [&](auto v) { spec.setMode(v); }));
  bool global = spec.getMode() == ServiceMode::GLOBAL;
  if (global && f.replicas)
    return fail(errc::invalid_argument,
                "--replicas can only be used with replicated mode");
  if (global && f.replicas_max_per_node)
    return fail(errc::invalid_argument,
                "--replicas-max-per-node can only be used with replicated "
                "mode");
  SKEP_TRY(with(
    f.replicas, [](auto& t) { return parse_count("--replicas", t); },
    [&](auto v) { spec.setReplicas(v); }));
  SKEP_TRY(with(
    f.replicas_max_per_node,
    [](auto& t) { return parse_count("--replicas-max-per-node", t); },
    [&](auto v) { spec.setMaxReplicasPerNode(v); }));
  if (f.name)
    spec.setName(*f.name);
  if (f.image) {
    if (trim(*f.image).empty())
      return fail(errc::invalid_argument, "the image must not be empty");
    spec.getContainer().setImage(*f.image);
  }
  if (f.args)
    set_texts(
      spec.getContainer().initArgs(static_cast<unsigned>(f.args->size())),
      *f.args);
  if (f.workdir)
    spec.getContainer().setWorkdir(*f.workdir);
  SKEP_TRY(apply_env(f, spec));
  SKEP_TRY(apply_labels(f, spec));
  apply_constraints(f, spec);
  SKEP_TRY(apply_ports(f, spec));
  SKEP_TRY(apply_resources(f, spec));
  SKEP_TRY(apply_restart(f, spec));
  SKEP_TRY(apply_rolling(f.update, "update", spec.getUpdate()));
  SKEP_TRY(apply_rolling(f.rollback, "rollback", spec.getRollback()));
  return {};
}

result<std::pair<std::string, uint64_t>>
parse_scale_specifier(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return fail(errc::invalid_argument,
                fmt::format("invalid scale specifier '{}': use "
                            "SERVICE=REPLICAS",
                            text));
  auto count = text.substr(eq + 1);
  if (!all_digits(count) || count.size() > 19)
    return fail(errc::invalid_argument,
                fmt::format("invalid scale specifier '{}': replicas must be "
                            "a whole number >= 0",
                            text));
  return std::pair{std::string{text.substr(0, eq)},
                   static_cast<uint64_t>(std::stoull(std::string{count}))};
}

result<std::vector<std::string>> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == '\'') {
      if (c == '\'')
        quote = 0;
      else
        word += c;
    } else if (c == '\\' && (quote == 0 || quote == '"')) {
      if (i + 1 == text.size())
        return fail(
          errc::invalid_argument,
          fmt::format("invalid --args '{}': ends with a backslash", text));
      char next = text[++i];
      if (quote == '"' && next != '"' && next != '\\' && next != '$'
          && next != '`')
        word += '\\';
      word += next;
      in_word = true;
    } else if (quote == '"') {
      if (c == '"')
        quote = 0;
      else
        word += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word)
        words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0)
    return fail(errc::invalid_argument,
                fmt::format("invalid --args '{}': unterminated {} quote", text,
                            quote == '"' ? "double" : "single"));
  if (in_word)
    words.push_back(std::move(word));
  return words;
}

std::string default_service_name(std::string_view image,
                                 std::string_view suffix) {
  auto base = image;
  if (auto slash = base.rfind('/'); slash != std::string_view::npos)
    base = base.substr(slash + 1);
  base = base.substr(0, base.find('@'));
  base = base.substr(0, base.find(':'));
  std::string name;
  for (char c : base) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'
              || c == '.' || c == '-';
    if (name.empty() && std::isalnum(static_cast<unsigned char>(c)) == 0)
      continue;
    name += ok ? c : '-';
  }
  if (name.empty())
    name = "service";
  name = name.substr(0, 62 - std::min<size_t>(suffix.size(), 40));
  return name + "-" + std::string{suffix.substr(0, 40)};
}

result<task_filter_flags>
parse_task_filters(const std::vector<std::string>& filters) {
  task_filter_flags out;
  for (const auto& f : filters) {
    auto eq = f.find('=');
    auto key = f.substr(0, eq);
    auto value = eq == std::string::npos ? std::string{} : f.substr(eq + 1);
    if (key == "desired-state" && !value.empty()) {
      if (value != "running" && value != "shutdown" && value != "accepted")
        return invalid("--filter", f,
                       "desired-state is running, shutdown or accepted");
      out.desired_state = value;
    } else if (key == "node" && !value.empty()) {
      out.nodes.push_back(value);
    } else {
      return invalid("--filter", f,
                     "use desired-state=running|shutdown or node=NODE");
    }
  }
  return out;
}

} // namespace skep::console
