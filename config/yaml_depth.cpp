#include "config/yaml_depth.hpp"

#include <vector>

#include <fmt/format.h>

namespace skep::config {

namespace {

/// The depth of `text` and the line (from 1) where it first passes `cap`.
std::pair<size_t, size_t> scan(std::string_view text, size_t cap) {
  size_t deepest = 0;
  size_t flow = 0;           // open [ and {
  std::vector<size_t> block; // indentation of the open block levels
  size_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    // A line: its indentation, then "- " sequence markers, then content.
    size_t indent = 0;
    while (i < text.size() && text[i] == ' ') {
      ++indent;
      ++i;
    }
    bool content = i < text.size() && text[i] != '\n' && text[i] != '#';
    if (content && flow == 0) {
      while (!block.empty() && block.back() >= indent)
        block.pop_back();
      block.push_back(indent);
      size_t col = indent;
      while (i + 1 < text.size() && text[i] == '-' && text[i + 1] == ' ') {
        i += 2;
        col += 2;
        while (i < text.size() && text[i] == ' ') {
          ++i;
          ++col;
        }
        block.push_back(col);
      }
    }
    // The rest of the line: brackets outside quotes and comments.
    char quote = 0;
    for (; i < text.size() && text[i] != '\n'; ++i) {
      char c = text[i];
      if (quote != 0) {
        if (c == quote)
          quote = 0;
        continue;
      }
      if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '#') {
        while (i < text.size() && text[i] != '\n')
          ++i;
        break;
      } else if (c == '[' || c == '{') {
        ++flow;
      } else if ((c == ']' || c == '}') && flow > 0) {
        --flow;
      }
      if (block.size() + flow > deepest) {
        deepest = block.size() + flow;
        if (deepest > cap)
          return {deepest, line};
      }
    }
    if (block.size() + flow > deepest) {
      deepest = block.size() + flow;
      if (deepest > cap)
        return {deepest, line};
    }
    if (i < text.size())
      ++i; // the newline
    ++line;
  }
  return {deepest, 0};
}

} // namespace

size_t yaml_nesting_depth(std::string_view text, size_t cap) {
  return scan(text, cap).first;
}

result<void> check_yaml_depth(std::string_view text, size_t max_depth,
                              std::string_view source) {
  auto [depth, line] = scan(text, max_depth);
  if (depth <= max_depth)
    return {};
  return fail(errc::invalid_argument,
              fmt::format("{} line {}: nested more than {} levels deep; "
                          "Skep reads YAML nested at most {} levels",
                          source, line, max_depth, max_depth));
}

} // namespace skep::config
