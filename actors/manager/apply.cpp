// The manager: the store and the CA kept in step with what Raft applied,
// snapshots, proposals.

#include "actors/manager/manager_state.hpp"

namespace skep::controlapi::manager_detail {

// ---- the store and the CA -------------------------------------------------

/// Keeps the transport's CA (tokens, key, id bindings) in step with the
/// replicated cluster object.
void refresh_authority(self_ptr self) {
  auto& st = self->state;
  const auto* cluster = st.db().cluster();
  if (cluster == nullptr || !st.cfg.ca)
    return;
  auto key = ca::keypair::from_secret(cluster->ca_secret_key.data(),
                                      cluster->ca_secret_key.size());
  auto worker = ca::parse_join_token(cluster->worker_token);
  auto manager = ca::parse_join_token(cluster->manager_token);
  if (!key || !worker || !manager) {
    log::error(who, "the cluster's CA key or tokens are unreadable");
    return;
  }
  auto built = ca::authority::from_parts(
    *key, *worker, *manager, duration_cast<seconds>(cluster->spec.cert_expiry));
  if (!built) {
    log::error(who, "the cluster's CA is inconsistent: {}",
               built.error().message);
    return;
  }
  for (const auto* n : st.db().nodes())
    built->bind(n->id, n->public_key);
  for (const auto& id : st.removed)
    built->revoke(id);
  st.cfg.ca->with([&](ca::authority& a) {
    a = std::move(*built);
    return 0;
  });
}

/// Tells the transport and the bridge about every manager in the store.
void refresh_managers(self_ptr self) {
  auto& st = self->state;
  for (const auto* n : st.db().nodes()) {
    if (n->role != ca::node_role::manager || n->id == st.cfg.node_id)
      continue;
    caf::anon_send(st.bridge, atom::peer_v, n->id);
    if (st.known_managers.insert(n->id + "@" + n->addr).second) {
      auto addr = transport::parse_host_port(n->addr);
      if (addr)
        caf::anon_send(st.cfg.transport, atom::peer_v, n->id, addr->first,
                       addr->second);
      else
        log::warn(who, "manager {} has an unusable address: {}", n->id,
                  addr.error().message);
    }
  }
}

uint64_t cluster_interval(const store::cluster_object* cluster) {
  return cluster ? cluster->spec.snapshot_interval : 10000;
}

/// Every snapshot_interval applied entries, Raft keeps a snapshot of the
/// store and compacts its log; a restart restores the snapshot and replays
/// only the entries after it. Every manager snapshots its own replica.
void maybe_snapshot(self_ptr self) {
  auto& st = self->state;
  const auto* cluster = st.db().cluster();
  auto index = st.db().applied_index();
  // Every snapshot_interval entries, or sooner when the entries since the
  // last snapshot are large (a service of a million tasks): the log is
  // compacted and its space returned either way.
  constexpr uint64_t snapshot_bytes = 256 << 20;
  bool many = index >= st.last_snapshot + cluster_interval(cluster);
  bool large = st.applied_bytes >= st.bytes_at_snapshot + snapshot_bytes;
  if (cluster == nullptr || st.snapshotting || index <= st.last_snapshot
      || (!many && !large))
    return;
  st.snapshotting = true;
  st.bytes_at_snapshot = st.applied_bytes;
  auto data = st.db().snapshot();
  self
    ->request(st.member, write_timeout, atom::snapshot_v, raft::index_t{index},
              raft::bytes{std::move(data)})
    .then(
      [=](const raft::outcome& out) {
        auto& st = self->state;
        st.snapshotting = false;
        if (out.ok) {
          st.last_snapshot = index;
          log::info(who, "store snapshot at index {}; the log is compacted",
                    index);
        } else {
          log::warn(who, "no store snapshot at index {}: {}", index,
                    out.why.message);
        }
      },
      [=](caf::error& err) {
        self->state.snapshotting = false;
        log::warn(who, "no store snapshot: {}", caf::to_string(err));
      });
}

/// Tells the leader-only actors what changed.
void publish(self_ptr self, store::changes_ptr ch) {
  auto& st = self->state;
  if (st.orchestrator)
    self->send(st.orchestrator, atom::changed_v, ch);
  if (st.scheduler)
    self->send(st.scheduler, atom::changed_v, ch);
  if (st.dispatcher)
    self->send(st.dispatcher, atom::changed_v, ch);
}

/// Hands on the held replies whose index this replica has applied.
void release_held_replies(self_ptr self) {
  auto& st = self->state;
  auto applied = st.db().applied_index();
  for (auto it = st.held_replies.begin(); it != st.held_replies.end();) {
    if (it->second.index > applied) {
      ++it;
      continue;
    }
    auto held = std::move(it->second);
    it = st.held_replies.erase(it);
    held.done(held.reply);
  }
}

void apply_entries(self_ptr self, const std::vector<raft::entry>& entries) {
  auto& st = self->state;
  bool changed = false; // the cluster or a node: the CA and peers follow
  auto published = std::make_shared<store::changes>();
  for (const auto& e : entries) {
    if (e.type == raft::entry_type::configuration) {
      raft::decode_configuration(e.payload, st.config);
      continue;
    }
    if (e.type != raft::entry_type::normal)
      continue;
    st.applied_bytes += e.payload.size();
    st.quiet_ticks = 0;
    auto outcome = st.shared->write([&](store::store& db) {
      return db.apply(e.index, e.payload.data(), e.payload.size());
    });
    if (auto tag = store::proposal_of(e.payload.data(), e.payload.size());
        tag.seq != 0 && tag.proposer == st.self_member)
      answer_proposal(self, tag.seq,
                      outcome ? result<void>{} : result<void>{outcome.error()},
                      e.index);
    if (!outcome) {
      log::warn(who, "entry {} refused by the store: {}", e.index,
                outcome.error().message);
    } else {
      if (st.events)
        for (auto& ev :
             events_of(st.db(), *outcome, e.index, clock::unix_nanos(self)))
          st.events->record(std::move(ev));
      for (auto& c : *outcome) {
        published->items.push_back(c);
        switch (c.what) {
        case store::change::kind::cluster:
        case store::change::kind::node_created:
        case store::change::kind::node_updated:
        case store::change::kind::node_removed:
          changed = true;
          break;
        default:
          break;
        }
        if (c.what == store::change::kind::node_removed) {
          st.removed.insert(c.id);
          caf::anon_send(st.cfg.transport, atom::revoke_v, c.id);
          log::info(who, "node {} was removed from the swarm", c.id);
        }
      }
    }
  }
  maybe_snapshot(self);
  serve_event_waiters(self);
  release_held_replies(self);
  published->index = st.db().applied_index();
  if (!published->items.empty())
    publish(self, std::move(published));
  if (changed) {
    refresh_authority(self);
    refresh_managers(self);
  }
}

// ---- proposals ------------------------------------------------------------

/// Proposes `batch` (this member must lead), tagged as this manager's, and
/// runs `then` once: with the store's verdict when this manager applies the
/// entry, or with why it was not committed.
void propose_at(self_ptr self, std::vector<uint8_t> batch,
                std::function<void(result<void>, uint64_t index)> then) {
  auto& st = self->state;
  auto seq = st.next_proposal++;
  auto stamped = store::stamp_batch(batch.data(), batch.size(),
                                    store::proposal_tag{st.self_member, seq});
  if (!stamped) {
    then(std::move(stamped).error(), 0);
    return;
  }
  st.proposals.emplace(seq, std::move(then));
  self->request(st.member, write_timeout, atom::propose_v, std::move(*stamped))
    .then(
      [=](const raft::outcome& out) {
        // Committed: the apply loop answers (the member hands the entry
        // over right after this reply).
        if (!out.ok)
          answer_proposal(
            self, seq,
            failure{
              errc::unavailable,
              fmt::format("the change was not committed: {}", out.why.message)},
            0);
      },
      [=](caf::error& err) {
        answer_proposal(self, seq,
                        failure{errc::unavailable, caf::to_string(err)}, 0);
      });
}

void answer_proposal(self_ptr self, uint64_t seq, result<void> verdict,
                     uint64_t index) {
  auto& proposals = self->state.proposals;
  auto it = proposals.find(seq);
  if (it == proposals.end())
    return; // answered already (applied, or timed out before it was)
  auto then = std::move(it->second);
  proposals.erase(it);
  then(std::move(verdict), index);
}

void propose(self_ptr self, std::vector<uint8_t> batch,
             std::function<void(result<void>)> then) {
  propose_at(self, std::move(batch),
             [then](result<void> r, uint64_t) { then(std::move(r)); });
}

} // namespace skep::controlapi::manager_detail
