# Node-to-node session set-up. Frames before the session is established carry
# one Handshake message each; after it, every frame is sealed.
@0x99cf9eeef314694a;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::transport");

struct Handshake {
  union {
    hello @0 :Hello;              # plaintext: ephemeral key exchange
    streamHeader @1 :Data;        # plaintext: secretstream header, 24 bytes
    sealedAuth @2 :Data;          # first sealed message: an Auth
  }
}

struct Hello {
  protocolVersion @0 :UInt16;  # transport protocol version, currently 1
  kxPublicKey @1 :Data;        # ephemeral crypto_kx public key, 32 bytes
  nonce @2 :Data;              # 32 random bytes, fresh per session
  join @3 :Bool;               # client: joins with a token, has no certificate
}

struct Auth {
  certificate @0 :Data;  # the sender's node certificate (messages/ca.capnp)
  signature @1 :Data;    # Ed25519 by the sender's identity key over the
                         # transcript hash, with the sender's side as label
  caPublicKey @2 :Data;  # server, to a joining client: the CA's key, which
                         # the client pins by the digest in its token
  joinClaim @3 :JoinClaim;  # joining client, instead of a certificate
}

# What a joining node proves: it holds a join token's secret (a MAC keyed by
# the secret over the transcript hash and the node key, so the secret never
# crosses the wire and the proof cannot be replayed) and its identity key
# (Auth.signature).
struct JoinClaim {
  nodeId @0 :Text;         # the id the node chose (data dir), 25 of [0-9a-z]
  nodePublicKey @1 :Data;  # its Ed25519 identity key, 32 bytes
  tokenProof @2 :Data;     # BLAKE2b-256 MAC keyed by the token secret
}
