// A real skepd process on a temporary data dir, driven by the real skep
// binary and by raw clients that misbehave on the control socket.

#include "actors/store/codec.hpp"
#include "messages/envelope.hpp"
#include "messages/frame_io.hpp"
#include "tests/support/process.hpp"

#include <algorithm>
#include <csignal>
#include <fstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capnp/message.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skep {
namespace {

using namespace std::chrono_literals;

const std::string skepd_bin = SKEPD_PATH;
const std::string skep_bin = SKEP_PATH;

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string read_first_line(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::getline(in, line);
  return line;
}

/// One skepd on its own data dir; stopped (SIGKILL) when the test ends.
class Daemon : public ::testing::Test {
 protected:
  std::string data_dir() const { return dir.path() + "/node"; }
  std::string socket() const { return data_dir() + "/skepd.sock"; }
  std::string host() const { return "unix://" + socket(); }

  std::unique_ptr<test::child_process> start(std::vector<std::string> extra
                                             = {}) {
    std::vector<std::string> argv{skepd_bin, "--data-dir", data_dir(),
                                  "--listen-addr", listen_addr};
    if (std::find(extra.begin(), extra.end(), "--hostname") == extra.end()
        && std::find(extra.begin(), extra.end(), "--config") == extra.end())
      extra.insert(extra.end(), {"--hostname", "test-node"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = std::make_unique<test::child_process>(argv);
    EXPECT_TRUE(child->wait_for_output("serving clients on"))
      << child->output();
    return child;
  }

  test::command_result skep(std::vector<std::string> args,
                            std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv{skep_bin};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_command(argv, env);
  }

  test::temp_dir dir;
  /// A port of its own: tests run in parallel, and some start a swarm.
  std::string listen_addr
    = "127.0.0.1:" + std::to_string(test::free_loopback_port());
};

control_request info_request() {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::control::Request>().setInfo();
  return control_request::from(builder);
}

/// Sends raw bytes on a fresh connection, then reads what comes back: the
/// decoded reply envelope (if any) and whether the daemon closed.
struct raw_outcome {
  std::optional<envelope> reply;
  bool closed = false;
};

raw_outcome read_outcome(int fd) {
  raw_outcome out;
  frame_reader reader{1 << 20};
  frame_read_options opts;
  opts.timeout = 10s;
  auto frame = read_frame(fd, reader, opts);
  if (frame && *frame) {
    auto env = envelope::decode((*frame)->data(), (*frame)->size());
    if (env)
      out.reply = *env;
    frame = read_frame(fd, reader, opts);
  }
  out.closed = frame && !*frame;
  return out;
}

/// Asks for info over an already open connection.
std::optional<std::string> node_id_over(int fd) {
  auto frame = frame_envelope(make_control_request_envelope(
    9, {"", "test"}, {"", "node"}, info_request()));
  if (!write_all(fd, frame.data(), frame.size()))
    return std::nullopt;
  frame_reader reader{1 << 20};
  frame_read_options opts;
  opts.timeout = 10s;
  auto reply = read_frame(fd, reader, opts);
  if (!reply || !*reply)
    return std::nullopt;
  auto env = envelope::decode((*reply)->data(), (*reply)->size());
  if (!env || env->root().getCorrelationId() != 9)
    return std::nullopt;
  return std::string{
    env->root().getBody().getControlReply().getInfo().getNodeId().cStr()};
}

errc error_code_of(const envelope& env) {
  EXPECT_EQ(env.root().getBody().which(), schema::Envelope::Body::ERROR);
  return from_schema(env.root().getBody().getError()).code;
}

TEST_F(Daemon, SkepInfoReportsTheNodeFromItsDataDir) {
  auto node = start();
  auto res = skep({"-H", host(), "info"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  auto node_id = read_first_line(data_dir() + "/node-id");
  ASSERT_EQ(node_id.size(), 25u);
  EXPECT_NE(res.out.find("NodeID: " + node_id), std::string::npos) << res.out;
  EXPECT_NE(res.out.find("Swarm: inactive"), std::string::npos) << res.out;
  EXPECT_NE(res.out.find("Name: test-node"), std::string::npos) << res.out;
  EXPECT_NE(res.out.find("Actors: node, control"), std::string::npos);
}

TEST_F(Daemon, SkepInfoJsonHasDockerKeysAndHonoursSkepHost) {
  auto node = start();
  auto res = skep({"info", "--format", "json"}, {{"SKEP_HOST", host()}});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  auto json = nlohmann::json::parse(res.out);
  EXPECT_EQ(json["ID"], read_first_line(data_dir() + "/node-id"));
  EXPECT_EQ(json["Name"], "test-node");
  EXPECT_EQ(json["Swarm"]["LocalNodeState"], "inactive");
  EXPECT_EQ(json["Swarm"]["ControlAvailable"], false);
  EXPECT_GT(json["NCPU"].get<int>(), 0);
}

TEST_F(Daemon, SkepVersionShowsClientAndServer) {
  auto node = start();
  auto res = skep({"-H", host(), "version"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_NE(res.out.find("Client:"), std::string::npos);
  EXPECT_NE(res.out.find("Server:"), std::string::npos);
  EXPECT_NE(res.out.find("CAF:           0.17.6"), std::string::npos)
    << res.out;
}

TEST_F(Daemon, ControlSocketIsPrivate) {
  auto node = start();
  struct stat st;
  ASSERT_EQ(::stat(socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(Daemon, GarbageFrameGetsErrorAndCloseWhileOthersAreServed) {
  auto node = start();
  int good = test::connect_unix(socket());
  ASSERT_GE(good, 0);
  auto before = node_id_over(good);
  ASSERT_TRUE(before);

  int bad = test::connect_unix(socket());
  ASSERT_GE(bad, 0);
  std::string junk(32, '\xab');
  auto frame = make_frame(std::vector<uint8_t>(junk.begin(), junk.end()));
  ASSERT_TRUE(write_all(bad, frame.data(), frame.size()));
  auto outcome = read_outcome(bad);
  ::close(bad);
  ASSERT_TRUE(outcome.reply);
  EXPECT_EQ(error_code_of(*outcome.reply), errc::malformed_message);
  EXPECT_TRUE(outcome.closed);

  // The connection opened before keeps working, and new clients too.
  EXPECT_EQ(node_id_over(good), before);
  ::close(good);
  EXPECT_EQ(skep({"-H", host(), "info"}).exit_code, 0);
  EXPECT_TRUE(node->wait_for_output("dropping client"));
}

TEST_F(Daemon, OversizedLengthPrefixIsRefusedWithoutReadingTheBody) {
  auto node = start({"--max-frame-size", "64KiB"});
  int bad = test::connect_unix(socket());
  ASSERT_GE(bad, 0);
  uint8_t header[4] = {0xff, 0xff, 0xff, 0xf0}; // ~4 GiB announced, none sent
  ASSERT_TRUE(write_all(bad, header, sizeof(header)));
  auto outcome = read_outcome(bad);
  ::close(bad);
  ASSERT_TRUE(outcome.reply);
  EXPECT_EQ(error_code_of(*outcome.reply), errc::frame_too_large);
  EXPECT_TRUE(outcome.closed);
  EXPECT_EQ(skep({"-H", host(), "info"}).exit_code, 0);
}

TEST_F(Daemon, TruncatedFrameClosesOnlyThatConnection) {
  auto node = start();
  // A client that starts a frame and stalls must not hold up others.
  int stalled = test::connect_unix(socket());
  ASSERT_GE(stalled, 0);
  uint8_t partial[] = {0, 0, 0, 100, 1, 2, 3};
  ASSERT_TRUE(write_all(stalled, partial, sizeof(partial)));
  EXPECT_EQ(skep({"-H", host(), "info"}).exit_code, 0);

  // A client that sends part of a frame and hangs up is just closed.
  int truncated = test::connect_unix(socket());
  ASSERT_GE(truncated, 0);
  uint8_t head[] = {0, 0, 0, 100, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  ASSERT_TRUE(write_all(truncated, head, sizeof(head)));
  ::shutdown(truncated, SHUT_WR);
  // The daemon may still tell the half-closed client why, then closes.
  auto outcome = read_outcome(truncated);
  ::close(truncated);
  if (outcome.reply) {
    EXPECT_EQ(error_code_of(*outcome.reply), errc::malformed_message);
  }
  EXPECT_TRUE(outcome.closed);
  EXPECT_TRUE(node->wait_for_output("closed in the middle of a frame"));

  ::close(stalled);
  EXPECT_EQ(skep({"-H", host(), "info"}).exit_code, 0);
}

TEST_F(Daemon, ClientStalledMidFrameIsDroppedAfterTheControlTimeout) {
  auto node = start({"--control-timeout", "1s"});
  int stalled = test::connect_unix(socket());
  ASSERT_GE(stalled, 0);
  uint8_t partial[] = {0, 0, 0, 100, 1}; // a frame header, then 1 of 100
  ASSERT_TRUE(write_all(stalled, partial, sizeof(partial)));
  auto t0 = std::chrono::steady_clock::now();
  auto outcome = read_outcome(stalled); // waits up to 10 s
  auto waited = std::chrono::steady_clock::now() - t0;
  ::close(stalled);
  ASSERT_TRUE(outcome.reply);
  EXPECT_EQ(error_code_of(*outcome.reply), errc::timeout);
  EXPECT_TRUE(outcome.closed);
  EXPECT_LT(waited, 9s);
  EXPECT_TRUE(node->wait_for_output("stalled in the middle of a frame"))
    << node->output();
}

TEST_F(Daemon, ClientThatNeverReadsDoesNotHoldUpShutdown) {
  auto node = start(); // default control timeout: 30 s
  int greedy = test::connect_unix(socket());
  ASSERT_GE(greedy, 0);
  // Pipeline far more requests than the socket buffers hold, read nothing.
  auto frame = frame_envelope(make_control_request_envelope(
    1, {"", "test"}, {"", "node"}, info_request()));
  std::vector<uint8_t> burst;
  for (int i = 0; i < 4000; ++i)
    burst.insert(burst.end(), frame.begin(), frame.end());
  frame_write_options quick;
  quick.timeout = 3s; // our side may block too once the daemon stops reading
  (void)write_all(greedy, burst.data(), burst.size(), quick);
  node->signal(SIGTERM);
  auto code = node->wait_exit(10s);
  ::close(greedy);
  ASSERT_TRUE(code) << "skepd did not stop within 10 s";
  EXPECT_EQ(*code, 0) << node->output();
}

TEST_F(Daemon, IdleConnectionsNeitherLockClientsOutNorStayForever) {
  auto node = start({"--control-timeout", "2s"});
  // Far more silent connections than the 128 sessions served at once.
  std::vector<int> idle;
  for (int i = 0; i < 1000; ++i) {
    int fd = test::connect_unix(socket());
    if (fd >= 0)
      idle.push_back(fd);
  }
  EXPECT_GT(idle.size(), 128u);
  // A real client still gets an answer: the oldest idle one makes room.
  auto ls = skep({"-H", host(), "info"});
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  // A connection that never asks anything is closed after the timeout.
  int silent = test::connect_unix(socket());
  ASSERT_GE(silent, 0);
  auto outcome = read_outcome(silent); // waits up to 10 s
  EXPECT_TRUE(outcome.closed);
  ASSERT_TRUE(outcome.reply);
  EXPECT_EQ(error_code_of(*outcome.reply), errc::timeout);
  ::close(silent);
  for (int fd : idle)
    ::close(fd);
  EXPECT_EQ(skep({"-H", host(), "info"}).exit_code, 0);
}

TEST_F(Daemon, ARaftDatabaseItCannotWriteStopsItAtStartNamingTheFile) {
  {
    auto node = start();
    ASSERT_EQ(skep({"-H", host(), "swarm", "init"}).exit_code, 0);
    node->signal(SIGTERM);
    ASSERT_EQ(node->wait_exit(), 0);
  }
  // As an unprivileged user whose database is read-only (root writes
  // anything): the data dir is theirs, raft.db is not writable.
  ASSERT_EQ(test::run_command({"/bin/chown", "-R", "65534:65534", data_dir()})
              .exit_code,
            0);
  ASSERT_EQ(::chmod((data_dir() + "/raft.db").c_str(), 0400), 0);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  test::child_process node{{"/usr/bin/setpriv", "--reuid=65534",
                            "--regid=65534", "--clear-groups", skepd_bin,
                            "--data-dir", data_dir(), "--listen-addr",
                            listen_addr, "--hostname", "test-node"}};
  auto code = node.wait_exit(20s);
  ASSERT_TRUE(code) << "skepd kept running: " << node.output();
  EXPECT_NE(*code, 0);
  EXPECT_NE(node.output().find("raft.db"), std::string::npos) << node.output();
  EXPECT_NE(node.output().find("read-only"), std::string::npos)
    << node.output();
}

TEST_F(Daemon, AManagerWhoseDiskFillsUpStopsInsteadOfLingering) {
  // The data dir on a small tmpfs of our own, filled once the swarm runs.
  auto mnt = dir.path() + "/small";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0700), 0);
  ASSERT_EQ(test::run_command(
              {"/bin/mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt})
              .exit_code,
            0);
  struct unmount {
    std::string path;
    ~unmount() { test::run_command({"/bin/umount", "-l", path}); }
  } guard{mnt};
  std::vector<std::string> argv{skepd_bin,       "--data-dir", mnt + "/node",
                                "--listen-addr", listen_addr,  "--hostname",
                                "test-node"};
  test::child_process node{argv};
  ASSERT_TRUE(node.wait_for_output("serving clients on")) << node.output();
  auto sock = "unix://" + mnt + "/node/skepd.sock";
  ASSERT_EQ(skep({"-H", sock, "swarm", "init"}).exit_code, 0);
  // Fill the file system, then make the manager write.
  test::run_command(
    {"/bin/dd", "if=/dev/zero", "of=" + mnt + "/filler", "bs=64k"});
  // Large specs (no replicas: nothing runs), so that the log must grow:
  // five arguments of 60 KB each (an argument holds at most 64 KiB).
  std::vector<std::string> create{"-H", sock,         "service", "create",
                                  "-d", "--replicas", "0",       "--name",
                                  "",   "sleep"};
  for (int i = 0; i < 5; ++i)
    create.push_back(std::string(60'000, 'x'));
  for (int i = 0; i < 50 && !node.wait_exit(10ms); ++i) {
    create[8] = "s" + std::to_string(i);
    skep(create);
  }
  auto code = node.wait_exit(20s);
  ASSERT_TRUE(code) << "the manager kept running: " << node.output();
  EXPECT_NE(*code, 0);
  EXPECT_NE(node.output().find("the manager stopped"), std::string::npos)
    << node.output();
}

/// Sends `request` on a fresh control connection; its reply, if any.
std::optional<control_reply> ask_raw(const std::string& socket,
                                     const control_request& request) {
  int fd = test::connect_unix(socket);
  if (fd < 0)
    return std::nullopt;
  auto frame = frame_envelope(
    make_control_request_envelope(7, {"", "test"}, {"", "node"}, request));
  std::optional<control_reply> out;
  if (write_all(fd, frame.data(), frame.size())) {
    frame_reader reader{1 << 20};
    frame_read_options opts;
    opts.timeout = 10s;
    auto reply = read_frame(fd, reader, opts);
    if (reply && *reply)
      if (auto env = envelope::decode((*reply)->data(), (*reply)->size());
          env
          && env->root().getBody().which()
               == schema::Envelope::Body::CONTROL_REPLY)
        out = control_reply::from(env->root().getBody().getControlReply());
  }
  ::close(fd);
  return out;
}

TEST_F(Daemon, ARawStoreProposalFromAClientIsRefusedAndChangesNothing) {
  auto node = start();
  ASSERT_EQ(skep({"-H", host(), "swarm", "init"}).exit_code, 0);
  // A service the control API would refuse (a port published twice), as a
  // raw store batch.
  store::service_object sneaky;
  sneaky.id = "abcdefghijklmnopqrstuvwxy";
  sneaky.spec.name = "sneaky";
  sneaky.spec.container.image = "sleep";
  sneaky.spec.ports = {{8081, 80, "tcp"}, {8081, 81, "tcp"}};
  auto batch = store::encode_batch({store::put_service{sneaky, 0}});
  capnp::MallocMessageBuilder b;
  b.initRoot<schema::control::Request>().setPropose(
    kj::arrayPtr(batch.data(), batch.size()));
  auto propose = control_request::from(b);
  auto refused = [](const control_reply& r) {
    return r.root().which() == schema::control::Reply::ERROR
           && from_schema(r.root().getError()).code == errc::permission_denied
           && std::string{r.root().getError().getMessage().cStr()}.find(
                "only from another manager")
                != std::string::npos;
  };
  // From a local client.
  auto direct = ask_raw(socket(), propose);
  ASSERT_TRUE(direct);
  EXPECT_TRUE(refused(*direct));
  // Through a console delivery to the leader's control API.
  auto inner = make_control_request_envelope(0, {"", "console"},
                                             {"", "controlapi"}, propose)
                 .encode();
  capnp::MallocMessageBuilder d;
  auto deliver = d.initRoot<schema::control::Request>().initDeliver();
  deliver.setActor("leader/controlapi");
  deliver.setEnvelope(kj::arrayPtr(inner.data(), inner.size()));
  auto delivered = ask_raw(socket(), control_request::from(d));
  ASSERT_TRUE(delivered);
  ASSERT_EQ(delivered->root().which(), schema::control::Reply::DELIVERED);
  auto bytes = delivered->root().getDelivered();
  auto env = envelope::decode(bytes.begin(), bytes.size());
  ASSERT_TRUE(env);
  EXPECT_TRUE(
    refused(control_reply::from(env->root().getBody().getControlReply())));
  auto ls = skep({"-H", host(), "service", "ls", "-q"});
  EXPECT_EQ(ls.exit_code, 0);
  EXPECT_EQ(ls.out, "") << "the raw proposal changed the store";
}

TEST_F(Daemon, EnvelopeOfTheWrongKindGetsAnErrorReply) {
  auto node = start();
  int fd = test::connect_unix(socket());
  ASSERT_GE(fd, 0);
  auto reply = make_control_reply_envelope(
    make_control_request_envelope(3, {"", "x"}, {"", "node"}, info_request()),
    make_error_reply(fail(errc::internal, "a reply nobody asked for")));
  auto frame = frame_envelope(reply);
  ASSERT_TRUE(write_all(fd, frame.data(), frame.size()));
  frame_reader reader{1 << 20};
  frame_read_options opts;
  opts.timeout = 10s;
  auto answer = read_frame(fd, reader, opts);
  ASSERT_TRUE(answer && *answer);
  auto env = envelope::decode((*answer)->data(), (*answer)->size());
  ASSERT_TRUE(env);
  EXPECT_EQ(error_code_of(*env), errc::unsupported);
  // The connection stays usable after a well-formed but refused envelope.
  EXPECT_TRUE(node_id_over(fd));
  ::close(fd);
}

TEST_F(Daemon, SigtermStopsCleanlyAndRestartKeepsTheNodeId) {
  auto node = start();
  auto node_id = read_first_line(data_dir() + "/node-id");
  node->signal(SIGTERM);
  auto code = node->wait_exit();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << node->output();
  EXPECT_FALSE(exists(socket()));
  EXPECT_NE(node->output().find("stopped"), std::string::npos);

  auto again = start();
  auto res = skep({"-H", host(), "info", "--format", "json"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  EXPECT_EQ(nlohmann::json::parse(res.out)["ID"], node_id);
}

TEST_F(Daemon, RestartAfterSigkillReplacesTheStaleSocket) {
  auto node = start();
  node->signal(SIGKILL);
  ASSERT_TRUE(node->wait_exit());
  EXPECT_TRUE(exists(socket())); // left behind by the crash
  auto again = start();
  EXPECT_EQ(skep({"-H", host(), "info"}).exit_code, 0);
}

TEST_F(Daemon, SecondDaemonOnTheSameDataDirIsRefused) {
  auto node = start();
  auto second = test::run_command({skepd_bin, "--data-dir", data_dir()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("in use by another skepd"), std::string::npos)
    << second.err;
  EXPECT_EQ(skep({"-H", host(), "info"}).exit_code, 0);
}

TEST_F(Daemon, BadConfigurationStopsStartupWithTheReason) {
  auto missing = test::run_command(
    {skepd_bin, "--data-dir", data_dir(), "--config", dir.path() + "/no.yaml"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no.yaml"), std::string::npos) << missing.err;

  auto config = dir.path() + "/skepd.yaml";
  std::ofstream{config} << "hostname: ok\ncontrol-timeout: 5 parsecs\n";
  auto bad_value = test::run_command(
    {skepd_bin, "--data-dir", data_dir(), "--config", config});
  EXPECT_EQ(bad_value.exit_code, 1);
  EXPECT_NE(bad_value.err.find("line 2: control-timeout"), std::string::npos)
    << bad_value.err;

  auto dir_as_config = test::run_command(
    {skepd_bin, "--data-dir", data_dir(), "--config", dir.path()});
  EXPECT_EQ(dir_as_config.exit_code, 1);
  EXPECT_NE(dir_as_config.err.find("not a regular file"), std::string::npos)
    << dir_as_config.err;

  auto bad_flag = test::run_command(
    {skepd_bin, "--data-dir", data_dir(), "--runtime", "kubernetes"});
  EXPECT_EQ(bad_flag.exit_code, 1);
  EXPECT_NE(bad_flag.err.find("--runtime"), std::string::npos) << bad_flag.err;
  // Nothing was started, so nothing was created.
  EXPECT_FALSE(exists(data_dir()));
}

TEST_F(Daemon, FlagBeatsConfigFile) {
  auto config = dir.path() + "/skepd.yaml";
  std::ofstream{config} << "hostname: from-file\nruntime: sim\n";
  auto node = start({"--config", config, "--hostname", "from-flag"});
  auto res = skep({"-H", host(), "info", "--format", "json"});
  ASSERT_EQ(res.exit_code, 0) << res.err;
  auto json = nlohmann::json::parse(res.out);
  EXPECT_EQ(json["Name"], "from-flag");
  EXPECT_EQ(json["Runtime"], "sim");
}

TEST(Client, ExplainsUnreachableNodeAndBadHost) {
  auto down = test::run_command(
    {skep_bin, "-H", "unix:///nonexistent/skepd.sock", "info"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("Is skepd running?"), std::string::npos) << down.err;

  auto tcp
    = test::run_command({skep_bin, "-H", "tcp://127.0.0.1:2377", "info"});
  EXPECT_EQ(tcp.exit_code, 1);
  EXPECT_NE(tcp.err.find("not supported"), std::string::npos) << tcp.err;

  auto env = test::run_command({skep_bin, "info"},
                               {{"SKEP_HOST", "unix://relative.sock"}});
  EXPECT_EQ(env.exit_code, 1);
  EXPECT_NE(env.err.find("SKEP_HOST"), std::string::npos) << env.err;

  auto format
    = test::run_command({skep_bin, "-H", "unix:///nonexistent/skepd.sock",
                         "info", "--format", "yaml"});
  EXPECT_EQ(format.exit_code, 1);
  EXPECT_NE(format.err.find("--format json"), std::string::npos);

  auto unknown = test::run_command({skep_bin, "frobnicate"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("skep --help"), std::string::npos);
}

TEST(Client, EveryCommandHasHelp) {
  for (auto cmd :
       std::vector<std::vector<std::string>>{{skep_bin, "--help"},
                                             {skep_bin, "info", "--help"},
                                             {skep_bin, "version", "--help"},
                                             {skepd_bin, "--help"}}) {
    auto res = test::run_command(cmd);
    EXPECT_EQ(res.exit_code, 0) << cmd[1];
    EXPECT_NE(res.out.find("Usage:"), std::string::npos) << res.out;
  }
  // The task's image and command follow create's options.
  auto create = test::run_command({skep_bin, "service", "create", "--help"});
  EXPECT_EQ(create.exit_code, 0);
  EXPECT_NE(
    create.out.find("Usage: skep service create [OPTIONS] IMAGE [COMMAND "
                    "[ARG...]]\n"),
    std::string::npos)
    << create.out;
}

} // namespace
} // namespace skep
