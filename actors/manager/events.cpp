// The manager: the leader's event log: recording, `events` requests and their
// waits.

#include "actors/manager/manager_state.hpp"

namespace skep::controlapi::manager_detail {

// ---- events ---------------------------------------------------------------

control_reply events_reply(const event_log& log, const query& q, size_t limit) {
  capnp::MallocMessageBuilder b;
  write_batch(log, q, limit, b.initRoot<schema::control::Reply>().initEvents());
  return control_reply::from(b);
}

/// Answers the `events` requests that now have something to read.
void serve_event_waiters(self_ptr self) {
  auto& st = self->state;
  if (!st.events || st.event_waiters.empty())
    return;
  auto& waiters = st.event_waiters;
  for (auto it = waiters.begin(); it != waiters.end();) {
    if (st.events->read(it->q, 1).empty()) {
      ++it;
      continue;
    }
    it->rp.deliver(events_reply(*st.events, it->q, it->limit));
    it = waiters.erase(it);
  }
}

void record_event(self_ptr self, event e) {
  auto& st = self->state;
  if (!st.events)
    return;
  if (e.time_nanos == 0)
    e.time_nanos = clock::unix_nanos(self);
  st.events->record(std::move(e));
  serve_event_waiters(self);
}

/// Leader: `skep events` and the console's watch. Waits up to waitMillis
/// for a first matching event.
caf::result<control_reply>
read_events(self_ptr self, schema::events::EventsRequest::Reader r) {
  auto& st = self->state;
  auto q = query_from_schema(r);
  if (!q)
    return make_error_reply(q.error());
  size_t limit
    = std::min<size_t>(r.getLimit() == 0 ? 1000 : r.getLimit(), 1000);
  if (!st.events)
    return error_reply(errc::unavailable,
                       "this manager does not lead (yet); try again");
  auto wait
    = std::min<uint32_t>(r.getWaitMillis(), 5000); // < forwarding's timeout
  if (wait == 0 || !st.events->read(*q, 1).empty())
    return events_reply(*st.events, *q, limit);
  auto rp = self->make_response_promise<control_reply>();
  auto id = st.next_waiter++;
  st.event_waiters.push_back({id, std::move(*q), limit, rp});
  self->delayed_send(self, milliseconds{wait}, atom::deadline_v, id);
  return rp;
}

/// A waiting `events` request whose time is up: answered with what there
/// is (nothing), so the client asks again.
void event_wait_over(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto& waiters = st.event_waiters;
  auto it = std::find_if(waiters.begin(), waiters.end(),
                         [&](const auto& w) { return w.id == id; });
  if (it == waiters.end())
    return;
  if (st.events)
    it->rp.deliver(events_reply(*st.events, it->q, it->limit));
  else
    it->rp.deliver(error_reply(errc::unavailable,
                               "this manager no longer leads; ask again"));
  waiters.erase(it);
}

} // namespace skep::controlapi::manager_detail
