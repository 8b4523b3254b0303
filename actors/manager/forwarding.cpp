// The manager: requests sent on to the leader, and the one write path of
// control requests.

#include "actors/manager/manager_state.hpp"

namespace skep::controlapi::manager_detail {

std::string leader_node(self_ptr self) {
  auto& st = self->state;
  for (const auto* n : st.db().nodes())
    if (raft::member_id_of(n->id) == st.leader_member)
      return n->id;
  return {};
}

reply_handler deliver_to(caf::typed_response_promise<control_reply> rp) {
  return [rp](const control_reply& reply) mutable { rp.deliver(reply); };
}

/// Keeps `request` until a leader other than this manager is known or
/// `until` passes; the manager checks every 100 ms (atom::transfer).
void forward_later(self_ptr self, const control_request& request,
                   reply_handler done, steady_clock::time_point until,
                   bool catch_up) {
  auto& pending = self->state.pending_forwards;
  if (pending.empty())
    self->delayed_send(self, milliseconds{100}, atom::transfer_v);
  pending.push_back({request, std::move(done), until, catch_up});
}

/// Sends `request` to the leader's control API and hands its reply (or why
/// there is none) to `done`; with `catch_up`, once this replica has applied
/// as much as the leader had when it answered. While no leader is known it
/// waits up to leader_wait for one, unless `may_wait` is false.
void forward(self_ptr self, const control_request& request, reply_handler done,
             bool may_wait, bool catch_up) {
  auto leader = leader_node(self);
  if (leader.empty() || leader == self->state.cfg.node_id) {
    if (may_wait) {
      forward_later(self, request, std::move(done),
                    clock::now(self) + leader_wait, catch_up);
      return;
    }
    done(error_reply(errc::unavailable,
                     "the swarm has no leader right now (no quorum?); "
                     "try again"));
    return;
  }
  auto env = make_control_request_envelope(0, {"", "controlapi"},
                                           {leader, "controlapi"}, request);
  self
    ->request(self->state.cfg.transport, caf::infinite, atom::call_v, env,
              caf::timespan{write_timeout})
    .then([=](const envelope& answer) {
      auto got = transport::reply_or_failure(answer);
      if (!got) {
        done(make_error_reply(got.error()));
        return;
      }
      auto body = got->root().getBody();
      if (body.which() != schema::Envelope::Body::CONTROL_REPLY) {
        done(error_reply(errc::internal,
                         "the leader answered with something else"));
        return;
      }
      auto reply = control_reply::from(body.getControlReply());
      auto& st = self->state;
      auto index = got->root().getAppliedIndex();
      if (!catch_up || index <= st.db().applied_index()) {
        done(reply);
        return;
      }
      // Read your writes: answer once this replica has caught up, or after
      // catch_up_wait anyway (the change was made; only this replica lags).
      auto id = st.next_held++;
      st.held_replies.emplace(id,
                              manager_state::held_reply{index, reply, done});
      self->delayed_send(self, catch_up_wait, atom::caught_up_v, id);
    });
}

/// Runs a write: proposes `batch` on the leader (forwarding a `propose`
/// request from a follower) and hands `done` the reply: `done` or the
/// failure.
void write(self_ptr self, std::vector<uint8_t> batch, reply_handler done) {
  if (self->state.leading) {
    propose(self, std::move(batch), [=](result<void> r) {
      done(r ? done_reply() : make_error_reply(r.error()));
    });
    return;
  }
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Request>().setPropose(
    kj::arrayPtr(batch.data(), batch.size()));
  forward(self, control_request::from(b), done);
}

} // namespace skep::controlapi::manager_detail
