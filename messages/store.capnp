# The replicated cluster state (actors/store): the objects managers keep in
# Raft, the actions that change them and the snapshot of all of them. Each
# committed Raft entry of type `normal` carries one Batch. Every manager
# applies the same batches in the same order and must reach the same state,
# so nothing here may depend on the applying node (clocks come from the
# proposer, versions from the Raft index).
@0x98de3f200ead4ced;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::store");

using Ca = import "/messages/ca.capnp";

# Settings an operator may change with `skep swarm update`.
struct ClusterSpec {
  taskHistoryLimit @0 :UInt32 = 5;                  # finished tasks kept per slot
  dispatcherHeartbeatNanos @1 :Int64 = 5000000000;  # worker heartbeat period (5 s), > 0
  certExpiryNanos @2 :Int64 = 7776000000000000;     # node certificate lifetime (90 days), > 0
  snapshotInterval @3 :UInt64 = 10000;              # Raft entries between snapshots, > 0
  electionTicks @4 :UInt32 = 10;                    # Raft election timeout in ticks, > heartbeatTicks
  heartbeatTicks @5 :UInt32 = 1;                    # Raft leader heartbeat in ticks, >= 1
}

# The swarm itself: exactly one once `skep swarm init` committed.
struct Cluster {
  id @0 :Text;              # cluster id, fixed at creation
  createdAtNanos @1 :Int64; # unix nanoseconds, proposer's clock; fixed at creation
  spec @2 :ClusterSpec;     # what the operator configured
  caSecretKey @3 :Data;     # the root CA's Ed25519 secret key, 64 bytes (as Swarm keeps it in Raft)
  workerToken @4 :Text;     # the join token for workers
  managerToken @5 :Text;    # the join token for managers
  version @6 :UInt64;       # Raft index that last changed it; set by the store, ignored in actions
}

enum Availability {
  active @0;  # the scheduler may place tasks on the node
  pause @1;   # no new tasks; running tasks stay
  drain @2;   # no tasks; running tasks are moved elsewhere
}

enum NodeStatus {
  unknown @0;       # not heard from yet
  ready @1;         # heartbeats arrive
  down @2;          # the node left or failed
  disconnected @3;  # heartbeats stopped; tasks may still run
}

struct Label {
  key @0 :Text;    # non-empty, unique within its list
  value @1 :Text;  # may be empty
}

# A member of the swarm, manager or worker.
struct Node {
  id @0 :Text;                    # node id (actors/node/data_dir.hpp), fixed
  hostname @1 :Text;              # what the node reported, for people and lookups
  role @2 :Ca.NodeRole;           # worker or manager
  availability @3 :Availability;  # what the scheduler may do with it
  labels @4 :List(Label);         # operator labels, sorted by key (always in snapshots)
  addr @5 :Text;                  # advertise address, HOST:PORT
  status @6 :NodeStatus;          # what the dispatcher last saw
  statusMessage @7 :Text;         # why the status is what it is, for people
  engineVersion @8 :Text;         # the skepd version the node runs
  publicKey @9 :Data;             # the node's Ed25519 identity key, 32 bytes
  createdAtNanos @10 :Int64;      # unix nanoseconds when it joined; fixed at creation
  updatedAtNanos @11 :Int64;      # unix nanoseconds of the last change, proposer's clock
  version @12 :UInt64;            # Raft index that last changed it; set by the store, ignored in actions
  nanoCpus @13 :Int64;            # CPUs it offers tasks, in billionths (reservations); 0: unknown, no limit
  memoryBytes @14 :Int64;         # memory it offers tasks (reservations); 0: unknown, no limit
}

struct UpdateCluster {
  cluster @0 :Cluster;         # the new state; id and createdAtNanos must not change
  expectedVersion @1 :UInt64;  # must equal the stored version
}

struct PutNode {
  node @0 :Node;               # the whole node as it should be
  expectedVersion @1 :UInt64;  # 0: the node must not exist; else its stored version
}

struct RemoveNode {
  id @0 :Text;                 # the node to remove
  expectedVersion @1 :UInt64;  # 0: whatever its version; else its stored version
}

struct SetNodeStatus {
  id @0 :Text;            # the node the dispatcher heard from (or lost)
  status @1 :NodeStatus;  # the new status
  message @2 :Text;       # why, for people
  atNanos @3 :Int64;      # when, proposer's clock; becomes updatedAtNanos
}

# How a service places its tasks.
enum ServiceMode {
  replicated @0;  # `replicas` tasks, in slots 1..replicas, wherever they fit
  global @1;      # one task on every node that fits, slot 0
}

# When a finished task is replaced.
enum RestartCondition {
  none @0;       # never
  onFailure @1;  # when it failed (exit code not 0, or the runtime failed it)
  any @2;        # whenever it stopped without being told to
}

# What a rolling update does first.
enum UpdateOrder {
  stopFirst @0;   # stop the old task, then start the new one
  startFirst @1;  # start the new task, then stop the old one
}

# What a rolling update does when too many new tasks fail.
enum FailureAction {
  pause @0;     # stop updating; the operator decides
  proceed @1;   # carry on (shown as "continue")
  rollback @2;  # go back to the previous spec
}

# The life of a task; states only move forward (DESIGN.md section 2).
enum TaskState {
  new @0;         # created by the reconciler, not yet handed to the scheduler
  pending @1;     # waiting for a node
  assigned @2;    # the scheduler picked a node
  accepted @3;    # the node's agent took it
  preparing @4;   # the runtime prepares it (image, directories)
  starting @5;    # the runtime starts it
  running @6;     # it runs
  complete @7;    # it exited with code 0
  shutdown @8;    # it was stopped on purpose
  failed @9;      # it exited with another code, or could not start
  rejected @10;   # the node could not run it at all
  orphaned @11;   # its node was lost for too long
  remove @12;     # desired state only: the task leaves its slot for good
                  # (scale down) and is deleted once it has stopped
}

# One published port.
struct PortConfig {
  published @0 :UInt16;       # port on every node (routing mesh); 0: none, task-only
  target @1 :UInt16;          # port inside the task, > 0
  protocol @2 :Text = "tcp";  # "tcp" or "udp"
}

# CPU and memory; 0 means none.
struct Resources {
  nanoCpus @0 :Int64;     # billionths of a core, >= 0
  memoryBytes @1 :Int64;  # bytes, >= 0
}

# What runs in each task.
struct ContainerSpec {
  image @0 :Text;                          # non-empty; with the process runtime, an executable
  args @1 :List(Text);                     # its arguments, in order
  env @2 :List(Text);                      # "KEY=VALUE", KEY non-empty and unique
  workdir @3 :Text;                        # empty: the task's own directory
  stopGraceNanos @4 :Int64 = 10000000000;  # SIGTERM, then SIGKILL after this long (10 s), >= 0
}

# When and how often failed tasks are replaced.
struct RestartPolicy {
  condition @0 :RestartCondition = any;  # when a finished task is replaced
  delayNanos @1 :Int64 = 5000000000;     # wait before replacing (5 s), >= 0
  maxAttempts @2 :UInt64;                # replacements allowed within the window; 0: unlimited
  windowNanos @3 :Int64;                 # >= 0; 0: attempts count over the slot's whole life
}

# How `service update` (and rollback) replaces tasks.
struct UpdateConfig {
  parallelism @0 :UInt64 = 1;           # tasks replaced at once; 0: all at once
  delayNanos @1 :Int64;                 # wait between groups, >= 0
  monitorNanos @2 :Int64 = 5000000000;  # how long a new task is watched for failure (5 s), >= 0
  onFailure @3 :FailureAction;          # what to do when too many fail
  maxFailureRatio @4 :Float64;          # failures tolerated, fraction of tasks updated, in [0, 1]
  order @5 :UpdateOrder;                # stop-first or start-first
}

# What the operator declared with `skep service create/update`.
struct ServiceSpec {
  name @0 :Text;                  # unique among services; 1-63 of [A-Za-z0-9_.-], first alphanumeric
  labels @1 :List(Label);         # operator labels, sorted by key (always in snapshots)
  container @2 :ContainerSpec;    # what each task runs
  mode @3 :ServiceMode;           # replicated or global
  replicas @4 :UInt64 = 1;        # replicated mode only; <= 1000000
  constraints @5 :List(Text);     # placement, each "KEY==VALUE" or "KEY!=VALUE"
  maxReplicasPerNode @6 :UInt64;  # 0: unlimited
  reservations @7 :Resources;     # what the scheduler sets aside per task
  limits @8 :Resources;           # what a task may use at most
  restart @9 :RestartPolicy;      # when failed tasks are replaced
  update @10 :UpdateConfig;       # how `service update` rolls
  rollback @11 :UpdateConfig;     # how `service rollback` rolls
  ports @12 :List(PortConfig);    # published ports
}

# A declared service.
struct Service {
  id @0 :Text;                   # service id, fixed at creation
  spec @1 :ServiceSpec;          # what the operator declared last
  previousSpec @2 :ServiceSpec;  # the spec before the last update, for rollback; absent if none
  specVersion @3 :UInt64 = 1;    # bumped when what tasks run changes; older tasks are outdated
  createdAtNanos @4 :Int64;      # unix nanoseconds, proposer's clock; fixed at creation
  updatedAtNanos @5 :Int64;      # unix nanoseconds of the last change, proposer's clock
  version @6 :UInt64;            # Raft index that last changed it; set by the store, ignored in actions
}

# What a task is doing, as last reported.
struct TaskStatus {
  state @0 :TaskState;        # where it is in its life
  atNanos @1 :Int64;          # when it entered `state`, reporter's clock
  message @2 :Text;           # e.g. "started", "assigned"
  err @3 :Text;               # why it failed or is stuck, for people
  exitCode @4 :Int32;         # once it exited
  hostPorts @5 :List(UInt16); # host ports the runtime gave, same order as the task's ports
}

# One run of a service's slot (or of a global service on one node).
struct Task {
  id @0 :Text;                          # task id, fixed at creation
  serviceId @1 :Text;                   # its service (which may since have been removed)
  slot @2 :UInt64;                      # 1..replicas for replicated services, 0 for global ones
  nodeId @3 :Text;                      # where it runs; empty while pending
  specVersion @4 :UInt64;               # the service's specVersion it was created from
  container @5 :ContainerSpec;          # copied from the service at creation
  reservations @6 :Resources;           # copied from the service at creation
  limits @7 :Resources;                 # copied from the service at creation
  ports @8 :List(PortConfig);           # copied from the service at creation
  desiredState @9 :TaskState = running; # what the orchestrator wants: running, or shutdown to stop it
  status @10 :TaskStatus;               # what it does, as last reported
  createdAtNanos @11 :Int64;            # unix nanoseconds, proposer's clock
  version @12 :UInt64;                  # Raft index that last changed it; set by the store, ignored in actions
}

struct PutService {
  service @0 :Service;         # the whole service as it should be
  expectedVersion @1 :UInt64;  # 0: the service must not exist; else its stored version
}

struct RemoveService {
  id @0 :Text;                 # the service to remove
  expectedVersion @1 :UInt64;  # 0: whatever its version; else its stored version
}

struct PutTask {
  task @0 :Task;               # the whole task as it should be
  expectedVersion @1 :UInt64;  # 0: the task must not exist (its service must); else its stored version
}

struct RemoveTask {
  id @0 :Text;  # the task to delete; nothing happens if it is already gone
}

# Applies only if the task is pending, its desired state is at most running
# and the node exists; else it is skipped, so a stale decision fails nothing.
struct AssignTask {
  id @0 :Text;        # the task to place
  nodeId @1 :Text;    # the node the scheduler picked
  atNanos @2 :Int64;  # when, proposer's clock; becomes status.atNanos
  message @3 :Text;   # becomes status.message, e.g. "assigned"
}

# Applies only if the task exists and status.state is not behind its current
# state; an equal state keeps atNanos and updates the rest.
struct SetTaskStatus {
  id @0 :Text;            # the task that reported
  status @1 :TaskStatus;  # what it reported
}

# Applies only if the task exists and desiredState is after its current one.
struct SetTaskDesiredState {
  id @0 :Text;                 # the task to steer
  desiredState @1 :TaskState;  # e.g. shutdown
}

# One change. New kinds are added as new union members, never renumbered;
# a store that does not know a member refuses the whole batch.
struct Action {
  union {
    createCluster @0 :Cluster;                     # only when no cluster exists
    updateCluster @1 :UpdateCluster;               # replaces the cluster (optimistic)
    putNode @2 :PutNode;                           # creates or replaces a node (optimistic)
    removeNode @3 :RemoveNode;                     # deletes a node
    setNodeStatus @4 :SetNodeStatus;               # heartbeat-driven; last writer wins
    putService @5 :PutService;                     # creates or replaces a service (optimistic)
    removeService @6 :RemoveService;               # deletes a service; its tasks stay
    putTask @7 :PutTask;                           # creates or replaces a task (optimistic)
    removeTask @8 :RemoveTask;                     # deletes a task; skipped if it is gone
    assignTask @9 :AssignTask;                     # places a pending task; skipped if stale
    setTaskStatus @10 :SetTaskStatus;              # reports progress; skipped if it goes back
    setTaskDesiredState @11 :SetTaskDesiredState;  # stops a task; skipped if it goes back
  }
}

# The payload of one Raft entry, applied all-or-nothing.
struct Batch {
  actions @0 :List(Action);  # applied in order; later ones see earlier ones
  proposal @1 :Proposal;     # who proposed it; absent in older entries
}

# The manager that proposed a batch, and its number for it: the proposer
# answers its caller when it applies the entry carrying its own tag. The
# store ignores it.
struct Proposal {
  proposer @0 :UInt64;  # the proposing manager's Raft member id
  seq @1 :UInt64;       # that manager's number for the proposal, never 0
}

# Everything the store holds, as of `appliedIndex`. New object kinds are
# added as new lists.
struct Snapshot {
  cluster @0 :Cluster;        # absent before `swarm init`
  nodes @1 :List(Node);       # sorted by id, ids unique
  appliedIndex @2 :UInt64;    # the last Raft index applied
  services @3 :List(Service); # sorted by id, ids and names unique
  tasks @4 :List(Task);       # sorted by id, ids unique; may name removed services
}
