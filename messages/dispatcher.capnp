# Dispatcher: every node's agent keeps in touch with the managers.
@0xe6a1c07d93b25f48;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::dispatcher");

struct Heartbeat {
  nodeId @0 :Text;  # the sender itself: a worker may speak only of itself
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
