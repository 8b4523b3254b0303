# Dispatcher: every node's agent keeps in touch with the managers.
@0xe6a1c07d93b25f48;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::dispatcher");

using Store = import "/messages/store.capnp";

struct Heartbeat {
  nodeId @0 :Text;  # the sender itself: a worker may speak only of itself
  assignmentsEpoch @1 :UInt64;  # epoch of the last assignments applied; 0: none yet
  assignmentsSequence @2 :UInt64;  # their sequence number within that epoch
  leaving @3 :Bool;  # the node leaves the swarm (`swarm leave`): Down now
}

struct ManagerAddr {
  nodeId @0 :Text;
  addr @1 :Text;  # HOST:PORT
}

struct HeartbeatReply {
  periodNanos @0 :Int64;             # when to send the next heartbeat
  leader @1 :Text;                   # the node id of the Raft leader, if known
  managers @2 :List(ManagerAddr);    # every manager, to fail over to
  accepted @3 :Bool;                 # false: not the leader; send to `leader`
  role @4 :Text;                     # the role the swarm gives the node now
}

# The tasks a node should run (or stop): a full set, or what changed since
# the previous message of the same epoch. The leader's dispatcher sends them
# one-way; a node that sees a gap asks for a full set with its next
# heartbeat (assignmentsEpoch 0).
struct Assignments {
  nodeId @0 :Text;              # the node these tasks are for
  epoch @1 :UInt64;             # changes with each dispatcher; starts with a full set
  sequence @2 :UInt64;          # 1, 2, ... within the epoch
  full @3 :Bool;                # true: forget every task not in `tasks`
  tasks @4 :List(Store.Task);   # new or changed tasks
  removed @5 :List(Text);       # ids of tasks to forget
}

struct TaskStatusUpdate {
  taskId @0 :Text;              # a task assigned to the reporting node
  status @1 :Store.TaskStatus;  # what it does now
}

# A node's agent reports task state changes (a request: it resends until
# the leader's dispatcher accepted them).
struct TaskStatusReport {
  nodeId @0 :Text;                      # the sender itself
  updates @1 :List(TaskStatusUpdate);   # at most 10,000
}

struct TaskStatusReply {
  accepted @0 :Bool;  # false: not the leader; send to `leader`
  leader @1 :Text;    # the node id of the Raft leader, if known
}

# A manager asks a node for the output of some of its tasks (`service logs`).
struct TaskLogsRequest {
  taskIds @0 :List(Text);     # tasks that ran on the node, at most 1,000
  tailLines @1 :Int64 = -1;   # the last N lines of each; -1: from the start (or fromOffsets)
  fromOffsets @2 :List(UInt64);  # empty, or per task: the byte offset to read from (follow mode)
}

struct TaskLog {
  taskId @0 :Text;
  output @1 :Data;       # stdout and stderr as written, at most 1 MiB per reply
  endOffset @2 :UInt64;  # where the output read ends; the next fromOffset
  error @3 :Text;        # why there is no output, e.g. the runtime keeps none
}

struct TaskLogsReply {
  logs @0 :List(TaskLog);  # one per task asked for, same order
}
