# Common types shared by every Skep protocol.
@0xfb365537c6845969;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema");

struct Timestamp {
  unixNanos @0 :Int64;  # nanoseconds since 1970-01-01T00:00:00Z
}

struct Duration {
  nanos @0 :Int64;  # a length of time in nanoseconds, never negative
}

enum ErrorCode {
  none @0;              # no error; never sent inside an Error
  invalidArgument @1;   # the request names something malformed or out of range
  notFound @2;          # the named node, service or task does not exist
  alreadyExists @3;     # a name or id clashes with an existing object
  notManager @4;        # the node is not a swarm manager
  unavailable @5;       # no leader, no quorum, or the node is shutting down
  timeout @6;           # the request did not complete in time
  internal @7;          # a bug or an unexpected failure inside the node
  malformedMessage @8;  # bytes that do not decode as the expected message
  unsupported @9;       # a message or feature this node does not handle
  permissionDenied @10; # the sender's role may not send this message
  frameTooLarge @11;    # a frame longer than the receiver's limit
}

struct Error {
  code @0 :ErrorCode;  # what went wrong, for programs
  message @1 :Text;    # what went wrong and what to do, for people
}

struct ActorRef {
  nodeId @0 :Text;  # the node the actor runs on; empty means "the receiving node"
  name @1 :Text;    # the actor's name on that node, e.g. "node", "controlapi"
}
