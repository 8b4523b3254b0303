// skep-test-node: one real node's transport (and, with --ca, its CA) in a
// process of its own, driven line by line on standard input, for the
// multi-process transport tests. Results go to standard error, each on one
// line starting with "@<tag> ", among the node's log lines.
//
//   skep-test-node --dir D --id ID [--listen HOST:PORT]
//                  (--ca | --join HOST:PORT --token T | <certified before>)
//                  [--plaintext] [--expiry SECONDS] [--max-unsent BYTES]
//
// Commands:
//   peer NODE HOST PORT                 dial NODE and keep a session
//   call TAG NODE ACTOR PAYLOAD MS      request; "@TAG ok PAYLOAD from NODE
//                                       in US us" or "@TAG error CODE ..."
//   flood NODE COUNT SIZE               COUNT one-way Pings of SIZE bytes
//   fault NODE DROP DELAY_MS PART       fault injection towards NODE
//   heal
//   status TAG                          "@TAG sessions N ID... dropped N"
//   rotate TAG worker|manager           "@TAG token T"
//   renew TAG NODE                      renew the certificate at NODE's CA
//   revoke NODE
//   propose TAG TEXT                    Raft: "@TAG ok index N" or error
//   raft TAG                            "@TAG role R term T leader NODE ..."
//
// With --raft A,B,C the node runs a Raft member over its transport (SQLite
// in the data dir), bootstrapping members A, B and C when the log is new.
//
// Actors: "echo" answers a Ping with a Pong; "hold" never answers.

#include "actors/ca/ca_actor.hpp"
#include "actors/node/data_dir.hpp"
#include "actors/raft/raft_bridge.hpp"
#include "actors/raft/raft_wire.hpp"
#include "actors/raft/sqlite_storage.hpp"
#include "actors/transport/ca_join_check.hpp"
#include "actors/transport/join.hpp"
#include "actors/transport/transport_actor.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <fmt/format.h>
#include <sodium.h>

namespace {

using namespace skep;
using namespace std::chrono;
using kind = schema::Envelope::Kind;

std::mutex print_mutex;

template <class... Ts>
void say(fmt::format_string<Ts...> f, Ts&&... xs) {
  auto line = fmt::format(f, std::forward<Ts>(xs)...) + "\n";
  std::lock_guard<std::mutex> guard{print_mutex};
  ::write(2, line.data(), line.size());
}

[[noreturn]] void die(const std::string& why) {
  say("@fatal {}", why);
  std::exit(2);
}

std::pair<std::string, uint16_t> host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos)
    die(fmt::format("'{}' is not HOST:PORT", text));
  return {text.substr(0, colon),
          static_cast<uint16_t>(std::stoi(text.substr(colon + 1)))};
}

std::string read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    die(fmt::format("cannot read {}", path));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    out.append(buf, n);
  std::fclose(f);
  return out;
}

void save_certificate(const std::string& dir, const std::vector<uint8_t>& cert,
                      const ca::public_key& ca_key) {
  auto ok = skep::write_file_atomically(
    dir + "/node.crt", std::string(cert.begin(), cert.end()), 0600);
  auto ok2 = skep::write_file_atomically(
    dir + "/ca.pub", ca::hex(ca_key.data(), ca_key.size()), 0600);
  if (!ok || !ok2)
    die("cannot store the certificate");
}

std::string error_text(const failure& why) {
  return fmt::format("{} {}", static_cast<int>(why.code), why.message);
}

/// The node's "ca" route: a certificate request handed to the CA actor, as
/// a manager does once it has recorded a joining node (this node records
/// nothing).
caf::behavior ca_front(caf::event_based_actor* self, caf::actor signer) {
  return {
    [=](const transport::inbound& in) -> caf::result<envelope> {
      auto body = in.env.root().getBody();
      if (body.which() != schema::Envelope::Body::CERTIFICATE_REQUEST)
        return make_envelope(
          kind::REPLY, 0, actor_ref{}, actor_ref{}, [&](auto b) {
            to_schema(failure{errc::unsupported,
                              "the CA only answers certificate requests"},
                      b.initError());
          });
      auto hostname = body.getCertificateRequest().getHostname();
      ca::certificate_request req;
      req.node_id = in.from.node_id;
      req.role = in.from.role;
      req.node_key = in.from.node_key;
      req.joining = in.from.joining;
      req.hostname = std::string(hostname.begin(), hostname.size());
      auto rp = self->make_response_promise<envelope>();
      self->request(signer, caf::infinite, atom::issue_v, std::move(req))
        .then([=](envelope& reply) mutable { rp.deliver(std::move(reply)); });
      return rp;
    },
  };
}

caf::behavior echo(caf::event_based_actor*, std::string node_id) {
  return {[=](const transport::inbound& in) -> envelope {
    auto ping = in.env.root().getBody();
    std::string payload;
    if (ping.which() == schema::Envelope::Body::PING) {
      auto data = ping.getPing().getPayload();
      payload.assign(data.begin(), data.end());
    }
    return make_envelope(kind::REPLY, 0, {}, {}, [&](auto body) {
      auto pong = body.initPong();
      pong.setPayload(kj::arrayPtr(
        reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
      pong.setNode(node_id);
    });
  }};
}

// The state machine of the test: counts what it is handed.
raft::apply_sink::behavior_type counting_sink(raft::apply_sink::pointer,
                                              std::string /*node*/) {
  return {
    [](atom::apply, const std::vector<raft::entry>&) {},
    [](atom::restore, const raft::snapshot&) {},
    [](atom::status, const raft::status&) {},
  };
}

// (Actors here always get an argument: CAF 0.17 dereferences a null pointer
// when spawning a function without any.)
caf::behavior hold(caf::event_based_actor* self, std::string /*node*/) {
  return {[=](const transport::inbound&) {
    // Never answers: the caller waits until its timeout or a lost session.
    return self->make_response_promise();
  }};
}

} // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt;
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (key == "--ca" || key == "--plaintext")
      opt[key] = "1";
    else if (i + 1 < argc)
      opt[key] = argv[++i];
    else
      die(fmt::format("{} needs a value", key));
  }
  if (!opt.count("--dir") || !opt.count("--id"))
    die("--dir and --id are required");
  if (sodium_init() < 0)
    die("libsodium failed");
  auto dir = opt["--dir"];
  auto id = opt["--id"];
  if (auto prepared = node::prepare_data_dir(dir); !prepared)
    die(prepared.error().message);

  auto key_path = dir + "/node.key";
  auto loaded = ca::load_keypair(key_path);
  if (!loaded) {
    auto fresh = ca::keypair::generate();
    if (auto saved = ca::save_keypair(fresh, key_path); !saved)
      die(saved.error().message);
    loaded = ca::load_keypair(key_path);
  }
  auto identity = std::make_shared<const ca::keypair>(*loaded);

  std::vector<uint8_t> certificate;
  ca::public_key ca_key{};
  std::shared_ptr<ca::shared_authority> authority;
  if (opt.count("--ca")) {
    auto ca_dir = dir + "/ca";
    auto existing = ca::authority::load(ca_dir);
    auto created
      = existing ? std::move(*existing)
                 : ca::authority::create(seconds{opt.count("--expiry")
                                                   ? std::stoll(opt["--expiry"])
                                                   : 90LL * 24 * 3600});
    authority
      = std::make_shared<ca::shared_authority>(std::move(created), ca_dir);
    if (auto saved = authority->save(); !saved)
      die(saved.error().message);
    auto issued = authority->with([&](ca::authority& a) {
      ca_key = a.public_part();
      say("@token worker {}", a.token(ca::node_role::worker).to_string());
      say("@token manager {}", a.token(ca::node_role::manager).to_string());
      return a.issue(id, ca::node_role::manager, identity->public_part,
                     system_clock::now());
    });
    if (!issued)
      die(issued.error().message);
    certificate = *issued;
    // Kept like a joined node's, so a restart without --ca finds it.
    save_certificate(dir, certificate, ca_key);
  } else if (opt.count("--join")) {
    auto token = ca::parse_join_token(opt["--token"]);
    if (!token) {
      say("@join-failed {}", token.error().message);
      return 3;
    }
    auto [host, port] = host_port(opt["--join"]);
    transport::join_request req;
    req.host = host;
    req.port = port;
    req.token = *token;
    req.identity = identity.get();
    req.node_id = id;
    req.hostname = "test-" + id;
    auto joined = transport::join_swarm(req);
    if (!joined) {
      say("@join-failed {}", joined.error().message);
      return 3;
    }
    save_certificate(dir, joined->certificate, joined->ca_key);
    say("@joined {}", ca::to_string(joined->fields.role));
    certificate = joined->certificate;
    ca_key = joined->ca_key;
  } else {
    auto cert = read_file(dir + "/node.crt");
    certificate.assign(cert.begin(), cert.end());
    auto hex = read_file(dir + "/ca.pub");
    size_t len = 0;
    if (sodium_hex2bin(ca_key.data(), ca_key.size(), hex.data(), hex.size(),
                       nullptr, &len, nullptr)
          != 0
        || len != ca_key.size())
      die("ca.pub is damaged");
  }

  caf::actor_system_config cfg;
  register_types(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};

  transport::transport_config tc;
  tc.node_id = id;
  auto [lhost, lport]
    = host_port(opt.count("--listen") ? opt["--listen"] : "127.0.0.1:0");
  tc.listen_host = lhost;
  tc.listen_port = lport;
  tc.identity = identity;
  tc.certificate = certificate;
  tc.ca_key = ca_key;
  tc.max_frame_bytes = 256 * 1024;
  tc.handshake_timeout = milliseconds{2000};
  tc.reconnect_max = milliseconds{500};
  tc.seal_frames = !opt.count("--plaintext");
  if (opt.count("--max-unsent"))
    tc.max_unsent_bytes = std::stoull(opt["--max-unsent"]);
  if (authority)
    tc.accept_join = transport::make_join_check(authority);
  auto spawned = transport::transport::spawn(sys, tc);
  if (!spawned)
    die(spawned.error().message);
  auto net = *spawned;
  caf::scoped_actor self{sys};
  caf::actor ca_actor;
  caf::actor ca_route;
  if (authority) {
    ca_actor = ca::spawn_ca_actor(sys, authority);
    ca_route = sys.spawn(ca_front, ca_actor);
    self->send(net, atom::route_v, std::string{"ca"}, ca_route);
  }
  auto echo_actor = sys.spawn(echo, id);
  auto hold_actor = sys.spawn(hold, id);
  self->send(net, atom::route_v, std::string{"echo"}, echo_actor);
  self->send(net, atom::route_v, std::string{"hold"}, hold_actor);
  self->request(net, seconds{10}, atom::status_v)
    .receive(
      [&](const transport::transport_status& st) {
        say("@listening {}", st.port);
      },
      [&](caf::error& err) { die(caf::to_string(err)); });

  auto call = [&](std::string tag, envelope env, milliseconds timeout,
                  std::function<void(const envelope&, int64_t)> on_reply) {
    auto started = steady_clock::now();
    sys.spawn(
      [=](caf::event_based_actor* caller, envelope request) {
        caller
          ->request(net, caf::infinite, atom::call_v, request,
                    caf::timespan{timeout})
          .then([=](const envelope& reply) {
            auto us = duration_cast<microseconds>(steady_clock::now() - started)
                        .count();
            auto got = transport::reply_or_failure(reply);
            if (!got)
              say("@{} error {} in {} us", tag, error_text(got.error()), us);
            else
              on_reply(*got, us);
          });
      },
      env);
  };

  // Raft over the transport, when asked for.
  caf::actor bridge;
  raft::raft_actor member;
  std::map<raft::node_id, std::string> member_names;
  if (opt.count("--raft")) {
    auto storage = raft::sqlite_storage::open(dir + "/raft.db");
    if (!storage)
      die(storage.error().message);
    std::vector<std::string> names;
    std::stringstream list{opt["--raft"]};
    for (std::string name; std::getline(list, name, ',');)
      names.push_back(name);
    raft::configuration founders;
    for (auto& name : names) {
      founders.voters.push_back(raft::member_id_of(name));
      member_names[raft::member_id_of(name)] = name;
    }
    std::sort(founders.voters.begin(), founders.voters.end());
    if ((*storage)->last_index() == 0
        && (*storage)->snapshot_metadata().index == 0
        && (*storage)->snapshot_metadata().config.voters.empty())
      raft::bootstrap(**storage, founders);
    bridge = raft::spawn_raft_bridge(sys, net, id);
    for (auto& name : names)
      self->send(bridge, atom::peer_v, name);
    raft::raft_actor_config rc;
    rc.core.id = raft::member_id_of(id);
    rc.core.seed = rc.core.id;
    member = raft::spawn_raft(sys, rc, std::move(*storage),
                              caf::actor_cast<raft::raft_outbox>(bridge),
                              sys.spawn(counting_sink, id));
    self->send(bridge, atom::apply_v, caf::actor_cast<caf::actor>(member));
    self->send(net, atom::route_v, std::string{"raft"}, bridge);
  }

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in{line};
    std::string cmd;
    in >> cmd;
    if (cmd == "peer") {
      std::string node, host;
      uint16_t port = 0;
      in >> node >> host >> port;
      self->send(net, atom::peer_v, node, host, port);
      if (bridge)
        self->send(bridge, atom::peer_v, node);
    } else if (cmd == "call") {
      std::string tag, node, target, payload;
      long ms = 0;
      in >> tag >> node >> target >> payload >> ms;
      auto env = make_envelope(
        kind::REQUEST, 0, {"", "tester"}, {node, target}, [&](auto body) {
          body.initPing().setPayload(kj::arrayPtr(
            reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
        });
      call(tag, env, milliseconds{ms},
           [tag](const envelope& reply, int64_t us) {
             auto body = reply.root().getBody();
             if (body.which() != schema::Envelope::Body::PONG) {
               say("@{} error unexpected reply in {} us", tag, us);
               return;
             }
             auto data = body.getPong().getPayload();
             say("@{} ok {} from {} in {} us", tag,
                 std::string(data.begin(), data.end()),
                 body.getPong().getNode().cStr(), us);
           });
    } else if (cmd == "flood") {
      std::string node;
      int count = 0;
      size_t size = 0;
      in >> node >> count >> size;
      std::vector<uint8_t> payload(size, 0x46);
      auto env = make_envelope(
        kind::ONE_WAY, 0, {"", "tester"}, {node, "echo"}, [&](auto body) {
          body.initPing().setPayload(
            kj::arrayPtr(payload.data(), payload.size()));
        });
      for (int i = 0; i < count; ++i)
        self->send(net, atom::send_v, env);
    } else if (cmd == "fault") {
      std::string node;
      double drop = 0;
      long delay = 0;
      int part = 0;
      in >> node >> drop >> delay >> part;
      self->send(net, atom::fault_v, node, drop,
                 caf::timespan{milliseconds{delay}}, part != 0);
    } else if (cmd == "heal") {
      self->send(net, atom::heal_v);
    } else if (cmd == "status") {
      std::string tag;
      in >> tag;
      self->request(net, seconds{10}, atom::status_v)
        .receive(
          [&](const transport::transport_status& st) {
            std::string ids;
            for (auto& s : st.sessions)
              ids += " " + s.node_id;
            say("@{} sessions {}{} dropped {} pending {}", tag,
                st.sessions.size(), ids, st.dropped_connections,
                st.pending_calls);
          },
          [&](caf::error& err) {
            say("@{} error {}", tag, caf::to_string(err));
          });
    } else if (cmd == "rotate") {
      std::string tag, role;
      in >> tag >> role;
      if (!authority) {
        say("@{} error this node holds no CA", tag);
        continue;
      }
      if (role != "worker" && role != "manager") {
        say("@{} error cannot rotate the token for role '{}': use worker or "
            "manager",
            tag, role);
        continue;
      }
      auto r
        = role == "manager" ? ca::node_role::manager : ca::node_role::worker;
      std::string token;
      auto saved = authority->change_and_save(
        [&](ca::authority& a) { token = a.rotate(r).to_string(); });
      if (saved)
        say("@{} token {}", tag, token);
      else
        say("@{} error {}", tag, saved.error().message);
    } else if (cmd == "renew") {
      std::string tag, node;
      in >> tag >> node;
      auto env = make_envelope(
        kind::REQUEST, 0, {"", "renewer"}, {node, "ca"}, [&](auto body) {
          body.initCertificateRequest().setHostname("test-" + id);
        });
      call(tag, env, milliseconds{5000},
           [tag, ca_key, id, net](const envelope& reply, int64_t) {
             auto body = reply.root().getBody();
             if (body.which() != schema::Envelope::Body::CERTIFICATE_REPLY) {
               say("@{} error unexpected reply", tag);
               return;
             }
             auto cert = body.getCertificateReply().getCertificate();
             std::vector<uint8_t> bytes(cert.begin(), cert.end());
             ca::certificate_policy policy;
             policy.ca_key = ca_key;
             policy.now = system_clock::now();
             auto fields
               = ca::verify_certificate(bytes.data(), bytes.size(), policy);
             if (!fields || fields->node_id != id) {
               say("@{} error the renewed certificate is not valid", tag);
               return;
             }
             caf::anon_send(net, atom::certify_v, bytes);
             say("@{} renewed serial {} expires {}", tag, fields->serial,
                 duration_cast<seconds>(fields->expires_at.time_since_epoch())
                   .count());
           });
    } else if (cmd == "propose" && member) {
      std::string tag, text;
      in >> tag >> text;
      auto started = steady_clock::now();
      self
        ->request(member, seconds{10}, atom::propose_v,
                  raft::bytes(text.begin(), text.end()))
        .receive(
          [&](const raft::outcome& out) {
            auto us = duration_cast<microseconds>(steady_clock::now() - started)
                        .count();
            if (out.ok)
              say("@{} ok index {} in {} us", tag, out.index, us);
            else
              say("@{} error {} in {} us", tag, out.why.message, us);
          },
          [&](caf::error& err) {
            say("@{} error {}", tag, caf::to_string(err));
          });
    } else if (cmd == "raft" && member) {
      std::string tag;
      in >> tag;
      self->request(member, seconds{10}, atom::status_v)
        .receive(
          [&](const raft::status& st) {
            auto leader = member_names.count(st.leader)
                            ? member_names[st.leader]
                            : std::string{"none"};
            say("@{} role {} term {} leader {} commit {}", tag,
                raft::to_string(st.role), st.term, leader, st.commit);
          },
          [&](caf::error& err) {
            say("@{} error {}", tag, caf::to_string(err));
          });
    } else if (cmd == "revoke") {
      std::string node;
      in >> node;
      self->send(net, atom::revoke_v, node);
      if (ca_actor)
        self->send(ca_actor, atom::revoke_v, node);
    } else if (!cmd.empty()) {
      say("@error unknown command {}", cmd);
    }
  }
  if (member) {
    self->send_exit(member, caf::exit_reason::user_shutdown);
    self->send_exit(bridge, caf::exit_reason::user_shutdown);
  }
  self->send_exit(net, caf::exit_reason::user_shutdown);
  self->send_exit(echo_actor, caf::exit_reason::user_shutdown);
  self->send_exit(hold_actor, caf::exit_reason::user_shutdown);
  if (ca_actor) {
    self->send_exit(ca_route, caf::exit_reason::user_shutdown);
    self->send_exit(ca_actor, caf::exit_reason::user_shutdown);
  }
  return 0;
}
