#include "actors/orchestrator/orchestrator.hpp"

#include "actors/logging/failed_requests.hpp"
#include "actors/logging/log.hpp"
#include "actors/reconciler/reconciler_actor.hpp"
#include "messages/envelope.hpp"

#include <map>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <fmt/format.h>

namespace skep::orchestrator {

namespace {

constexpr std::string_view who = "orchestrator";

struct orchestrator_state {
  controlapi::leader_link link;
  std::map<std::string, caf::actor> reconcilers; ///< by service id
  static inline const char* name = "orchestrator";

  ~orchestrator_state() {
    for (auto& [id, r] : reconcilers)
      caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  }
};

using self_ptr = orchestrator_actor::stateful_pointer<orchestrator_state>;

/// Pokes the reconciler of `service_id`, starting one if there is none.
void poke(self_ptr self, const std::string& service_id) {
  auto& st = self->state;
  auto it = st.reconcilers.find(service_id);
  if (it == st.reconcilers.end()) {
    auto r = reconciler::spawn_reconciler(self->system(), st.link, service_id,
                                          caf::actor_cast<caf::actor>(self));
    it = st.reconcilers.emplace(service_id, r).first;
    log::debug(who, "reconciler started for service {}", service_id);
  }
  caf::anon_send(it->second, atom::poke_v);
}

/// Every service, and every service that still has tasks.
std::set<std::string> all_services(const store::store& db) {
  std::set<std::string> ids;
  for (const auto* s : db.services())
    ids.insert(s->id);
  for (const auto* t : db.tasks())
    ids.insert(t->service_id);
  return ids;
}

void on_changes(self_ptr self, const store::changes& ch) {
  auto& st = self->state;
  std::set<std::string> services;
  bool nodes = ch.restored;
  st.link.db->read([&](const store::store& db) {
    if (ch.restored) {
      services = all_services(db);
      return 0;
    }
    for (const auto& c : ch.items) {
      switch (c.what) {
      case store::change::kind::service_created:
      case store::change::kind::service_updated:
      case store::change::kind::service_removed:
        services.insert(c.id);
        break;
      case store::change::kind::task_created:
      case store::change::kind::task_updated:
        if (const auto* t = db.task(c.id))
          services.insert(t->service_id);
        break;
      case store::change::kind::node_created:
      case store::change::kind::node_updated:
      case store::change::kind::node_removed:
      case store::change::kind::cluster:
        nodes = true;
        break;
      default:
        break;
      }
    }
    return 0;
  });
  if (nodes) // placement and eligibility may change for every service
    for (auto& [id, r] : st.reconcilers)
      services.insert(id);
  for (const auto& id : services)
    poke(self, id);
}

orchestrator_actor::behavior_type orchestrator(self_ptr self,
                                               controlapi::leader_link link) {
  log::log_failed_requests(self, "orchestrator");
  self->state.link = std::move(link);
  auto ids = self->state.link.db->read(all_services);
  for (const auto& id : ids)
    poke(self, id);
  log::info(who, "orchestrating {} services", ids.size());
  return {
    [=](atom::changed, const store::changes_ptr& ch) {
      if (ch)
        on_changes(self, *ch);
    },
    [=](atom::describe,
        const std::string& service_id) -> caf::result<envelope> {
      auto it = self->state.reconcilers.find(service_id);
      if (it == self->state.reconcilers.end())
        return make_error_envelope(
          0, failure{
               errc::not_found,
               fmt::format("no reconciler runs for service {}", service_id)});
      self->delegate(it->second, atom::describe_v);
      return caf::delegated<envelope>{};
    },
    [=](atom::poke, const std::string& service_id) { poke(self, service_id); },
    [=](atom::done, const std::string& service_id) {
      self->state.reconcilers.erase(service_id);
      log::debug(who, "service {} is gone with all its tasks", service_id);
      // A task of it may have appeared since: look once more.
      bool again = self->state.link.db->read([&](const store::store& db) {
        return !db.tasks_of_service(service_id).empty()
               || db.service(service_id) != nullptr;
      });
      if (again)
        poke(self, service_id);
    },
  };
}

} // namespace

orchestrator_actor spawn_orchestrator(caf::actor_system& sys,
                                      controlapi::leader_link link) {
  return sys.spawn(orchestrator, std::move(link));
}

} // namespace skep::orchestrator
