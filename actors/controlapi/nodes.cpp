#include "actors/controlapi/nodes.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace skep::controlapi {

std::string shown_text(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 40))
    out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  return text.size() > 40 ? out + "..." : out;
}

bool has_control_characters(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

result<void>
check_node_labels(const std::map<std::string, std::string>& labels) {
  using limits = node_label_limits;
  if (labels.size() > limits::max_labels)
    return fail(errc::invalid_argument,
                fmt::format("a node may have at most {} labels, not {}",
                            limits::max_labels, labels.size()));
  size_t total = 0;
  for (const auto& [key, value] : labels) {
    if (key.empty())
      return fail(errc::invalid_argument, "a label key is empty");
    if (key.size() > limits::max_key_bytes)
      return fail(errc::invalid_argument,
                  fmt::format("label key '{}' is {} bytes; at most {} are "
                              "allowed",
                              shown_text(key), key.size(),
                              limits::max_key_bytes));
    if (has_control_characters(key) || key.find('=') != std::string::npos)
      return fail(errc::invalid_argument,
                  fmt::format("label key '{}' holds '=' or a control "
                              "character",
                              shown_text(key)));
    if (value.size() > limits::max_value_bytes)
      return fail(errc::invalid_argument,
                  fmt::format("the value of label '{}' is {} bytes; at most "
                              "{} are allowed",
                              shown_text(key), value.size(),
                              limits::max_value_bytes));
    if (has_control_characters(value))
      return fail(errc::invalid_argument,
                  fmt::format("the value of label '{}' holds a control "
                              "character",
                              shown_text(key)));
    total += key.size() + value.size();
  }
  if (total > limits::max_total_bytes)
    return fail(errc::invalid_argument,
                fmt::format("a node's labels may hold at most {} bytes in "
                            "all, not {}",
                            limits::max_total_bytes, total));
  return {};
}

} // namespace skep::controlapi
