#include "actors/transport/tcp.hpp"

#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

namespace skep::transport {

using std::chrono::milliseconds;

result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& s) {
  auto bad = [&](const char* why) {
    return fail(
      errc::invalid_argument,
      fmt::format("invalid address '{}': {}; expected HOST:PORT", s, why));
  };
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return bad("no port");
  auto host = s.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']')
      return bad("unbalanced brackets");
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty())
    return bad("no host");
  auto port_text = s.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5
      || port_text.find_first_not_of("0123456789") != std::string::npos)
    return bad("the port is not a number");
  auto port = std::stoul(port_text);
  if (port == 0 || port > 65535)
    return bad("the port is outside 1-65535");
  return std::make_pair(host, static_cast<uint16_t>(port));
}

void tune_socket(int fd) {
  int one = 1, idle = 5, interval = 2, probes = 3;
  unsigned user_timeout_ms = 15000;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
               sizeof user_timeout_ms);
}

result<int> dial_tcp(const std::string& host, uint16_t port,
                     milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      rc != 0)
    return fail(errc::unavailable,
                fmt::format("cannot resolve {}: {}", host, ::gai_strerror(rc)));
  std::string last = "no address";
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd
      = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 ai->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 0) {
        errno = ETIMEDOUT;
        rc = -1;
      } else if (rc > 0) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        rc = err == 0 ? 0 : -1;
      }
    }
    if (rc == 0) {
      tune_socket(fd);
      ::freeaddrinfo(found);
      return fd;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return fail(errc::unavailable, last);
}

result<std::pair<int, uint16_t>> listen_tcp(const std::string& host,
                                            uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      rc != 0)
    return fail(errc::invalid_argument,
                fmt::format("cannot resolve listen address {}: {}", host,
                            ::gai_strerror(rc)));
  std::string last = "no address";
  for (auto* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd
      = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 ai->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0
        && ::listen(fd, 128) == 0) {
      sockaddr_storage bound{};
      socklen_t len = sizeof bound;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      uint16_t actual
        = bound.ss_family == AF_INET6
            ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
            : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      ::freeaddrinfo(found);
      return std::make_pair(fd, actual);
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return fail(errc::unavailable,
              fmt::format("cannot listen on {}:{}: {}", host, port, last));
}

} // namespace skep::transport
