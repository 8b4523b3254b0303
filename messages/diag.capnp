# Diagnostics between nodes: a round trip that proves a path works and
# measures it. Any certified node may send these.
@0xc1f0e3a95d2b7a44;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::diag");

struct Ping {
  payload @0 :Data;  # echoed back unchanged
}

struct Pong {
  payload @0 :Data;  # the Ping's payload
  node @1 :Text;     # the node that answered
}
