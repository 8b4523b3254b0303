#include "actors/transport/join.hpp"

#include "actors/transport/session.hpp"
#include "actors/transport/tcp.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

namespace skep::transport {

namespace {

using namespace std::chrono;

// Closes the socket however the join ends.
struct socket_guard {
  int fd;
  ~socket_guard() { ::close(fd); }
};

} // namespace

result<joined> join_swarm(const join_request& req) {
  if (req.identity == nullptr)
    return fail(errc::invalid_argument,
                "joining needs the node's identity key");
  auto deadline = steady_clock::now() + req.timeout;
  auto address = fmt::format("{}:{}", req.host, req.port);
  auto fd = dial_tcp(req.host, req.port, req.timeout);
  if (!fd)
    return fail(errc::unavailable, fmt::format("cannot reach the manager at "
                                               "{}: {}",
                                               address, fd.error().message));
  socket_guard guard{*fd};

  session::options opts;
  opts.max_frame_bytes = 1024 * 1024;
  opts.handshake.role = side::client;
  opts.handshake.identity = req.identity;
  opts.handshake.policy.now = system_clock::now();
  opts.handshake.join = req.token;
  opts.handshake.node_id = req.node_id;
  session link(opts);

  auto send_all = [&](const std::vector<uint8_t>& bytes) -> result<void> {
    size_t off = 0;
    while (off < bytes.size()) {
      auto n
        = ::send(*fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return fail(errc::unavailable, fmt::format("sending to {}: {}", address,
                                                   std::strerror(errno)));
      pollfd p{*fd, POLLOUT, 0};
      auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
      if (left.count() <= 0
          || ::poll(&p, 1, static_cast<int>(left.count())) == 0)
        return fail(errc::timeout, fmt::format("the manager at {} stopped "
                                               "reading",
                                               address));
    }
    return {};
  };

  // Reads until the session produces an envelope (or fails); the handshake
  // replies go out on the way.
  auto next_envelope = [&]() -> result<std::optional<envelope>> {
    uint8_t buf[16 * 1024];
    for (;;) {
      auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
      if (left.count() <= 0)
        return fail(errc::timeout,
                    fmt::format("the manager at {} did not answer within "
                                "{} ms",
                                address, req.timeout.count()));
      pollfd p{*fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      auto n = ::recv(*fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (n <= 0)
        return fail(errc::permission_denied,
                    fmt::format("the manager at {} closed the connection: "
                                "the token was refused, or it is not a "
                                "manager (see its log)",
                                address));
      auto out = link.on_bytes(buf, static_cast<size_t>(n));
      if (!out)
        return std::move(out).error();
      if (auto sent = send_all(out->to_send); !sent)
        return std::move(sent).error();
      if (!out->received.empty()) {
        std::optional<envelope> first = out->received.front();
        return first;
      }
      if (link.established())
        return std::optional<envelope>{};
    }
  };

  if (auto sent = send_all(link.start()); !sent)
    return std::move(sent).error();
  while (!link.established()) {
    auto got = next_envelope();
    if (!got)
      return std::move(got).error();
  }

  auto request = make_envelope(
    schema::Envelope::Kind::REQUEST, 1, actor_ref{req.node_id, "join"},
    actor_ref{link.peer().node_id, "ca"}, [&](auto body) {
      auto cr = body.initCertificateRequest();
      cr.setHostname(req.hostname);
      cr.setAdvertiseAddr(req.advertise_addr);
      cr.setEngineVersion(req.engine_version);
      cr.setNanoCpus(req.nano_cpus);
      cr.setMemoryBytes(req.memory_bytes);
    });
  auto sealed = link.seal(request);
  if (!sealed)
    return std::move(sealed).error();
  if (auto sent = send_all(*sealed); !sent)
    return std::move(sent).error();

  std::optional<envelope> reply;
  while (!reply) {
    auto got = next_envelope();
    if (!got)
      return std::move(got).error();
    reply = std::move(*got);
  }
  auto body = reply->root().getBody();
  if (body.which() == schema::Envelope::Body::ERROR)
    return from_schema(body.getError());
  if (body.which() != schema::Envelope::Body::CERTIFICATE_REPLY
      || reply->root().getCorrelationId() != 1)
    return fail(errc::malformed_message,
                "the manager answered the join with something else than a "
                "certificate");
  auto cert_reply = body.getCertificateReply();
  joined out;
  out.ca_key = link.pinned_ca();
  auto key = cert_reply.getCaPublicKey();
  if (key.size() != out.ca_key.size()
      || std::memcmp(key.begin(), out.ca_key.data(), key.size()) != 0)
    return fail(errc::permission_denied,
                "the manager's CA key differs from the one the token pins");
  auto cert = cert_reply.getCertificate();
  out.certificate.assign(cert.begin(), cert.end());
  ca::certificate_policy policy;
  policy.ca_key = out.ca_key;
  policy.now = system_clock::now();
  auto fields = ca::verify_certificate(out.certificate.data(),
                                       out.certificate.size(), policy);
  if (!fields)
    return fail(errc::permission_denied,
                fmt::format("the certificate the manager issued is not "
                            "valid: {}",
                            fields.error().message));
  if (fields->node_id != req.node_id
      || fields->node_key != req.identity->public_part)
    return fail(errc::permission_denied,
                "the certificate the manager issued names another node or "
                "key");
  out.fields = std::move(*fields);
  out.manager_id = link.peer().node_id;
  out.cluster_id = cert_reply.getClusterId().cStr();
  return out;
}

} // namespace skep::transport
