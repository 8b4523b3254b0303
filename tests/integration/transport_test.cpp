// The transport and CA actors between real processes on loopback: joining
// with tokens, calls across two and three nodes, lost and returning peers,
// misbehaving raw clients, the bytes on the wire, and fault injection.

#include "tests/support/process.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

namespace skep::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

int listen_loopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
      || ::listen(fd, 8) != 0)
    throw std::runtime_error("cannot listen on loopback");
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// A TCP relay on loopback that records every byte it carries, both ways:
/// the packet capture of these tests.
class recording_proxy {
 public:
  explicit recording_proxy(uint16_t target) : target_(target) {
    listen_fd_ = listen_loopback(port_);
    if (::pipe2(stop_, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    thread_ = std::thread([this] { run(); });
  }

  ~recording_proxy() {
    ::write(stop_[1], "x", 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_[0]);
    ::close(stop_[1]);
  }

  uint16_t port() const { return port_; }

  /// What the dialing node sent, and what it received.
  std::string sent() {
    std::lock_guard<std::mutex> guard{mutex_};
    return to_target_;
  }
  std::string received() {
    std::lock_guard<std::mutex> guard{mutex_};
    return from_target_;
  }

 private:
  void run() {
    pollfd accept_fds[2] = {{listen_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    if (::poll(accept_fds, 2, -1) <= 0 || accept_fds[1].revents != 0)
      return;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    int server = connect_loopback(target_);
    if (client < 0 || server < 0)
      return;
    char buf[65536];
    for (;;) {
      pollfd fds[3]
        = {{client, POLLIN, 0}, {server, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (::poll(fds, 3, -1) <= 0 || fds[2].revents != 0)
        break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (fds[i].revents == 0)
          continue;
        auto n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          done = true;
          break;
        }
        {
          std::lock_guard<std::mutex> guard{mutex_};
          (i == 0 ? to_target_ : from_target_).append(buf, n);
        }
        ::write(i == 0 ? server : client, buf, static_cast<size_t>(n));
      }
      if (done)
        break;
    }
    ::close(client);
    ::close(server);
  }

  uint16_t target_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mutex_;
  std::string to_target_;
  std::string from_target_;
};

/// Waits until the peer closes `fd` (true) or `timeout` passes.
bool closed_by_peer(int fd, std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  char buf[4096];
  while (clock_type::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)))
        <= 0)
      continue;
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0)
      return true;
  }
  return false;
}

/// One skep-test-node process.
struct node {
  std::string id;
  std::string dir;
  uint16_t port = 0;
  std::unique_ptr<child_process> proc;
  int next_tag = 0;

  /// Sends `cmd` with a fresh tag after its first word and returns the
  /// result line (empty on timeout).
  std::string ask(const std::string& cmd,
                  std::chrono::milliseconds timeout = 20s) {
    auto space = cmd.find(' ');
    auto tag = "t" + std::to_string(++next_tag);
    auto verb = cmd.substr(0, space);
    auto rest = space == std::string::npos ? "" : cmd.substr(space);
    proc->write_line(verb + " " + tag + rest);
    return proc->line_with("@" + tag + " ", timeout);
  }

  void tell(const std::string& cmd) { proc->write_line(cmd); }

  /// Waits until a session with `other` is up (status polled; no sleeps).
  bool wait_session(const std::string& other,
                    std::chrono::milliseconds timeout = 10s) {
    auto deadline = clock_type::now() + timeout;
    while (clock_type::now() < deadline) {
      auto line = ask("status");
      if (line.find(" " + other + " ") != std::string::npos
          || line.find(" " + other + "\n") != std::string::npos)
        return true;
      std::this_thread::sleep_for(20ms); // the polling interval
    }
    return false;
  }
};

/// The microseconds a result line reports ("... in N us").
int64_t elapsed_us(const std::string& line) {
  auto at = line.rfind(" in ");
  return at == std::string::npos ? -1 : std::stoll(line.substr(at + 4));
}

class TransportNet : public ::testing::Test {
 protected:
  /// Starts a node with `args` and waits for it to listen.
  node start(const std::string& id, std::vector<std::string> args,
             const std::string& dir_name = "") {
    node n;
    n.id = id;
    n.dir = tmp.path() + "/" + (dir_name.empty() ? id : dir_name);
    std::vector<std::string> argv{TEST_NODE_PATH, "--dir", n.dir, "--id", id};
    argv.insert(argv.end(), args.begin(), args.end());
    n.proc = std::make_unique<child_process>(argv, true);
    auto line = n.proc->line_with("@listening ", 20s);
    if (!line.empty())
      n.port = static_cast<uint16_t>(std::stoi(line.substr(11)));
    return n;
  }

  /// Starts the manager holding the CA and reads its join tokens.
  node start_manager(const std::string& id,
                     std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), "--ca");
    auto m = start(id, extra);
    auto worker = m.proc->line_with("@token worker ");
    auto manager = m.proc->line_with("@token manager ");
    worker_token = worker.substr(worker.rfind(' ') + 1);
    manager_token = manager.substr(manager.rfind(' ') + 1);
    return m;
  }

  node join(const std::string& id, const node& via, const std::string& token,
            std::vector<std::string> extra = {}) {
    std::vector<std::string> args{
      "--join", "127.0.0.1:" + std::to_string(via.port), "--token", token};
    args.insert(args.end(), extra.begin(), extra.end());
    return start(id, args);
  }

  /// A node restarted on its data dir (and port, when given).
  node restart(const std::string& id, uint16_t port,
               std::vector<std::string> extra = {}) {
    extra.push_back("--listen");
    extra.push_back("127.0.0.1:" + std::to_string(port));
    return start(id, extra);
  }

  void peer(node& from, const node& to, uint16_t port = 0) {
    from.tell("peer " + to.id + " 127.0.0.1 "
              + std::to_string(port != 0 ? port : to.port));
  }

  temp_dir tmp;
  std::string worker_token;
  std::string manager_token;
};

TEST_F(TransportNet, WorkerJoinsWithTokenAndBothSidesCall) {
  auto m = start_manager("m1");
  ASSERT_NE(m.port, 0) << m.proc->output();
  auto w = join("w1", m, worker_token);
  ASSERT_NE(w.proc->line_with("@joined "), "") << w.proc->output();
  EXPECT_NE(w.proc->output().find("@joined worker"), std::string::npos);

  // The certificate and key are stored privately.
  struct stat st {};
  ASSERT_EQ(::stat((w.dir + "/node.crt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((w.dir + "/node.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  peer(w, m);
  auto out = w.ask("call m1 echo hello-m1 5000");
  EXPECT_NE(out.find("ok hello-m1 from m1"), std::string::npos) << out;
  // The manager reaches the worker over the session the worker opened.
  out = m.ask("call w1 echo hello-w1 5000");
  EXPECT_NE(out.find("ok hello-w1 from w1"), std::string::npos) << out;
  // An actor that does not exist is named in the error.
  out = w.ask("call m1 nobody x 5000");
  EXPECT_NE(out.find("error 2 no actor named 'nobody' on node m1"),
            std::string::npos)
    << out;
}

TEST_F(TransportNet, ThreeNodesCallEachOther) {
  auto m = start_manager("m1");
  auto w = join("w1", m, worker_token);
  auto m2 = join("m2", m, manager_token);
  ASSERT_NE(w.proc->line_with("@joined worker"), "") << w.proc->output();
  ASSERT_NE(m2.proc->line_with("@joined manager"), "") << m2.proc->output();
  peer(w, m);
  peer(w, m2);
  peer(m2, m);
  ASSERT_TRUE(w.wait_session("m1"));
  ASSERT_TRUE(w.wait_session("m2"));
  ASSERT_TRUE(m2.wait_session("m1"));
  std::vector<std::pair<node*, std::string>> pairs{
    {&w, "m1"}, {&w, "m2"}, {&m2, "m1"}, {&m2, "w1"}, {&m, "w1"}, {&m, "m2"}};
  for (auto& [from, to] : pairs) {
    auto out = from->ask("call " + to + " echo from-" + from->id + " 5000");
    EXPECT_NE(out.find("ok from-" + from->id + " from " + to),
              std::string::npos)
      << from->id << " -> " << to << ": " << out;
  }
}

TEST_F(TransportNet, KilledPeerFailsPendingCallsPromptlyAndComesBack) {
  auto m = start_manager("m1");
  auto w = join("w1", m, worker_token);
  ASSERT_NE(w.proc->line_with("@joined"), "");
  peer(w, m);
  ASSERT_TRUE(w.wait_session("m1"));

  // A call the manager never answers, with a 10 s timeout...
  w.tell("call pending m1 hold x 10000");
  auto deadline = clock_type::now() + 10s;
  while (w.ask("status").find("pending 1") == std::string::npos
         && clock_type::now() < deadline)
    std::this_thread::sleep_for(20ms); // the polling interval
  // ...fails as soon as the manager dies, long before the timeout.
  auto port = m.port;
  m.proc->signal(SIGKILL);
  m.proc->wait_exit();
  auto out = w.proc->line_with("@pending ", 10s);
  EXPECT_NE(out.find("error 5 the session with node m1 was lost"),
            std::string::npos)
    << out;
  EXPECT_GT(elapsed_us(out), 0);
  EXPECT_LT(elapsed_us(out), 10'000'000);

  // While it is down, calls fail at once instead of waiting.
  out = w.ask("call m1 echo x 10000");
  EXPECT_NE(out.find("error 5"), std::string::npos) << out;
  EXPECT_LT(elapsed_us(out), 5'000'000) << out;

  // It returns on the same data dir and port; the session comes back.
  auto back = restart("m1", port, {"--ca"});
  ASSERT_EQ(back.port, port) << back.proc->output();
  ASSERT_TRUE(w.wait_session("m1", 15s)) << w.proc->output();
  out = w.ask("call m1 echo again 5000");
  EXPECT_NE(out.find("ok again from m1"), std::string::npos) << out;
}

TEST_F(TransportNet, CallTimesOut) {
  auto m = start_manager("m1");
  auto w = join("w1", m, worker_token);
  ASSERT_NE(w.proc->line_with("@joined"), "");
  peer(w, m);
  auto out = w.ask("call m1 hold x 300");
  EXPECT_NE(out.find("error 6 node m1 did not answer in time"),
            std::string::npos)
    << out;
  EXPECT_GE(elapsed_us(out), 300'000);
}

TEST_F(TransportNet, GarbageOversizedAndReplayedFramesAreDropped) {
  auto m = start_manager("m1");
  auto w = join("w1", m, worker_token);
  ASSERT_NE(w.proc->line_with("@joined"), "");
  // The worker reaches the manager through a recording relay.
  recording_proxy relay(m.port);
  peer(w, m, relay.port());
  auto out = w.ask("call m1 echo before 5000");
  ASSERT_NE(out.find("ok before"), std::string::npos) << out;

  // Junk inside a well-formed length prefix.
  int junk = connect_loopback(m.port);
  ASSERT_GE(junk, 0);
  std::string frame("\x00\x00\x00\x14", 4);
  frame += std::string(20, '\x5a');
  ASSERT_EQ(::write(junk, frame.data(), frame.size()),
            static_cast<ssize_t>(frame.size()));
  EXPECT_TRUE(closed_by_peer(junk, 5s));
  ::close(junk);

  // A length prefix of 4 GiB.
  int huge = connect_loopback(m.port);
  ASSERT_EQ(::write(huge, "\xff\xff\xff\xff", 4), 4);
  EXPECT_TRUE(closed_by_peer(huge, 5s));
  ::close(huge);

  // Everything the worker sent, replayed on a new connection: the Hello is
  // accepted, the old credentials fail against the new keys.
  auto recorded = relay.sent();
  int replay = connect_loopback(m.port);
  ASSERT_EQ(::write(replay, recorded.data(), recorded.size()),
            static_cast<ssize_t>(recorded.size()));
  EXPECT_TRUE(closed_by_peer(replay, 5s));
  ::close(replay);

  EXPECT_TRUE(m.proc->wait_for_output("dropping connection"));
  auto status = m.ask("status");
  EXPECT_NE(status.find("dropped 3"), std::string::npos) << status;
  // The worker's session carried on through all of it.
  out = w.ask("call m1 echo after 5000");
  EXPECT_NE(out.find("ok after from m1"), std::string::npos) << out;
}

TEST_F(TransportNet, ConnectionsThatNeverHandshakeAreDropped) {
  auto m = start_manager("m1");
  int idle = connect_loopback(m.port);
  ASSERT_GE(idle, 0);
  // The test node's handshake timeout is 2 s.
  EXPECT_TRUE(closed_by_peer(idle, 8s));
  ::close(idle);
  EXPECT_TRUE(m.proc->wait_for_output("no handshake within 2000 ms"));
}

TEST_F(TransportNet, PeerThatStopsReadingIsDroppedAndReturnsLater) {
  auto m = start_manager("m1");
  auto w = join("w1", m, worker_token, {"--max-unsent", "1000000"});
  ASSERT_NE(w.proc->line_with("@joined"), "");
  peer(w, m);
  ASSERT_TRUE(w.wait_session("m1"));
  // The manager freezes; the worker keeps sending 20 MB at it.
  m.proc->signal(SIGSTOP);
  w.tell("flood m1 200 100000");
  EXPECT_TRUE(w.proc->wait_for_output("the peer does not read"))
    << w.proc->output();
  m.proc->signal(SIGCONT);
  ASSERT_TRUE(w.wait_session("m1", 15s));
  auto out = w.ask("call m1 echo thawed 5000");
  EXPECT_NE(out.find("ok thawed"), std::string::npos) << out;
}

/// Polls every node's Raft status until they name the same leader among
/// `alive`; returns it (empty on timeout).
std::string await_leader(std::vector<node*> alive,
                         std::chrono::milliseconds timeout = 15s) {
  auto deadline = clock_type::now() + timeout;
  while (clock_type::now() < deadline) {
    std::string agreed;
    bool all = true;
    for (auto* n : alive) {
      auto line = n->ask("raft");
      auto at = line.rfind(" leader ");
      auto leader = at == std::string::npos
                      ? std::string{}
                      : line.substr(at + 8, line.find(' ', at + 8) - at - 8);
      bool known = false;
      for (auto* m : alive)
        known = known || m->id == leader;
      if (!known || (!agreed.empty() && agreed != leader))
        all = false;
      agreed = leader;
    }
    if (all && !agreed.empty())
      return agreed;
    std::this_thread::sleep_for(20ms); // the polling interval
  }
  return {};
}

TEST_F(TransportNet, RaftOverTheTransportElectsCommitsAndFailsOver) {
  const std::string members = "m1,m2,m3";
  auto m1 = start_manager("m1", {"--raft", members});
  auto m2 = join("m2", m1, manager_token, {"--raft", members});
  auto m3 = join("m3", m1, manager_token, {"--raft", members});
  ASSERT_NE(m2.proc->line_with("@joined manager"), "") << m2.proc->output();
  ASSERT_NE(m3.proc->line_with("@joined manager"), "") << m3.proc->output();
  peer(m2, m1);
  peer(m3, m1);
  peer(m3, m2);
  peer(m1, m2);
  peer(m1, m3);
  peer(m2, m3);
  std::map<std::string, node*> by_id{{"m1", &m1}, {"m2", &m2}, {"m3", &m3}};

  auto leader = await_leader({&m1, &m2, &m3});
  ASSERT_NE(leader, "") << m1.proc->output();
  auto out = by_id[leader]->ask("propose first");
  EXPECT_NE(out.find(" ok index "), std::string::npos) << out;

  // SIGKILL the leader: the other two elect one of themselves and commit.
  auto port = by_id[leader]->port;
  by_id[leader]->proc->signal(SIGKILL);
  by_id[leader]->proc->wait_exit();
  std::vector<node*> rest;
  for (auto& [id, n] : by_id)
    if (id != leader)
      rest.push_back(n);
  auto second = await_leader(rest);
  ASSERT_NE(second, "");
  EXPECT_NE(second, leader);
  out = by_id[second]->ask("propose second");
  EXPECT_NE(out.find(" ok index "), std::string::npos) << out;

  // The old leader returns on its data dir and catches up as a follower.
  auto back = restart(leader, port, {"--raft", members});
  for (auto& [id, n] : by_id)
    if (id != leader)
      peer(back, *n);
  auto want = by_id[second]->ask("raft");
  auto commit = want.substr(want.rfind(' ') + 1);
  auto deadline = clock_type::now() + 15s;
  std::string seen;
  while (clock_type::now() < deadline) {
    seen = back.ask("raft");
    if (seen.find("role follower") != std::string::npos
        && seen.substr(seen.rfind(' ') + 1) == commit)
      break;
    std::this_thread::sleep_for(20ms); // the polling interval
  }
  EXPECT_NE(seen.find("role follower"), std::string::npos)
    << seen << back.proc->output();
  EXPECT_EQ(seen.substr(seen.rfind(' ') + 1), commit) << seen;
}

/// Runs a call carrying a marker through a recording relay; returns the
/// bytes seen both ways.
std::string wire_bytes_for_marker(node& m, node& w, const std::string& marker) {
  recording_proxy relay(m.port);
  w.tell("peer m1 127.0.0.1 " + std::to_string(relay.port()));
  auto out = w.ask("call m1 echo " + marker + " 5000");
  EXPECT_NE(out.find("ok " + marker), std::string::npos) << out;
  return relay.sent() + relay.received();
}

TEST_F(TransportNet, NoPlaintextPayloadOnTheWire) {
  auto m = start_manager("m1");
  auto w = join("w1", m, worker_token);
  ASSERT_NE(w.proc->line_with("@joined"), "");
  const std::string marker = "SKEP-MARKER-7f3a9c01";
  auto wire = wire_bytes_for_marker(m, w, marker);
  ASSERT_GT(wire.size(), 200u);
  EXPECT_EQ(wire.find(marker), std::string::npos);
  // Nor the certificates: they travel sealed.
  EXPECT_EQ(wire.find("w1"), std::string::npos);
}

TEST_F(TransportNet, UnsealedModeShowsTheMarkerSoTheCheckCanFail) {
  // Join sealed (the join itself is always sealed), then run both unsealed.
  auto first = start_manager("m1");
  auto joined = join("w1", first, worker_token);
  ASSERT_NE(joined.proc->line_with("@joined"), "");
  first.proc->signal(SIGKILL);
  joined.proc->signal(SIGKILL);
  first.proc->wait_exit();
  joined.proc->wait_exit();
  auto m = restart("m1", first.port, {"--ca", "--plaintext"});
  auto w = restart("w1", 0, {"--plaintext"});
  ASSERT_NE(w.port, 0) << w.proc->output();
  const std::string marker = "SKEP-MARKER-7f3a9c01";
  auto wire = wire_bytes_for_marker(m, w, marker);
  EXPECT_NE(wire.find(marker), std::string::npos);
}

TEST_F(TransportNet, RotatedWrongAndMalformedTokensAreRefused) {
  auto m = start_manager("m1");
  auto old_token = worker_token;
  auto rotated = m.ask("rotate worker");
  ASSERT_NE(rotated.find("token SKEP-1-"), std::string::npos) << rotated;
  auto fresh = rotated.substr(rotated.rfind(' ') + 1);

  auto stale = join("w1", m, old_token);
  auto refused = stale.proc->line_with("@join-failed ");
  EXPECT_NE(refused, "") << stale.proc->output();
  EXPECT_EQ(stale.proc->wait_exit(), 3);
  EXPECT_TRUE(m.proc->wait_for_output("it may have been rotated"));
  struct stat st {};
  EXPECT_NE(::stat((stale.dir + "/node.crt").c_str(), &st), 0)
    << "a refused join left a certificate behind";

  // A token whose digest names another CA: the node refuses the manager.
  auto foreign = fresh;
  auto digest_at = std::string("SKEP-1-").size();
  foreign[digest_at] = foreign[digest_at] == 'a' ? 'b' : 'a';
  auto wrong = join("w2", m, foreign);
  auto line = wrong.proc->line_with("@join-failed ");
  EXPECT_NE(line.find("does not match the digest in the join token"),
            std::string::npos)
    << line;

  auto garbled = join("w3", m, "SKEP-2-abc");
  line = garbled.proc->line_with("@join-failed ");
  EXPECT_NE(line.find("invalid join token"), std::string::npos) << line;

  // The rotated token works, and nodes that joined earlier are unaffected.
  auto good = join("w4", m, fresh);
  EXPECT_NE(good.proc->line_with("@joined worker"), "") << good.proc->output();
}

TEST_F(TransportNet, JoiningUnderAnotherNodesIdIsRefused) {
  auto m = start_manager("m1");
  auto w = join("w1", m, worker_token);
  ASSERT_NE(w.proc->line_with("@joined"), "");
  // Another machine (its own data dir, so its own key) claims to be w1.
  std::vector<std::string> args{"--join", "127.0.0.1:" + std::to_string(m.port),
                                "--token", manager_token};
  auto impostor = start("w1", args, "impostor");
  EXPECT_NE(impostor.proc->line_with("@join-failed "), "")
    << impostor.proc->output();
  EXPECT_TRUE(m.proc->wait_for_output("already belongs to another node"));
  // The real w1 is untouched.
  peer(w, m);
  auto out = w.ask("call m1 echo still-me 5000");
  EXPECT_NE(out.find("ok still-me"), std::string::npos) << out;
}

TEST_F(TransportNet, RenewedCertificateAndRevokedNode) {
  auto m = start_manager("m1");
  auto w = join("w1", m, worker_token);
  ASSERT_NE(w.proc->line_with("@joined"), "");
  peer(w, m);
  auto out = w.ask("renew m1");
  EXPECT_NE(out.find("renewed serial"), std::string::npos) << out;

  // Once revoked, the worker's session closes and it cannot come back.
  m.tell("revoke w1");
  EXPECT_TRUE(m.proc->wait_for_output("its certificate was revoked"));
  EXPECT_TRUE(m.proc->wait_for_output("node w1 was removed"));
  out = w.ask("call m1 echo x 3000");
  EXPECT_NE(out.find("error"), std::string::npos) << out;
}

TEST_F(TransportNet, InjectedDropDelayAndPartitionThenHeal) {
  auto m = start_manager("m1");
  auto w = join("w1", m, worker_token);
  ASSERT_NE(w.proc->line_with("@joined"), "");
  peer(w, m);
  ASSERT_TRUE(w.wait_session("m1"));

  w.tell("fault m1 1.0 0 0");
  auto out = w.ask("call m1 echo lost 300");
  EXPECT_NE(out.find("error 6"), std::string::npos) << out;

  w.tell("fault m1 0 200 0");
  out = w.ask("call m1 echo slow 5000");
  EXPECT_NE(out.find("ok slow"), std::string::npos) << out;
  EXPECT_GE(elapsed_us(out), 200'000) << out;

  // A partition set on the manager's side silences the worker both ways.
  m.tell("fault w1 0 0 1");
  out = w.ask("call m1 echo cut 300");
  EXPECT_NE(out.find("error 6"), std::string::npos) << out;

  w.tell("heal");
  m.tell("heal");
  // Status goes to the same transport actor after heal: once it answers,
  // both sides are healed (a call racing m1's heal was lost otherwise).
  ASSERT_NE(w.ask("status").find("sessions"), std::string::npos);
  ASSERT_NE(m.ask("status").find("sessions"), std::string::npos);
  out = w.ask("call m1 echo healed 5000");
  EXPECT_NE(out.find("ok healed"), std::string::npos) << out;
}

} // namespace
} // namespace skep::test
