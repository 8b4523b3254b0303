# Control protocol: what clients (skep, the gateway) ask of a node.
@0x897e96a42f6b1877;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::control");

using Common = import "/messages/common.capnp";

struct Request {
  union {
    version @0 :Void;  # ask for the node's build version
    info @1 :Void;     # ask for the node's identity, host facts and swarm state
  }
}

struct Reply {
  union {
    error @0 :Common.Error;     # the request failed; nothing was changed
    version @1 :VersionInfo;    # answer to Request.version
    info @2 :NodeInfo;          # answer to Request.info
  }
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
}
