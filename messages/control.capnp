# Control protocol: what clients (skep, the gateway) ask of a node.
@0x897e96a42f6b1877;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::control");

using Common = import "/messages/common.capnp";
using Store = import "/messages/store.capnp";
using Console = import "/messages/console.capnp";
using Events = import "/messages/events.capnp";

struct Request {
  union {
    version @0 :Void;  # ask for the node's build version
    info @1 :Void;     # ask for the node's identity, host facts and swarm state
    swarmInit @2 :SwarmInit;         # become the first manager of a new swarm
    swarmJoin @3 :SwarmJoin;         # join a swarm with a token
    joinToken @4 :JoinTokenRequest;  # show or rotate a join token
    swarmLeave @5 :SwarmLeave;       # leave the swarm
    swarmUpdate @6 :SwarmUpdate;     # change cluster settings
    nodeList @7 :Void;               # every node of the swarm
    nodeInspect @8 :NodeNames;       # some nodes, by id, prefix or hostname
    nodeUpdate @9 :NodeUpdate;       # availability, labels, role of a node
    nodeRemove @10 :NodeRemove;      # remove nodes from the swarm
    propose @11 :Data;               # managers only: a store batch for the leader
    serviceCreate @12 :Store.ServiceSpec;  # declare a service
    serviceList @13 :Void;                 # every service, with running/desired
    serviceInspect @14 :NodeNames;         # some services, by id, prefix or name
    serviceUpdate @15 :ServiceUpdate;      # replace a service's spec
    serviceRemove @16 :NodeNames;          # remove services (their tasks stop)
    taskList @17 :TaskFilter;              # tasks, for service ps and node ps
    serviceLogs @18 :LogsRequest;          # output of a service's or a task's tasks
    deliver @19 :Console.Delivery;         # managers: a console message for an actor
    events @20 :Events.EventsRequest;      # the leader's events after a position
    actors @21 :Void;                      # which actors run where
  }
}

struct SwarmInit {
  advertiseAddr @0 :Text;               # HOST:PORT; empty: the node's setting
  taskHistoryLimit @1 :Int64 = -1;      # -1: the default (5)
  dispatcherHeartbeatNanos @2 :Int64;   # 0: the default (5 s)
  certExpiryNanos @3 :Int64;            # 0: the default (90 days)
  forceNewCluster @4 :Bool;             # recover a manager whose quorum is lost
  autolock @5 :Bool;                    # not supported yet: refused
  snapshotInterval @6 :UInt64;          # Raft entries between store snapshots; 0: the default (10000)
}

struct SwarmJoin {
  token @0 :Text;          # SKEP-1-<ca digest>-<secret>
  remoteAddr @1 :Text;     # HOST:PORT of a manager
  advertiseAddr @2 :Text;  # HOST:PORT; empty: the node's setting
}

struct JoinTokenRequest {
  role @0 :Text;    # worker or manager
  rotate @1 :Bool;  # replace the token first
}

struct SwarmLeave {
  force @0 :Bool;  # a manager must force, and may not break quorum
}

struct SwarmUpdate {
  taskHistoryLimit @0 :Int64 = -1;     # -1: unchanged
  dispatcherHeartbeatNanos @1 :Int64;  # 0: unchanged
  certExpiryNanos @2 :Int64;           # 0: unchanged
  snapshotInterval @3 :UInt64;         # 0: unchanged
}

struct NodeNames {
  names @0 :List(Text);  # ids, unique id prefixes or hostnames
}

struct NodeLabel {
  key @0 :Text;
  value @1 :Text;
}

struct NodeUpdate {
  name @0 :Text;                  # one node: id, prefix or hostname
  availability @1 :Text;          # active, pause, drain; empty: unchanged
  labelAdd @2 :List(NodeLabel);   # set these labels
  labelRm @3 :List(Text);         # remove these label keys
  role @4 :Text;                  # worker or manager; empty: unchanged
}

struct NodeRemove {
  names @0 :List(Text);
  force @1 :Bool;  # remove nodes that are not Down
}

struct Reply {
  union {
    error @0 :Common.Error;     # the request failed; nothing was changed
    version @1 :VersionInfo;    # answer to Request.version
    info @2 :NodeInfo;           # answer to Request.info
    swarmInit @3 :SwarmInitReply;  # answer to Request.swarmInit
    joined @4 :JoinedReply;        # answer to Request.swarmJoin
    token @5 :TokenReply;          # answer to Request.joinToken
    nodes @6 :List(NodeView);      # answer to nodeList and nodeInspect
    done @7 :Void;                 # the change was committed
    services @8 :List(ServiceView);  # answer to serviceList and serviceInspect
    tasks @9 :List(TaskView);        # answer to taskList
    created @10 :Text;               # the id of what serviceCreate created
    logs @11 :List(TaskOutput);      # answer to serviceLogs
    delivered @12 :Data;             # answer to deliver: the serialized reply Envelope
    events @13 :Events.EventBatch;   # answer to events
    actors @14 :List(Console.ActorInfo);  # answer to actors
  }
}

struct SwarmInitReply {
  nodeId @0 :Text;
  workerToken @1 :Text;
  managerToken @2 :Text;
  advertiseAddr @3 :Text;  # where the others join
}

struct JoinedReply {
  role @0 :Text;  # worker or manager
}

struct TokenReply {
  role @0 :Text;
  token @1 :Text;
  managerAddr @2 :Text;  # HOST:PORT to join through
}

struct NodeView {
  id @0 :Text;
  hostname @1 :Text;
  role @2 :Text;            # worker or manager
  status @3 :Text;          # ready, down, unknown, disconnected
  availability @4 :Text;    # active, pause, drain
  managerStatus @5 :Text;   # leader, reachable, unreachable; empty for workers
  engineVersion @6 :Text;
  addr @7 :Text;            # HOST:PORT it advertises
  labels @8 :List(NodeLabel);
  createdAtNanos @9 :Int64;
  updatedAtNanos @10 :Int64;
  self @11 :Bool;           # the node that answered
  statusMessage @12 :Text;
  version @13 :UInt64;
}

struct VersionInfo {
  version @0 :Text;       # Skep release, e.g. "0.1.0"
  gitCommit @1 :Text;     # commit the binary was built from
  buildType @2 :Text;     # Debug, Release or RelWithDebInfo
  cafVersion @3 :Text;    # C++ Actor Framework version
  capnpVersion @4 :Text;  # Cap'n Proto version
  os @5 :Text;            # operating system, e.g. "linux"
  arch @6 :Text;          # machine architecture, e.g. "x86_64"
}

enum LocalNodeState {
  inactive @0;  # the node belongs to no swarm
  pending @1;   # joining a swarm
  active @2;    # a member of a swarm
  error @3;     # membership is broken; see NodeInfo.swarmError
  locked @4;    # the swarm is autolocked and this node awaits its unlock key
}

struct NodeInfo {
  nodeId @0 :Text;                 # this node's id, stable across restarts
  hostname @1 :Text;               # the name the node reports to the swarm
  serverVersion @2 :Text;          # Skep release of the daemon
  dataDir @3 :Text;                # where the node keeps its state
  listenAddr @4 :Text;             # HOST:PORT for node-to-node traffic
  advertiseAddr @5 :Text;          # HOST:PORT other nodes dial
  ingressAddr @6 :Text;            # HOST the routing mesh listens on
  controlSocket @7 :Text;          # path of the control socket
  runtime @8 :Text;                # process, runc, docker or sim
  localNodeState @9 :LocalNodeState;  # swarm membership of this node
  controlAvailable @10 :Bool;      # true on managers
  swarmError @11 :Text;            # why localNodeState is error, else empty
  startedAt @12 :Common.Timestamp; # when the daemon started
  uptime @13 :Common.Duration;     # how long the daemon has run
  cpus @14 :UInt32;                # online CPUs
  memoryBytes @15 :UInt64;         # total physical memory
  operatingSystem @16 :Text;       # e.g. "Debian GNU/Linux 12 (bookworm)"
  kernelVersion @17 :Text;         # uname -r
  arch @18 :Text;                  # uname -m
  actors @19 :List(Text);          # names of the actors running on this node
  swarm @20 :SwarmInfo;            # set when localNodeState is active
}

struct SwarmInfo {
  clusterId @0 :Text;
  role @1 :Text;              # worker or manager
  managers @2 :UInt32;        # how many managers the swarm has
  nodes @3 :UInt32;           # how many nodes
  managerAddrs @4 :List(Text);  # HOST:PORT of each manager
  raftLeader @5 :Text;        # node id of the leader, managers only
  raftTerm @6 :UInt64;
  raftCommit @7 :UInt64;
  taskHistoryLimit @8 :UInt32;
  dispatcherHeartbeatNanos @9 :Int64;
  certExpiryNanos @10 :Int64;
  snapshotInterval @11 :UInt64;
  electionTicks @12 :UInt32;
  heartbeatTicks @13 :UInt32;
  raftVoters @14 :UInt32;     # managers that vote
  raftLearners @15 :UInt32;   # managers still catching up
  raftLongestTickGapNanos @16 :Int64;  # this manager's longest gap between two Raft ticks since it started
}

struct ServiceUpdate {
  name @0 :Text;                # one service: id, prefix or name
  spec @1 :Store.ServiceSpec;   # the whole new spec (the client merges its flags)
  expectedVersion @2 :UInt64;   # the version the client read; 0: whatever it is now
  force @3 :Bool;               # replace every task even if the spec is unchanged
  rollback @4 :Bool;            # go back to the previous spec (`spec` is ignored)
}

struct ServiceView {
  service @0 :Store.Service;  # the service as stored
  runningTasks @1 :UInt64;    # tasks whose state is running
  desiredTasks @2 :UInt64;    # replicas, or (global) eligible nodes with a task
}

struct TaskFilter {
  services @0 :List(Text);  # ids, prefixes or names; empty: every service
  nodes @1 :List(Text);     # ids, prefixes or hostnames; empty: every node
  desiredState @2 :Text;    # running, shutdown or empty for every task
  tasks @3 :List(Text);     # task ids or unique prefixes (inspect); empty: no such filter
}

struct TaskView {
  task @0 :Store.Task;      # the task as stored
  serviceName @1 :Text;     # empty when the service was removed
  nodeHostname @2 :Text;    # empty while unassigned
}

struct LogsRequest {
  name @0 :Text;               # a service (id, prefix or name) or a task (id or prefix)
  tailLines @1 :Int64 = -1;    # the last N lines of each task; -1: everything
  follow @2 :List(LogCursor);  # follow mode: where each task's output was read up to
}

struct LogCursor {
  taskId @0 :Text;
  offset @1 :UInt64;  # bytes of the task's output already shown
}

struct TaskOutput {
  taskId @0 :Text;
  serviceName @1 :Text;
  slot @2 :UInt64;         # 0 for global services
  nodeId @3 :Text;
  nodeHostname @4 :Text;
  output @5 :Data;         # as the task wrote it
  endOffset @6 :UInt64;    # the cursor for the next follow request
  error @7 :Text;          # why the output could not be read (node down...)
}
