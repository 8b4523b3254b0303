#pragma once

// The leader's event log: what changed in the store and what the leader's
// actors decided, newest N kept in memory. No CAF: the manager records into
// it and answers `events` requests from it; the console filters, formats and
// parses times with the same code.

#include "actors/store/event.hpp"
#include "messages/events.capnp.h"
#include "messages/result.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skep::controlapi {

/// Attribute keys the filters look at besides the event's own fields.
inline constexpr std::string_view attr_node = "node";         ///< a node id
inline constexpr std::string_view attr_hostname = "hostname"; ///< its name
inline constexpr std::string_view attr_service_id = "serviceId";

/// Parsed `--filter KEY=VALUE` arguments: the values given per key. Values
/// of one key OR, keys AND, as `docker events --filter`.
struct filter_set {
  std::map<std::string, std::vector<std::string>> values;
  bool empty() const { return values.empty(); }
};

/// The filter keys, in the order error messages list them.
inline constexpr const char* filter_keys[]
  = {"type", "action", "service", "node", "task", "id"};

/// The event types, valid values of the `type` filter.
inline constexpr const char* event_types[]
  = {"service", "node", "task", "reconcile", "schedule", "dispatch"};

/// Parses KEY=VALUE filters. Keys: type (one of event_types), action
/// (matches the event's action or any decision's), service (name, or id for
/// service events and the "serviceId" attribute), node (node id or hostname:
/// a node event's id or name; otherwise a decision's node_id or the "node" or
/// "hostname" attribute), task (task id or id prefix: a task event's id or
/// name, or any decision's task_id), id (the event's id or an id prefix).
/// Fails with invalid_argument naming the filter for a missing '=', an empty
/// key or value, an unknown key (listing the valid keys) or an unknown type
/// (listing the valid types).
result<filter_set> parse_filters(const std::vector<std::string>& kv);

/// True when `e` passes every key of `filters` (an empty set passes all).
bool matches(const filter_set& filters, const event& e);

/// Which events a read wants.
struct query {
  uint64_t after_seq = 0;  ///< only seq > this; 0: from the oldest kept
  int64_t since_nanos = 0; ///< only time >= this; 0: any
  int64_t until_nanos = 0; ///< only time < this; 0: any
  filter_set filters;
  /// The log after_seq belongs to; when not empty and not this log's id,
  /// after_seq means nothing here and the read starts at the oldest kept.
  std::string log;
};

/// The number of events one read returns when it is asked for 0.
inline constexpr size_t default_read_limit = 1000;

/// What one read found, and where the next read continues.
struct read_result {
  std::vector<const event*> events; ///< oldest first; see event_log::read
  /// Ask the next time with after_seq = this: the last event looked at, so
  /// a filter that matched nothing is not run over the same events again.
  uint64_t resume_after = 0;
};

/// The newest `capacity` events, each given the next seq from 1. Not
/// thread-safe: one actor owns it.
class event_log {
 public:
  static constexpr size_t default_capacity = 10'000;
  /// What the kept events may hold in memory, about: events of thousands of
  /// decisions would otherwise make 10,000 events gigabytes.
  static constexpr size_t default_max_bytes = size_t{8} << 20;

  /// `id` names this log ("<leader node id>:<start nanos>"); positions of
  /// one log mean nothing in another. A capacity of 0 is taken as 1.
  explicit event_log(std::string id, size_t capacity = default_capacity,
                     size_t max_bytes = default_max_bytes);

  /// Clamps `e` (see event_limits), gives it the next seq, keeps it, and
  /// drops the oldest events while more than capacity are kept or they hold
  /// more than max_bytes (the newest is always kept). Returns the seq.
  /// Pointers from read() to other events stay valid, except to those
  /// dropped.
  uint64_t record(event e);

  const std::string& id() const { return id_; }

  /// The seq of the oldest event kept; next_seq() when none is.
  uint64_t oldest_seq() const;

  /// The seq the next recorded event will get (the newest is one less).
  uint64_t next_seq() const { return next_seq_; }

  size_t size() const { return events_.size(); }
  size_t capacity() const { return capacity_; }
  /// About what the kept events hold in memory (see held_bytes).
  size_t bytes() const { return bytes_; }

  /// At most `limit` (0: default_read_limit) events matching `q`, oldest
  /// first. The pointers stay valid until the event is dropped by record().
  std::vector<const event*> read(const query& q, size_t limit) const;

  /// read(), plus where the next read continues.
  read_result read_from(const query& q, size_t limit) const;

 private:
  std::string id_;
  size_t capacity_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t next_seq_ = 1;
  std::deque<event> events_;
};

/// Reads an EventsRequest (positions, times, filters, log) into a query.
/// Fails like parse_filters.
result<query> query_from_schema(schema::events::EventsRequest::Reader req);

/// About how many bytes of events one batch carries, so that a reply fits
/// a frame between managers even when events hold thousands of decisions.
inline constexpr size_t default_batch_bytes = size_t{2} << 20;

/// About how many bytes `e` takes on the wire.
size_t encoded_size(const event& e);

/// About what `e` holds in memory: the struct, its vectors' elements and
/// every string too long for the small-string buffer.
size_t held_bytes(const event& e);

/// Answers `q`: at most `limit` matching events (0: default_read_limit) and
/// about `max_bytes` (at least one event), nextSeq to ask with next, the
/// log's id and its oldest seq.
void write_batch(const event_log& log, const query& q, size_t limit,
                 schema::events::EventBatch::Builder out,
                 size_t max_bytes = default_batch_bytes);

/// Writes `e` (within event_limits) into `out`.
void to_schema(const event& e, schema::events::Event::Builder out);

/// Reads an event, truncated to event_limits (see there).
event from_schema(schema::events::Event::Reader in);

/// `t` as RFC 3339 in UTC with nine fractional digits:
/// "2026-11-22T07:37:51.123456789Z".
std::string format_event_time(int64_t unix_nanos);

/// One line for people, without a newline. Decision events:
/// "<time> reconcile web (spec 2, raft 42): create task 3x9k.. slot 3 on w1:
/// slot 3 has no task; desired replicated 6, observed running=5", the first
/// few decisions then "and N more"; object events:
/// "<time> task update web.3 (raft 57) state=running node=w1".
std::string format_event(const event& e);

/// One JSON object, without a newline, with every key present: seq, time,
/// type, action, id, name, service, specVersion, observed (state: count),
/// desired, decisions ([{action, task, slot, node, reason}]), raftIndex,
/// attributes (key: value).
std::string event_json(const event& e);

/// Parses a --since/--until value as docker does, into Unix nanoseconds:
/// RFC 3339 ("2026-11-22T07:37:51Z", fractional seconds, "+02:00" offsets),
/// Unix seconds ("1700000000", "1700000000.5"), or a duration before
/// `now_nanos` ("10m", "1h30m", "45s", "500ms"; units ns us ms s m h).
/// Fails with invalid_argument naming the value.
result<int64_t> parse_event_time(std::string_view text, int64_t now_nanos);

} // namespace skep::controlapi
