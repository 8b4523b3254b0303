#include "actors/store/constraints.hpp"

#include <cstddef>
#include <string_view>

#include <fmt/format.h>

namespace skep::scheduler {

namespace {

constexpr std::string_view label_prefix = "node.labels.";
constexpr std::string_view key_hint
  = "use node.id, node.hostname, node.role or node.labels.<name>";

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII case-insensitive equality, as Go's strings.EqualFold for our keys.
bool equal_fold(std::string_view x, std::string_view y) noexcept {
  if (x.size() != y.size())
    return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (lower(x[i]) != lower(y[i]))
      return false;
  return true;
}

bool starts_with_fold(std::string_view str, std::string_view prefix) noexcept {
  return str.size() >= prefix.size()
         && equal_fold(str.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view str) noexcept {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!str.empty() && is_space(str.front()))
    str.remove_prefix(1);
  while (!str.empty() && is_space(str.back()))
    str.remove_suffix(1);
  return str;
}

failure bad(std::string_view expr, std::string_view what) {
  return fail(errc::invalid_argument,
              fmt::format("constraint \"{}\": {}", expr, what));
}

result<constraint> parse_one(std::string_view expr) {
  auto eq = expr.find("==");
  auto ne = expr.find("!=");
  if (eq == std::string_view::npos && ne == std::string_view::npos)
    return bad(expr, "missing operator; use KEY==VALUE or KEY!=VALUE");
  constraint out;
  out.equal
    = ne == std::string_view::npos || (eq != std::string_view::npos && eq < ne);
  auto op_pos = out.equal ? eq : ne;
  std::string_view op = out.equal ? "==" : "!=";
  auto key = trim(expr.substr(0, op_pos));
  auto value = trim(expr.substr(op_pos + 2));
  if (value.find('=') != std::string_view::npos)
    return bad(expr, "more than one operator; use one == or != per "
                     "constraint");
  if (key.empty())
    return bad(expr, fmt::format("missing key before {}; {}", op, key_hint));
  if (equal_fold(key, "node.id")) {
    out.key = constraint::key_kind::node_id;
  } else if (equal_fold(key, "node.hostname")) {
    out.key = constraint::key_kind::hostname;
  } else if (equal_fold(key, "node.role")) {
    out.key = constraint::key_kind::role;
  } else if (starts_with_fold(key, label_prefix)) {
    out.key = constraint::key_kind::label;
    out.label = std::string{key.substr(label_prefix.size())};
    if (out.label.empty())
      return bad(expr, "empty label name; use node.labels.<name>");
  } else {
    return bad(expr, fmt::format("unknown key {}; {}", key, key_hint));
  }
  if (value.empty())
    return bad(expr, fmt::format("empty value; give a value after {}", op));
  if (out.key == constraint::key_kind::role) {
    if (equal_fold(value, "manager"))
      out.value = "manager";
    else if (equal_fold(value, "worker"))
      out.value = "worker";
    else
      return bad(expr,
                 fmt::format("unknown role {}; use manager or worker", value));
  } else {
    out.value = std::string{value};
  }
  return out;
}

} // namespace

result<std::vector<constraint>>
parse_constraints(const std::vector<std::string>& expressions) {
  std::vector<constraint> out;
  out.reserve(expressions.size());
  for (const auto& expr : expressions) {
    auto parsed = parse_one(expr);
    if (!parsed)
      return std::move(parsed).error();
    out.push_back(std::move(*parsed));
  }
  return out;
}

bool matches(const std::vector<constraint>& constraints,
             const store::node_object& node) {
  for (const auto& c : constraints) {
    bool same = false;
    switch (c.key) {
    case constraint::key_kind::node_id:
      same = equal_fold(node.id, c.value);
      break;
    case constraint::key_kind::hostname:
      same = equal_fold(node.hostname, c.value);
      break;
    case constraint::key_kind::role:
      same = c.value == ca::to_string(node.role);
      break;
    case constraint::key_kind::label: {
      auto i = node.labels.find(c.label);
      // A missing label equals nothing: == fails and != holds, as in Swarm.
      same = i != node.labels.end() && equal_fold(i->second, c.value);
      break;
    }
    }
    if (same != c.equal)
      return false;
  }
  return true;
}

} // namespace skep::scheduler
