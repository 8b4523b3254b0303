// The leader's event log without an actor system: seq assignment and the
// ring, reads by position, time and filter, the wire encoding and its
// limits, the lines people and scripts read, and --since/--until parsing.

#include "actors/events/event_log.hpp"

#include <string>
#include <vector>

#include <capnp/message.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skep::controlapi {
namespace {

namespace se = schema::events;

constexpr int64_t sec = 1'000'000'000;
// 2026-11-22T07:37:51Z
constexpr int64_t t0 = 1'795'333'071 * sec;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

event object_event(std::string type, std::string action, std::string id,
                   std::string name, int64_t time = t0) {
  event e;
  e.time_nanos = time;
  e.type = std::move(type);
  e.action = std::move(action);
  e.id = std::move(id);
  e.name = std::move(name);
  return e;
}

event reconcile_event() {
  event e;
  e.time_nanos = t0 + 123'456'789;
  e.type = "reconcile";
  e.action = "converge";
  e.id = "svc0123456789abcdefghijkl";
  e.name = "web";
  e.service = "web";
  e.spec_version = 2;
  e.raft_index = 42;
  e.desired = "replicated 6";
  e.observed = {{"running", 5}};
  e.decisions = {
    {"create", "3x9k0123456789abcdefghijk", 3, "w1", "slot 3 has no task", ""}};
  return e;
}

std::vector<uint64_t> seqs(const std::vector<const event*>& events) {
  std::vector<uint64_t> out;
  for (auto* e : events)
    out.push_back(e->seq);
  return out;
}

filter_set filters(const std::vector<std::string>& kv) {
  auto parsed = parse_filters(kv);
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return parsed.ok() ? *parsed : filter_set{};
}

// ---- EventLog ----

TEST(EventLog, RecordAssignsIncreasingSeqFromOne) {
  event_log log{"m1:100"};
  EXPECT_EQ(log.next_seq(), 1u);
  EXPECT_EQ(log.oldest_seq(), 1u); // empty: next_seq
  EXPECT_EQ(log.record(object_event("node", "create", "n1", "w1")), 1u);
  EXPECT_EQ(log.record(object_event("node", "update", "n1", "w1")), 2u);
  EXPECT_EQ(log.next_seq(), 3u);
  EXPECT_EQ(log.oldest_seq(), 1u);
  EXPECT_EQ(log.id(), "m1:100");
  auto all = log.read({}, 0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1]->action, "update");
}

TEST(EventLog, RingDropsOldestBeyondCapacity) {
  event_log log{"m1:1", 3};
  for (int i = 0; i < 5; ++i)
    log.record(object_event("task", "update", "t", "web.1"));
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(log.oldest_seq(), 3u);
  EXPECT_EQ(log.next_seq(), 6u);
  EXPECT_EQ(seqs(log.read({}, 0)), (std::vector<uint64_t>{3, 4, 5}));
}

TEST(EventLog, RingDropsOldestBeyondItsMemoryBudget) {
  auto big = [] {
    auto e = object_event("reconcile", "create", "s", "web");
    for (int i = 0; i < 1000; ++i)
      e.decisions.push_back(
        {"create", "task-with-a-long-id-" + std::to_string(i), uint64_t(i + 1),
         "", "slot is free: a reason", ""});
    return e;
  };
  auto one = held_bytes(big());
  EXPECT_GT(one, 1000 * sizeof(decision_record));
  event_log log{"m1:1", 10'000, 3 * one + one / 2};
  for (int i = 0; i < 5; ++i)
    log.record(big());
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(log.oldest_seq(), 3u);
  EXPECT_LE(log.bytes(), 3 * one + one / 2);
  EXPECT_GE(log.bytes(), 3 * one);
  // One event over the whole budget is still kept: the newest always is.
  event_log tiny{"m1:2", 10'000, 10};
  tiny.record(big());
  tiny.record(big());
  EXPECT_EQ(tiny.size(), 1u);
  EXPECT_EQ(tiny.oldest_seq(), 2u);
}

TEST(EventLog, ReadAfterSeqSkipsWhatWasRead) {
  event_log log{"m1:1"};
  for (int i = 0; i < 5; ++i)
    log.record(object_event("task", "update", "t", "web.1"));
  query q;
  q.after_seq = 3;
  EXPECT_EQ(seqs(log.read(q, 0)), (std::vector<uint64_t>{4, 5}));
  q.after_seq = 5;
  EXPECT_TRUE(log.read(q, 0).empty());
  EXPECT_EQ(log.read_from(q, 0).resume_after, 5u);
}

TEST(EventLog, ReadAfterDroppedSeqStartsAtOldest) {
  event_log log{"m1:1", 2};
  for (int i = 0; i < 6; ++i)
    log.record(object_event("task", "update", "t", "web.1"));
  query q;
  q.after_seq = 1;
  EXPECT_EQ(seqs(log.read(q, 0)), (std::vector<uint64_t>{5, 6}));
}

TEST(EventLog, ReadOfAnotherLogIgnoresAfterSeq) {
  event_log log{"m2:7"};
  for (int i = 0; i < 3; ++i)
    log.record(object_event("task", "update", "t", "web.1"));
  query q;
  q.after_seq = 2;
  q.log = "m1:1";
  EXPECT_EQ(seqs(log.read(q, 0)), (std::vector<uint64_t>{1, 2, 3}));
  q.log = "m2:7";
  EXPECT_EQ(seqs(log.read(q, 0)), (std::vector<uint64_t>{3}));
}

TEST(EventLog, ReadSinceIsInclusiveUntilExclusive) {
  event_log log{"m1:1"};
  for (int i = 0; i < 5; ++i)
    log.record(object_event("task", "update", "t", "web.1", t0 + i * sec));
  query q;
  q.since_nanos = t0 + 1 * sec;
  q.until_nanos = t0 + 3 * sec;
  EXPECT_EQ(seqs(log.read(q, 0)), (std::vector<uint64_t>{2, 3}));
}

TEST(EventLog, ReadLimitStopsAndResumesAfterLastReturned) {
  event_log log{"m1:1"};
  for (int i = 0; i < 5; ++i)
    log.record(object_event("task", "update", "t", "web.1"));
  query q;
  auto first = log.read_from(q, 2);
  EXPECT_EQ(seqs(first.events), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(first.resume_after, 2u);
  q.after_seq = first.resume_after;
  auto rest = log.read_from(q, 10);
  EXPECT_EQ(seqs(rest.events), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(rest.resume_after, 5u);
}

TEST(EventLog, ReadWithNoMatchResumesAfterNewest) {
  event_log log{"m1:1"};
  for (int i = 0; i < 4; ++i)
    log.record(object_event("task", "update", "t", "web.1"));
  query q;
  q.filters = filters({"type=node"});
  auto got = log.read_from(q, 0);
  EXPECT_TRUE(got.events.empty());
  EXPECT_EQ(got.resume_after, 4u);
}

TEST(EventLog, RecordTruncatesOversizedEvents) {
  event_log log{"m1:1"};
  auto e = reconcile_event();
  e.decisions.assign(event_limits::max_decisions + 5, e.decisions[0]);
  e.decisions[0].reason = std::string(10'000, 'r');
  log.record(std::move(e));
  auto* kept = log.read({}, 0).front();
  EXPECT_EQ(kept->decisions.size(), event_limits::max_decisions);
  EXPECT_EQ(kept->decisions[0].reason.size(), event_limits::max_string_bytes);
}

TEST(EventLog, WriteBatchCarriesLogIdAndPositions) {
  event_log log{"m1:1", 2};
  for (int i = 0; i < 3; ++i)
    log.record(object_event("task", "update", "t", "web.1"));
  capnp::MallocMessageBuilder b;
  auto batch = b.initRoot<se::EventBatch>();
  write_batch(log, query{}, 0, batch);
  EXPECT_EQ(batch.getEvents().size(), 2u);
  EXPECT_EQ(batch.getEvents()[0].getSeq(), 2u);
  EXPECT_EQ(batch.getNextSeq(), 3u);
  EXPECT_EQ(batch.getOldestSeq(), 2u);
  EXPECT_EQ(std::string(batch.getLog().cStr()), "m1:1");
}

TEST(EventLog, WriteBatchStopsAtByteBudget) {
  event_log log{"m1:1"};
  for (int i = 0; i < 4; ++i) {
    auto e = reconcile_event();
    e.decisions.assign(100, e.decisions[0]); // about 10 KB each
    log.record(std::move(e));
  }
  auto one = encoded_size(*log.read({}, 1).front());
  capnp::MallocMessageBuilder b;
  auto batch = b.initRoot<se::EventBatch>();
  write_batch(log, query{}, 0, batch, one * 2 + 10);
  EXPECT_EQ(batch.getEvents().size(), 2u);
  EXPECT_EQ(batch.getNextSeq(), 2u);
  // One event always goes, however large.
  write_batch(log, query{}, 0, batch, 1);
  EXPECT_EQ(batch.getEvents().size(), 1u);
  EXPECT_EQ(batch.getNextSeq(), 1u);
}

TEST(EventLog, QueryFromSchemaReadsFieldsAndRefusesBadFilter) {
  capnp::MallocMessageBuilder b;
  auto req = b.initRoot<se::EventsRequest>();
  req.setAfterSeq(7);
  req.setSinceNanos(5);
  req.setUntilNanos(9);
  req.setLog("m1:1");
  req.initFilters(1).set(0, "type=task");
  auto q = query_from_schema(req.asReader());
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->after_seq, 7u);
  EXPECT_EQ(q->since_nanos, 5);
  EXPECT_EQ(q->until_nanos, 9);
  EXPECT_EQ(q->log, "m1:1");
  EXPECT_EQ(q->filters.values.at("type"), std::vector<std::string>{"task"});
  req.initFilters(1).set(0, "image=nginx");
  auto bad = query_from_schema(req.asReader());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
}

// ---- EventFilter ----

TEST(EventFilter, EmptySetMatchesEverything) {
  EXPECT_TRUE(matches(filter_set{}, reconcile_event()));
}

TEST(EventFilter, SameKeyOrs) {
  auto f = filters({"type=task", "type=node"});
  EXPECT_TRUE(matches(f, object_event("task", "update", "t1", "web.1")));
  EXPECT_TRUE(matches(f, object_event("node", "update", "n1", "w1")));
  EXPECT_FALSE(matches(f, reconcile_event()));
}

TEST(EventFilter, DifferentKeysAnd) {
  auto f = filters({"type=task", "action=create"});
  EXPECT_TRUE(matches(f, object_event("task", "create", "t1", "web.1")));
  EXPECT_FALSE(matches(f, object_event("task", "update", "t1", "web.1")));
  EXPECT_FALSE(matches(f, object_event("node", "create", "n1", "w1")));
}

TEST(EventFilter, ActionMatchesDecisions) {
  EXPECT_TRUE(matches(filters({"action=create"}), reconcile_event()));
  EXPECT_FALSE(matches(filters({"action=shutdown"}), reconcile_event()));
}

TEST(EventFilter, ServiceByNameOrId) {
  auto svc = object_event("service", "update", "svcid1", "web");
  EXPECT_TRUE(matches(filters({"service=web"}), svc));
  EXPECT_TRUE(matches(filters({"service=svcid1"}), svc));
  auto task = object_event("task", "update", "t1", "web.1");
  task.service = "web";
  task.attributes = {{"serviceId", "svcid1"}};
  EXPECT_TRUE(matches(filters({"service=web"}), task));
  EXPECT_TRUE(matches(filters({"service=svcid1"}), task));
  EXPECT_FALSE(matches(filters({"service=api"}), task));
}

TEST(EventFilter, ServiceOfADecision) {
  // A scheduling pass over several services names each decision's service.
  event e;
  e.type = "schedule";
  e.action = "assign";
  e.decisions = {{"assign", "t1", 1, "n1", "placed on w1", "web"},
                 {"assign", "t2", 1, "n2", "placed on w2", "api"}};
  EXPECT_TRUE(matches(filters({"service=web"}), e));
  EXPECT_TRUE(matches(filters({"service=api"}), e));
  EXPECT_FALSE(matches(filters({"service=db"}), e));
}

TEST(EventFilter, NodeByIdOrHostnameOnNodeEvents) {
  auto node = object_event("node", "update", "nodeid1", "w1");
  EXPECT_TRUE(matches(filters({"node=w1"}), node));
  EXPECT_TRUE(matches(filters({"node=nodeid1"}), node));
  EXPECT_FALSE(matches(filters({"node=w2"}), node));
}

TEST(EventFilter, NodeViaDecisionsAndAttributes) {
  EXPECT_TRUE(matches(filters({"node=w1"}), reconcile_event()));
  EXPECT_FALSE(matches(filters({"node=w2"}), reconcile_event()));
  auto task = object_event("task", "update", "t1", "web.1");
  task.attributes = {{"node", "nodeid2"}, {"hostname", "w2"}};
  EXPECT_TRUE(matches(filters({"node=w2"}), task));
  EXPECT_TRUE(matches(filters({"node=nodeid2"}), task));
  EXPECT_FALSE(matches(filters({"node=w1"}), task));
}

TEST(EventFilter, TaskByIdPrefixNameOrDecision) {
  auto task = object_event("task", "update", "abcdef123456789", "web.3");
  EXPECT_TRUE(matches(filters({"task=abcdef"}), task));
  EXPECT_TRUE(matches(filters({"task=web.3"}), task));
  EXPECT_FALSE(matches(filters({"task=bcdef"}), task));
  EXPECT_TRUE(matches(filters({"task=3x9k"}), reconcile_event()));
  EXPECT_FALSE(matches(filters({"task=zzz"}), reconcile_event()));
  // A service event's id is not a task id.
  EXPECT_FALSE(
    matches(filters({"task=abc"}), object_event("service", "x", "abc", "web")));
}

TEST(EventFilter, IdMatchesPrefix) {
  auto node = object_event("node", "update", "nodeid1", "w1");
  EXPECT_TRUE(matches(filters({"id=nodeid1"}), node));
  EXPECT_TRUE(matches(filters({"id=node"}), node));
  EXPECT_FALSE(matches(filters({"id=w1"}), node));
}

TEST(EventFilter, UnknownKeyIsRefusedNamingValidKeys) {
  auto r = parse_filters({"type=task", "image=nginx"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_TRUE(contains(r.error().message, "'image'"));
  EXPECT_TRUE(
    contains(r.error().message, "type, action, service, node, task, id"));
}

TEST(EventFilter, BadTypeIsRefusedNamingValidTypes) {
  auto r = parse_filters({"type=container"});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "'container'"));
  EXPECT_TRUE(contains(r.error().message,
                       "service, node, task, reconcile, schedule, dispatch"));
}

TEST(EventFilter, MissingEqualsOrValueIsRefused) {
  EXPECT_FALSE(parse_filters({"type"}).ok());
  EXPECT_FALSE(parse_filters({"type="}).ok());
  EXPECT_FALSE(parse_filters({"=task"}).ok());
  auto r = parse_filters({"node"});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "'node'"));
}

// ---- schema round trip ----

TEST(EventFormat, SchemaRoundTripKeepsEveryField) {
  auto e = reconcile_event();
  e.seq = 17;
  e.attributes = {{"from", "pending"}, {"to", "running"}};
  e.observed.push_back({"pending", 1});
  e.decisions[0].service = "api";
  capnp::MallocMessageBuilder b;
  to_schema(e, b.initRoot<se::Event>());
  auto back = from_schema(b.getRoot<se::Event>().asReader());
  EXPECT_EQ(back, e);
}

TEST(EventFormat, SchemaDecodeTruncatesToLimits) {
  capnp::MallocMessageBuilder b;
  auto ev = b.initRoot<se::Event>();
  std::string long_name(event_limits::max_string_bytes + 100, 'n');
  // A two-byte character across the limit is dropped whole.
  long_name[event_limits::max_string_bytes - 1] = '\xC3';
  long_name[event_limits::max_string_bytes] = '\xA9';
  ev.setName(long_name);
  ev.initDecisions(event_limits::max_decisions + 1);
  ev.initAttributes(event_limits::max_attributes + 1);
  ev.initObserved(event_limits::max_state_counts + 1);
  auto e = from_schema(ev.asReader());
  EXPECT_EQ(e.name.size(), event_limits::max_string_bytes - 1);
  EXPECT_EQ(e.decisions.size(), event_limits::max_decisions);
  EXPECT_EQ(e.attributes.size(), event_limits::max_attributes);
  EXPECT_EQ(e.observed.size(), event_limits::max_state_counts);
}

TEST(EventFormat, SchemaEncodeWritesWithinLimits) {
  auto e = reconcile_event(); // not recorded, so not clamped
  e.decisions.assign(event_limits::max_decisions + 3, e.decisions[0]);
  e.attributes.assign(event_limits::max_attributes + 3, {"k", "v"});
  e.desired = std::string(event_limits::max_string_bytes * 2, 'd');
  capnp::MallocMessageBuilder b;
  auto ev = b.initRoot<se::Event>();
  to_schema(e, ev);
  EXPECT_EQ(ev.getDecisions().size(), event_limits::max_decisions);
  EXPECT_EQ(ev.getAttributes().size(), event_limits::max_attributes);
  EXPECT_EQ(ev.getDesired().size(), event_limits::max_string_bytes);
}

// ---- EventFormat ----

TEST(EventFormat, TimeIsRfc3339WithNanosInUtc) {
  EXPECT_EQ(format_event_time(t0 + 123'456'789),
            "2026-11-22T07:37:51.123456789Z");
  EXPECT_EQ(format_event_time(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(format_event_time(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(EventFormat, ReconcileLineShowsDecisionsAndState) {
  EXPECT_EQ(format_event(reconcile_event()),
            "2026-11-22T07:37:51.123456789Z reconcile web (spec 2, raft 42): "
            "create task 3x9k01234567 slot 3 on w1: slot 3 has no task; "
            "desired replicated 6, observed running=5");
}

TEST(EventFormat, LongDecisionListsAreSummarised) {
  auto e = reconcile_event();
  e.decisions.clear();
  for (int i = 1; i <= 12; ++i)
    e.decisions.push_back({"shutdown", "task" + std::to_string(i),
                           static_cast<uint64_t>(i), "", "scaled down", ""});
  auto line = format_event(e);
  EXPECT_TRUE(contains(line, "shutdown task task1 slot 1: scaled down"));
  EXPECT_TRUE(contains(line, "task5 slot 5"));
  EXPECT_FALSE(contains(line, "task6 slot 6"));
  EXPECT_TRUE(contains(line, "; and 7 more; desired replicated 6"));
}

TEST(EventFormat, ObjectLineShowsActionNameAndAttributes) {
  auto e = object_event("task", "update", "t1", "web.3");
  e.raft_index = 57;
  e.attributes = {{"state", "running"}, {"node", "w1"}};
  EXPECT_EQ(format_event(e), "2026-11-22T07:37:51.000000000Z task update "
                             "web.3 (raft 57) state=running node=w1");
}

TEST(EventFormat, LineStaysOnOneLineAndQuotesSpaces) {
  auto e = object_event("task", "update", "t1", "web.3");
  e.attributes = {{"err", "exit 1\nboom"}};
  auto line = format_event(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_TRUE(contains(line, "err=\"exit 1 boom\""));
}

TEST(EventFormat, ObjectWithoutNameShowsShortId) {
  auto e = object_event("node", "remove", "abcdefghijklmnopqrstuvwxy", "");
  EXPECT_TRUE(contains(format_event(e), "node remove abcdefghijkl"));
  EXPECT_FALSE(contains(format_event(e), "abcdefghijklm"));
}

TEST(EventFormat, JsonHasEveryKey) {
  auto e = reconcile_event();
  e.seq = 9;
  e.attributes = {{"from", "pending"}};
  auto j = nlohmann::json::parse(event_json(e));
  for (auto* key :
       {"seq", "time", "type", "action", "id", "name", "service", "specVersion",
        "observed", "desired", "decisions", "raftIndex", "attributes"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j.size(), 13u);
  EXPECT_EQ(j["seq"], 9);
  EXPECT_EQ(j["time"], "2026-11-22T07:37:51.123456789Z");
  EXPECT_EQ(j["observed"]["running"], 5);
  EXPECT_EQ(j["decisions"][0]["task"], "3x9k0123456789abcdefghijk");
  EXPECT_EQ(j["decisions"][0]["slot"], 3);
  EXPECT_EQ(j["decisions"][0]["node"], "w1");
  EXPECT_EQ(j["attributes"]["from"], "pending");
  EXPECT_EQ(j["raftIndex"], 42);
}

TEST(EventFormat, JsonOfEmptyEventKeepsKeysAndEmptyContainers) {
  auto j = nlohmann::json::parse(event_json(event{}));
  EXPECT_EQ(j.size(), 13u);
  EXPECT_TRUE(j["observed"].is_object());
  EXPECT_TRUE(j["decisions"].is_array());
  EXPECT_TRUE(j["attributes"].is_object());
  EXPECT_EQ(j["name"], "");
}

TEST(EventFormat, JsonSurvivesInvalidUtf8) {
  auto e = object_event("task", "update", "t1", "bad\xFFname");
  auto line = event_json(e);
  nlohmann::json j;
  EXPECT_NO_THROW(j = nlohmann::json::parse(line));
  EXPECT_EQ(j["name"], "bad\xEF\xBF\xBDname"); // U+FFFD
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

// ---- EventTime ----

constexpr int64_t now = t0 + 3600 * sec;

int64_t parsed(std::string_view text) {
  auto r = parse_event_time(text, now);
  EXPECT_TRUE(r.ok()) << text << ": "
                      << (r.ok() ? std::string{} : r.error().message);
  return r.ok() ? *r : -1;
}

TEST(EventTime, Rfc3339Utc) {
  EXPECT_EQ(parsed("2026-11-22T07:37:51Z"), t0);
  EXPECT_EQ(parsed("2026-11-22t07:37:51z"), t0);
  EXPECT_EQ(parsed("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parsed("2024-02-29T00:00:00Z"), 1'709'164'800 * sec);
}

TEST(EventTime, Rfc3339Fraction) {
  EXPECT_EQ(parsed("2026-11-22T07:37:51.5Z"), t0 + 500'000'000);
  EXPECT_EQ(parsed("2026-11-22T07:37:51.123456789Z"), t0 + 123'456'789);
}

TEST(EventTime, Rfc3339Offsets) {
  EXPECT_EQ(parsed("2026-11-22T09:37:51+02:00"), t0);
  EXPECT_EQ(parsed("2026-11-22T02:07:51.25-05:30"), t0 + 250'000'000);
}

TEST(EventTime, UnixSeconds) {
  EXPECT_EQ(parsed("1700000000"), 1'700'000'000 * sec);
  EXPECT_EQ(parsed("1700000000.5"), 1'700'000'000 * sec + 500'000'000);
  EXPECT_EQ(parsed("1700000000.000000001"), 1'700'000'000 * sec + 1);
}

TEST(EventTime, DurationsAgo) {
  EXPECT_EQ(parsed("10m"), now - 600 * sec);
  EXPECT_EQ(parsed("1h30m"), now - 5400 * sec);
  EXPECT_EQ(parsed("45s"), now - 45 * sec);
  EXPECT_EQ(parsed("500ms"), now - 500'000'000);
  EXPECT_EQ(parsed("1.5h"), now - 5400 * sec);
  EXPECT_EQ(parsed("2us"), now - 2'000);
}

TEST(EventTime, DurationBeforeEpochIsZero) {
  EXPECT_EQ(parse_event_time("2h", 3600 * sec).value(), 0);
}

TEST(EventTime, ErrorsNameTheValue) {
  for (auto* bad :
       {"", "yesterday", "10x", "1h30", "-5m", "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-11-22T25:00:00Z", "2026-11-22T07:37:51",
        "2026-11-22", "2026-11-22T07:37:51+0200", "2026-11-22T07:37:51Zjunk",
        "1700000000.", "1700000000.1234567891", "1.2.3",
        "99999999999999999999"}) {
    auto r = parse_event_time(bad, now);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, errc::invalid_argument) << bad;
    EXPECT_TRUE(contains(r.error().message, "'" + std::string{bad} + "'"))
      << r.error().message;
  }
}

TEST(EventTime, MissingZoneSaysWhatToAdd) {
  auto r = parse_event_time("2026-11-22T07:37:51", now);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "add Z or an offset"));
}

} // namespace
} // namespace skep::controlapi
