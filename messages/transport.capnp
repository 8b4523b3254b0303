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
}

struct Auth {
  certificate @0 :Data;  # the sender's node certificate (messages/ca.capnp)
  signature @1 :Data;    # Ed25519 by the sender's identity key over the
                         # transcript hash, with the sender's side as label
}
