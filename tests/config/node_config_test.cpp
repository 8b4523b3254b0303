// Node configuration: YAML files, flag/file/default precedence, and the
// refusals an operator sees for bad input.

#include "config/node_config.hpp"
#include "config/units.hpp"
#include "tests/support/process.hpp"

#include <fstream>
#include <set>

#include <gtest/gtest.h>

namespace skep::config {
namespace {

using namespace std::chrono_literals;

result<node_config> resolve(const config_layer& file,
                            const config_layer& flags = {}) {
  return resolve_node_config(file, flags, "host-1", "/work");
}

config_layer yaml(const std::string& text) {
  auto layer = parse_config_yaml(text, "test.yaml");
  EXPECT_TRUE(layer) << (layer ? "" : layer.error().message);
  return layer ? *layer : config_layer{};
}

TEST(NodeConfig, DefaultsWithoutFileOrFlags) {
  auto cfg = resolve({});
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->data_dir, "/var/lib/skep");
  EXPECT_EQ(cfg->listen_addr.to_string(), "0.0.0.0:2377");
  EXPECT_EQ(cfg->advertise_addr.to_string(), "0.0.0.0:2377");
  EXPECT_EQ(cfg->ingress_addr, "0.0.0.0");
  EXPECT_EQ(cfg->control_socket, "/var/lib/skep/skepd.sock");
  EXPECT_EQ(cfg->hostname, "host-1");
  EXPECT_EQ(cfg->runtime, runtime_kind::process);
  EXPECT_EQ(cfg->level, log_level::info);
  EXPECT_EQ(cfg->control_timeout, 30s);
  EXPECT_EQ(cfg->max_frame_bytes, 4u * 1024 * 1024);
}

TEST(NodeConfig, ReadsEveryKeyOfAGoodFile) {
  test::temp_dir dir;
  auto path = dir.path() + "/skepd.yaml";
  std::ofstream{path} << "# a node on loopback\n"
                         "data-dir: /srv/skep\n"
                         "listen-addr: 127.0.0.11:4000\n"
                         "advertise-addr: 127.0.0.11\n"
                         "ingress-addr: 127.0.0.11\n"
                         "control-socket: /run/skep.sock\n"
                         "hostname: worker-1\n"
                         "runtime: sim\n"
                         "log-level: debug\n"
                         "log-file: skepd.log\n"
                         "control-timeout: 1m30s\n"
                         "max-frame-size: 512KiB\n";
  auto layer = read_config_file(path);
  ASSERT_TRUE(layer) << layer.error().message;
  auto cfg = resolve(*layer);
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->data_dir, "/srv/skep");
  EXPECT_EQ(cfg->listen_addr.to_string(), "127.0.0.11:4000");
  // A bare advertise host takes the listen port.
  EXPECT_EQ(cfg->advertise_addr.to_string(), "127.0.0.11:4000");
  EXPECT_EQ(cfg->ingress_addr, "127.0.0.11");
  EXPECT_EQ(cfg->control_socket, "/run/skep.sock");
  EXPECT_EQ(cfg->hostname, "worker-1");
  EXPECT_EQ(cfg->runtime, runtime_kind::sim);
  EXPECT_EQ(cfg->level, log_level::debug);
  EXPECT_EQ(cfg->log_file, "/work/skepd.log"); // relative to the cwd
  EXPECT_EQ(cfg->control_timeout, 90s);
  EXPECT_EQ(cfg->max_frame_bytes, 512u * 1024);
}

TEST(NodeConfig, FlagBeatsFileBeatsDefault) {
  auto file = yaml("listen-addr: 127.0.0.2:3000\nhostname: from-file\n");
  config_layer flags{{"hostname", {"from-flag", "--hostname"}}};
  auto cfg = resolve(file, flags);
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->hostname, "from-flag");                     // flag
  EXPECT_EQ(cfg->listen_addr.to_string(), "127.0.0.2:3000"); // file
  EXPECT_EQ(cfg->runtime, runtime_kind::process);            // default
}

TEST(NodeConfig, ControlSocketFollowsDataDir) {
  config_layer flags{{"data-dir", {"relative/dir", "--data-dir"}}};
  auto cfg = resolve({}, flags);
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->data_dir, "/work/relative/dir");
  EXPECT_EQ(cfg->control_socket, "/work/relative/dir/skepd.sock");
}

TEST(NodeConfig, UnknownKeyIsRefusedWithLineAndKnownKeys) {
  auto layer
    = parse_config_yaml("hostname: a\nlisten-adr: 1.2.3.4:5\n", "skepd.yaml");
  ASSERT_FALSE(layer);
  const auto& msg = layer.error().message;
  EXPECT_NE(msg.find("skepd.yaml line 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key \"listen-adr\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("listen-addr"), std::string::npos) << msg;
}

TEST(NodeConfig, DuplicateKeyIsRefused) {
  auto layer = parse_config_yaml("hostname: a\nhostname: b\n", "f.yaml");
  ASSERT_FALSE(layer);
  EXPECT_NE(layer.error().message.find("more than once"), std::string::npos);
}

TEST(NodeConfig, NonScalarValueIsRefused) {
  auto layer = parse_config_yaml("hostname: [a, b]\n", "f.yaml");
  ASSERT_FALSE(layer);
  EXPECT_NE(layer.error().message.find("single value"), std::string::npos);
}

TEST(NodeConfig, FileThatIsNotAMappingIsRefused) {
  auto layer = parse_config_yaml("- a\n- b\n", "f.yaml");
  ASSERT_FALSE(layer);
  EXPECT_NE(layer.error().message.find("mapping"), std::string::npos);
}

TEST(NodeConfig, InvalidYamlNamesTheLine) {
  auto layer = parse_config_yaml("hostname: a\n  bad: [\n", "f.yaml");
  ASSERT_FALSE(layer);
  EXPECT_NE(layer.error().message.find("f.yaml line"), std::string::npos);
}

TEST(NodeConfig, EmptyFileSetsNothing) {
  auto layer = parse_config_yaml("# only a comment\n", "f.yaml");
  ASSERT_TRUE(layer);
  EXPECT_TRUE(layer->empty());
}

TEST(NodeConfig, BadDurationNamesKeyOriginAndReason) {
  auto cfg = resolve(yaml("control-timeout: 10 parsecs\n"));
  ASSERT_FALSE(cfg);
  const auto& msg = cfg.error().message;
  EXPECT_NE(msg.find("test.yaml line 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("control-timeout"), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid duration"), std::string::npos) << msg;
}

TEST(NodeConfig, BadFlagValueNamesTheFlag) {
  config_layer flags{{"runtime", {"kubernetes", "--runtime"}}};
  auto cfg = resolve({}, flags);
  ASSERT_FALSE(cfg);
  const auto& msg = cfg.error().message;
  EXPECT_NE(msg.find("--runtime"), std::string::npos) << msg;
  EXPECT_NE(msg.find("process, runc, docker, sim"), std::string::npos) << msg;
}

TEST(NodeConfig, OutOfRangeValuesAreRefused) {
  EXPECT_FALSE(resolve(yaml("control-timeout: 0s\n")));
  EXPECT_FALSE(resolve(yaml("control-timeout: 2h\n")));
  EXPECT_FALSE(resolve(yaml("max-frame-size: 1KiB\n")));
  EXPECT_FALSE(resolve(yaml("max-frame-size: 1GiB\n")));
  EXPECT_FALSE(resolve(yaml("hostname: -bad-\n")));
  EXPECT_FALSE(resolve(yaml("hostname: under_score\n")));
  EXPECT_FALSE(resolve(yaml("ingress-addr: example.com\n")));
  EXPECT_FALSE(resolve(yaml("listen-addr: example.com:2377\n")));
  EXPECT_FALSE(resolve(yaml("listen-addr: 127.0.0.1:99999\n")));
  EXPECT_FALSE(resolve(yaml("listen-addr: 127.0.0.1\n")));
  EXPECT_FALSE(resolve(yaml("log-level: verbose\n")));
}

TEST(NodeConfig, MissingFileIsRefusedNamingIt) {
  auto layer = read_config_file("/nonexistent/skepd.yaml");
  ASSERT_FALSE(layer);
  EXPECT_NE(layer.error().message.find("/nonexistent/skepd.yaml"),
            std::string::npos);
  EXPECT_NE(layer.error().message.find("No such file"), std::string::npos);
}

TEST(NodeConfig, DirectoryOrOversizedFileIsRefused) {
  test::temp_dir dir;
  auto as_dir = read_config_file(dir.path());
  ASSERT_FALSE(as_dir);
  EXPECT_NE(as_dir.error().message.find("not a regular file"),
            std::string::npos);
  auto big = dir.path() + "/big.yaml";
  std::ofstream{big} << std::string(2 * 1024 * 1024, '#');
  auto too_big = read_config_file(big);
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message.find("1MiB"), std::string::npos);
}

TEST(NodeConfig, SocketPathTooLongForUnixSocketsIsRefused) {
  config_layer flags{{"data-dir", {"/" + std::string(120, 'd'), "--data-dir"}}};
  auto cfg = resolve({}, flags);
  ASSERT_FALSE(cfg);
  EXPECT_NE(cfg.error().message.find("at most 107"), std::string::npos)
    << cfg.error().message;
}

TEST(NodeConfig, InvalidOsHostnameAsksForTheFlag) {
  auto cfg = resolve_node_config({}, {}, "bad_host", "/");
  ASSERT_FALSE(cfg);
  EXPECT_NE(cfg.error().message.find("--hostname"), std::string::npos);
}

TEST(NodeConfig, SchemaListsEveryKeyOnce) {
  std::set<std::string_view> keys;
  for (const auto& s : node_settings()) {
    EXPECT_TRUE(keys.insert(s.key).second) << s.key;
    EXPECT_FALSE(s.help.empty()) << s.key;
  }
  EXPECT_TRUE(keys.count("data-dir") && keys.count("listen-addr")
              && keys.count("advertise-addr") && keys.count("ingress-addr")
              && keys.count("control-socket") && keys.count("hostname")
              && keys.count("runtime") && keys.count("log-level"));
}

TEST(NodeConfig, ExampleFileInTheRepoIsValid) {
  auto layer = read_config_file(SKEP_SOURCE_DIR "/config/skepd.example.yaml");
  ASSERT_TRUE(layer) << layer.error().message;
  auto cfg = resolve(*layer);
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->listen_addr.port, 2377);
}

TEST(HostPort, ParsesTheForms) {
  auto v4 = parse_host_port("10.0.0.1:2377", "0.0.0.0", 0);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "10.0.0.1");
  EXPECT_EQ(v4->port, 2377);
  auto v6 = parse_host_port("[::1]:2377", "0.0.0.0", 0);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "[::1]:2377");
  auto port_only = parse_host_port(":4000", "0.0.0.0", 0);
  ASSERT_TRUE(port_only);
  EXPECT_EQ(port_only->to_string(), "0.0.0.0:4000");
  auto name = parse_host_port("manager-1.example:2377", "", 0);
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "manager-1.example");
}

TEST(HostPort, RefusesMalformedAddresses) {
  for (auto bad : {"", "host:", "host:0", "host:65536", "host:12ab", "::1:2377",
                   "[::1", "[::1]x", "[zz]:1", "bad host:1", "a:b:c"})
    EXPECT_FALSE(parse_host_port(bad, "0.0.0.0", 0)) << bad;
}

TEST(Units, ParsesDurationsLikeDocker) {
  EXPECT_EQ(*parse_duration("0"), 0ns);
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("1m30s"), 90s);
  EXPECT_EQ(*parse_duration("1.5h"), 90min);
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("10us"), 10us);
  EXPECT_EQ(*parse_duration("10\xC2\xB5s"), 10us);
  EXPECT_EQ(*parse_duration("7ns"), 7ns);
  for (auto bad : {"", "10", "s", "-5s", "10 s", "10x", "1.5.5s", "1h-2m",
                   "99999999999999999999h"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(Units, FormatsDurationsCompactly) {
  EXPECT_EQ(format_duration(0s), "0s");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(3723s), "1h2m3s");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(12ns), "12ns");
}

TEST(Units, ParsesAndFormatsByteSizes) {
  EXPECT_EQ(*parse_byte_size("100"), 100u);
  EXPECT_EQ(*parse_byte_size("4MiB"), 4u << 20);
  EXPECT_EQ(*parse_byte_size("512k"), 512u << 10);
  EXPECT_EQ(*parse_byte_size("2g"), 2ull << 30);
  EXPECT_EQ(*parse_byte_size("3MB"), 3'000'000u);
  for (auto bad : {"", "MiB", "4 MiB", "4PiB", "-1", "99999999999999999999"})
    EXPECT_FALSE(parse_byte_size(bad)) << bad;
  EXPECT_EQ(format_byte_size(4u << 20), "4MiB");
  EXPECT_EQ(format_byte_size(1536u << 10), "1536KiB");
  EXPECT_EQ(format_byte_size(100), "100B");
}

} // namespace
} // namespace skep::config
