#include "actors/transport/handshake.hpp"

#include "messages/message.hpp"
#include "messages/transport.capnp.h"

#include <cstring>
#include <stdexcept>

#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::transport {

namespace {

constexpr uint16_t transport_version = 1;
using handshake_msg = message<schema::transport::Handshake>;
using auth_msg = message<schema::transport::Auth>;

read_limits handshake_limits() {
  read_limits limits;
  limits.max_frame_bytes = 16 * 1024;
  limits.traversal_limit_words = 8 * 1024;
  limits.nesting_limit = 8;
  return limits;
}

failure refused(std::string why) {
  return fail(errc::permission_denied,
              fmt::format("handshake failed: {}", why));
}

const char* label_of(side s) {
  return s == side::client ? "client" : "server";
}

// What each side signs: its label, then the transcript hash.
std::vector<uint8_t> signed_transcript(side signer,
                                       const std::array<uint8_t, 32>& digest) {
  const char* label = label_of(signer);
  auto label_size = std::strlen(label);
  std::vector<uint8_t> out(label_size + digest.size());
  std::memcpy(out.data(), label, label_size);
  std::memcpy(out.data() + label_size, digest.data(), digest.size());
  return out;
}

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-'))
      return false;
  return true;
}

std::vector<uint8_t> encode(capnp::MallocMessageBuilder& builder) {
  return handshake_msg::from(builder).encode();
}

} // namespace

handshake::handshake(handshake_options opts) : opts_(std::move(opts)) {
  if (opts_.identity == nullptr)
    throw std::invalid_argument("handshake: no identity key given");
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium failed to initialize");
  crypto_kx_keypair(kx_public_.data(), kx_secret_.data());
}

handshake::~handshake() {
  sodium_memzero(kx_secret_.data(), kx_secret_.size());
  sodium_memzero(rx_.data(), rx_.size());
  sodium_memzero(tx_.data(), tx_.size());
}

// BLAKE2b-256 of both Hellos in client-then-server order: what both sides
// sign, and the challenge a joining node's token proof answers.
std::array<uint8_t, 32> handshake::transcript_digest() const {
  const auto& client_hello
    = opts_.role == side::client ? own_hello_ : peer_hello_;
  const auto& server_hello
    = opts_.role == side::server ? own_hello_ : peer_hello_;
  std::array<uint8_t, 32> digest{};
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, digest.size());
  static constexpr uint8_t context[] = "skep transport v1";
  crypto_generichash_update(&st, context, sizeof(context));
  crypto_generichash_update(&st, client_hello.data(), client_hello.size());
  crypto_generichash_update(&st, server_hello.data(), server_hello.size());
  crypto_generichash_final(&st, digest.data(), digest.size());
  return digest;
}

std::vector<uint8_t> handshake::make_hello() {
  capnp::MallocMessageBuilder builder;
  auto hello = builder.initRoot<schema::transport::Handshake>().initHello();
  hello.setProtocolVersion(transport_version);
  hello.setKxPublicKey(kj::arrayPtr(kx_public_.data(), kx_public_.size()));
  std::array<uint8_t, 32> nonce{};
  randombytes_buf(nonce.data(), nonce.size());
  hello.setNonce(kj::arrayPtr(nonce.data(), nonce.size()));
  hello.setJoin(opts_.role == side::client && opts_.join.has_value());
  return encode(builder);
}

std::vector<std::vector<uint8_t>> handshake::start() {
  step_ = step::await_hello;
  if (opts_.role == side::server)
    return {};
  own_hello_ = make_hello();
  return {own_hello_};
}

result<std::vector<std::vector<uint8_t>>>
handshake::receive(const uint8_t* data, size_t size) {
  auto outcome = [&]() -> result<std::vector<std::vector<uint8_t>>> {
    auto msg = handshake_msg::decode(data, size, handshake_limits());
    if (!msg)
      return refused(fmt::format("unreadable frame: {}", msg.error().message));
    auto root = msg->root();
    using which = schema::transport::Handshake;
    switch (step_) {
    case step::await_hello:
      if (root.which() != which::HELLO)
        return refused("expected a Hello first");
      return on_hello(data, size);
    case step::await_header: {
      if (root.which() != which::STREAM_HEADER)
        return refused("expected the peer's stream header");
      auto header = root.getStreamHeader();
      auto accepted
        = channel_->accept_peer_header(rx_, header.begin(), header.size());
      sodium_memzero(rx_.data(), rx_.size());
      if (!accepted)
        return refused(accepted.error().message);
      step_ = step::await_auth;
      return std::vector<std::vector<uint8_t>>{};
    }
    case step::await_auth: {
      if (root.which() != which::SEALED_AUTH)
        return refused("expected the peer's credentials");
      auto sealed = root.getSealedAuth();
      auto opened = channel_->open(sealed.begin(), sealed.size());
      if (!opened)
        return refused(opened.error().message);
      if (auto ok = check_auth(*opened); !ok)
        return std::move(ok).error();
      step_ = step::established;
      // The client proves itself only to a server that proved itself.
      return opts_.role == side::client ? begin_stream()
                                        : std::vector<std::vector<uint8_t>>{};
    }
    case step::start:
      return refused("start() was not called");
    case step::established:
      return refused("the session is already established");
    case step::failed:
      return refused("the handshake already failed");
    }
    return refused("unknown state");
  }();
  if (!outcome)
    step_ = step::failed;
  return outcome;
}

result<std::vector<std::vector<uint8_t>>>
handshake::on_hello(const uint8_t* frame, size_t size) {
  auto msg = handshake_msg::decode(frame, size, handshake_limits());
  auto hello = msg->root().getHello();
  if (hello.getProtocolVersion() != transport_version)
    return refused(fmt::format("the peer speaks transport version {}; this "
                               "node speaks {}",
                               hello.getProtocolVersion(), transport_version));
  auto peer_kx = hello.getKxPublicKey();
  if (peer_kx.size() != crypto_kx_PUBLICKEYBYTES
      || hello.getNonce().size() != 32)
    return refused("the peer's Hello has keys of the wrong size");
  if (opts_.role == side::server && hello.getJoin()) {
    if (!opts_.accept_join)
      return refused("the peer wants to join, but this node is not a "
                     "manager and accepts no joins");
    peer_wants_join_ = true;
  }
  peer_hello_.assign(frame, frame + size);
  int derived;
  if (opts_.role == side::server)
    derived
      = crypto_kx_server_session_keys(rx_.data(), tx_.data(), kx_public_.data(),
                                      kx_secret_.data(), peer_kx.begin());
  else
    derived
      = crypto_kx_client_session_keys(rx_.data(), tx_.data(), kx_public_.data(),
                                      kx_secret_.data(), peer_kx.begin());
  // The ephemeral secret has done its work: forget it now.
  sodium_memzero(kx_secret_.data(), kx_secret_.size());
  if (derived != 0)
    return refused("the peer's key exchange key is unusable");
  std::vector<std::vector<uint8_t>> out;
  if (opts_.role == side::server) {
    own_hello_ = make_hello();
    out.push_back(own_hello_);
  }
  // The channel takes over the sending stream: the raw key is done.
  sealed_channel::header header{};
  channel_.emplace(tx_, header);
  capnp::MallocMessageBuilder header_builder;
  header_builder.initRoot<schema::transport::Handshake>().setStreamHeader(
    kj::arrayPtr(header.data(), header.size()));
  own_header_ = encode(header_builder);
  if (opts_.role == side::server)
    for (auto& f : begin_stream())
      out.push_back(std::move(f));
  sodium_memzero(tx_.data(), tx_.size());
  step_ = step::await_header;
  return out;
}

std::vector<std::vector<uint8_t>> handshake::begin_stream() {
  auto digest = transcript_digest();
  auto transcript = signed_transcript(opts_.role, digest);
  std::array<uint8_t, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, transcript.data(),
                       transcript.size(), opts_.identity->secret_part.data());
  capnp::MallocMessageBuilder auth_builder;
  auto auth = auth_builder.initRoot<schema::transport::Auth>();
  auth.setSignature(kj::arrayPtr(sig.data(), sig.size()));
  if (opts_.role == side::client && opts_.join) {
    auto claim = auth.initJoinClaim();
    claim.setNodeId(opts_.node_id);
    const auto& key = opts_.identity->public_part;
    claim.setNodePublicKey(kj::arrayPtr(key.data(), key.size()));
    auto proof
      = ca::prove_token(*opts_.join, digest.data(), digest.size(), key);
    claim.setTokenProof(kj::arrayPtr(proof.data(), proof.size()));
  } else {
    auth.setCertificate(
      kj::arrayPtr(opts_.certificate.data(), opts_.certificate.size()));
  }
  if (peer_wants_join_)
    auth.setCaPublicKey(
      kj::arrayPtr(opts_.policy.ca_key.data(), opts_.policy.ca_key.size()));
  auto auth_bytes = auth_msg::from(auth_builder).encode();
  auto sealed = channel_->seal(auth_bytes.data(), auth_bytes.size());

  capnp::MallocMessageBuilder sealed_builder;
  sealed_builder.initRoot<schema::transport::Handshake>().setSealedAuth(
    kj::arrayPtr(sealed.data(), sealed.size()));
  return {own_header_, encode(sealed_builder)};
}

result<void> handshake::check_auth(const std::vector<uint8_t>& auth_bytes) {
  auto auth = auth_msg::decode(auth_bytes.data(), auth_bytes.size(),
                               handshake_limits());
  if (!auth)
    return refused(
      fmt::format("unreadable credentials: {}", auth.error().message));
  auto root = auth->root();
  auto digest = transcript_digest();
  auto peer_side = opts_.role == side::client ? side::server : side::client;
  auto transcript = signed_transcript(peer_side, digest);
  auto sig = root.getSignature();
  auto signed_by = [&](const ca::public_key& key) {
    return sig.size() == crypto_sign_BYTES
           && crypto_sign_verify_detached(sig.begin(), transcript.data(),
                                          transcript.size(), key.data())
                == 0;
  };

  if (peer_wants_join_) {
    if (!root.hasJoinClaim())
      return refused("the peer asked to join but sent no join claim");
    auto claim = root.getJoinClaim();
    join_claim judged;
    auto id = claim.getNodeId();
    judged.node_id.assign(id.begin(), id.size());
    if (!valid_node_id(judged.node_id))
      return refused("the joining node's id is empty, longer than 64 "
                     "characters, or not made of [0-9a-z-]");
    auto key = claim.getNodePublicKey();
    auto proof = claim.getTokenProof();
    if (key.size() != judged.node_key.size()
        || proof.size() != judged.proof.size())
      return refused("the join claim has keys of the wrong size");
    std::memcpy(judged.node_key.data(), key.begin(), key.size());
    std::memcpy(judged.proof.data(), proof.begin(), proof.size());
    judged.challenge = digest;
    if (!signed_by(judged.node_key))
      return refused(fmt::format("joining node {} did not prove it holds "
                                 "the key it names",
                                 judged.node_id));
    auto role = opts_.accept_join(judged);
    if (!role)
      return refused(role.error().message);
    peer_ = ca::certificate_fields{};
    peer_.node_id = judged.node_id;
    peer_.role = *role;
    peer_.node_key = judged.node_key;
    peer_joining_ = true;
    return {};
  }

  if (opts_.role == side::client && opts_.join) {
    // Pin the CA: the key the server presents must have the token's digest.
    auto ca_key = root.getCaPublicKey();
    if (ca_key.size() != opts_.policy.ca_key.size())
      return refused("the server sent no usable CA key to a joining node");
    ca::public_key presented{};
    std::memcpy(presented.data(), ca_key.begin(), ca_key.size());
    if (ca::key_id_of(presented) != opts_.join->ca_digest)
      return refused("the server's CA does not match the digest in the join "
                     "token: wrong swarm, or someone in between");
    opts_.policy.ca_key = presented;
    opts_.policy.require_manager = true;
  }

  auto cert = root.getCertificate();
  auto fields = ca::verify_certificate(cert.begin(), cert.size(), opts_.policy);
  if (!fields)
    return refused(fields.error().message);
  if (opts_.expected_peer && fields->node_id != *opts_.expected_peer)
    return refused(fmt::format("dialed node {} but reached node {}",
                               *opts_.expected_peer, fields->node_id));
  if (!signed_by(fields->node_key))
    return refused(fmt::format("node {} did not prove it holds the key its "
                               "certificate names",
                               fields->node_id));
  peer_ = std::move(*fields);
  return {};
}

sealed_channel handshake::take_channel() {
  if (!established() || !channel_)
    throw std::logic_error("take_channel before the session is established");
  sealed_channel out = std::move(*channel_);
  channel_.reset();
  return out;
}

} // namespace skep::transport
