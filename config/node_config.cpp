#include "config/node_config.hpp"

#include "config/units.hpp"
#include "config/yaml_depth.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <sys/un.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace skep::config {

namespace {

bool is_ip_literal(const std::string& host) {
  in_addr v4;
  in6_addr v6;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1
         || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// RFC 1123 host names: dot-separated labels of letters, digits and hyphens,
// no label starting or ending with a hyphen.
bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253)
    return false;
  size_t label_len = 0;
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (label_len == 0 || prev == '-')
        return false;
      label_len = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
      if (label_len == 0 && c == '-')
        return false;
      if (++label_len > 63)
        return false;
    } else {
      return false;
    }
    prev = c;
  }
  return label_len > 0 && prev != '-';
}

result<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5)
    return fail(errc::invalid_argument,
                fmt::format("invalid port \"{}\": expected 1-65535", text));
  unsigned value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return fail(errc::invalid_argument,
                  fmt::format("invalid port \"{}\": expected 1-65535", text));
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535)
    return fail(errc::invalid_argument,
                fmt::format("invalid port \"{}\": expected 1-65535", text));
  return static_cast<uint16_t>(value);
}

std::string absolute_path(const std::string& path, const std::string& cwd) {
  std::filesystem::path p{path};
  if (p.is_relative())
    p = std::filesystem::path{cwd} / p;
  return p.lexically_normal().string();
}

template <class Enum, size_t N>
result<Enum> parse_choice(const std::string& text,
                          const std::pair<const char*, Enum> (&choices)[N]) {
  std::string names;
  for (const auto& [name, value] : choices) {
    if (text == name)
      return value;
    names += names.empty() ? name : fmt::format(", {}", name);
  }
  return fail(errc::invalid_argument,
              fmt::format("\"{}\" is not one of {}", text, names));
}

constexpr std::pair<const char*, runtime_kind> runtime_choices[] = {
  {"process", runtime_kind::process},
  {"runc", runtime_kind::runc},
  {"docker", runtime_kind::docker},
  {"sim", runtime_kind::sim},
};

constexpr std::pair<const char*, log_level> level_choices[] = {
  {"error", log_level::error},
  {"warn", log_level::warn},
  {"info", log_level::info},
  {"debug", log_level::debug},
};

// How each key's text becomes part of a node_config. Paths are made absolute
// against `cwd`.
using apply_fn = std::function<result<void>(node_config&, const std::string&,
                                            const std::string& cwd)>;

struct setting {
  setting_info info;
  apply_fn apply;
};

const std::vector<setting>& settings() {
  static const std::vector<setting> table = {
    {{"data-dir", "DIR", "Directory for the node's state", "/var/lib/skep"},
     [](node_config& c, const std::string& v,
        const std::string& cwd) -> result<void> {
       if (v.empty())
         return fail(errc::invalid_argument, "must not be empty");
       c.data_dir = absolute_path(v, cwd);
       return {};
     }},
    {{"listen-addr", "HOST:PORT", "Address for node-to-node traffic",
      "0.0.0.0:2377"},
     [](node_config& c, const std::string& v,
        const std::string&) -> result<void> {
       auto addr = parse_host_port(v, "0.0.0.0", 0);
       if (!addr)
         return std::move(addr).error();
       if (!is_ip_literal(addr->host))
         return fail(
           errc::invalid_argument,
           fmt::format("\"{}\" is not an IP address to listen on", addr->host));
       c.listen_addr = *addr;
       return {};
     }},
    {{"advertise-addr", "HOST[:PORT]",
      "Address other nodes dial to reach this node", "the listen address"},
     [](node_config& c, const std::string& v,
        const std::string&) -> result<void> {
       // The port defaults to the listen port, resolved after all layers.
       bool names_port = !v.empty() && v.front() == '['
                           ? v.find("]:") != std::string::npos
                           : v.find(':') != std::string::npos;
       auto addr = parse_host_port(v, "", names_port ? 0 : 1);
       if (!addr)
         return std::move(addr).error();
       if (addr->host.empty())
         return fail(errc::invalid_argument, "needs a host");
       c.advertise_addr = {addr->host, names_port ? addr->port : uint16_t{0}};
       return {};
     }},
    {{"ingress-addr", "HOST", "Address the routing mesh listens on", "0.0.0.0"},
     [](node_config& c, const std::string& v,
        const std::string&) -> result<void> {
       if (!is_ip_literal(v))
         return fail(errc::invalid_argument,
                     fmt::format("\"{}\" is not an IP address", v));
       c.ingress_addr = v;
       return {};
     }},
    {{"control-socket", "PATH", "Unix socket for skep clients",
      "DATA-DIR/skepd.sock"},
     [](node_config& c, const std::string& v,
        const std::string& cwd) -> result<void> {
       if (v.empty())
         return fail(errc::invalid_argument, "must not be empty");
       c.control_socket = absolute_path(v, cwd);
       return {};
     }},
    {{"hostname", "NAME", "Name the node reports to the swarm",
      "the OS hostname"},
     [](node_config& c, const std::string& v,
        const std::string&) -> result<void> {
       if (!is_dns_name(v))
         return fail(errc::invalid_argument,
                     fmt::format("\"{}\" is not a valid hostname (letters, "
                                 "digits, '-' and '.', at most 253)",
                                 v));
       c.hostname = v;
       return {};
     }},
    {{"runtime", "NAME", "Task runtime: process, runc, docker or sim",
      "process"},
     [](node_config& c, const std::string& v,
        const std::string&) -> result<void> {
       auto kind = parse_choice(v, runtime_choices);
       if (!kind)
         return std::move(kind).error();
       c.runtime = *kind;
       return {};
     }},
    {{"log-level", "LEVEL", "Logging: error, warn, info or debug", "info"},
     [](node_config& c, const std::string& v,
        const std::string&) -> result<void> {
       auto level = parse_choice(v, level_choices);
       if (!level)
         return std::move(level).error();
       c.level = *level;
       return {};
     }},
    {{"log-file", "PATH", "Write logs to this file instead of stderr", ""},
     [](node_config& c, const std::string& v,
        const std::string& cwd) -> result<void> {
       c.log_file = v.empty() ? std::string{} : absolute_path(v, cwd);
       return {};
     }},
    {{"control-timeout", "DUR", "How long a client request may take", "30s"},
     [](node_config& c, const std::string& v,
        const std::string&) -> result<void> {
       auto d = parse_duration(v);
       if (!d)
         return std::move(d).error();
       if (d->count() <= 0 || *d > std::chrono::hours{1})
         return fail(
           errc::invalid_argument,
           fmt::format("{} is out of range (more than 0s, at most 1h)", v));
       c.control_timeout = *d;
       return {};
     }},
    {{"max-frame-size", "SIZE",
      "Largest message accepted from a client or peer", "4MiB"},
     [](node_config& c, const std::string& v,
        const std::string&) -> result<void> {
       auto size = parse_byte_size(v);
       if (!size)
         return std::move(size).error();
       if (*size < 4096 || *size > 64 * 1024 * 1024)
         return fail(errc::invalid_argument,
                     fmt::format("{} is out of range (4KiB to 64MiB)", v));
       c.max_frame_bytes = *size;
       return {};
     }},
  };
  return table;
}

const setting* find_setting(const std::string& key) {
  for (const auto& s : settings())
    if (s.info.key == key)
      return &s;
  return nullptr;
}

std::string known_keys() {
  std::string out;
  for (const auto& s : settings())
    out += out.empty() ? std::string{s.info.key}
                       : fmt::format(", {}", s.info.key);
  return out;
}

} // namespace

const char* to_string(runtime_kind kind) noexcept {
  for (const auto& [name, value] : runtime_choices)
    if (value == kind)
      return name;
  return "unknown";
}

const char* to_string(log_level level) noexcept {
  for (const auto& [name, value] : level_choices)
    if (value == level)
      return name;
  return "unknown";
}

std::string host_port::to_string() const {
  if (host.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

result<host_port> parse_host_port(std::string_view text,
                                  std::string_view default_host,
                                  uint16_t default_port) {
  auto bad = [&](std::string why) {
    return fail(errc::invalid_argument,
                fmt::format("invalid address \"{}\": {}", text, why));
  };
  if (text.empty())
    return bad("empty (write HOST:PORT)");
  std::string host;
  std::optional<std::string_view> port_text;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return bad("missing ']' after IPv6 address");
    host = std::string{text.substr(1, close - 1)};
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return bad("expected ':' after ']'");
      port_text = rest.substr(1);
    } else if (default_port == 0) {
      return bad("missing port (write [HOST]:PORT)");
    }
    in6_addr v6;
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1)
      return bad(fmt::format("\"{}\" is not an IPv6 address", host));
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon)
      return bad("put IPv6 addresses in brackets, e.g. [::1]:2377");
    if (colon == std::string_view::npos) {
      if (default_port == 0)
        return bad("missing port (write HOST:PORT)");
      host = std::string{text};
    } else {
      host = std::string{text.substr(0, colon)};
      port_text = text.substr(colon + 1);
    }
    if (host.empty())
      host = std::string{default_host};
    else if (!is_ip_literal(host) && !is_dns_name(host))
      return bad(
        fmt::format("\"{}\" is neither an IP address nor a host name", host));
  }
  uint16_t port = default_port;
  if (port_text) {
    auto parsed = parse_port(*port_text);
    if (!parsed)
      return bad(parsed.error().message);
    port = *parsed;
  }
  return host_port{host, port};
}

const std::vector<setting_info>& node_settings() {
  static const std::vector<setting_info> infos = [] {
    std::vector<setting_info> out;
    for (const auto& s : settings())
      out.push_back(s.info);
    return out;
  }();
  return infos;
}

result<config_layer> parse_config_yaml(std::string_view text,
                                       const std::string& source) {
  // A node's settings nest two levels; far less than this.
  constexpr size_t max_depth = 32;
  if (auto ok = check_yaml_depth(text, max_depth, source); !ok)
    return std::move(ok).error();
  YAML::Node root;
  try {
    root = YAML::Load(std::string{text});
  } catch (const YAML::Exception& e) {
    return fail(errc::invalid_argument,
                fmt::format("{} line {}: not valid YAML: {}", source,
                            e.mark.line + 1, e.msg));
  }
  config_layer layer;
  if (root.IsNull())
    return layer; // an empty file sets nothing
  if (!root.IsMap())
    return fail(
      errc::invalid_argument,
      fmt::format("{}: expected a mapping of settings (key: value)", source));
  std::set<std::string> seen;
  for (const auto& entry : root) {
    auto line = entry.first.Mark().line + 1;
    auto origin = fmt::format("{} line {}", source, line);
    if (!entry.first.IsScalar())
      return fail(errc::invalid_argument,
                  fmt::format("{}: keys must be plain names", origin));
    auto key = entry.first.Scalar();
    if (find_setting(key) == nullptr)
      return fail(errc::invalid_argument,
                  fmt::format("{}: unknown key \"{}\" (known keys: {})", origin,
                              key, known_keys()));
    if (!seen.insert(key).second)
      return fail(
        errc::invalid_argument,
        fmt::format("{}: key \"{}\" appears more than once", origin, key));
    if (!entry.second.IsScalar())
      return fail(errc::invalid_argument,
                  fmt::format("{}: \"{}\" needs a single value", origin, key));
    layer[key] = setting_value{entry.second.Scalar(), origin};
  }
  return layer;
}

result<config_layer> read_config_file(const std::string& path) {
  constexpr uintmax_t max_size = 1024 * 1024;
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec)
    return fail(
      errc::invalid_argument,
      fmt::format("cannot read config file {}: {}", path, ec.message()));
  if (!std::filesystem::is_regular_file(status))
    return fail(errc::invalid_argument,
                fmt::format("config file {} is not a regular file", path));
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > max_size)
    return fail(errc::invalid_argument,
                fmt::format("config file {} is larger than 1MiB", path));
  std::ifstream in{path, std::ios::binary};
  std::string text(static_cast<size_t>(size), '\0');
  if (!in || !in.read(text.data(), static_cast<std::streamsize>(size)))
    return fail(errc::invalid_argument,
                fmt::format("cannot read config file {}: {}", path,
                            std::strerror(errno)));
  return parse_config_yaml(text, path);
}

result<node_config> resolve_node_config(const config_layer& file,
                                        const config_layer& flags,
                                        const std::string& os_hostname,
                                        const std::string& cwd) {
  node_config cfg;
  // Apply in schema order so errors come out in a stable order; the flag
  // wins over the file for each key.
  for (const auto& s : settings()) {
    std::string key{s.info.key};
    const setting_value* value = nullptr;
    if (auto i = flags.find(key); i != flags.end())
      value = &i->second;
    else if (auto j = file.find(key); j != file.end())
      value = &j->second;
    if (value == nullptr)
      continue;
    if (auto applied = s.apply(cfg, value->text, cwd); !applied)
      return fail(
        errc::invalid_argument,
        fmt::format("{}: {}: {}", value->origin, key, applied.error().message));
  }
  for (const auto& layer : {&file, &flags})
    for (const auto& [key, value] : *layer)
      if (find_setting(key) == nullptr)
        return fail(
          errc::invalid_argument,
          fmt::format("{}: unknown setting \"{}\"", value.origin, key));
  if (cfg.hostname.empty()) {
    if (!is_dns_name(os_hostname))
      return fail(
        errc::invalid_argument,
        fmt::format("the OS hostname \"{}\" is not a valid node name; "
                    "set --hostname",
                    os_hostname));
    cfg.hostname = os_hostname;
  }
  if (cfg.advertise_addr.host.empty())
    cfg.advertise_addr = cfg.listen_addr;
  else if (cfg.advertise_addr.port == 0)
    cfg.advertise_addr.port = cfg.listen_addr.port;
  if (cfg.control_socket.empty())
    cfg.control_socket = cfg.data_dir + "/skepd.sock";
  constexpr auto max_socket_path = sizeof(sockaddr_un::sun_path) - 1;
  if (cfg.control_socket.size() > max_socket_path)
    return fail(errc::invalid_argument,
                fmt::format("control socket path {} is {} bytes long; unix "
                            "sockets allow at most {} (set --control-socket "
                            "or use a shorter --data-dir)",
                            cfg.control_socket, cfg.control_socket.size(),
                            max_socket_path));
  return cfg;
}

} // namespace skep::config
