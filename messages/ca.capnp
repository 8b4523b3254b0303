# Cluster PKI: node certificates signed by the cluster CA.
@0xff3e96a22aad11af;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::ca");

using Common = import "/messages/common.capnp";

enum NodeRole {
  worker @0;   # runs tasks; talks to the dispatcher about itself only
  manager @1;  # runs Raft and the control API
}

struct CertificateBody {
  serial @0 :UInt64;              # unique per certificate the CA issued
  nodeId @1 :Text;                # the node the certificate names
  role @2 :NodeRole;              # what the node may do in the swarm
  nodePublicKey @3 :Data;         # the node's Ed25519 identity key, 32 bytes
  caKeyId @4 :Data;               # BLAKE2b-256 of the signing CA's public key
  issuedAt @5 :Common.Timestamp;  # not valid before this
  expiresAt @6 :Common.Timestamp; # not valid from this on
}

struct Certificate {
  body @0 :Data;       # a serialized CertificateBody, signed exactly as is
  signature @1 :Data;  # Ed25519 signature of `body` by the CA, 64 bytes
}

# A node asks the CA for a certificate: on joining (over a session opened
# with a join token) or to renew the one it has. Who asks, with which key
# and in which role, comes from the authenticated session, never from here.
struct CertificateRequest {
    hostname @0 :Text;       # for the operator's node list
    advertiseAddr @1 :Text;  # HOST:PORT where other nodes reach it
  engineVersion @2 :Text;  # the Skep release the node runs
  nanoCpus @3 :Int64;      # CPUs the node offers tasks, in billionths; 0: unknown
  memoryBytes @4 :Int64;   # memory the node offers tasks; 0: unknown
}

struct CertificateReply {
  certificate @0 :Data;  # a Certificate for the asking node
    caPublicKey @1 :Data;  # the cluster CA's Ed25519 key, 32 bytes
  clusterId @2 :Text;    # the swarm the node joined
}
