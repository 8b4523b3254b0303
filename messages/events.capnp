# Events: what changed in the store and what the leader's actors decided, in
# the order the leader recorded them. `skep events` and the console's `watch`
# read them.
@0xf00c07a4e67ac8b2;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::events");

struct Event {
  seq @0 :UInt64;            # position in the leader's event log, from 1
  timeNanos @1 :Int64;       # when it was recorded, Unix nanoseconds
  type @2 :Text;             # service, node, task, reconcile, schedule or dispatch
  action @3 :Text;           # create, update, remove (objects); what was decided
  id @4 :Text;               # the object's id (service, node or task)
  name @5 :Text;             # its name: service name, hostname, NAME.SLOT task name
  service @6 :Text;          # the service it concerns, by name; empty if none
  specVersion @7 :UInt64;    # the service spec version it was decided for
  observed @8 :List(StateCount);  # reconcile: the service's tasks by state
  desired @9 :Text;          # reconcile: "replicated 6", "global" or "removed"
  decisions @10 :List(Decision);  # what was done (or waited for) and why
  raftIndex @11 :UInt64;     # the Raft entry that recorded it; dispatch
                             # assignments: the applied index they reflect
  attributes @12 :List(Attribute);  # more, by type: node, state, from, to...
}

struct StateCount {
  state @0 :Text;   # a task state: new, pending, ..., running, failed...
  count @1 :UInt32;
}

struct Decision {
  action @0 :Text;   # create, shutdown, remove, wait, assign, no-restart...
  taskId @1 :Text;   # the task acted on; empty for the whole service
  slot @2 :UInt64;   # its slot; 0 for global services
  nodeId @3 :Text;   # its node, if it has one
  reason @4 :Text;   # why, for people
  service @5 :Text;  # the task's service, by name; empty when the event's
                     # own service says it, or for none
}

struct Attribute {
  key @0 :Text;
  value @1 :Text;
}

struct EventsRequest {
  afterSeq @0 :UInt64;       # only events after this position; 0: from the oldest kept
  sinceNanos @1 :Int64;      # only events recorded at or after this time; 0: any
  untilNanos @2 :Int64;      # only events recorded before this time; 0: any
  filters @3 :List(Text);    # KEY=VALUE: type, action, service, node, task, id; same key ORs, keys AND
  waitMillis @4 :UInt32;     # wait up to this long for a first matching event (at most 10000)
  limit @5 :UInt32;          # at most this many events; 0: 1000
  log @6 :Text;              # the log the positions belong to; empty: any (see EventBatch.log)
}

struct EventBatch {
  events @0 :List(Event);    # matching events, oldest first
  nextSeq @1 :UInt64;        # ask with afterSeq = this next time
  log @2 :Text;              # which leader's log: positions restart when leadership moves
  oldestSeq @3 :UInt64;      # the oldest position still kept; older events were dropped
}
