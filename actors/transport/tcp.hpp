#pragma once

#include "messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

namespace skep::transport {

/// Parses HOST:PORT (IPv6 as [addr]:port, port 1-65535); fails naming what
/// is wrong.
result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& s);

/// Sets what every node-to-node socket needs: TCP_NODELAY (small requests
/// must not wait for delayed ACKs), and keepalives with a user timeout, so
/// a peer that vanishes without closing is noticed within about 15 s.
void tune_socket(int fd);

/// Resolves `host` and connects within `timeout`; returns a connected
/// non-blocking socket, tuned, or why not.
result<int> dial_tcp(const std::string& host, uint16_t port,
                     std::chrono::milliseconds timeout);

/// Binds and listens on host:port (port 0: any free port); returns the
/// non-blocking socket and the bound port.
result<std::pair<int, uint16_t>> listen_tcp(const std::string& host,
                                            uint16_t port);

} // namespace skep::transport
