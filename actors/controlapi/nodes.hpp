#pragma once

// What the control API checks of node requests before anything is written.
// Pure: no CAF.

#include "messages/result.hpp"

#include <cstddef>
#include <map>
#include <string>

namespace skep::controlapi {

/// How large a node's labels may grow (`node update --label-add`).
struct node_label_limits {
  static constexpr size_t max_labels = 256;
  static constexpr size_t max_key_bytes = 256;
  static constexpr size_t max_value_bytes = 4096;
  static constexpr size_t max_total_bytes = 64 * 1024;
};

/// Checks a node's labels as they would be stored: keys 1 to 256 bytes
/// without control characters or '=', values up to 4 KiB without control
/// characters, at most 256 labels and 64 KiB in all. Errors name the label
/// and the limit.
result<void>
check_node_labels(const std::map<std::string, std::string>& labels);

/// True when `text` holds a byte below 0x20 or 0x7f (newline, tab, NUL...).
bool has_control_characters(const std::string& text);

/// At most 40 characters of `text`, control characters shown as '?', for
/// error messages.
std::string shown_text(const std::string& text);

} // namespace skep::controlapi
