#pragma once

// What `skep console` can talk to: the actors it names (by role and node),
// the messages each accepts, their schemas, how a typed line becomes a
// message, how replies print, and tab completion. Compiled in, pure code;
// no CAF.

#include "messages/envelope.hpp"
#include "messages/result.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace skep::console {

/// The kinds of actor the console can address.
enum class actor_kind {
  controlapi, ///< leader/controlapi: every control request
  agent,      ///< node/NAME/agent
  transport,  ///< node/NAME/transport
  dispatcher, ///< the leader's dispatcher
  scheduler,  ///< the leader's scheduler
  reconciler, ///< reconciler/SERVICE, on the leader
};

/// Every kind, in the order listings show them.
const std::vector<actor_kind>& actor_kinds();

/// How people write a kind: "leader/controlapi", "node/NAME/agent",
/// "reconciler/SERVICE", ...
std::string actor_pattern(actor_kind kind);

/// The name in an envelope's target: "agent", "transport", "dispatcher",
/// "scheduler", "reconciler" ("controlapi" for the control API).
std::string actor_route(actor_kind kind);

/// An actor as the console names it.
struct actor_name {
  actor_kind kind = actor_kind::controlapi;
  /// The node of agent and transport; empty otherwise.
  std::string node;
  /// The service of a reconciler; empty otherwise.
  std::string service;
  /// As written, e.g. "node/w1/agent".
  std::string text;
};

/// Reads "leader/controlapi", "node/NAME/agent", "node/NAME/transport",
/// "dispatcher", "scheduler" or "reconciler/SERVICE". Names are 1-128 of
/// letters, digits, '-', '_', '.'. Fails with errc::invalid_argument naming
/// what is wrong and the actors there are.
result<actor_name> parse_actor(std::string_view text);

/// One message an actor accepts.
struct message_info {
  actor_kind actor = actor_kind::controlapi;
  /// The union member that carries it: "serviceCreate", "inspect".
  std::string name;
  /// True when it has a reply (`call`); false for one-way messages, which
  /// only `send` takes.
  bool call = true;
  /// The argument's type: "ServiceSpec", "Void", "Data".
  std::string argument;
  /// The reply's type: "Reply" (control API) or "SchedulerState"...; empty
  /// for one-way messages.
  std::string reply;
  /// The member of Reply or Envelope.body the reply is expected in, with its
  /// type: "services :List(ServiceView)"; may be empty.
  std::string reply_member;
};

/// The messages `kind` accepts, in schema order.
std::vector<message_info> messages_of(actor_kind kind);

/// `messages`: one line per actor and message, aligned, e.g.
/// "scheduler           call  inspect   ()   -> schedulerState
/// :SchedulerState". Only `kind`'s messages when given.
std::string format_messages();
std::string format_messages(actor_kind kind);

/// `schema NAME`: the fields of a message's argument (by message name, e.g.
/// "serviceCreate") or of a struct or enum (e.g. "ServiceSpec", "Fault",
/// "TaskState") in Cap'n Proto schema syntax, with explicit defaults and
/// enumerants. Fails with errc::not_found listing close names.
result<std::string> schema_text(std::string_view message_or_type);

/// `call` waits for a reply; `send` does not.
enum class delivery { call, send };

/// A message ready to go.
struct built_message {
  /// True for leader/controlapi: `request` holds it; else `env` does.
  bool control = false;
  control_request request;
  envelope env;
  /// `call` of a message with a reply.
  bool expects_reply = false;
};

/// Builds `message` for `actor` from its arguments `args_text` (the
/// "( ... )" part: empty or "()" for Void and field-less messages), whose
/// first character is at 1-based column `args_column` of the caller's line
/// (errors count columns from there). Control API messages become a control
/// request with that member set; the others an envelope (REQUEST for call,
/// ONE_WAY for send; correlation id 0; sender {"", "console"}; target {"",
/// actor_route}) whose body member is set. `call` of a one-way message is
/// refused; `send` of a call drops its reply.
result<built_message> build_message(const actor_name& actor,
                                    std::string_view message,
                                    std::string_view args_text,
                                    size_t args_column, delivery how);

/// How replies print.
struct reply_format {
  /// JSON instead of text format.
  bool json = false;
  /// Text: one field per line; JSON: indented.
  bool indent = false;
};

/// The active member of a control reply, e.g. `services = [(...)]`, `done`
/// or {"services": [...]}. A `delivered` reply is unwrapped and its envelope
/// printed. Fails with the reply's own error (code and message) when it
/// carries one.
result<std::string> format_reply(const control_reply& reply,
                                 const reply_format& format = {});

/// The active member of a reply envelope's body, e.g. `pong = (node = "w1")`.
/// Fails with the body's error when it is one.
result<std::string> format_reply(const envelope& reply,
                                 const reply_format& format = {});

/// The envelope inside a `delivered` control reply. Fails when the reply is
/// something else or does not decode.
result<envelope> delivered_envelope(const control_reply& reply);

/// Names the catalog cannot know, for completion.
struct known_names {
  std::vector<std::string> nodes;
  std::vector<std::string> services;
};

/// Where the word complete() works on starts in `line_prefix`: after the
/// last space, '(', ')', '[', ']', ',' or '='.
size_t completion_start(std::string_view line_prefix);

/// Candidates for the last word of `line_prefix` (see completion_start):
/// step keywords first in a line; actors after send/call/messages; message
/// names after an actor; inside the parentheses, field names of the struct
/// being written (and enumerants or true/false after `field =`); message
/// and type names after schema. Sorted, each starting with the word.
std::vector<std::string> complete(std::string_view line_prefix,
                                  const known_names& known = {});

} // namespace skep::console
