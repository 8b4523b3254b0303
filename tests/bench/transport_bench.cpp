// Round trips of a small request/response envelope between two endpoints over
// loopback TCP, sealed (the transport session: handshake, secretstream,
// decode limits, authorization) and unsealed (plain frames, the same decode),
// each endpoint on its own thread with blocking sockets. It measures the
// session core's cost on real sockets; the transport actor adds its own
// scheduling on top.
//
//   bench_transport [--round-trips N]

#include "actors/transport/session.hpp"
#include "messages/frame_io.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <capnp/message.h>
#include <fmt/format.h>

namespace {

using namespace skep;
using namespace skep::transport;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct stats {
  double p50 = 0, p99 = 0, per_second = 0;
};

stats summarize(std::vector<double> us, double seconds) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100],
          static_cast<double>(us.size()) / seconds};
}

/// Runs `one_round_trip` `round_trips` times and summarizes the latencies.
template <class F>
stats time_round_trips(int round_trips, F&& one_round_trip) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(round_trips));
  auto t0 = clock_type::now();
  for (int i = 0; i < round_trips; ++i) {
    auto start = clock_type::now();
    one_round_trip();
    us.push_back(
      std::chrono::duration<double, std::micro>(clock_type::now() - start)
        .count());
  }
  auto seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  return summarize(std::move(us), seconds);
}

// A connected loopback pair: {client fd, server fd}.
std::pair<int, int> loopback_pair() {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  ::listen(listener, 1);
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::runtime_error("connect failed");
  int server = ::accept(listener, nullptr, nullptr);
  ::close(listener);
  int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return {client, server};
}

envelope request_from(const std::string& node_id) {
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Request>().setInfo();
  return make_control_request_envelope(1, {node_id, "bench"}, {"", "echo"},
                                       control_request::from(b));
}

// Reads from `fd` into `s` until it produces something: bytes to send,
// envelopes, or the end of the handshake.
session::output pump(int fd, session& s) {
  uint8_t buf[16 * 1024];
  bool was_established = s.established();
  for (;;) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      throw std::runtime_error("peer closed");
    auto out = s.on_bytes(buf, static_cast<size_t>(n));
    if (!out)
      throw std::runtime_error(out.error().message);
    if (!out->received.empty() || !out->to_send.empty()
        || s.established() != was_established)
      return std::move(*out);
  }
}

void send_bytes(int fd, const std::vector<uint8_t>& bytes) {
  if (!bytes.empty() && !write_all(fd, bytes.data(), bytes.size()))
    throw std::runtime_error("write failed");
}

stats run_sealed(int round_trips) {
  auto ca_key = ca::keypair::generate();
  auto now = std::chrono::system_clock::now();
  auto make = [&](const std::string& id, ca::keypair& key) {
    ca::certificate_fields f;
    f.node_id = id;
    f.role = ca::node_role::manager;
    f.node_key = key.public_part;
    f.issued_at = now - 1h;
    f.expires_at = now + 1h;
    return ca::issue_certificate(ca_key, f);
  };
  ca::keypair key_a = ca::keypair::generate();
  ca::keypair key_b = ca::keypair::generate();
  auto opts = [&](side s, ca::keypair& key, std::vector<uint8_t> cert) {
    session::options o;
    o.handshake.role = s;
    o.handshake.identity = &key;
    o.handshake.certificate = std::move(cert);
    o.handshake.policy.ca_key = ca_key.public_part;
    o.handshake.policy.now = now;
    return o;
  };
  session a{opts(side::client, key_a, make("bench-node-a", key_a))};
  session b{opts(side::server, key_b, make("bench-node-b", key_b))};
  auto [fa, fb] = loopback_pair();
  std::thread echo([&, fb = fb] {
    b.start();
    auto reply = request_from("bench-node-b");
    int replied = 0;
    while (replied < round_trips) {
      auto out = pump(fb, b);
      send_bytes(fb, out.to_send);
      for (size_t k = 0; k < out.received.size(); ++k, ++replied)
        send_bytes(fb, *b.seal(reply));
    }
  });
  send_bytes(fa, a.start());
  while (!a.established())
    send_bytes(fa, pump(fa, a).to_send);
  auto request = request_from("bench-node-a");
  auto result = time_round_trips(round_trips, [&, fa = fa] {
    send_bytes(fa, *a.seal(request));
    while (pump(fa, a).received.empty()) {
    }
  });
  echo.join();
  ::close(fa);
  ::close(fb);
  return result;
}

// The same exchange with plain frames: decode with limits, no crypto.
stats run_unsealed(int round_trips) {
  auto [fa, fb] = loopback_pair();
  auto limits = read_limits_for_frames(4 << 20);
  auto roundtrip_read = [&](int fd, frame_reader& reader) {
    auto frame = read_frame(fd, reader, {});
    if (!frame || !*frame)
      throw std::runtime_error("read failed");
    auto env = envelope::decode((*frame)->data(), (*frame)->size(), limits);
    if (!env || !check_envelope(*env))
      throw std::runtime_error("decode failed");
  };
  std::thread echo([&, fb = fb] {
    frame_reader reader{4 << 20};
    auto reply = frame_envelope(request_from("bench-node-b"));
    for (int i = 0; i < round_trips; ++i) {
      roundtrip_read(fb, reader);
      send_bytes(fb, reply);
    }
  });
  frame_reader reader{4 << 20};
  auto request = request_from("bench-node-a");
  auto result = time_round_trips(round_trips, [&, fa = fa] {
    send_bytes(fa, frame_envelope(request));
    roundtrip_read(fa, reader);
  });
  echo.join();
  ::close(fa);
  ::close(fb);
  return result;
}

} // namespace

int main(int argc, char** argv) {
  int round_trips = 20'000;
  if (argc == 3 && std::string{argv[1]} == "--round-trips") {
    round_trips = std::atoi(argv[2]);
  } else if (argc != 1) {
    fmt::print(stderr,
               "usage: bench_transport [--round-trips N (100-10000000)]\n");
    return 2;
  }
  if (round_trips < 100 || round_trips > 10'000'000) {
    fmt::print(stderr,
               "usage: bench_transport [--round-trips N (100-10000000)]\n");
    return 2;
  }
  auto plain = run_unsealed(round_trips);
  auto sealed = run_sealed(round_trips);
  fmt::print("{} round trips of a control envelope over loopback TCP, one "
             "thread per endpoint\n",
             round_trips);
  fmt::print("{:<10} {:>12} {:>10} {:>10}\n", "mode", "round trips/s", "p50 us",
             "p99 us");
  fmt::print("{:<10} {:>12.0f} {:>10.1f} {:>10.1f}\n", "unsealed",
             plain.per_second, plain.p50, plain.p99);
  fmt::print("{:<10} {:>12.0f} {:>10.1f} {:>10.1f}\n", "sealed",
             sealed.per_second, sealed.p50, sealed.p99);
  fmt::print("sealed/unsealed p50: {:.2f}x\n", sealed.p50 / plain.p50);
  return 0;
}
