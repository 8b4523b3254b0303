#pragma once

// What `skep service ...` and `skep node ps` print: pure functions over the
// control protocol's replies. Times are passed in (`now_nanos`) so tests
// can pin them.

#include "messages/control.capnp.h"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace skep::console {

/// Left-aligned columns `gap` spaces apart, trailing blanks trimmed; rows
/// may have different lengths.
std::string render_table(const std::vector<std::vector<std::string>>& rows,
                         size_t gap = 3);

/// "running", "failed", ...: a task state as Docker spells it.
std::string task_state_name(schema::store::TaskState state);

/// Docker's humanized duration: "Less than a second", "1 second",
/// "5 seconds", "About a minute", "3 minutes", "About an hour", "5 hours",
/// "3 days", "2 weeks", "3 months", "2 years". Negative counts as zero.
std::string human_duration(int64_t nanos);

/// `ids` shortened to 12 characters, as tables show them.
std::string short_id(const std::string& id);

/// The published ports of a service: "*:8080->80/tcp, 53/udp" (a port
/// published on no node shows as TARGET/PROTOCOL).
std::string
format_service_ports(capnp::List<schema::store::PortConfig>::Reader ports);

/// `skep service ls`: ID, NAME, MODE, REPLICAS (running/desired), IMAGE,
/// PORTS; or the ids alone (`quiet`).
std::string
format_service_table(capnp::List<schema::control::ServiceView>::Reader services,
                     bool quiet);

/// `skep service ls --format json`: one object per line with Docker's keys
/// ID, Name, Mode, Replicas, Image, Ports.
std::string
service_lines_json(capnp::List<schema::control::ServiceView>::Reader services);

/// How `service ps` and `node ps` show tasks.
struct task_table_options {
  /// Only the ids.
  bool quiet = false;
  /// Full ids and errors.
  bool no_trunc = false;
  /// One JSON object per line (keys ID, Name, Image, Node, DesiredState,
  /// CurrentState, Error, Ports) instead of a table.
  bool json = false;
};

/// `skep service ps` and `skep node ps`: tasks sorted by service and slot
/// (global: node), newest first within a slot; older tasks of a slot are
/// named ` \_ <service>.<slot>` in the table. CURRENT STATE reads e.g.
/// "Running 5 seconds ago" as of `now_nanos`.
std::string
format_task_table(capnp::List<schema::control::TaskView>::Reader tasks,
                  const task_table_options& options, int64_t now_nanos);

/// `skep service inspect`: a JSON array shaped like Docker's.
std::string service_inspect_json(
  capnp::List<schema::control::ServiceView>::Reader services);

/// `skep service inspect --pretty`: Docker's human layout.
std::string format_service_pretty(
  capnp::List<schema::control::ServiceView>::Reader services);

/// Where a service stands on the way to what its spec asks for.
struct service_progress {
  /// Slots (global: nodes) whose newest task runs the current spec.
  uint64_t done = 0;
  /// Slots (global: nodes) the service wants.
  uint64_t total = 0;
  /// done == total.
  bool converged = false;
  /// One line per slot (global: node), e.g. "2/3: running   [===>  ]";
  /// empty when there are more than 20.
  std::vector<std::string> slot_lines;
  /// Ids of the tasks counted in `done`: convergence holds while it stays.
  std::string running_ids;
  /// Why a slot is not done yet, e.g. a pending task's "no suitable node
  /// (...)"; may be empty.
  std::string reason;
  /// Set when a slot's last 3 tasks failed in a row: names the slot and
  /// the error. The command gives up then.
  std::string failure;
};

/// Display rows of a replicated service's slots (slot -> row from 1), kept
/// by the caller across calls so that a slot keeps its row while a command
/// watches, as docker/cli's slotMap does.
using progress_rows = std::map<uint64_t, uint64_t>;

/// Assesses `service` from its tasks. Failed tasks listed in
/// `failed_before` (those that had failed before the command acted) do not
/// count towards a failure.
///
/// Replicated services count, as docker/cli does, the distinct slots that
/// have a wanted task (desired state at most running) whose newest wanted
/// task runs the current spec, up to the replica count. Slots are sparse
/// after a scale-down; slots whose tasks are all shut down or removed do
/// not count, whatever their number. Each counted slot gets a display row
/// (`rows`, or rows in slot order when it is null).
service_progress
assess_progress(schema::control::ServiceView::Reader service,
                capnp::List<schema::control::TaskView>::Reader tasks,
                const std::set<std::string>& failed_before,
                progress_rows* rows = nullptr);

/// "overall progress: 2 out of 3 tasks".
std::string format_overall_progress(const service_progress& progress);

} // namespace skep::console
