# Console protocol: messages `skep console` sends to actors that speak no
# other protocol (the leader's scheduler, dispatcher and reconcilers) and to a
# node's transport for fault injection.
@0x8dc807b51254dd6c;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::console");

using Events = import "/messages/events.capnp";

struct Delivery {
  actor @0 :Text;      # leader/controlapi, node/NAME/agent, node/NAME/transport,
                       # scheduler, dispatcher or reconciler/SERVICE
  oneWay @1 :Bool;     # send: no reply is awaited
  envelope @2 :Data;   # a serialized Envelope; only its body is read
  timeoutMillis @3 :UInt32;  # how long to wait for the reply; 0: 10 s
}

struct Fault {
  peers @0 :List(Text);    # node ids or hostnames the rule applies to
  drop @1 :Float64;        # probability each envelope to or from them is lost
  delayNanos @2 :Int64;    # added before each envelope to them is sent
  partitioned @3 :Bool;    # nothing passes either way (fault messages excepted)
  heal @4 :Bool;           # clear every rule of this node instead; peers ignored
}

struct FaultRule {
  peer @0 :Text;           # a node id
  drop @1 :Float64;
  delayNanos @2 :Int64;
  partitioned @3 :Bool;
}

struct FaultReply {
  rules @0 :List(FaultRule);  # the node's rules after the change
}

struct Inspect {
  # ask an actor for its state; the reply depends on the actor
}

struct Reconcile {
  # ask a reconciler to reconcile its service now
}

struct ReconcilerState {
  service @0 :Text;        # the service's name
  serviceId @1 :Text;
  specVersion @2 :UInt64;
  desired @3 :Text;        # "replicated 6", "global" or "removed"
  observed @4 :List(Events.StateCount);  # its tasks by state
  waiting @5 :List(Events.Decision);     # why it is not converged, if it is not
  writes @6 :UInt64;       # batches it proposed since it started
  wakeAtNanos @7 :Int64;   # when it reconciles again unasked; 0: on a change
}

struct SchedulerState {
  pendingTasks @0 :UInt32;   # tasks waiting for a node
  readyNodes @1 :UInt32;     # nodes that take new tasks
  placements @2 :UInt64;     # tasks assigned since it started
  batches @3 :UInt64;        # proposals it made
  unplaceable @4 :List(Events.Decision);  # tasks that fit nowhere, and why
}

struct DispatcherSession {
  nodeId @0 :Text;
  hostname @1 :Text;
  lastHeartbeatNanos @2 :Int64;  # 0: none since this leader took over
  epoch @3 :UInt64;              # assignments epoch sent to the node
  sequence @4 :UInt64;
  tasks @5 :UInt32;              # tasks assigned to it
}

struct DispatcherState {
  sessions @0 :List(DispatcherSession);
  statusBatches @1 :UInt64;  # status proposals since it started
}

struct ActorInfo {
  name @0 :Text;       # how the console names it: scheduler, node/w1/agent...
  nodeId @1 :Text;     # where it runs
  hostname @2 :Text;
  status @3 :Text;     # running, or why it cannot be reached (node down)
}
