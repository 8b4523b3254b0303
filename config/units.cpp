#include "config/units.hpp"

#include <cctype>
#include <limits>

#include <fmt/format.h>

namespace skep::config {

namespace {

struct unit {
  std::string_view name;
  int64_t nanos;
};

constexpr unit duration_units[] = {
  {"ns", 1},
  {"us", 1'000},
  {"\xC2\xB5s", 1'000}, // µs in UTF-8
  {"ms", 1'000'000},
  {"s", 1'000'000'000},
  {"m", 60'000'000'000},
  {"h", 3'600'000'000'000},
};

failure bad_duration(std::string_view text, std::string why) {
  return fail(errc::invalid_argument,
              fmt::format("invalid duration \"{}\": {}", text, why));
}

} // namespace

result<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  if (text.empty())
    return bad_duration(text, "empty (write e.g. 30s, 500ms or 1m30s)");
  if (text == "0")
    return std::chrono::nanoseconds{0};
  if (text.front() == '-')
    return bad_duration(text, "durations cannot be negative");
  constexpr auto max = std::numeric_limits<int64_t>::max();
  long double total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    // A number: digits, optionally a fraction.
    size_t start = pos;
    while (pos < text.size()
           && std::isdigit(static_cast<unsigned char>(text[pos])))
      ++pos;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      while (pos < text.size()
             && std::isdigit(static_cast<unsigned char>(text[pos])))
        ++pos;
    }
    auto number = text.substr(start, pos - start);
    if (number.empty() || number == ".")
      return bad_duration(
        text, fmt::format("expected a number at position {}", start + 1));
    if (number.size() > 30)
      return bad_duration(text, "number too long");
    // A unit: the longest name that matches.
    size_t unit_start = pos;
    while (pos < text.size()
           && !std::isdigit(static_cast<unsigned char>(text[pos]))
           && text[pos] != '.')
      ++pos;
    auto unit_name = text.substr(unit_start, pos - unit_start);
    if (unit_name.empty())
      return bad_duration(text,
                          fmt::format("missing unit after \"{}\" (use ns, "
                                      "us, ms, s, m or h)",
                                      number));
    int64_t scale = 0;
    for (const auto& u : duration_units)
      if (u.name == unit_name)
        scale = u.nanos;
    if (scale == 0)
      return bad_duration(text, fmt::format("unknown unit \"{}\" (use ns, us, "
                                            "ms, s, m or h)",
                                            unit_name));
    total += std::stold(std::string{number}) * static_cast<long double>(scale);
    if (total > static_cast<long double>(max))
      return bad_duration(text, "too long (at most about 292 years)");
  }
  return std::chrono::nanoseconds{static_cast<int64_t>(total)};
}

std::string format_duration(std::chrono::nanoseconds d) {
  auto ns = d.count();
  if (ns == 0)
    return "0s";
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  if (ns < 1'000)
    return out + fmt::format("{}ns", ns);
  if (ns < 1'000'000)
    return out + fmt::format("{:g}us", static_cast<double>(ns) / 1e3);
  if (ns < 1'000'000'000)
    return out + fmt::format("{:g}ms", static_cast<double>(ns) / 1e6);
  auto hours = ns / 3'600'000'000'000;
  ns %= 3'600'000'000'000;
  auto minutes = ns / 60'000'000'000;
  ns %= 60'000'000'000;
  if (hours > 0)
    out += fmt::format("{}h", hours);
  if (minutes > 0)
    out += fmt::format("{}m", minutes);
  if (ns > 0)
    out += fmt::format("{:g}s", static_cast<double>(ns) / 1e9);
  return out;
}

result<uint64_t> parse_byte_size(std::string_view text) {
  auto bad = [&](std::string why) {
    return fail(errc::invalid_argument,
                fmt::format("invalid size \"{}\": {}", text, why));
  };
  size_t pos = 0;
  while (pos < text.size()
         && std::isdigit(static_cast<unsigned char>(text[pos])))
    ++pos;
  if (pos == 0)
    return bad("expected a whole number, e.g. 512KiB or 4MiB");
  if (pos > 19)
    return bad("number too large");
  uint64_t number = std::stoull(std::string{text.substr(0, pos)});
  auto unit_name = text.substr(pos);
  struct size_unit {
    std::string_view name;
    uint64_t scale;
  };
  static constexpr size_unit units[] = {
    {"", 1},           {"B", 1},
    {"KiB", 1 << 10},  {"k", 1 << 10},
    {"K", 1 << 10},    {"MiB", 1 << 20},
    {"m", 1 << 20},    {"M", 1 << 20},
    {"GiB", 1 << 30},  {"g", 1 << 30},
    {"G", 1 << 30},    {"KB", 1'000},
    {"MB", 1'000'000}, {"GB", 1'000'000'000},
  };
  for (const auto& u : units) {
    if (u.name != unit_name)
      continue;
    if (number > std::numeric_limits<uint64_t>::max() / u.scale)
      return bad("too large");
    return number * u.scale;
  }
  return bad(
    fmt::format("unknown unit \"{}\" (use B, KiB, MiB or GiB)", unit_name));
}

std::string format_byte_size(uint64_t bytes) {
  if (bytes != 0 && bytes % (1ull << 30) == 0)
    return fmt::format("{}GiB", bytes >> 30);
  if (bytes != 0 && bytes % (1ull << 20) == 0)
    return fmt::format("{}MiB", bytes >> 20);
  if (bytes != 0 && bytes % (1ull << 10) == 0)
    return fmt::format("{}KiB", bytes >> 10);
  return fmt::format("{}B", bytes);
}

} // namespace skep::config
