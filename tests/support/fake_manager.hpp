#pragma once

// A stand-in for the manager (actors/controlapi/manager.cpp) as the
// leader-only actors see it: it takes their write requests, applies each
// one at once as the store's next entry, tells the subscribers what changed
// and answers. No Raft, no proposal: the test decides when writes land.

#include "actors/store/codec.hpp"
#include "actors/store/leader_link.hpp"
#include "actors/store/shared_store.hpp"
#include "messages/type_ids.hpp"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

namespace skep::test {

/// One write request the fake manager received, in order of arrival.
struct write_record {
  std::string why; ///< write_request::why: "reconciler", "scheduler"...
  std::vector<store::action> actions;
};

/// What the fake manager and the test share. Touched only from the test's
/// thread: the test coordinator runs every actor there.
struct fake_manager_state {
  std::shared_ptr<store::shared_store> db
    = std::make_shared<store::shared_store>();
  /// Told (atom::changed, changes_ptr) after every write that changed
  /// something, in this order (the manager's: orchestrator, scheduler,
  /// dispatcher).
  std::vector<caf::actor> subscribers;
  std::vector<write_record> writes;
  /// Requests whose `why` is listed here wait until (atom::flush) releases
  /// them: a proposal still in flight.
  std::set<std::string> hold;
  std::vector<std::pair<std::vector<store::action>,
                        caf::typed_response_promise<controlapi::write_verdict>>>
    held;
  /// How many of the next requests of a writer to refuse without applying
  /// them, as the manager does when the proposal is not committed.
  std::map<std::string, int> refuse;
  /// Events the leader actors asked to record: decisions that came with a
  /// write (once applied) and those sent on their own.
  std::vector<controlapi::event> events;

  /// The write requests whose `why` is `who`.
  std::vector<const write_record*> writes_by(const std::string& who) const {
    std::vector<const write_record*> out;
    for (const auto& w : writes)
      if (w.why == who)
        out.push_back(&w);
    return out;
  }
};

/// Encodes `actions` into a Batch and applies it at the store's next index
/// under the write lock, then publishes the changes, as the manager's
/// apply_entries and publish do.
inline controlapi::write_verdict
apply_and_publish(caf::event_based_actor* self, fake_manager_state& m,
                  const std::vector<store::action>& actions) {
  if (actions.empty())
    return {};
  auto bytes = store::encode_batch(actions);
  auto outcome = m.db->write([&](store::store& db) {
    return db.apply(db.applied_index() + 1, bytes.data(), bytes.size());
  });
  if (!outcome)
    return {false, outcome.error().message};
  auto ch = std::make_shared<store::changes>();
  ch->index = m.db->writer_view().applied_index();
  ch->items = std::move(*outcome);
  if (!ch->items.empty()) {
    store::changes_ptr published = std::move(ch);
    for (const auto& sub : m.subscribers)
      self->send(sub, atom::changed_v, published);
  }
  return {};
}

/// (atom::write, write_request) -> write_verdict: refused while its writer
/// has refusals left in `refuse`, held while it is in `hold`, else applied at
/// once; (atom::flush) applies the held ones.
inline caf::behavior fake_manager(caf::event_based_actor* self,
                                  std::shared_ptr<fake_manager_state> m) {
  return {
    [=](atom::write, controlapi::write_request& req)
      -> caf::result<controlapi::write_verdict> {
      m->writes.push_back({req.why, req.actions});
      if (req.decision)
        m->events.push_back(*req.decision);
      if (auto i = m->refuse.find(req.why);
          i != m->refuse.end() && i->second > 0) {
        --i->second;
        return controlapi::write_verdict{
          false, "the change was not committed: request timed out"};
      }
      if (m->hold.count(req.why) != 0) {
        auto rp = self->make_response_promise<controlapi::write_verdict>();
        m->held.emplace_back(std::move(req.actions), rp);
        return rp;
      }
      return apply_and_publish(self, *m, req.actions);
    },
    [=](atom::event, controlapi::event& e) {
      m->events.push_back(std::move(e));
    },
    [=](atom::flush) {
      auto held = std::move(m->held);
      m->held.clear();
      for (auto& [actions, rp] : held)
        rp.deliver(apply_and_publish(self, *m, actions));
    },
  };
}

inline caf::actor spawn_fake_manager(caf::actor_system& sys,
                                     std::shared_ptr<fake_manager_state> m) {
  return sys.spawn(fake_manager, std::move(m));
}

} // namespace skep::test
