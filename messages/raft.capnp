# Raft between managers: one message of Skep's Raft (actors/raft/types.hpp)
# per envelope. Only managers may send these; the receiver also checks that
# `from` is the sending node's member id.
@0xd3c8f1a2b4e69071;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("skep::schema::raft");

struct Entry {
  term @0 :UInt64;
  index @1 :UInt64;
  type @2 :UInt8;      # 0 normal, 1 empty, 2 configuration
  payload @3 :Data;
  hash @4 :Data;       # chain hash at `index`, 32 bytes
}

struct Configuration {
  voters @0 :List(UInt64);
  learners @1 :List(UInt64);
}

struct SnapshotMeta {
  index @0 :UInt64;
  term @1 :UInt64;
  hash @2 :Data;       # 32 bytes
  config @3 :Configuration;
}

struct Message {
  type @0 :UInt8;      # raft::message_type
  from @1 :UInt64;
  to @2 :UInt64;
  term @3 :UInt64;
  logTerm @4 :UInt64;
  index @5 :UInt64;
  prevHash @6 :Data;   # 32 bytes
  entries @7 :List(Entry);
  commit @8 :UInt64;
  reject @9 :Bool;
  conflictTerm @10 :UInt64;
  conflictIndex @11 :UInt64;
  context @12 :UInt64;
  transfer @13 :Bool;
  snapshot @14 :SnapshotMeta;
  offset @15 :UInt64;
  data @16 :Data;
  done @17 :Bool;
}
