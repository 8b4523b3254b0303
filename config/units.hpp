#pragma once

#include "messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace skep::config {

/// Parses a duration the way Docker and Go do: one or more decimal numbers,
/// each with a unit (ns, us, µs, ms, s, m, h), e.g. "30s", "1m30s", "1.5h",
/// "250ms". A bare "0" is zero. Negative durations are refused.
result<std::chrono::nanoseconds> parse_duration(std::string_view text);

/// Formats a duration compactly, e.g. "1h2m3s", "1.5s", "250ms", "0s".
std::string format_duration(std::chrono::nanoseconds d);

/// Parses a byte size: a whole number with an optional unit B, KiB, MiB, GiB
/// (powers of 1024) or KB, MB, GB (powers of 1000); "k", "m" and "g" are read
/// as KiB, MiB and GiB as Docker does.
result<uint64_t> parse_byte_size(std::string_view text);

/// Formats a byte size with the largest binary unit that divides it, e.g.
/// "4MiB", "1536KiB", "100B".
std::string format_byte_size(uint64_t bytes);

} // namespace skep::config
