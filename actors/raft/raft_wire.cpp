#include "actors/raft/raft_wire.hpp"

#include <cstring>

#include <fmt/format.h>
#include <sodium.h>

namespace skep::raft {

namespace {

constexpr uint8_t last_message_type
  = static_cast<uint8_t>(message_type::timeout_now);
constexpr uint8_t last_entry_type
  = static_cast<uint8_t>(entry_type::configuration);

kj::ArrayPtr<const kj::byte> data_of(const chain_hash& h) {
  return kj::arrayPtr(h.data(), h.size());
}

kj::ArrayPtr<const kj::byte> data_of(const bytes& b) {
  return kj::arrayPtr(b.data(), b.size());
}

failure malformed(std::string why) {
  return fail(errc::malformed_message,
              fmt::format("malformed raft message: {}", why));
}

result<chain_hash> hash_from(capnp::Data::Reader d, const char* what) {
  chain_hash h{};
  if (d.size() == 0)
    return h; // not set: the genesis hash
  if (d.size() != h.size())
    return malformed(fmt::format("{} has {} bytes, not 32", what, d.size()));
  std::memcpy(h.data(), d.begin(), h.size());
  return h;
}

void config_to(const configuration& c,
               schema::raft::Configuration::Builder out) {
  auto voters = out.initVoters(static_cast<unsigned>(c.voters.size()));
  for (unsigned i = 0; i < c.voters.size(); ++i)
    voters.set(i, c.voters[i]);
  auto learners = out.initLearners(static_cast<unsigned>(c.learners.size()));
  for (unsigned i = 0; i < c.learners.size(); ++i)
    learners.set(i, c.learners[i]);
}

configuration config_from(schema::raft::Configuration::Reader in) {
  configuration c;
  for (auto v : in.getVoters())
    c.voters.push_back(v);
  for (auto l : in.getLearners())
    c.learners.push_back(l);
  return c;
}

} // namespace

node_id member_id_of(std::string_view node) {
  std::array<uint8_t, 32> digest{};
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const uint8_t*>(node.data()), node.size(),
                     nullptr, 0);
  node_id id = 0;
  for (int i = 0; i < 8; ++i)
    id = (id << 8) | digest[static_cast<size_t>(i)];
  return id == 0 ? 1 : id;
}

void to_wire(const message& m, schema::raft::Message::Builder out) {
  out.setType(static_cast<uint8_t>(m.type));
  out.setFrom(m.from);
  out.setTo(m.to);
  out.setTerm(m.term);
  out.setLogTerm(m.log_term);
  out.setIndex(m.index);
  out.setPrevHash(data_of(m.prev_hash));
  auto entries = out.initEntries(static_cast<unsigned>(m.entries.size()));
  for (unsigned i = 0; i < m.entries.size(); ++i) {
    const auto& e = m.entries[i];
    auto w = entries[i];
    w.setTerm(e.term);
    w.setIndex(e.index);
    w.setType(static_cast<uint8_t>(e.type));
    w.setPayload(data_of(e.payload));
    w.setHash(data_of(e.hash));
  }
  out.setCommit(m.commit);
  out.setReject(m.reject);
  out.setConflictTerm(m.conflict_term);
  out.setConflictIndex(m.conflict_index);
  out.setContext(m.context);
  out.setTransfer(m.transfer);
  auto snap = out.initSnapshot();
  snap.setIndex(m.snapshot.index);
  snap.setTerm(m.snapshot.term);
  snap.setHash(data_of(m.snapshot.hash));
  config_to(m.snapshot.config, snap.initConfig());
  out.setOffset(m.offset);
  out.setData(data_of(m.data));
  out.setDone(m.done);
}

result<message> from_wire(schema::raft::Message::Reader in) {
  message m;
  if (in.getType() > last_message_type)
    return malformed(fmt::format("unknown type {}", in.getType()));
  m.type = static_cast<message_type>(in.getType());
  m.from = in.getFrom();
  m.to = in.getTo();
  m.term = in.getTerm();
  m.log_term = in.getLogTerm();
  m.index = in.getIndex();
  auto prev = hash_from(in.getPrevHash(), "prevHash");
  if (!prev)
    return std::move(prev).error();
  m.prev_hash = *prev;
  for (auto e : in.getEntries()) {
    if (e.getType() > last_entry_type)
      return malformed(
        fmt::format("entry {} has unknown type {}", e.getIndex(), e.getType()));
    entry out;
    out.term = e.getTerm();
    out.index = e.getIndex();
    out.type = static_cast<entry_type>(e.getType());
    out.payload.assign(e.getPayload().begin(), e.getPayload().end());
    auto h = hash_from(e.getHash(), "entry hash");
    if (!h)
      return std::move(h).error();
    out.hash = *h;
    m.entries.push_back(std::move(out));
  }
  m.commit = in.getCommit();
  m.reject = in.getReject();
  m.conflict_term = in.getConflictTerm();
  m.conflict_index = in.getConflictIndex();
  m.context = in.getContext();
  m.transfer = in.getTransfer();
  auto snap = in.getSnapshot();
  m.snapshot.index = snap.getIndex();
  m.snapshot.term = snap.getTerm();
  auto sh = hash_from(snap.getHash(), "snapshot hash");
  if (!sh)
    return std::move(sh).error();
  m.snapshot.hash = *sh;
  m.snapshot.config = config_from(snap.getConfig());
  m.offset = in.getOffset();
  m.data.assign(in.getData().begin(), in.getData().end());
  m.done = in.getDone();
  return m;
}

} // namespace skep::raft
