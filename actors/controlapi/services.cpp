#include "actors/controlapi/services.hpp"

#include "actors/controlapi/nodes.hpp"
#include "actors/store/constraints.hpp"

#include <algorithm>
#include <set>

#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::controlapi {

namespace {

using which = schema::control::Request::Which;

std::string text_of(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

service_answer refuse(errc code, std::string message) {
  service_answer a;
  a.reply = make_error_reply(failure{code, std::move(message)});
  return a;
}

service_answer refuse(const failure& why) {
  service_answer a;
  a.reply = make_error_reply(why);
  return a;
}

service_answer answer(control_reply reply) {
  service_answer a;
  a.reply = std::move(reply);
  return a;
}

control_reply done_reply() {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Reply>().setDone();
  return control_reply::from(b);
}

/// The bytes a spec's texts hold: every task carries a copy.
size_t spec_bytes(const store::service_spec& spec) {
  size_t n = spec.name.size() + spec.container.image.size()
             + spec.container.workdir.size();
  for (const auto& texts :
       {&spec.container.args, &spec.container.env, &spec.constraints})
    for (const auto& t : *texts)
      n += t.size();
  for (const auto& [k, v] : spec.labels)
    n += k.size() + v.size();
  return n;
}

/// What the store cannot check: constraints that parse, a service mode that
/// fits the other settings, environment names people can type, and a size
/// that thousands of task copies can carry.
result<void> check_spec(const store::service_spec& spec) {
  if (auto bytes = spec_bytes(spec); bytes > max_spec_bytes)
    return fail(errc::invalid_argument,
                fmt::format("the service spec holds {} bytes of arguments, "
                            "environment, labels and constraints; at most {} "
                            "are allowed (every task keeps a copy)",
                            bytes, max_spec_bytes));
  for (const auto& e : spec.container.env) {
    auto key = e.substr(0, e.find('='));
    if (has_control_characters(key))
      return fail(errc::invalid_argument,
                  fmt::format("environment variable name '{}' holds a "
                              "newline or another control character",
                              shown_text(key)));
  }
  if (auto c = scheduler::parse_constraints(spec.constraints); !c)
    return std::move(c).error();
  if (spec.mode == store::service_mode::global
      && spec.max_replicas_per_node > 0)
    return fail(errc::invalid_argument,
                "--replicas-max-per-node applies to replicated services only");
  std::set<std::pair<uint16_t, std::string>> published;
  for (const auto& p : spec.ports)
    if (p.published != 0 && !published.emplace(p.published, p.protocol).second)
      return fail(errc::invalid_argument,
                  fmt::format("published port {}/{} is listed twice",
                              p.published, p.protocol));
  return {};
}

/// A published port another service uses already.
result<void> check_ports_free(const store::store& db,
                              const store::service_spec& spec,
                              const std::string& except_id) {
  for (const auto* s : db.services()) {
    if (s->id == except_id)
      continue;
    for (const auto& mine : spec.ports)
      for (const auto& theirs : s->spec.ports)
        if (mine.published != 0 && mine.published == theirs.published
            && mine.protocol == theirs.protocol)
          return fail(errc::already_exists,
                      fmt::format("port '{}' is already in use by service "
                                  "'{}' ({})",
                                  mine.published, s->spec.name, s->id));
  }
  return {};
}

/// True when tasks of `x` and `y` would run something different.
bool tasks_differ(const store::service_spec& x, const store::service_spec& y) {
  return x.container != y.container || x.reservations != y.reservations
         || x.limits != y.limits || x.ports != y.ports;
}

control_reply
services_reply(const store::store& db,
               const std::vector<const store::service_object*>& list) {
  capnp::MallocMessageBuilder b;
  auto out = b.initRoot<schema::control::Reply>().initServices(
    static_cast<unsigned>(list.size()));
  for (unsigned i = 0; i < list.size(); ++i) {
    store::to_schema(*list[i], out[i].initService());
    auto [running, desired] = running_and_desired(db, *list[i]);
    out[i].setRunningTasks(running);
    out[i].setDesiredTasks(desired);
  }
  return control_reply::from(b);
}

service_answer create(const store::store& db,
                      schema::store::ServiceSpec::Reader in, int64_t now,
                      const std::function<std::string()>& new_id) {
  auto spec = store::from_schema(in);
  if (!spec)
    return refuse(spec.error());
  if (auto ok = check_spec(*spec); !ok)
    return refuse(ok.error());
  for (const auto* s : db.services())
    if (s->spec.name == spec->name)
      return refuse(errc::already_exists,
                    fmt::format("service name '{}' is already in use by "
                                "service {}",
                                spec->name, s->id));
  if (auto ok = check_ports_free(db, *spec, {}); !ok)
    return refuse(ok.error());
  store::service_object s;
  s.id = new_id();
  s.spec = std::move(*spec);
  s.spec_version = 1;
  s.created_at_nanos = s.updated_at_nanos = now;
  service_answer a;
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Reply>().setCreated(s.id);
  a.on_commit = control_reply::from(b);
  a.actions.push_back(store::put_service{std::move(s), 0});
  return a;
}

service_answer update(const store::store& db,
                      schema::control::ServiceUpdate::Reader u, int64_t now) {
  auto found = db.find_service(text_of(u.getName()));
  if (!found)
    return refuse(found.error());
  const auto& current = **found;
  if (u.getExpectedVersion() != 0 && u.getExpectedVersion() != current.version)
    return refuse(errc::invalid_argument,
                  fmt::format("update out of sequence: service {} is at "
                              "version {}, not {}; inspect it again and retry",
                              current.spec.name, current.version,
                              u.getExpectedVersion()));
  auto changed = current;
  if (u.getRollback()) {
    if (!current.previous_spec)
      return refuse(errc::invalid_argument,
                    fmt::format("service {} has no previous spec to roll "
                                "back to",
                                current.spec.name));
    changed.spec = *current.previous_spec;
  } else {
    auto spec = store::from_schema(u.getSpec());
    if (!spec)
      return refuse(spec.error());
    if (spec->name != current.spec.name)
      return refuse(errc::invalid_argument,
                    fmt::format("service {} cannot be renamed to {}",
                                current.spec.name, spec->name));
    if (spec->mode != current.spec.mode)
      return refuse(errc::invalid_argument,
                    "a service's mode cannot change; remove it and create "
                    "it again");
    changed.spec = std::move(*spec);
  }
  if (auto ok = check_spec(changed.spec); !ok)
    return refuse(ok.error());
  if (auto ok = check_ports_free(db, changed.spec, current.id); !ok)
    return refuse(ok.error());
  changed.previous_spec = current.spec;
  if (u.getForce() || tasks_differ(changed.spec, current.spec))
    ++changed.spec_version;
  changed.updated_at_nanos = now;
  service_answer a;
  a.on_commit = done_reply();
  a.actions.push_back(store::put_service{std::move(changed), current.version});
  return a;
}

service_answer list_tasks(const store::store& db,
                          schema::control::TaskFilter::Reader f) {
  std::set<std::string> services, nodes;
  for (auto name : f.getServices()) {
    auto s = db.find_service(text_of(name));
    if (!s)
      return refuse(s.error());
    services.insert((*s)->id);
  }
  for (auto name : f.getNodes()) {
    auto n = db.find_node(text_of(name));
    if (!n)
      return refuse(n.error());
    nodes.insert((*n)->id);
  }
  std::set<std::string> wanted;
  for (auto name : f.getTasks()) {
    auto t = db.find_task(text_of(name));
    if (!t)
      return refuse(t.error());
    wanted.insert((*t)->id);
  }
  auto desired = text_of(f.getDesiredState());
  if (!desired.empty() && desired != "running" && desired != "shutdown"
      && desired != "accepted")
    return refuse(errc::invalid_argument,
                  fmt::format("invalid desired-state filter '{}': use running, "
                              "shutdown or accepted",
                              desired));
  std::vector<const store::task_object*> picked;
  auto consider = [&](const store::task_object* t) {
    if (!wanted.empty() && wanted.count(t->id) == 0)
      return;
    if (!nodes.empty() && nodes.count(t->node_id) == 0)
      return;
    if (desired == "running" && t->desired_state != store::task_state::running)
      return;
    if (desired == "shutdown" && t->desired_state <= store::task_state::running)
      return;
    if (desired == "accepted"
        && t->desired_state != store::task_state::accepted)
      return;
    picked.push_back(t);
  };
  if (!wanted.empty() && services.empty() && nodes.empty())
    for (const auto& id : wanted)
      consider(db.task(id));
  else if (!services.empty())
    for (const auto& id : services)
      for (const auto* t : db.tasks_of_service(id))
        consider(t);
  else if (!nodes.empty())
    for (const auto& id : nodes)
      for (const auto* t : db.tasks_on_node(id))
        consider(t);
  else
    for (const auto* t : db.tasks())
      consider(t);
  capnp::MallocMessageBuilder b;
  auto out = b.initRoot<schema::control::Reply>().initTasks(
    static_cast<unsigned>(picked.size()));
  for (unsigned i = 0; i < picked.size(); ++i) {
    store::to_schema(*picked[i], out[i].initTask());
    if (const auto* s = db.service(picked[i]->service_id))
      out[i].setServiceName(s->spec.name);
    if (const auto* n = db.node(picked[i]->node_id))
      out[i].setNodeHostname(n->hostname);
  }
  return answer(control_reply::from(b));
}

} // namespace

bool is_service_request(schema::control::Request::Which w) {
  switch (w) {
  case which::SERVICE_CREATE:
  case which::SERVICE_LIST:
  case which::SERVICE_INSPECT:
  case which::SERVICE_UPDATE:
  case which::SERVICE_REMOVE:
  case which::TASK_LIST:
    return true;
  default:
    return false;
  }
}

std::pair<uint64_t, uint64_t>
running_and_desired(const store::store& db, const store::service_object& s) {
  uint64_t running = 0, live = 0;
  for (const auto* t : db.tasks_of_service(s.id)) {
    if (t->desired_state != store::task_state::running)
      continue;
    ++live;
    if (t->status.state == store::task_state::running)
      ++running;
  }
  if (s.spec.mode == store::service_mode::replicated)
    return {running, s.spec.replicas};
  return {running, live};
}

service_answer
handle_service_request(const store::store& db,
                       schema::control::Request::Reader req, int64_t now,
                       const std::function<std::string()>& new_id) {
  switch (req.which()) {
  case which::SERVICE_CREATE:
    return create(db, req.getServiceCreate(), now, new_id);
  case which::SERVICE_LIST: {
    auto all = db.services();
    std::sort(all.begin(), all.end(),
              [](auto* x, auto* y) { return x->spec.name < y->spec.name; });
    return answer(services_reply(db, all));
  }
  case which::SERVICE_INSPECT: {
    std::vector<const store::service_object*> found;
    for (auto name : req.getServiceInspect().getNames()) {
      auto s = db.find_service(text_of(name));
      if (!s)
        return refuse(s.error());
      found.push_back(*s);
    }
    return answer(services_reply(db, found));
  }
  case which::SERVICE_UPDATE:
    return update(db, req.getServiceUpdate(), now);
  case which::SERVICE_REMOVE: {
    service_answer a;
    std::set<std::string> named; // one service named twice is removed once
    for (auto name : req.getServiceRemove().getNames()) {
      auto s = db.find_service(text_of(name));
      if (!s)
        return refuse(s.error());
      if (named.insert((*s)->id).second)
        a.actions.push_back(store::remove_service{(*s)->id, (*s)->version});
    }
    a.on_commit = done_reply();
    return a;
  }
  case which::TASK_LIST:
    return list_tasks(db, req.getTaskList());
  default:
    return refuse(errc::unsupported, "not a service request");
  }
}

} // namespace skep::controlapi
