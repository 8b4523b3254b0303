#include "actors/events/event_log.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace skep::controlapi {

namespace {

namespace se = schema::events;

constexpr int64_t nanos_per_second = 1'000'000'000;

std::string str(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

bool fits(const std::string& s) {
  return s.size() <= event_limits::max_string_bytes;
}

/// True when clamp_event would change nothing but capacity.
bool within_limits(const event& e) {
  auto strings_fit = fits(e.type) && fits(e.action) && fits(e.id)
                     && fits(e.name) && fits(e.service) && fits(e.desired);
  auto lists_fit = e.observed.size() <= event_limits::max_state_counts
                   && e.decisions.size() <= event_limits::max_decisions
                   && e.attributes.size() <= event_limits::max_attributes;
  return strings_fit && lists_fit
         && std::all_of(e.observed.begin(), e.observed.end(),
                        [](auto& o) { return fits(o.first); })
         && std::all_of(e.decisions.begin(), e.decisions.end(),
                        [](auto& d) {
                          return fits(d.action) && fits(d.task_id)
                                 && fits(d.node_id) && fits(d.reason);
                        })
         && std::all_of(e.attributes.begin(), e.attributes.end(), [](auto& a) {
              return fits(a.first) && fits(a.second);
            });
}

bool has_prefix(const std::string& s, const std::string& prefix) {
  return !prefix.empty() && s.compare(0, prefix.size(), prefix) == 0;
}

bool is_one_of(const std::string& s, const char* const* begin,
               const char* const* end) {
  return std::find(begin, end, s) != end;
}

std::string joined(const char* const* begin, const char* const* end) {
  std::string out;
  for (auto it = begin; it != end; ++it)
    out += (out.empty() ? "" : ", ") + std::string{*it};
  return out;
}

bool attribute_is(const event& e, std::string_view key,
                  const std::string& value) {
  for (auto& [k, v] : e.attributes)
    if (k == key && v == value)
      return true;
  return false;
}

template <class Pred>
bool any_decision(const event& e, Pred&& pred) {
  return std::any_of(e.decisions.begin(), e.decisions.end(), pred);
}

bool matches_one(const std::string& key, const std::string& v, const event& e) {
  if (key == "type")
    return e.type == v;
  if (key == "action")
    return e.action == v
           || any_decision(e, [&](auto& d) { return d.action == v; });
  if (key == "service")
    return e.service == v || (e.type == "service" && (e.id == v || e.name == v))
           || attribute_is(e, attr_service_id, v)
           || any_decision(e, [&](auto& d) { return d.service == v; });
  if (key == "node")
    return (e.type == "node" && (e.id == v || e.name == v))
           || any_decision(e, [&](auto& d) { return d.node_id == v; })
           || attribute_is(e, attr_node, v)
           || attribute_is(e, attr_hostname, v);
  if (key == "task")
    return (e.type == "task" && (has_prefix(e.id, v) || e.name == v))
           || any_decision(e,
                           [&](auto& d) { return has_prefix(d.task_id, v); });
  if (key == "id")
    return has_prefix(e.id, v);
  return false; // parse_filters admits no other key
}

} // namespace

// ---- events and limits ----

// ---- filters ----

result<filter_set> parse_filters(const std::vector<std::string>& kv) {
  filter_set out;
  auto keys_end = std::end(filter_keys);
  auto types_end = std::end(event_types);
  for (auto& f : kv) {
    auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == f.size())
      return fail(errc::invalid_argument,
                  fmt::format("invalid filter '{}': use KEY=VALUE with a key "
                              "of {}",
                              f, joined(filter_keys, keys_end)));
    auto key = f.substr(0, eq);
    auto value = f.substr(eq + 1);
    if (!is_one_of(key, filter_keys, keys_end))
      return fail(errc::invalid_argument,
                  fmt::format("invalid filter '{}': unknown key '{}'; valid "
                              "keys are {}",
                              f, key, joined(filter_keys, keys_end)));
    if (key == "type" && !is_one_of(value, event_types, types_end))
      return fail(errc::invalid_argument,
                  fmt::format("invalid filter '{}': unknown type '{}'; valid "
                              "types are {}",
                              f, value, joined(event_types, types_end)));
    out.values[key].push_back(std::move(value));
  }
  return out;
}

bool matches(const filter_set& filters, const event& e) {
  for (auto& [key, values] : filters.values) {
    auto any = std::any_of(values.begin(), values.end(),
                           [&](auto& v) { return matches_one(key, v, e); });
    if (!any)
      return false;
  }
  return true;
}

// ---- the log ----

event_log::event_log(std::string id, size_t capacity, size_t max_bytes)
  : id_(std::move(id)), capacity_(std::max<size_t>(capacity, 1)),
    max_bytes_(max_bytes) {}

uint64_t event_log::record(event e) {
  clamp_event(e);
  e.seq = next_seq_++;
  bytes_ += held_bytes(e);
  events_.push_back(std::move(e));
  while (events_.size() > 1
         && (events_.size() > capacity_ || bytes_ > max_bytes_)) {
    bytes_ -= held_bytes(events_.front());
    events_.pop_front();
  }
  return events_.back().seq;
}

namespace {

size_t heap_bytes(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

} // namespace

size_t held_bytes(const event& e) {
  size_t bytes = sizeof(event) + heap_bytes(e.type) + heap_bytes(e.action)
                 + heap_bytes(e.id) + heap_bytes(e.name) + heap_bytes(e.service)
                 + heap_bytes(e.desired);
  for (const auto& [state, count] : e.observed)
    bytes += sizeof(e.observed[0]) + heap_bytes(state);
  for (const auto& d : e.decisions)
    bytes += sizeof(decision_record) + heap_bytes(d.action)
             + heap_bytes(d.task_id) + heap_bytes(d.node_id)
             + heap_bytes(d.reason) + heap_bytes(d.service);
  for (const auto& [key, value] : e.attributes)
    bytes += sizeof(e.attributes[0]) + heap_bytes(key) + heap_bytes(value);
  return bytes;
}

uint64_t event_log::oldest_seq() const {
  return events_.empty() ? next_seq_ : events_.front().seq;
}

std::vector<const event*> event_log::read(const query& q, size_t limit) const {
  return read_from(q, limit).events;
}

read_result event_log::read_from(const query& q, size_t limit) const {
  if (limit == 0)
    limit = default_read_limit;
  uint64_t after = (q.log.empty() || q.log == id_) ? q.after_seq : 0;
  read_result out;
  out.resume_after = std::max(after, next_seq_ - 1);
  // Seqs are consecutive, so the first event after `after` is found by
  // position.
  size_t start = 0;
  if (after >= oldest_seq())
    start = static_cast<size_t>(
      std::min<uint64_t>(after - oldest_seq() + 1, events_.size()));
  for (size_t i = start; i < events_.size(); ++i) {
    auto& e = events_[i];
    if (q.since_nanos != 0 && e.time_nanos < q.since_nanos)
      continue;
    if (q.until_nanos != 0 && e.time_nanos >= q.until_nanos)
      continue;
    if (!matches(q.filters, e))
      continue;
    out.events.push_back(&e);
    if (out.events.size() == limit) {
      out.resume_after = e.seq;
      break;
    }
  }
  return out;
}

result<query> query_from_schema(se::EventsRequest::Reader req) {
  std::vector<std::string> kv;
  for (auto f : req.getFilters())
    kv.push_back(str(f));
  auto filters = parse_filters(kv);
  if (!filters)
    return std::move(filters).error();
  query q;
  q.after_seq = req.getAfterSeq();
  q.since_nanos = req.getSinceNanos();
  q.until_nanos = req.getUntilNanos();
  q.filters = std::move(*filters);
  q.log = str(req.getLog());
  return q;
}

size_t encoded_size(const event& e) {
  // Struct and pointer words, rounded up; text is padded to words.
  size_t bytes = 128 + e.type.size() + e.action.size() + e.id.size()
                 + e.name.size() + e.service.size() + e.desired.size();
  for (auto& [state, count] : e.observed)
    bytes += 24 + state.size();
  for (auto& d : e.decisions)
    bytes += 64 + d.action.size() + d.task_id.size() + d.node_id.size()
             + d.reason.size() + d.service.size();
  for (auto& [k, v] : e.attributes)
    bytes += 32 + k.size() + v.size();
  return bytes;
}

void write_batch(const event_log& log, const query& q, size_t limit,
                 se::EventBatch::Builder out, size_t max_bytes) {
  auto found = log.read_from(q, limit);
  size_t bytes = 0;
  for (size_t i = 0; i < found.events.size(); ++i) {
    bytes += encoded_size(*found.events[i]);
    if (i > 0 && bytes > max_bytes) {
      found.events.resize(i);
      found.resume_after = found.events.back()->seq;
      break;
    }
  }
  auto list = out.initEvents(static_cast<unsigned>(found.events.size()));
  for (unsigned i = 0; i < found.events.size(); ++i)
    to_schema(*found.events[i], list[i]);
  out.setNextSeq(found.resume_after);
  out.setLog(log.id());
  out.setOldestSeq(log.oldest_seq());
}

// ---- encoding ----

void to_schema(const event& e, se::Event::Builder out) {
  if (!within_limits(e)) { // recorded events always fit
    auto clamped = e;
    clamp_event(clamped);
    return to_schema(clamped, out);
  }
  out.setSeq(e.seq);
  out.setTimeNanos(e.time_nanos);
  out.setType(e.type);
  out.setAction(e.action);
  out.setId(e.id);
  out.setName(e.name);
  out.setService(e.service);
  out.setSpecVersion(e.spec_version);
  auto observed = out.initObserved(static_cast<unsigned>(e.observed.size()));
  for (unsigned i = 0; i < e.observed.size(); ++i) {
    observed[i].setState(e.observed[i].first);
    observed[i].setCount(e.observed[i].second);
  }
  out.setDesired(e.desired);
  auto decisions = out.initDecisions(static_cast<unsigned>(e.decisions.size()));
  for (unsigned i = 0; i < e.decisions.size(); ++i) {
    auto& d = e.decisions[i];
    decisions[i].setAction(d.action);
    decisions[i].setTaskId(d.task_id);
    decisions[i].setSlot(d.slot);
    decisions[i].setNodeId(d.node_id);
    decisions[i].setReason(d.reason);
    decisions[i].setService(d.service);
  }
  out.setRaftIndex(e.raft_index);
  auto attrs = out.initAttributes(static_cast<unsigned>(e.attributes.size()));
  for (unsigned i = 0; i < e.attributes.size(); ++i) {
    attrs[i].setKey(e.attributes[i].first);
    attrs[i].setValue(e.attributes[i].second);
  }
}

event from_schema(se::Event::Reader in) {
  event e;
  e.seq = in.getSeq();
  e.time_nanos = in.getTimeNanos();
  e.type = str(in.getType());
  e.action = str(in.getAction());
  e.id = str(in.getId());
  e.name = str(in.getName());
  e.service = str(in.getService());
  e.spec_version = in.getSpecVersion();
  auto observed = in.getObserved();
  auto observed_n
    = std::min<size_t>(observed.size(), event_limits::max_state_counts);
  for (unsigned i = 0; i < observed_n; ++i)
    e.observed.emplace_back(str(observed[i].getState()),
                            observed[i].getCount());
  e.desired = str(in.getDesired());
  auto decisions = in.getDecisions();
  auto decisions_n
    = std::min<size_t>(decisions.size(), event_limits::max_decisions);
  e.decisions.reserve(decisions_n);
  for (unsigned i = 0; i < decisions_n; ++i) {
    auto d = decisions[i];
    e.decisions.push_back({str(d.getAction()), str(d.getTaskId()), d.getSlot(),
                           str(d.getNodeId()), str(d.getReason()),
                           str(d.getService())});
  }
  e.raft_index = in.getRaftIndex();
  auto attrs = in.getAttributes();
  auto attrs_n = std::min<size_t>(attrs.size(), event_limits::max_attributes);
  for (unsigned i = 0; i < attrs_n; ++i)
    e.attributes.emplace_back(str(attrs[i].getKey()), str(attrs[i].getValue()));
  clamp_event(e); // the strings
  return e;
}

// ---- formatting ----

namespace {

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  auto yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

/// Ids are long; people (and the task filter) need the first 12 characters.
std::string short_id(const std::string& id) {
  return id.substr(0, 12);
}

/// A value as one word: quoted when it has spaces or is empty.
std::string word(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \t\"") == std::string::npos)
    return v;
  std::string out = "\"";
  for (char c : v)
    out += c == '"' ? std::string{"\\\""} : std::string(1, c);
  return out + "\"";
}

/// "(spec 2, raft 42)" with what is known; empty when nothing is.
std::string meta(const event& e) {
  std::string parts;
  if (e.spec_version != 0)
    parts = fmt::format("spec {}", e.spec_version);
  if (e.raft_index != 0)
    parts += fmt::format("{}raft {}", parts.empty() ? "" : ", ", e.raft_index);
  return parts.empty() ? "" : " (" + parts + ")";
}

std::string format_decision(const decision_record& d) {
  std::string out = d.action;
  auto add
    = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (!d.task_id.empty())
    add("task " + short_id(d.task_id));
  if (d.slot != 0)
    add(fmt::format("slot {}", d.slot));
  if (!d.node_id.empty())
    add("on " + d.node_id);
  if (!d.reason.empty())
    out += ": " + d.reason;
  return out;
}

/// The decisions shown on one line before "and N more".
constexpr size_t decisions_shown = 5;

std::string decision_body(const event& e) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < e.decisions.size() && i < decisions_shown; ++i)
    parts.push_back(format_decision(e.decisions[i]));
  if (e.decisions.size() > decisions_shown)
    parts.push_back(
      fmt::format("and {} more", e.decisions.size() - decisions_shown));
  if (parts.empty() && !e.action.empty())
    parts.push_back(e.action);
  std::string state;
  if (!e.desired.empty())
    state = "desired " + e.desired;
  if (!e.observed.empty()) {
    state += state.empty() ? "observed" : ", observed";
    for (auto& [name, count] : e.observed)
      state += fmt::format(" {}={}", name, count);
  }
  if (!state.empty())
    parts.push_back(state);
  std::string out;
  for (auto& p : parts)
    out += (out.empty() ? "" : "; ") + p;
  return out;
}

bool is_decision_event(const event& e) {
  return e.type == "reconcile" || e.type == "schedule" || e.type == "dispatch"
         || !e.decisions.empty();
}

/// One line: control characters (a newline in a reason) become spaces.
std::string one_line(std::string s) {
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      c = ' ';
  return s;
}

} // namespace

std::string format_event_time(int64_t unix_nanos) {
  int64_t secs = unix_nanos / nanos_per_second;
  int64_t frac = unix_nanos % nanos_per_second;
  if (frac < 0) {
    frac += nanos_per_second;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rest = secs % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", y, m, d,
                     rest / 3600, rest / 60 % 60, rest % 60, frac);
}

std::string format_event(const event& e) {
  auto out = format_event_time(e.time_nanos) + " " + e.type;
  if (is_decision_event(e)) {
    auto subject = !e.service.empty() ? e.service
                   : !e.name.empty()  ? e.name
                                      : short_id(e.id);
    if (!subject.empty())
      out += " " + subject;
    out += meta(e);
    if (auto body = decision_body(e); !body.empty())
      out += ": " + body;
    if (!e.attributes.empty())
      out += ";";
  } else {
    if (!e.action.empty())
      out += " " + e.action;
    auto subject = e.name.empty() ? short_id(e.id) : e.name;
    if (!subject.empty())
      out += " " + subject;
    out += meta(e);
  }
  for (auto& [k, v] : e.attributes)
    out += " " + k + "=" + word(v);
  return one_line(std::move(out));
}

std::string event_json(const event& e) {
  using json = nlohmann::ordered_json;
  json observed = json::object();
  for (auto& [state, count] : e.observed)
    observed[state] = count;
  json decisions = json::array();
  for (auto& d : e.decisions) {
    json one{{"action", d.action},
             {"task", d.task_id},
             {"slot", d.slot},
             {"node", d.node_id},
             {"reason", d.reason}};
    if (!d.service.empty())
      one["service"] = d.service;
    decisions.push_back(std::move(one));
  }
  json attributes = json::object();
  for (auto& [k, v] : e.attributes)
    attributes[k] = v;
  json j{{"seq", e.seq},
         {"time", format_event_time(e.time_nanos)},
         {"type", e.type},
         {"action", e.action},
         {"id", e.id},
         {"name", e.name},
         {"service", e.service},
         {"specVersion", e.spec_version},
         {"observed", std::move(observed)},
         {"desired", e.desired},
         {"decisions", std::move(decisions)},
         {"raftIndex", e.raft_index},
         {"attributes", std::move(attributes)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- time parsing ----

namespace {

failure bad_time(std::string_view text, std::string_view why) {
  return fail(errc::invalid_argument,
              fmt::format("invalid time '{}': {}; use RFC 3339 "
                          "(2026-11-22T07:37:51Z), Unix seconds (1700000000) "
                          "or a duration ago (10m, 1h30m)",
                          text, why));
}

bool digit(char c) {
  return c >= '0' && c <= '9';
}

/// Reads exactly `n` digits at `pos`.
bool fixed_digits(std::string_view s, size_t& pos, size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!digit(s[pos + i]))
      return false;
    out = out * 10 + (s[pos + i] - '0');
  }
  pos += n;
  return true;
}

/// Reads ".ddd" (1 to 9 digits) at `pos` as nanoseconds; false when a dot
/// has no digits or more than nine.
bool fraction(std::string_view s, size_t& pos, int64_t& nanos) {
  nanos = 0;
  if (pos >= s.size() || s[pos] != '.')
    return true;
  size_t start = ++pos;
  while (pos < s.size() && digit(s[pos]))
    ++pos;
  size_t n = pos - start;
  if (n == 0 || n > 9)
    return false;
  for (size_t i = 0; i < 9; ++i)
    nanos = nanos * 10 + (i < n ? s[start + i] - '0' : 0);
  return true;
}

result<int64_t> parse_rfc3339(std::string_view s) {
  size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  auto sep = [&](char c) { return pos < s.size() && s[pos++] == c; };
  if (!fixed_digits(s, pos, 4, y) || !sep('-') || !fixed_digits(s, pos, 2, mo)
      || !sep('-') || !fixed_digits(s, pos, 2, d))
    return bad_time(s, "the date is not YYYY-MM-DD");
  if (pos == s.size())
    return bad_time(s, "a time of day and a zone are missing, e.g. T00:00:00Z");
  if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')
    return bad_time(s, "expected T after the date");
  ++pos;
  if (!fixed_digits(s, pos, 2, h) || !sep(':') || !fixed_digits(s, pos, 2, mi)
      || !sep(':') || !fixed_digits(s, pos, 2, sec))
    return bad_time(s, "the time of day is not HH:MM:SS");
  int64_t nanos = 0;
  if (!fraction(s, pos, nanos))
    return bad_time(s, "fractional seconds need 1 to 9 digits");
  int offset_minutes = 0;
  if (pos == s.size())
    return bad_time(s, "the zone is missing: add Z or an offset like +02:00");
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int sign = s[pos++] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!fixed_digits(s, pos, 2, oh) || !sep(':')
        || !fixed_digits(s, pos, 2, om) || oh > 23 || om > 59)
      return bad_time(s, "the offset is not +HH:MM or -HH:MM");
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad_time(s, "the zone is not Z or an offset like +02:00");
  }
  if (pos != s.size())
    return bad_time(s, "unexpected text after the zone");
  static constexpr int month_days[]
    = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1]
      || (mo == 2 && d == 29 && !leap))
    return bad_time(s, "no such date");
  if (h > 23 || mi > 59 || sec > 59)
    return bad_time(s, "no such time of day");
  int64_t secs
    = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d))
        * 86400
      + h * 3600 + mi * 60 + sec - offset_minutes * 60;
  return secs * nanos_per_second + nanos;
}

result<int64_t> parse_unix_seconds(std::string_view s) {
  size_t pos = 0;
  int64_t secs = 0;
  constexpr int64_t max_secs
    = std::numeric_limits<int64_t>::max() / nanos_per_second - 1;
  while (pos < s.size() && digit(s[pos])) {
    secs = secs * 10 + (s[pos++] - '0');
    if (secs > max_secs)
      return bad_time(s, "too far in the future");
  }
  int64_t nanos = 0;
  if (pos == 0 || !fraction(s, pos, nanos) || pos != s.size())
    return bad_time(s, "Unix seconds are digits with up to 9 decimals");
  return secs * nanos_per_second + nanos;
}

/// Go's duration syntax: one or more "<number><unit>", e.g. "1h30m", "1.5s".
result<int64_t> parse_duration_nanos(std::string_view s) {
  static constexpr std::pair<std::string_view, int64_t> units[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000}, // µs
    {"ms", 1'000'000},
    {"s", nanos_per_second},
    {"m", 60 * nanos_per_second},
    {"h", 3600 * nanos_per_second},
  };
  long double total = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    while (pos < s.size() && (digit(s[pos]) || s[pos] == '.'))
      ++pos;
    auto number = s.substr(start, pos - start);
    if (number.empty() || number == "." || number.size() > 30
        || std::count(number.begin(), number.end(), '.') > 1)
      return bad_time(s, "a duration is numbers with units, e.g. 1h30m");
    size_t unit_start = pos;
    while (pos < s.size() && !digit(s[pos]) && s[pos] != '.')
      ++pos;
    auto unit = s.substr(unit_start, pos - unit_start);
    auto it = std::find_if(std::begin(units), std::end(units),
                           [&](auto& u) { return u.first == unit; });
    if (it == std::end(units))
      return bad_time(s, unit.empty()
                           ? "a number in a duration needs a unit"
                           : "unknown unit; use ns, us, ms, s, m or h");
    total += std::stold(std::string{number}) * it->second;
  }
  if (total >= static_cast<long double>(std::numeric_limits<int64_t>::max()))
    return bad_time(s, "the duration is too long");
  return static_cast<int64_t>(total);
}

} // namespace

result<int64_t> parse_event_time(std::string_view text, int64_t now_nanos) {
  if (text.empty())
    return bad_time(text, "it is empty");
  if (text.size() >= 5 && digit(text[0]) && text[4] == '-')
    return parse_rfc3339(text);
  bool number = std::all_of(text.begin(), text.end(),
                            [](char c) { return digit(c) || c == '.'; });
  if (number)
    return parse_unix_seconds(text);
  if (!digit(text[0]) && text[0] != '.')
    return bad_time(text, "it does not start with a number");
  auto ago = parse_duration_nanos(text);
  if (!ago)
    return ago;
  return std::max<int64_t>(now_nanos - *ago, 0);
}

} // namespace skep::controlapi
