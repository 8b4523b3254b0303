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

# One change. New kinds (services, tasks) are added as new union members;
# a store that does not know a member refuses the whole batch.
struct Action {
  union {
    createCluster @0 :Cluster;           # only when no cluster exists
    updateCluster @1 :UpdateCluster;     # replaces the cluster (optimistic)
    putNode @2 :PutNode;                 # creates or replaces a node (optimistic)
    removeNode @3 :RemoveNode;           # deletes a node
    setNodeStatus @4 :SetNodeStatus;     # heartbeat-driven; last writer wins
  }
}

# The payload of one Raft entry, applied all-or-nothing.
struct Batch {
  actions @0 :List(Action);  # applied in order; later ones see earlier ones
}

# Everything the store holds, as of `appliedIndex`. New object kinds are
# added as new lists.
struct Snapshot {
  cluster @0 :Cluster;        # absent before `swarm init`
  nodes @1 :List(Node);       # sorted by id, ids unique
  appliedIndex @2 :UInt64;    # the last Raft index applied
}
