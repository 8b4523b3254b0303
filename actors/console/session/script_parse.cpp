// The console's script language parsed: steps, conditions, variables. The
// conditions are evaluated in script_eval.cpp. It is one file because the
// step parsers share its scanner (words, brackets, keywords spanning lines)
// and its error wording with suggestions; the client's, not the daemon's.

#include "actors/console/session/script.hpp"
#include "config/units.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <tuple>

#include <fmt/format.h>

namespace skep::console {

namespace {

constexpr auto npos = std::string_view::npos;

// -- positions and words ------------------------------------------------------

/// The text being parsed and where it starts in the script; turns offsets
/// into "line L, column C: " (or "column C: " when the line is unknown).
struct context {
  std::string_view src;
  size_t first_line = 0;

  std::pair<size_t, size_t> position(size_t offset) const {
    offset = std::min(offset, src.size());
    size_t line = first_line;
    size_t line_start = 0;
    for (size_t i = 0; i < offset; ++i)
      if (src[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    return {line, offset - line_start + 1};
  }

  std::string where(size_t offset) const {
    auto [line, column] = position(offset);
    if (first_line == 0)
      return fmt::format("column {}", column);
    return fmt::format("line {}, column {}", line, column);
  }

  failure error(size_t offset, std::string_view what) const {
    return fail(errc::invalid_argument,
                fmt::format("{}: {}", where(offset), what));
  }
};

struct token {
  std::string_view text;
  size_t offset = 0; ///< in the context's src
  size_t end() const { return offset + text.size(); }
};

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}

bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool is_identifier(std::string_view s) {
  return !s.empty() && is_ident_start(s[0])
         && std::all_of(s.begin(), s.end(), is_ident_char);
}

size_t skip_blanks(std::string_view s, size_t i) {
  while (i < s.size() && is_blank(s[i]))
    ++i;
  return i;
}

/// The blank-separated words of s[from, s.size()); a word that starts with
/// `#` starts a comment to the end of its line.
std::vector<token> words(std::string_view s, size_t from) {
  std::vector<token> out;
  size_t i = skip_blanks(s, from);
  while (i < s.size()) {
    if (s[i] == '#') {
      while (i < s.size() && s[i] != '\n')
        ++i;
    } else {
      size_t start = i;
      while (i < s.size() && !is_blank(s[i]))
        ++i;
      out.push_back({s.substr(start, i - start), start});
    }
    i = skip_blanks(s, i);
  }
  return out;
}

/// "; did you mean `x`?" for the closest of `known` within 2 edits, or "".
template <class Names>
std::string suggestion(std::string_view word, const Names& known) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view name : known) {
    auto d = edit_distance(word, name);
    if (d < best_distance) {
      best = name;
      best_distance = d;
    }
  }
  return best.empty() ? std::string{}
                      : fmt::format("; did you mean `{}`?", best);
}

bool one_of(std::string_view word, std::initializer_list<std::string_view> s) {
  return std::find(s.begin(), s.end(), word) != s.end();
}

result<uint64_t> parse_count(const context& ctx, const token& t,
                             std::string_view what) {
  uint64_t value = 0;
  bool ok = !t.text.empty() && t.text.size() < 19;
  for (char c : t.text) {
    ok = ok && std::isdigit(static_cast<unsigned char>(c));
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok)
    return ctx.error(
      t.offset,
      fmt::format("{} must be a whole number, not `{}`", what, t.text));
  return value;
}

result<std::chrono::nanoseconds> parse_duration_at(const context& ctx,
                                                   const token& t) {
  auto d = config::parse_duration(t.text);
  if (!d)
    return ctx.error(t.offset, d.error().message);
  return *d;
}

// -- brackets -----------------------------------------------------------------

/// Where the parens and brackets of a send/call/let step open and close.
/// Parens inside "strings" (with \" escapes) and `#` comments do not count.
struct bracket_scan {
  std::vector<size_t> open; ///< openers not closed yet, innermost last
  std::vector<std::pair<size_t, size_t>> groups; ///< outermost, [open, close]
  size_t error_offset = npos;
  std::string error;
  size_t mismatched = npos; ///< the opener a wrong closer met; the error
                            ///< text ends with "at " for its position
};

bracket_scan scan_brackets(std::string_view s) {
  bracket_scan out;
  for (size_t i = 0; i < s.size() && out.error_offset == npos; ++i) {
    char c = s[i];
    if (c == '#') {
      while (i + 1 < s.size() && s[i + 1] != '\n')
        ++i;
    } else if (c == '"') {
      size_t start = i++;
      while (i < s.size() && s[i] != '"' && s[i] != '\n')
        i += s[i] == '\\' ? 2 : 1;
      if (i >= s.size() || s[i] != '"') {
        out.error_offset = start;
        out.error = "string not closed on its line";
      }
    } else if (c == '(' || c == '[') {
      out.open.push_back(i);
    } else if (c == ')' || c == ']') {
      char want = c == ')' ? '(' : '[';
      if (out.open.empty()) {
        out.error_offset = i;
        out.error = fmt::format("`{}` closes nothing", c);
      } else if (s[out.open.back()] != want) {
        out.error_offset = i;
        out.error = fmt::format("`{}` does not match the `{}` at ", c,
                                s[out.open.back()]);
        out.mismatched = out.open.back();
      } else {
        if (out.open.size() == 1)
          out.groups.emplace_back(out.open.back(), i);
        out.open.pop_back();
      }
    }
  }
  return out;
}

/// The keyword of a step: its first word, ending at a blank or `(`.
token keyword_of(std::string_view s) {
  size_t start = skip_blanks(s, 0);
  size_t end = start;
  while (end < s.size() && !is_blank(s[end]) && s[end] != '(')
    ++end;
  return {s.substr(start, end - start), start};
}

bool spans_lines(std::string_view keyword) {
  return one_of(keyword, {"send", "call", "let"});
}

} // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// -- conditions ---------------------------------------------------------------

namespace {

constexpr std::string_view node_states[]
  = {"ready",  "down",      "active",      "pause",   "drain",
     "leader", "reachable", "unreachable", "manager", "worker"};

constexpr std::string_view task_states[]
  = {"new",      "pending",  "assigned", "accepted", "preparing",
     "starting", "running",  "complete", "shutdown", "failed",
     "rejected", "orphaned", "remove"};

constexpr std::string_view event_types[]
  = {"service", "node", "task", "reconcile", "schedule", "dispatch"};

constexpr std::string_view event_keys[]
  = {"action", "service", "node", "task", "reason"};

template <class Names>
bool known(std::string_view word, const Names& names) {
  return std::find(std::begin(names), std::end(names), word) != std::end(names);
}

template <class Names>
std::string listed(const Names& names) {
  return fmt::format("{}", fmt::join(std::begin(names), std::end(names), ", "));
}

/// Parses the condition in tokens [first, last) of ctx.src.
result<condition> parse_condition_tokens(const context& ctx,
                                         const std::vector<token>& t,
                                         size_t first, size_t last) {
  condition c;
  size_t i = first;
  while (i < last && t[i].text == "not") {
    c.negated = !c.negated;
    ++i;
  }
  size_t end_offset = last > first ? t[last - 1].end() : ctx.src.size();
  if (last > first)
    c.text = std::string{
      ctx.src.substr(t[first].offset, end_offset - t[first].offset)};
  auto missing = [&](std::string_view what) {
    return ctx.error(end_offset, fmt::format("missing {}", what));
  };
  if (i == last)
    return missing("condition (service, node, leader, task or event)");
  auto subject = t[i++];
  size_t want_end = 0; // how many tokens the condition takes
  if (subject.text == "service") {
    if (i == last)
      return missing("service name");
    c.name = t[i++].text;
    if (i == last)
      return missing("`running N`, `converged` or `removed`");
    auto verb = t[i++];
    if (verb.text == "running") {
      if (i == last)
        return missing("number of running tasks");
      auto n = parse_count(ctx, t[i++], "the number of tasks");
      if (!n)
        return n.error();
      c.kind = condition_kind::service_running;
      c.count = *n;
    } else if (verb.text == "converged") {
      c.kind = condition_kind::service_converged;
    } else if (verb.text == "removed") {
      c.kind = condition_kind::service_removed;
    } else {
      return ctx.error(verb.offset,
                       fmt::format("unknown service condition `{}` (want "
                                   "running N, converged or removed)",
                                   verb.text));
    }
    want_end = i;
  } else if (subject.text == "node") {
    if (i == last)
      return missing("node name");
    c.name = t[i++].text;
    if (i == last)
      return missing(fmt::format("node state ({})", listed(node_states)));
    auto state = t[i++];
    if (!known(state.text, node_states))
      return ctx.error(state.offset,
                       fmt::format("unknown node state `{}` (want {}){}",
                                   state.text, listed(node_states),
                                   suggestion(state.text, node_states)));
    c.kind = condition_kind::node_is;
    c.state = state.text;
    want_end = i;
  } else if (subject.text == "leader") {
    if (i < last && t[i].text == "elected") {
      c.kind = condition_kind::leader_elected;
      ++i;
    } else if (i < last && t[i].text == "is") {
      if (++i == last)
        return missing("node name after `leader is`");
      c.kind = condition_kind::leader_is;
      c.name = t[i++].text;
    } else {
      return i == last ? missing("`elected` or `is NAME` after `leader`")
                       : ctx.error(t[i].offset,
                                   fmt::format("want `leader elected` or "
                                               "`leader is NAME`, not `{}`",
                                               t[i].text));
    }
    want_end = i;
  } else if (subject.text == "task") {
    if (i == last)
      return missing("task as SERVICE.SLOT, e.g. web.3");
    auto ref = t[i++];
    auto dot = ref.text.rfind('.');
    if (dot == npos || dot == 0)
      return ctx.error(ref.offset,
                       fmt::format("name the task as SERVICE.SLOT, e.g. "
                                   "web.3, not `{}`",
                                   ref.text));
    token slot_token{ref.text.substr(dot + 1), ref.offset + dot + 1};
    auto slot = parse_count(ctx, slot_token, "the slot");
    if (!slot)
      return slot.error();
    if (*slot == 0)
      return ctx.error(slot_token.offset, "slots count from 1");
    if (i == last)
      return missing(fmt::format("task state ({})", listed(task_states)));
    auto state = t[i++];
    if (!known(state.text, task_states))
      return ctx.error(state.offset,
                       fmt::format("unknown task state `{}` (want {}){}",
                                   state.text, listed(task_states),
                                   suggestion(state.text, task_states)));
    c.kind = condition_kind::task_is;
    c.name = ref.text.substr(0, dot);
    c.slot = *slot;
    c.state = state.text;
    want_end = i;
  } else if (subject.text == "event") {
    if (i == last)
      return missing(fmt::format("event type ({})", listed(event_types)));
    auto type = t[i++];
    if (type.text.find('*') == npos && !known(type.text, event_types))
      return ctx.error(type.offset,
                       fmt::format("unknown event type `{}` (want {}){}",
                                   type.text, listed(event_types),
                                   suggestion(type.text, event_types)));
    c.kind = condition_kind::event_seen;
    c.name = type.text;
    for (; i < last; ++i) {
      auto eq = t[i].text.find('=');
      auto key = t[i].text.substr(0, eq == npos ? t[i].text.size() : eq);
      if (eq == npos || !known(key, event_keys))
        return ctx.error(t[i].offset,
                         fmt::format("want KEY=VALUE with KEY one of {}, "
                                     "not `{}`{}",
                                     listed(event_keys), t[i].text,
                                     suggestion(key, event_keys)));
      c.fields.push_back(
        {std::string{key}, std::string{t[i].text.substr(eq + 1)}});
    }
    want_end = i;
  } else {
    constexpr std::string_view subjects[]
      = {"not", "service", "node", "leader", "task", "event"};
    return ctx.error(subject.offset,
                     fmt::format("unknown condition `{}` (want service, node, "
                                 "leader, task or event){}",
                                 subject.text,
                                 suggestion(subject.text, subjects)));
  }
  if (want_end < last)
    return ctx.error(
      t[want_end].offset,
      fmt::format("unexpected `{}` after the condition", t[want_end].text));
  return c;
}

} // namespace

result<condition> parse_condition(std::string_view text) {
  context ctx{text, 0};
  auto t = words(text, 0);
  return parse_condition_tokens(ctx, t, 0, t.size());
}

data_needs needs(const condition& c) {
  data_needs out;
  switch (c.kind) {
  case condition_kind::service_running:
  case condition_kind::service_converged:
    out.services = out.tasks = true;
    break;
  case condition_kind::service_removed:
    out.services = true;
    break;
  case condition_kind::node_is:
  case condition_kind::leader_elected:
  case condition_kind::leader_is:
    out.nodes = true;
    break;
  case condition_kind::task_is:
    out.tasks = true;
    break;
  case condition_kind::event_seen:
    out.events = true;
    break;
  }
  return out;
}

namespace {

struct keyword_entry {
  std::string_view name;
  step_kind kind;
};

constexpr keyword_entry keywords[] = {
  {"send", step_kind::send},
  {"call", step_kind::call},
  {"let", step_kind::let},
  {"wait", step_kind::wait},
  {"expect", step_kind::expect},
  {"sleep", step_kind::sleep},
  {"echo", step_kind::echo},
  {"exec", step_kind::exec},
  {"watch", step_kind::watch},
  {"unwatch", step_kind::unwatch},
  {"partition", step_kind::partition},
  {"heal", step_kind::heal},
  {"drop", step_kind::drop},
  {"delay", step_kind::delay},
  {"actors", step_kind::actors},
  {"messages", step_kind::messages},
  {"schema", step_kind::schema},
  {"help", step_kind::help},
  {"exit", step_kind::exit},
};

constexpr std::string_view watch_keys[]
  = {"type", "action", "service", "node", "task", "id"};

bool is_actor_char(char c) {
  return is_ident_char(c) || c == '/' || c == '.' || c == '-' || c == ':';
}

/// The word at s[i...) up to a blank, `(` or `#`.
token word_at(std::string_view s, size_t i) {
  size_t end = i;
  while (end < s.size() && !is_blank(s[end]) && s[end] != '(' && s[end] != '#')
    ++end;
  return {s.substr(i, end - i), i};
}

/// Reads ACTOR MESSAGE [(FIELDS)] from `from` on into `out`.
result<void> parse_message(const context& ctx, const bracket_scan& scan,
                           size_t from, step& out) {
  auto src = ctx.src;
  auto actor = word_at(src, skip_blanks(src, from));
  if (actor.text.empty())
    return ctx.error(actor.offset, "missing actor, e.g. leader/controlapi");
  if (!std::all_of(actor.text.begin(), actor.text.end(), is_actor_char))
    return ctx.error(actor.offset,
                     fmt::format("`{}` is not an actor name (letters, digits "
                                 "and _ / . - :, e.g. node/w1/agent)",
                                 actor.text));
  auto message = word_at(src, skip_blanks(src, actor.end()));
  if (message.text.empty())
    return ctx.error(message.offset,
                     fmt::format("missing message name after `{}`, e.g. "
                                 "serviceCreate",
                                 actor.text));
  if (!is_identifier(message.text))
    return ctx.error(message.offset,
                     fmt::format("`{}` is not a message name", message.text));
  out.actor = actor.text;
  out.message = message.text;
  size_t i = skip_blanks(src, message.end());
  if (i < src.size() && src[i] == '(') {
    auto group = std::find_if(scan.groups.begin(), scan.groups.end(),
                              [&](const auto& g) { return g.first == i; });
    // scan_brackets succeeded, so every top-level `(` has its group.
    out.fields = src.substr(i, group->second + 1 - i);
    std::tie(out.fields_line, out.fields_column) = ctx.position(i);
    i = group->second + 1;
  } else if (i < src.size() && src[i] == '[') {
    return ctx.error(i, "fields are a Cap'n Proto struct in `( )`");
  }
  auto rest = words(src, i);
  if (!rest.empty())
    return ctx.error(
      rest[0].offset,
      fmt::format("unexpected `{}` after the {}", rest[0].text,
                  out.fields.empty() ? "message name" : "fields' closing `)`"));
  return {};
}

/// Reads `let NAME = call ACTOR MESSAGE [(FIELDS)]` from `from` on.
result<void> parse_let(const context& ctx, const bracket_scan& scan,
                       size_t from, step& out) {
  auto src = ctx.src;
  size_t i = skip_blanks(src, from);
  size_t end = i;
  while (end < src.size() && !is_blank(src[end]) && src[end] != '=')
    ++end;
  token name{src.substr(i, end - i), i};
  if (!is_identifier(name.text))
    return ctx.error(i, fmt::format("`{}` is not a variable name (a letter or "
                                    "_, then letters, digits or _)",
                                    name.text));
  if (name.text == "env")
    return ctx.error(i, "`env` holds the environment; choose another name");
  i = skip_blanks(src, end);
  if (i >= src.size() || src[i] != '=')
    return ctx.error(i, fmt::format("missing `=` after `let {}`", name.text));
  auto verb = word_at(src, skip_blanks(src, i + 1));
  if (verb.text != "call")
    return ctx.error(
      verb.offset, verb.text == "send"
                     ? std::string{"`send` has no reply to keep; use `call`"}
                     : fmt::format("want `call` after `let {} =`", name.text));
  out.variable = name.text;
  return parse_message(ctx, scan, verb.end(), out);
}

result<std::chrono::nanoseconds>
parse_wait(const context& ctx, const std::vector<token>& w, step& out) {
  size_t last = w.size();
  auto timeout = default_wait_timeout;
  if (!w.empty() && w.back().text == "timeout")
    return ctx.error(w.back().end(), "missing duration after `timeout`");
  if (w.size() >= 2 && w[w.size() - 2].text == "timeout") {
    if (out.kind == step_kind::expect)
      return ctx.error(w[w.size() - 2].offset,
                       "expect checks once and takes no timeout; use wait");
    auto d = parse_duration_at(ctx, w.back());
    if (!d)
      return d.error();
    timeout = *d;
    last -= 2;
  }
  auto c = parse_condition_tokens(ctx, w, 0, last);
  if (!c)
    return c.error();
  out.cond = std::move(*c);
  return timeout;
}

result<void> parse_partition(const context& ctx, const std::vector<token>& w,
                             step& out) {
  out.groups.emplace_back();
  size_t last_bar = ctx.src.size();
  for (const auto& t : w) {
    size_t start = 0;
    for (size_t i = 0; i <= t.text.size(); ++i) {
      if (i < t.text.size() && t.text[i] != '|')
        continue;
      if (i > start)
        out.groups.back().emplace_back(t.text.substr(start, i - start));
      if (i < t.text.size()) {
        if (out.groups.back().empty())
          return ctx.error(t.offset + i, "empty group before `|`");
        out.groups.emplace_back();
        last_bar = t.offset + i;
      }
      start = i + 1;
    }
  }
  if (out.groups.size() < 2)
    return ctx.error(ctx.src.size(),
                     "partition needs two or more groups of nodes separated "
                     "by `|`, e.g. partition m1 m2 | m3 w1");
  if (out.groups.back().empty())
    return ctx.error(last_bar, "empty group after `|`");
  std::vector<std::string> all;
  for (const auto& g : out.groups)
    all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  auto twice = std::adjacent_find(all.begin(), all.end());
  if (twice != all.end())
    return ctx.error(w.front().offset,
                     fmt::format("node {} is in two groups", *twice));
  return {};
}

/// Reads `FROM->TO VALUE` (blanks around `->` allowed); returns VALUE.
result<token> parse_path(const context& ctx, const std::vector<token>& w,
                         std::string_view example, step& out) {
  if (w.size() < 2)
    return ctx.error(
      ctx.src.size(),
      fmt::format("want FROM->TO and a value, e.g. {}", example));
  auto begin = w.front().offset;
  auto path = ctx.src.substr(begin, w[w.size() - 2].end() - begin);
  auto arrow = path.find("->");
  auto trim = [](std::string_view s) {
    auto b = s.find_first_not_of(" \t");
    auto e = s.find_last_not_of(" \t");
    return b == npos ? std::string_view{} : s.substr(b, e - b + 1);
  };
  auto from = arrow == npos ? path : trim(path.substr(0, arrow));
  auto to = arrow == npos ? std::string_view{} : trim(path.substr(arrow + 2));
  auto single = [](std::string_view s) {
    return !s.empty() && std::none_of(s.begin(), s.end(), [](char c) {
      return is_blank(c) || c == '>' || c == '-';
    });
  };
  if (arrow == npos || !single(from) || !single(to))
    return ctx.error(begin, fmt::format("want the path as FROM->TO, e.g. {}, "
                                        "not `{}`",
                                        example, path));
  out.from = from;
  out.to = to;
  return w.back();
}

result<double> parse_probability(const context& ctx, const token& t) {
  std::string text{t.text};
  char* end = nullptr;
  double p = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(p >= 0 && p <= 1))
    return ctx.error(t.offset,
                     fmt::format("drop probability must be a number from 0 "
                                 "to 1, not `{}`",
                                 t.text));
  return p;
}

/// Checks that `w` holds from `min` to `max` words.
result<void> arity(const context& ctx, const std::vector<token>& w, size_t min,
                   size_t max, std::string_view usage) {
  if (w.size() < min)
    return ctx.error(ctx.src.size(), fmt::format("usage: {}", usage));
  if (w.size() > max)
    return ctx.error(w[max].offset, fmt::format("unexpected `{}` (usage: {})",
                                                w[max].text, usage));
  return {};
}

/// The text after the keyword, blanks around it dropped.
std::string rest_of(std::string_view src, size_t from) {
  auto b = skip_blanks(src, from);
  auto e = src.size();
  while (e > b && is_blank(src[e - 1]))
    --e;
  return std::string{src.substr(b, e - b)};
}

/// Parses the arguments of a step of `kind` whose keyword ends at `from`.
result<void> parse_args(const context& ctx, const bracket_scan& scan,
                        size_t from, step& s) {
  auto w = words(ctx.src, from);
  auto done = [](auto r) -> result<void> {
    if (!r)
      return r.error();
    return {};
  };
  switch (s.kind) {
  case step_kind::send:
  case step_kind::call:
    return parse_message(ctx, scan, from, s);
  case step_kind::let:
    return parse_let(ctx, scan, from, s);
  case step_kind::wait:
  case step_kind::expect: {
    auto timeout = parse_wait(ctx, w, s);
    if (timeout)
      s.timeout = *timeout;
    return done(timeout);
  }
  case step_kind::sleep: {
    if (auto ok = arity(ctx, w, 1, 1, "sleep DURATION, e.g. sleep 2s"); !ok)
      return ok;
    auto d = parse_duration_at(ctx, w[0]);
    if (d)
      s.duration = *d;
    return done(d);
  }
  case step_kind::echo:
    s.text = rest_of(ctx.src, from);
    return {};
  case step_kind::exec:
    s.text = rest_of(ctx.src, from);
    if (s.text.empty())
      return ctx.error(ctx.src.size(), "usage: exec SHELL COMMAND");
    return {};
  case step_kind::watch:
    for (const auto& t : w) {
      auto eq = t.text.find('=');
      auto key = t.text.substr(0, eq == npos ? t.text.size() : eq);
      if (eq == npos || eq + 1 == t.text.size() || !known(key, watch_keys))
        return ctx.error(t.offset,
                         fmt::format("want KEY=VALUE with KEY one of {}, "
                                     "not `{}`{}",
                                     listed(watch_keys), t.text,
                                     suggestion(key, watch_keys)));
      s.filters.emplace_back(t.text);
    }
    return {};
  case step_kind::partition:
    return parse_partition(ctx, w, s);
  case step_kind::heal:
    for (const auto& t : w)
      s.nodes.emplace_back(t.text);
    return {};
  case step_kind::drop: {
    auto value = parse_path(ctx, w, "drop w1->w2 0.2", s);
    if (!value)
      return value.error();
    auto p = parse_probability(ctx, *value);
    if (p)
      s.probability = *p;
    return done(p);
  }
  case step_kind::delay: {
    auto value = parse_path(ctx, w, "delay w1->w2 50ms", s);
    if (!value)
      return value.error();
    auto d = parse_duration_at(ctx, *value);
    if (d)
      s.duration = *d;
    return done(d);
  }
  case step_kind::messages:
  case step_kind::help:
  case step_kind::schema: {
    auto usage = s.kind == step_kind::schema     ? "schema NAME"
                 : s.kind == step_kind::messages ? "messages [ACTOR]"
                                                 : "help [TOPIC]";
    size_t min = s.kind == step_kind::schema ? 1 : 0;
    if (auto ok = arity(ctx, w, min, 1, usage); !ok)
      return ok;
    if (!w.empty())
      s.argument = w[0].text;
    return {};
  }
  case step_kind::unwatch:
  case step_kind::actors:
  case step_kind::exit:
    return arity(ctx, w, 0, 0, to_string(s.kind));
  }
  return {};
}

/// Parses one step whose text is `src`; with `may_defer`, a step with
/// variables that does not parse yet is kept for `bind_variables`.
result<step> parse_one(std::string_view src, size_t line, bool may_defer) {
  context ctx{src, line};
  auto keyword = keyword_of(src);
  if (keyword.text.empty())
    return ctx.error(keyword.offset, "empty step");
  auto entry
    = std::find_if(std::begin(keywords), std::end(keywords),
                   [&](const auto& k) { return k.name == keyword.text; });
  if (entry == std::end(keywords)) {
    std::vector<std::string_view> names;
    for (const auto& k : keywords)
      names.push_back(k.name);
    auto hint = suggestion(keyword.text, names);
    return ctx.error(keyword.offset,
                     fmt::format("unknown step `{}`{}", keyword.text,
                                 hint.empty() ? " (try help)" : hint));
  }
  bracket_scan scan;
  if (spans_lines(keyword.text)) {
    scan = scan_brackets(src);
    if (scan.error_offset != npos)
      return ctx.error(scan.error_offset,
                       scan.mismatched == npos
                         ? scan.error
                         : scan.error + ctx.where(scan.mismatched));
    if (!scan.open.empty())
      return ctx.error(scan.open.back(), fmt::format("`{}` is never closed",
                                                     src[scan.open.back()]));
  }
  step s;
  s.kind = entry->kind;
  s.line = line;
  s.source = src;
  if (auto ok = parse_args(ctx, scan, keyword.end(), s); !ok) {
    if (!may_defer || !has_variables(src))
      return ok.error();
    step deferred;
    deferred.kind = s.kind;
    deferred.line = line;
    deferred.source = src;
    deferred.deferred = true;
    return deferred;
  }
  return s;
}

result<std::string> substitute_in(const context& ctx,
                                  const variable_lookup& lookup) {
  auto text = ctx.src;
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      out += text[i++];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    std::string_view ref;
    size_t next = 0;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      auto close = text.find('}', i + 2);
      if (close == npos)
        return ctx.error(i, "`${` is not closed by `}`");
      ref = text.substr(i + 2, close - i - 2);
      next = close + 1;
      bool ok = !ref.empty() && is_ident_start(ref[0]) && ref.back() != '.'
                && ref.find("..") == npos
                && std::all_of(ref.begin(), ref.end(), [](char c) {
                     return is_ident_char(c) || c == '.';
                   });
      if (!ok)
        return ctx.error(i, fmt::format("`${{{}}}` is not a variable (write "
                                        "${{NAME}} or ${{NAME.field}})",
                                        ref));
    } else {
      next = i + 1;
      while (next < text.size() && is_ident_char(text[next]))
        ++next;
      ref = text.substr(i + 1, next - i - 1);
      if (ref.empty() || !is_ident_start(ref[0]))
        return ctx.error(i, "`$` starts no variable (write $NAME, ${NAME}, "
                            "or $$ for a `$`)");
    }
    auto value = lookup(ref);
    if (!value) {
      if (value.error().code == errc::not_found)
        return ctx.error(i, fmt::format("unknown variable `{}`", ref));
      return fail(value.error().code,
                  fmt::format("{}: {}", ctx.where(i), value.error().message));
    }
    out += *value;
    i = next;
  }
  return out;
}

} // namespace

const char* to_string(step_kind kind) noexcept {
  for (const auto& k : keywords)
    if (k.kind == kind)
      return k.name.data(); // the literals are NUL-terminated
  return "?";
}

std::pair<size_t, size_t> fields_position(const step& s, size_t offset) {
  offset = std::min(offset, s.fields.size());
  auto before = std::string_view{s.fields}.substr(0, offset);
  auto newline = before.rfind('\n');
  if (newline == npos)
    return {s.fields_line, s.fields_column + offset};
  auto lines
    = static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  return {s.fields_line + lines, offset - newline};
}

result<script> parse_script(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= text.size();) {
    auto end = text.find('\n', start);
    auto line = text.substr(start, end == npos ? npos : end - start);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    lines.push_back(line);
    if (end == npos)
      break;
    start = end + 1;
  }
  script out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (is_blank_or_comment(lines[i]))
      continue;
    size_t first = i;
    std::string source{lines[i]};
    while (needs_more(source) && i + 1 < lines.size()) {
      source += '\n';
      source += lines[++i];
    }
    auto s = parse_one(source, first + 1, true);
    if (!s)
      return std::move(s).error();
    out.steps.push_back(std::move(*s));
  }
  return out;
}

result<step> parse_step(std::string_view text, size_t line_number) {
  return parse_one(text, line_number, true);
}

bool needs_more(std::string_view partial) {
  if (!spans_lines(keyword_of(partial).text))
    return false;
  auto scan = scan_brackets(partial);
  return scan.error_offset == npos && !scan.open.empty();
}

bool is_blank_or_comment(std::string_view line) {
  size_t i = skip_blanks(line, 0);
  return i == line.size() || line[i] == '#';
}

result<std::string> substitute(std::string_view text,
                               const variable_lookup& lookup) {
  return substitute_in(context{text, 0}, lookup);
}

bool has_variables(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '$') {
      if (i + 1 < text.size() && text[i + 1] == '$')
        ++i;
      else
        return true;
    }
  return false;
}

result<step> bind_variables(const step& s, const variable_lookup& lookup) {
  auto text = substitute_in(context{s.source, s.line}, lookup);
  if (!text)
    return std::move(text).error();
  return parse_one(*text, s.line, false);
}

} // namespace skep::console
