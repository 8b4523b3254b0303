# The envelope: the one message that crosses a node boundary or the control
# socket. It names sender and target actors, pairs replies with requests, and
# carries exactly one message of one protocol.
@0xf7b45cb8d52bed85;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema");

using Common = import "/messages/common.capnp";
using Control = import "/messages/control.capnp";
using Ca = import "/messages/ca.capnp";
using Diag = import "/messages/diag.capnp";
using Raft = import "/messages/raft.capnp";
using Dispatcher = import "/messages/dispatcher.capnp";
using Console = import "/messages/console.capnp";

struct Envelope {
  protocolVersion @0 :UInt16;     # wire protocol version; see codec.hpp
  sender @1 :Common.ActorRef;     # who sent it; replies go here
  target @2 :Common.ActorRef;     # who should handle it
  correlationId @3 :UInt64;       # a request's id; its reply carries the same
  kind @4 :Kind;                  # one-way message, request, or reply
  body :union {
    error @5 :Common.Error;              # the envelope itself was refused
    controlRequest @6 :Control.Request;  # a client asks a node
    controlReply @7 :Control.Reply;      # the node answers
    ping @8 :Diag.Ping;                  # a round trip between nodes
    pong @9 :Diag.Pong;                  # the answer to a ping
    certificateRequest @10 :Ca.CertificateRequest;  # join or renew
    certificateReply @11 :Ca.CertificateReply;      # the CA answers
    raft @12 :Raft.Message;              # between managers' raft members
    heartbeat @13 :Dispatcher.Heartbeat;          # a node's agent is alive
    heartbeatReply @14 :Dispatcher.HeartbeatReply;
    assignments @15 :Dispatcher.Assignments;      # tasks a node should run
    taskStatus @16 :Dispatcher.TaskStatusReport;  # a node reports its tasks
    taskStatusReply @17 :Dispatcher.TaskStatusReply;
    taskLogs @18 :Dispatcher.TaskLogsRequest;      # a manager asks for task output
    taskLogsReply @19 :Dispatcher.TaskLogsReply;   # the node answers
    fault @20 :Console.Fault;             # a manager injects faults on a node's paths
    faultReply @21 :Console.FaultReply;   # the node's rules after the change
    inspect @22 :Console.Inspect;         # the console asks an actor for its state
    reconcile @23 :Console.Reconcile;     # the console asks a reconciler to run now
    reconcilerState @24 :Console.ReconcilerState;  # answers inspect
    schedulerState @25 :Console.SchedulerState;    # answers inspect
    dispatcherState @26 :Console.DispatcherState;  # answers inspect
  }
  appliedIndex @27 :UInt64;  # a manager's reply to a control request another
                             # manager forwarded: the Raft index its store had
                             # applied; the forwarding manager answers its
                             # client once it has applied as much (read your
                             # writes); 0 otherwise

  enum Kind {
    oneWay @0;   # no reply expected
    request @1;  # a reply with the same correlationId is expected
    reply @2;    # answers the request with the same correlationId
  }
}
