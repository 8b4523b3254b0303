#pragma once
// The manager's rooms share its state and these functions; only the
// files of actors/manager include this header.

#include "actors/ca/ca_actor.hpp"
#include "actors/controlapi/console_routes.hpp"
#include "actors/controlapi/nodes.hpp"
#include "actors/controlapi/services.hpp"
#include "actors/dispatcher/dispatcher.hpp"
#include "actors/dispatcher/heartbeats.hpp"
#include "actors/events/store_events.hpp"
#include "actors/logging/clock.hpp"
#include "actors/logging/failed_requests.hpp"
#include "actors/logging/log.hpp"
#include "actors/manager/manager.hpp"
#include "actors/orchestrator/orchestrator.hpp"
#include "actors/raft/raft_bridge.hpp"
#include "actors/raft/raft_wire.hpp"
#include "actors/scheduler/scheduler_actor.hpp"
#include "actors/store/cluster_settings.hpp"
#include "actors/store/codec.hpp"
#include "actors/store/leader_link.hpp"
#include "actors/store/object_id.hpp"
#include "actors/store/store.hpp"
#include "actors/transport/tcp.hpp"
#include "actors/transport/transport_actor.hpp"
#include "messages/console.capnp.h"
#include "messages/dispatcher.capnp.h"
#include "messages/events.capnp.h"

#include <algorithm>
#include <malloc.h>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <fmt/format.h>

namespace skep::controlapi::manager_detail {

using namespace std::chrono;
using kind = schema::Envelope::Kind;
using request_which = schema::control::Request::Which;

constexpr std::string_view who = "manager";

/// Applying this many bytes of entries frees about as much again (decoded
/// batches, old object versions, placements): then freed memory goes back to
/// the OS, or RSS would keep every batch's high-water mark. This is glibc's
/// malloc_trim, for builds on glibc's allocator (tests, sanitizers); skepd
/// itself allocates through jemalloc (see node/allocator.cpp), whose own
/// thread returns freed memory, and for which the trim does next to nothing.
constexpr uint64_t trim_every_bytes = 4 << 20;

/// How long a forwarded request or a proposal may take.
constexpr auto write_timeout = seconds{10};

inline control_reply error_reply(errc code, std::string message) {
  return make_error_reply(failure{code, std::move(message)});
}

inline control_reply done_reply() {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Reply>().setDone();
  return control_reply::from(b);
}

inline std::string text_of(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

struct manager_state {
  manager_config cfg;
  /// The replica, shared with the leader-only actors (read lock); this
  /// actor is its only writer.
  std::shared_ptr<store::shared_store> shared
    = std::make_shared<store::shared_store>();
  const store::store& db() const { return shared->writer_view(); }
  /// Leader-only actors, running while this manager leads.
  orchestrator::orchestrator_actor orchestrator;
  scheduler::scheduler_actor scheduler;
  dispatcher::dispatcher_actor dispatcher;
  raft::raft_actor member;
  caf::actor bridge;
  /// Signs certificates over cfg.ca (none when cfg.ca is null).
  caf::actor ca_actor;
  raft::node_id self_member = 0;
  raft::node_id leader_member = 0;
  uint64_t term = 0;
  uint64_t commit = 0;
  bool leading = false;
  bool init_proposed = false;
  /// This manager's proposals not answered yet, by the seq of the tag each
  /// entry carries (store::proposal_tag): the apply loop answers one when
  /// it applies the entry with its tag, the member's reply only when the
  /// entry was not committed.
  std::unordered_map<uint64_t, std::function<void(result<void>, uint64_t)>>
    proposals;
  /// The next proposal's seq: random at start, so that entries a previous
  /// run of this manager proposed never answer this run's callers.
  uint64_t next_proposal = 0;
  /// Dispatcher (leader only): when each node was last heard from.
  /// Managers this node has told the transport and bridge about.
  std::set<std::string> known_managers;
  /// Learners this leader is trying to promote.
  std::set<raft::node_id> learners;
  raft::configuration config;
  /// Requests to send to the leader once leadership moved, and until when
  /// to wait for a new leader to be known.
  struct pending_forward {
    control_request request;
    std::function<void(const control_reply&)> done;
    std::chrono::steady_clock::time_point until;
    bool catch_up = true; ///< see forward()
  };
  std::vector<pending_forward> pending_forwards;
  /// The index of the store snapshot Raft holds (the log is compacted up
  /// to it, keeping a tail), and whether one is being taken.
  uint64_t last_snapshot = 0;
  bool snapshotting = false;
  /// Bytes of entries applied, and how many had been when freed memory was
  /// last handed back to the OS.
  uint64_t applied_bytes = 0;
  uint64_t trimmed_at = 0;
  /// applied_bytes when the last snapshot was taken.
  uint64_t bytes_at_snapshot = 0;
  /// Ticks since an entry was last applied.
  int quiet_ticks = 0;
  /// A status request to the raft member is on its way.
  bool asking_status = false;
  /// --force-new-cluster: the other managers were made workers.
  bool forced_done = false;
  /// Nodes removed from the swarm: their certificates no longer count.
  std::set<std::string> removed;
  std::mt19937_64 rng{std::random_device{}()};
  /// Leader: what changed and what its actors decided, for `skep events`.
  std::unique_ptr<event_log> events;
  /// `events` requests waiting for a first matching event.
  struct event_waiter {
    uint64_t id = 0;
    query q;
    size_t limit = 0;
    caf::typed_response_promise<control_reply> rp;
  };
  std::vector<event_waiter> event_waiters;
  uint64_t next_waiter = 1;
  /// Replies from the leader held until this replica has applied what the
  /// leader had applied when it answered: a client reads its own writes,
  /// whichever manager it talks to.
  struct held_reply {
    uint64_t index = 0;
    control_reply reply;
    std::function<void(const control_reply&)> done;
  };
  std::map<uint64_t, held_reply> held_replies;
  uint64_t next_held = 1;

  static inline const char* name = "manager";

  void stop_leader_actors() {
    auto stop = [](auto& a) {
      if (a) {
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
        a = nullptr;
      }
    };
    stop(orchestrator);
    stop(scheduler);
    stop(dispatcher);
  }

  /// How many leader-only actors run here (see manager_info).
  uint32_t leader_actors() const {
    return (orchestrator ? 1u : 0u) + (scheduler ? 1u : 0u)
           + (dispatcher ? 1u : 0u);
  }

  ~manager_state() { stop_leader_actors(); }
};

using self_ptr = manager_actor::stateful_pointer<manager_state>;

/// What receives the answer to a write or a forwarded request.
using reply_handler = std::function<void(const control_reply&)>;

/// How long a request waits for a leader to be known (an election takes
/// about one election timeout) before it fails with "no leader".
constexpr auto leader_wait = seconds{3};

/// How long a follower holds the leader's reply to let its replica catch up.
constexpr auto catch_up_wait = seconds{5};

// ---- apply.cpp: the store and the CA kept in step with what Raft applied,
// snapshots, proposals

void refresh_authority(self_ptr self);

void refresh_managers(self_ptr self);

void publish(self_ptr self, store::changes_ptr ch);

void release_held_replies(self_ptr self);

void apply_entries(self_ptr self, const std::vector<raft::entry>& entries);

void propose_at(self_ptr self, std::vector<uint8_t> batch,
                std::function<void(result<void>, uint64_t index)> then);

/// Runs and forgets proposal `seq`'s continuation, unless it ran already.
void answer_proposal(self_ptr self, uint64_t seq, result<void> verdict,
                     uint64_t index);

void propose(self_ptr self, std::vector<uint8_t> batch,
             std::function<void(result<void>)> then);

// ---- events.cpp: the leader's event log: recording, `events` requests and
// their waits

void serve_event_waiters(self_ptr self);

void record_event(self_ptr self, event e);

caf::result<control_reply> read_events(self_ptr self,
                                       schema::events::EventsRequest::Reader r);

void event_wait_over(self_ptr self, uint64_t id);

// ---- forwarding.cpp: requests sent on to the leader, and the one write path
// of control requests

std::string leader_node(self_ptr self);

reply_handler deliver_to(caf::typed_response_promise<control_reply> rp);

void forward_later(self_ptr self, const control_request& request,
                   reply_handler done, steady_clock::time_point until,
                   bool catch_up = true);

void forward(self_ptr self, const control_request& request, reply_handler done,
             bool may_wait = true, bool catch_up = true);

void write(self_ptr self, std::vector<uint8_t> batch, reply_handler done);

// ---- control.cpp: control requests: nodes, the swarm, services, tokens;
// demotion

void demote(self_ptr self, const control_request& req, store::node_object node,
            uint64_t version, caf::typed_response_promise<control_reply> rp);

caf::result<control_reply> handle(self_ptr self, const control_request& req);

caf::result<control_reply> peer_propose(self_ptr self,
                                        const control_request& req);

// ---- logs.cpp: `service logs`: each task's output fetched from its node

caf::result<control_reply> collect_logs(self_ptr self,
                                        schema::control::LogsRequest::Reader r);

// ---- console.cpp: the message console: deliveries to actors, the actor list,
// faults

control_reply list_actors(self_ptr self);

caf::result<control_reply> deliver(self_ptr self, const control_request& req);

// ---- certificates.cpp: certificates for joining and renewing nodes

envelope reply_body(const failure& why);

caf::result<envelope> on_certificate_request(self_ptr self,
                                             const transport::inbound& in);

} // namespace skep::controlapi::manager_detail
