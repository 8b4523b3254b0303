#pragma once

// `skep console` scripts: the parser of steps and the evaluator of `wait` and
// `expect` conditions. Pure: no CAF, no I/O. The runner fetches the data a
// condition needs (`needs`), builds a `cluster_view`, and asks `evaluate`.
//
// A script is one step per line. Blank lines and lines whose first non-blank
// character is `#` are skipped. A `send`, `call` or `let` step continues on
// the following lines while a `(` or `[` is open; inside them `#` starts a
// comment to the end of the line and parens inside "strings" do not count (as
// in Cap'n Proto text). Other steps are one line each. Positions are 1-based;
// a column counts bytes.

#include "messages/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skep::console {

// -- conditions ---------------------------------------------------------------

enum class condition_kind {
  service_running,   ///< service NAME running N
  service_converged, ///< service NAME converged
  service_removed,   ///< service NAME removed
  node_is,           ///< node NAME STATE
  leader_elected,    ///< leader elected
  leader_is,         ///< leader is NAME
  task_is,           ///< task SERVICE.SLOT STATE
  event_seen,        ///< event TYPE [KEY=VALUE ...]
};

/// One KEY=VALUE of an event condition; `pattern` may hold `*` globs.
struct field_match {
  std::string key; ///< action, service, node, task or reason
  std::string pattern;
};

/// A parsed condition. Which fields are set depends on `kind`.
struct condition {
  condition_kind kind = condition_kind::leader_elected;
  /// `not` in front (an even number of `not`s cancel out).
  bool negated = false;
  /// Service (service_*, task_is), node (node_is, leader_is) or event type.
  std::string name;
  /// service_running: the number of tasks wanted.
  uint64_t count = 0;
  /// task_is: the slot, from 1.
  uint64_t slot = 0;
  /// node_is: ready, down, active, pause, drain, leader, reachable,
  /// unreachable, manager or worker; task_is: a task state, e.g. "running".
  std::string state;
  /// event_seen: every one must match.
  std::vector<field_match> fields;
  /// The condition as written (without the leading keyword of its step).
  std::string text;
};

/// Parses `text`, e.g. "not service web running 3". Errors read
/// "column C: <what>", C counted from the start of `text`.
result<condition> parse_condition(std::string_view text);

/// A node as `node ls` shows it.
struct node_row {
  std::string id;
  std::string hostname;
  std::string status;         ///< "ready", "down", "unknown", "disconnected"
  std::string availability;   ///< "active", "pause", "drain"
  std::string manager_status; ///< "leader", "reachable", "unreachable", ""
  std::string role;           ///< "manager" or "worker"
};

struct service_row {
  std::string id;
  std::string name;
  bool mode_global = false;
  uint64_t replicas = 0; ///< replicated services only
};

struct task_row {
  std::string id;
  std::string service_name;
  uint64_t slot = 0; ///< 0 for global services
  std::string node_id;
  std::string node_hostname;
  std::string desired_state; ///< a task state name, e.g. "running", "shutdown"
  std::string state;         ///< a task state name, e.g. "running", "failed"
  /// Orders the tasks of one slot: the newest is the current one. Ties: the
  /// later in `cluster_view::tasks` is newer.
  int64_t created_at_nanos = 0;
};

/// What the runner fetched. Only the parts `needs` asks for must be filled.
struct cluster_view {
  std::vector<node_row> nodes;
  std::vector<service_row> services;
  std::vector<task_row> tasks;
};

/// An event the runner has seen since the script started.
struct event_row {
  uint64_t seq = 0;
  std::string type;                 ///< service, node, task, reconcile, ...
  std::string action;               ///< create, update, remove, or a decision
  std::string service;              ///< by name; empty if none
  std::string node;                 ///< hostname (or id); empty if none
  std::string task;                 ///< NAME.SLOT (or id); empty if none
  std::vector<std::string> reasons; ///< the decisions' reasons
};

/// Which parts of the cluster a condition reads.
struct data_needs {
  bool nodes = false;
  bool services = false;
  bool tasks = false;
  bool events = false;
};

/// The data `evaluate` reads for `c`; the rest of a view may stay empty.
data_needs needs(const condition& c);

struct condition_result {
  bool holds = false;
  /// What was seen, for people, e.g. "service web has 4 running tasks (want
  /// 6)", "node w2 is ready (want down)", "no node named w9".
  std::string observed;
};

/// Evaluates `c` against `view` and the events `seen` since the script
/// started. Nodes are named by hostname or id, services by name.
condition_result evaluate(const condition& c, const cluster_view& view,
                          const std::vector<event_row>& seen);

/// Levenshtein distance between `a` and `b`, for "did you mean" hints.
size_t edit_distance(std::string_view a, std::string_view b);

/// True when `text` matches `pattern`, where `*` matches any run of
/// characters (including none) and every other character itself.
bool glob_match(std::string_view pattern, std::string_view text);

// -- steps --------------------------------------------------------------------

enum class step_kind {
  send,
  call,
  let,
  wait,
  expect,
  sleep,
  echo,
  exec,
  watch,
  unwatch,
  partition,
  heal,
  drop,
  delay,
  actors,
  messages,
  schema,
  help,
  exit,
};

/// The step's keyword, e.g. "partition".
const char* to_string(step_kind kind) noexcept;

/// The wait timeout when a `wait` step names none.
inline constexpr std::chrono::nanoseconds default_wait_timeout
  = std::chrono::seconds{30};

/// One step. Which fields are set depends on `kind`.
struct step {
  step_kind kind = step_kind::help;
  /// Where it starts, from 1.
  size_t line = 0;
  /// The text as written; continuation lines are joined with '\n'.
  std::string source;
  /// The step refers to variables and could not be parsed until they are
  /// substituted: only `kind`, `line` and `source` are set. `bind_variables`
  /// parses it.
  bool deferred = false;

  // send, call, let
  std::string variable; ///< let: the name the reply is kept under
  std::string actor;    ///< e.g. "leader/controlapi"
  std::string message;  ///< e.g. "serviceCreate"
  /// The Cap'n Proto text from `(` to its matching `)`, both included, as
  /// written (comments and newlines kept); empty when the step has none.
  std::string fields;
  size_t fields_line = 0;   ///< where the `(` is
  size_t fields_column = 0; ///< where the `(` is

  // wait, expect
  condition cond;
  std::chrono::nanoseconds timeout = default_wait_timeout; ///< wait only

  // sleep, delay
  std::chrono::nanoseconds duration{0};

  // echo, exec: the rest of the line after the keyword and its blanks
  std::string text;

  // watch: KEY=VALUE filters as written; empty: every event
  std::vector<std::string> filters;

  // partition: two or more non-empty groups of node names
  std::vector<std::vector<std::string>> groups;

  // heal: the nodes whose faults end; empty: all faults
  std::vector<std::string> nodes;

  // drop, delay: the path FROM->TO
  std::string from;
  std::string to;
  double probability = 0; ///< drop: in [0, 1]

  // messages (optional), schema, help (optional): the one argument
  std::string argument;
};

/// Maps `offset` in `s.fields` to the script position it came from, for
/// errors found inside the fields: {line, column}.
std::pair<size_t, size_t> fields_position(const step& s, size_t offset);

struct script {
  std::vector<step> steps;
};

/// Parses a whole script. Any error rejects it: "line L, column C: <what>".
/// A step that refers to variables and does not parse as written is kept
/// `deferred`; its own errors surface at `bind_variables`.
result<script> parse_script(std::string_view text);

/// Parses one step for the interactive console; `text` may span lines (see
/// `needs_more`), `line_number` is where it starts. Blank or comment-only
/// text is an error: skip it with `is_blank_or_comment` first.
result<step> parse_step(std::string_view text, size_t line_number);

/// True when `partial` is a send, call or let step with a `(` or `[` still
/// open: the console should read another line and append it after '\n'.
/// False when it is complete or already wrong (parse_step says why).
bool needs_more(std::string_view partial);

/// True for a blank line or one whose first non-blank character is `#`.
bool is_blank_or_comment(std::string_view line);

/// Looks up a variable: "x", "x.a.b" or "env.HOME". A failure with
/// errc::not_found means there is no such variable (or field).
using variable_lookup
  = std::function<result<std::string>(std::string_view name_and_path)>;

/// Replaces `$NAME`, `${NAME}` and `${NAME.path}` with what `lookup` returns;
/// `$$` is a literal `$`. NAME starts with a letter or `_`; path segments
/// hold letters, digits and `_`. Errors: a `$` that starts nothing, an
/// unclosed `${`, and variables `lookup` does not know ("unknown variable
/// `x.a`"); other lookup failures are passed on as they are.
result<std::string> substitute(std::string_view text,
                               const variable_lookup& lookup);

/// True when `text` refers to a variable (a `$` that is not part of `$$`).
bool has_variables(std::string_view text);

/// What a step is at run time: its source with variables substituted, parsed
/// again (so a deferred step is checked here). Errors read "line L, ...".
result<step> bind_variables(const step& s, const variable_lookup& lookup);

} // namespace skep::console
