// Round trips of a small request/response between two nodes over loopback
// TCP, through the transport actors: a caller actor on node A calls an echo
// actor on node B (Ping -> Pong, 16 bytes of payload). Each node is its own
// CAF actor system with its own middleman (network thread) and scheduler,
// as two skepd processes would be; they share this process and its 2 cores.
// Measured sealed and (for comparison) unsealed, one call at a time
// (latency) and with a window of calls in flight (throughput).
//
//   bench_transport_actor [--round-trips N] [--window W]

#include "actors/ca/authority.hpp"
#include "actors/logging/log.hpp"
#include "actors/transport/transport_actor.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <fmt/format.h>

namespace {

using namespace skep;
using namespace std::chrono;
using kind = schema::Envelope::Kind;
using clock_type = steady_clock;

struct stats {
  double p50 = 0, p99 = 0, per_second = 0;
};

struct node_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  transport::transport_actor net;
  uint16_t port = 0;

  node_system() {
    register_types(cfg);
    cfg.load<caf::io::middleman>();
    // One worker thread that sleeps on a condition variable: the default
    // work-stealing policy naps 50 us between polls, which doubles latency.
    cfg.set("scheduler.max-threads", 1);
    cfg.set("scheduler.policy", caf::atom("sharing"));
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

// (Actors here always get an argument: CAF 0.17 dereferences a null pointer
// when spawning a function without any.)
caf::behavior echo(caf::event_based_actor*, int /*unused*/) {
  return {[](const transport::inbound& in) -> envelope {
    auto data = in.env.root().getBody().getPing().getPayload();
    std::vector<uint8_t> payload(data.begin(), data.end());
    return make_envelope(kind::REPLY, 0, {}, {}, [&](auto body) {
      body.initPong().setPayload(kj::arrayPtr(payload.data(), payload.size()));
    });
  }};
}

struct driver_state {
  std::vector<double> us;
  int sent = 0;
  int wanted = 0;
  clock_type::time_point began;
  caf::response_promise done;
};

/// Keeps `window` calls in flight until `total` have completed; replies
/// with the latencies (µs) and the wall time (s).
caf::behavior driver(caf::stateful_actor<driver_state>* self,
                     transport::transport_actor net, envelope ping, int total,
                     int window) {
  auto fire = std::make_shared<std::function<void()>>();
  *fire = [=] {
    auto& st = self->state;
    if (st.sent == st.wanted)
      return;
    ++st.sent;
    auto start = clock_type::now();
    self
      ->request(net, caf::infinite, atom::call_v, ping,
                caf::timespan{seconds{5}})
      .then([=](const envelope& reply) {
        auto& st = self->state;
        if (reply.root().getBody().which() != schema::Envelope::Body::PONG) {
          fmt::print(stderr, "a call failed: {}\n",
                     transport::reply_or_failure(reply).error().message);
          std::exit(1);
        }
        st.us.push_back(
          duration<double, std::micro>(clock_type::now() - start).count());
        if (static_cast<int>(st.us.size()) == st.wanted) {
          auto secs = duration<double>(clock_type::now() - st.began).count();
          st.done.deliver(st.us, secs);
          return;
        }
        (*fire)();
      });
  };
  return {[=](atom::call) {
    auto& st = self->state;
    st.wanted = total;
    st.began = clock_type::now();
    st.done = self->make_response_promise();
    for (int i = 0; i < window; ++i)
      (*fire)();
    return st.done;
  }};
}

stats run(bool sealed, int round_trips, int window) {
  auto ca = ca::authority::create();
  auto now = system_clock::now();
  node_system a, b;
  auto make = [&](node_system& n, const std::string& id) {
    transport::transport_config tc;
    tc.node_id = id;
    auto key = std::make_shared<ca::keypair>(ca::keypair::generate());
    tc.certificate
      = *ca.issue(id, ca::node_role::manager, key->public_part, now);
    tc.identity = key;
    tc.ca_key = ca.public_part();
    tc.seal_frames = sealed;
    auto spawned = transport::transport::spawn(*n.sys, tc);
    if (!spawned) {
      fmt::print(stderr, "{}\n", spawned.error().message);
      std::exit(1);
    }
    n.net = *spawned;
    caf::scoped_actor self{*n.sys};
    self->request(n.net, seconds{5}, atom::status_v)
      .receive([&](const transport::transport_status& s) { n.port = s.port; },
               [&](caf::error&) { std::exit(1); });
  };
  make(a, "node-a");
  make(b, "node-b");
  caf::anon_send(b.net, atom::route_v, std::string{"echo"},
                 b.sys->spawn(echo, 0));
  caf::anon_send(a.net, atom::peer_v, std::string{"node-b"},
                 std::string{"127.0.0.1"}, b.port);
  std::vector<uint8_t> payload(16, 0x42);
  auto ping = make_envelope(
    kind::REQUEST, 0, {"", "bench"}, {"node-b", "echo"}, [&](auto body) {
      body.initPing().setPayload(kj::arrayPtr(payload.data(), payload.size()));
    });
  caf::scoped_actor self{*a.sys};
  stats out;
  auto measure = [&](int total, int in_flight) {
    auto d = a.sys->spawn(driver, a.net, ping, total, in_flight);
    self->request(d, caf::infinite, atom::call_v)
      .receive(
        [&](std::vector<double> us, double secs) {
          std::sort(us.begin(), us.end());
          out = {us[us.size() / 2], us[us.size() * 99 / 100],
                 static_cast<double>(us.size()) / secs};
        },
        [&](caf::error& err) {
          fmt::print(stderr, "{}\n", caf::to_string(err));
          std::exit(1);
        });
    self->send_exit(d, caf::exit_reason::user_shutdown);
  };
  measure(std::max(1000, round_trips / 10), 1); // warm-up: session, caches
  stats latency;
  measure(round_trips, 1);
  latency = out;
  measure(round_trips, window);
  latency.per_second = out.per_second; // throughput with the window
  caf::anon_send_exit(a.net, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b.net, caf::exit_reason::user_shutdown);
  return latency;
}

/// The floor set by CAF itself: the same round trip between two actor
/// systems with CAF's own remote actors (BASP, unencrypted), no Skep code.
stats run_caf_remote(int round_trips) {
  node_system a, b;
  auto echo_actor = b.sys->spawn(
    [](int /*unused*/) -> caf::behavior {
      return {[](const std::string& payload) { return payload; }};
    },
    0);
  auto port = b.sys->middleman().publish(echo_actor, 0, "127.0.0.1");
  if (!port) {
    fmt::print(stderr, "publish failed\n");
    std::exit(1);
  }
  auto remote = a.sys->middleman().remote_actor("127.0.0.1", *port);
  if (!remote) {
    fmt::print(stderr, "remote_actor failed\n");
    std::exit(1);
  }
  caf::scoped_actor self{*a.sys};
  stats out;
  auto measure = [&](int total) {
    auto d = a.sys->spawn(
      [=](caf::event_based_actor* drv, int /*unused*/) -> caf::behavior {
        auto us = std::make_shared<std::vector<double>>();
        auto rp = std::make_shared<caf::response_promise>();
        auto began = std::make_shared<clock_type::time_point>();
        auto fire = std::make_shared<std::function<void()>>();
        *fire = [=] {
          auto start = clock_type::now();
          drv->request(*remote, caf::infinite, std::string(16, 'B'))
            .then([=](const std::string&) {
              us->push_back(
                duration<double, std::micro>(clock_type::now() - start)
                  .count());
              if (static_cast<int>(us->size()) == total)
                rp->deliver(
                  *us, duration<double>(clock_type::now() - *began).count());
              else
                (*fire)();
            });
        };
        return {[=](atom::call) {
          *rp = drv->make_response_promise();
          *began = clock_type::now();
          (*fire)();
          return *rp;
        }};
      },
      0);
    self->request(d, caf::infinite, atom::call_v)
      .receive(
        [&](std::vector<double> us, double secs) {
          std::sort(us.begin(), us.end());
          out = {us[us.size() / 2], us[us.size() * 99 / 100],
                 static_cast<double>(us.size()) / secs};
        },
        [&](caf::error&) { std::exit(1); });
    self->send_exit(d, caf::exit_reason::user_shutdown);
  };
  measure(std::max(1000, round_trips / 10));
  measure(round_trips);
  self->send_exit(echo_actor, caf::exit_reason::user_shutdown);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  int round_trips = 20000;
  int window = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--round-trips")
      round_trips = std::max(100, std::atoi(argv[i + 1]));
    else if (flag == "--window")
      window = std::max(1, std::atoi(argv[i + 1]));
    else {
      fmt::print(stderr, "usage: bench_transport_actor [--round-trips N] "
                         "[--window W]\n");
      return 2;
    }
  }
  skep::log::configure(skep::log::level::warn, "");
  fmt::print("transport actors, two nodes on loopback TCP, 16-byte Ping/Pong, "
             "{} round trips\n",
             round_trips);
  auto sealed = run(true, round_trips, window);
  auto plain = run(false, round_trips, window);
  auto row = [&](const char* name, const stats& s) {
    fmt::print("{:<9} p50 {:7.1f} us  p99 {:7.1f} us  {:9.0f} round trips/s "
               "({} in flight)\n",
               name, s.p50, s.p99, s.per_second, window);
  };
  auto basp = run_caf_remote(round_trips);
  row("sealed", sealed);
  row("unsealed", plain);
  fmt::print("{:<9} p50 {:7.1f} us  p99 {:7.1f} us  (CAF remote actors, "
             "unencrypted, no Skep code: the floor of actor-to-actor "
             "round trips)\n",
             "caf-basp", basp.p50, basp.p99);
  fmt::print("sealed/unsealed p50 ratio {:.2f} (target <= 1.5); sealed p50 "
             "target < 50 us\n",
             sealed.p50 / plain.p50);
  return 0;
}
