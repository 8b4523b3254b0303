// `skep console` scripts: parsing every step kind, errors with positions,
// variables, and conditions evaluated against a cluster snapshot.

#include "actors/console/session/script.hpp"

#include <map>

#include <gtest/gtest.h>

namespace skep::console {
namespace {

using namespace std::chrono_literals;

step parse_ok(std::string_view text) {
  auto s = parse_step(text, 1);
  EXPECT_TRUE(s.ok()) << text << ": " << s.error().message;
  return s.ok() ? *s : step{};
}

std::string parse_error(std::string_view text) {
  auto s = parse_script(text);
  EXPECT_FALSE(s.ok()) << text;
  return s.ok() ? std::string{} : s.error().message;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// -- messages -----------------------------------------------------------------

TEST(Script, SendWithoutFields) {
  auto s = parse_ok("send node/w1/agent heartbeat");
  EXPECT_EQ(s.kind, step_kind::send);
  EXPECT_EQ(s.actor, "node/w1/agent");
  EXPECT_EQ(s.message, "heartbeat");
  EXPECT_EQ(s.fields, "");
}

TEST(Script, CallKeepsFieldsRawWithTheirColumn) {
  auto s = parse_ok("call leader/controlapi serviceCreate (name = \"web\")");
  EXPECT_EQ(s.kind, step_kind::call);
  EXPECT_EQ(s.actor, "leader/controlapi");
  EXPECT_EQ(s.message, "serviceCreate");
  EXPECT_EQ(s.fields, "(name = \"web\")");
  EXPECT_EQ(s.fields_line, 1u);
  EXPECT_EQ(s.fields_column, 38u);
}

TEST(Script, LetKeepsTheReplyName) {
  auto s = parse_ok("let svc = call leader/controlapi serviceInspect (id = "
                    "\"x\")");
  EXPECT_EQ(s.kind, step_kind::let);
  EXPECT_EQ(s.variable, "svc");
  EXPECT_EQ(s.actor, "leader/controlapi");
  EXPECT_EQ(s.message, "serviceInspect");
  EXPECT_EQ(s.fields, "(id = \"x\")");
}

TEST(Script, LetRefusesSendAndBadNames) {
  EXPECT_TRUE(contains(parse_error("let x = send a/b m"), "use `call`"));
  EXPECT_TRUE(contains(parse_error("let 9x = call a/b m"),
                       "line 1, column 5: `9x` is not a variable name"));
  EXPECT_TRUE(contains(parse_error("let x call a/b m"), "missing `=`"));
}

TEST(Script, TextAfterTheFieldsIsRefused) {
  EXPECT_EQ(parse_error("call a/b m (x = 1) extra"),
            "line 1, column 20: unexpected `extra` after the fields' closing "
            "`)`");
}

TEST(Script, MultiLineCallWithNestedParensAndParensInStrings) {
  auto text = "# create a service\n"
              "call leader/controlapi serviceCreate (\n"
              "  name = \"we(b\\\")\",  # a ) in a comment\n"
              "  ports = [(published = 80, target = 8080)],\n"
              ")\n"
              "\n"
              "wait service web running 1\n";
  auto s = parse_script(text);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s->steps.size(), 2u);
  const auto& call = s->steps[0];
  EXPECT_EQ(call.line, 2u);
  EXPECT_EQ(call.message, "serviceCreate");
  EXPECT_EQ(call.fields.front(), '(');
  EXPECT_EQ(call.fields.back(), ')');
  EXPECT_TRUE(contains(call.fields, "ports = [(published = 80"));
  EXPECT_EQ(call.fields_line, 2u);
  EXPECT_EQ(call.fields_column, 38u);
  // "ports" is on line 4, column 3.
  auto at = call.fields.find("ports");
  EXPECT_EQ(fields_position(call, at), (std::pair<size_t, size_t>{4, 3}));
  EXPECT_EQ(s->steps[1].line, 7u);
  EXPECT_EQ(s->steps[1].kind, step_kind::wait);
}

TEST(Script, UnclosedParenNamesWhereItOpened) {
  auto text = "sleep 1s\n"
              "call a/b m (x = (y = 1)\n"
              "echo never reached\n";
  EXPECT_EQ(parse_error(text), "line 2, column 12: `(` is never closed");
}

TEST(Script, StrayOrMismatchedClosersNamePosition) {
  EXPECT_EQ(parse_error("call a/b m (x = 1))"),
            "line 1, column 19: `)` closes nothing");
  EXPECT_EQ(
    parse_error("sleep 1s\ncall a/b m (x = [1, 2)"),
    "line 2, column 22: `)` does not match the `[` at line 2, column 17");
  EXPECT_EQ(parse_error("call a/b m (x = \"open)"),
            "line 1, column 17: string not closed on its line");
}

TEST(Script, NeedsMoreWhileAParenIsOpen) {
  EXPECT_TRUE(needs_more("call a/b m ("));
  EXPECT_TRUE(needs_more("let x = call a/b m (\n  y = [1,"));
  EXPECT_FALSE(needs_more("call a/b m (y = \"(\")"));
  EXPECT_FALSE(needs_more("call a/b m (y = 1)"));
  EXPECT_FALSE(needs_more("call a/b m )(")); // wrong: parse_step says why
  EXPECT_FALSE(needs_more("echo (smile"));   // echo is one line
  auto s = parse_step("call a/b m (\n  y = 1\n)", 12);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->line, 12u);
  EXPECT_EQ(s->fields, "(\n  y = 1\n)");
}

// -- keywords and simple steps ------------------------------------------------

TEST(Script, UnknownStepSuggestsTheClosest) {
  EXPECT_EQ(parse_error("sleep 1s\nwiat leader elected"),
            "line 2, column 1: unknown step `wiat`; did you mean `wait`?");
  EXPECT_EQ(parse_error("  partitoin a | b"),
            "line 1, column 3: unknown step `partitoin`; did you mean "
            "`partition`?");
  EXPECT_TRUE(contains(parse_error("frobnicate"), "(try help)"));
}

TEST(Script, WaitTimeoutDefaultsTo30s) {
  auto s = parse_ok("wait leader elected");
  EXPECT_EQ(s.kind, step_kind::wait);
  EXPECT_EQ(s.timeout, 30s);
  EXPECT_EQ(s.cond.kind, condition_kind::leader_elected);
  auto t = parse_ok("wait service web running 6 timeout 1m30s");
  EXPECT_EQ(t.timeout, 90s);
  EXPECT_EQ(t.cond.kind, condition_kind::service_running);
  EXPECT_EQ(t.cond.count, 6u);
  EXPECT_EQ(t.cond.text, "service web running 6");
}

TEST(Script, ExpectTakesNoTimeout) {
  auto s = parse_ok("expect not node w2 down");
  EXPECT_EQ(s.kind, step_kind::expect);
  EXPECT_TRUE(s.cond.negated);
  EXPECT_TRUE(contains(parse_error("expect leader elected timeout 5s"),
                       "column 23: expect checks once"));
  EXPECT_TRUE(contains(parse_error("wait leader elected timeout"),
                       "missing duration after `timeout`"));
}

TEST(Script, BadDurationsAreRefusedWithTheirColumn) {
  EXPECT_TRUE(contains(parse_error("sleep 5x"),
                       "line 1, column 7: invalid duration \"5x\""));
  EXPECT_TRUE(contains(parse_error("sleep 5"), "missing unit"));
  EXPECT_TRUE(
    contains(parse_error("wait leader elected timeout -1s"), "column 29"));
  EXPECT_TRUE(contains(parse_error("delay a->b fast"), "column 12"));
  EXPECT_TRUE(contains(parse_error("sleep"), "usage: sleep DURATION"));
  EXPECT_TRUE(contains(parse_error("sleep 1s 2s"), "unexpected `2s`"));
}

TEST(Script, GoStyleDurations) {
  EXPECT_EQ(parse_ok("sleep 500ms").duration, 500ms);
  EXPECT_EQ(parse_ok("sleep 1.5s").duration, 1500ms);
  EXPECT_EQ(parse_ok("sleep 100us").duration, 100us);
  EXPECT_EQ(parse_ok("sleep 1m30s").duration, 90s);
}

TEST(Script, EchoAndExecKeepTheRestOfTheLine) {
  auto e = parse_ok("echo   hello (world  ");
  EXPECT_EQ(e.kind, step_kind::echo);
  EXPECT_EQ(e.text, "hello (world");
  auto x = parse_ok("exec docker ps | grep 'a b' # not a comment");
  EXPECT_EQ(x.kind, step_kind::exec);
  EXPECT_EQ(x.text, "docker ps | grep 'a b' # not a comment");
  EXPECT_TRUE(contains(parse_error("exec"), "usage: exec"));
}

TEST(Script, WatchFiltersAndUnwatch) {
  auto w = parse_ok("watch type=reconcile service=web");
  EXPECT_EQ(w.kind, step_kind::watch);
  EXPECT_EQ(w.filters,
            (std::vector<std::string>{"type=reconcile", "service=web"}));
  EXPECT_TRUE(parse_ok("watch").filters.empty());
  EXPECT_EQ(parse_ok("unwatch").kind, step_kind::unwatch);
  EXPECT_TRUE(
    contains(parse_error("watch servce=web"), "column 7: want KEY=VALUE"));
  EXPECT_TRUE(contains(parse_error("watch servce=web"), "`service`"));
  EXPECT_TRUE(contains(parse_error("unwatch all"), "unexpected `all`"));
}

// -- faults -------------------------------------------------------------------

TEST(Script, PartitionSplitsGroupsAtBars) {
  auto p = parse_ok("partition m1 m2 | m3 w1|w2");
  EXPECT_EQ(p.kind, step_kind::partition);
  ASSERT_EQ(p.groups.size(), 3u);
  EXPECT_EQ(p.groups[0], (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(p.groups[1], (std::vector<std::string>{"m3", "w1"}));
  EXPECT_EQ(p.groups[2], (std::vector<std::string>{"w2"}));
}

TEST(Script, PartitionWithOneGroupIsRefused) {
  EXPECT_TRUE(contains(parse_error("partition m1 m2"), "two or more groups"));
  EXPECT_TRUE(contains(parse_error("partition m1 |"), "empty group after"));
  EXPECT_TRUE(
    contains(parse_error("partition | m1"), "column 11: empty group before"));
  EXPECT_TRUE(
    contains(parse_error("partition m1 | m1 m2"), "node m1 is in two groups"));
}

TEST(Script, HealAllOrSomeNodes) {
  auto all = parse_ok("heal");
  EXPECT_EQ(all.kind, step_kind::heal);
  EXPECT_TRUE(all.nodes.empty());
  EXPECT_EQ(parse_ok("heal A").nodes, (std::vector<std::string>{"A"}));
  EXPECT_EQ(parse_ok("heal A B").nodes, (std::vector<std::string>{"A", "B"}));
}

TEST(Script, DropTakesAPathAndAProbability) {
  auto d = parse_ok("drop w1->w2 0.2");
  EXPECT_EQ(d.kind, step_kind::drop);
  EXPECT_EQ(d.from, "w1");
  EXPECT_EQ(d.to, "w2");
  EXPECT_DOUBLE_EQ(d.probability, 0.2);
  auto spaced = parse_ok("drop w1 -> w2 1");
  EXPECT_EQ(spaced.to, "w2");
  EXPECT_DOUBLE_EQ(spaced.probability, 1.0);
}

TEST(Script, DropProbabilityOutOfRangeIsRefused) {
  EXPECT_EQ(parse_error("drop a->b 1.5"),
            "line 1, column 11: drop probability must be a number from 0 to "
            "1, not `1.5`");
  EXPECT_TRUE(contains(parse_error("drop a->b -0.1"), "not `-0.1`"));
  EXPECT_TRUE(contains(parse_error("drop a->b half"), "not `half`"));
  EXPECT_TRUE(contains(parse_error("drop a b 0.5"), "FROM->TO"));
  EXPECT_TRUE(contains(parse_error("drop a->b"), "want FROM->TO and a value"));
}

TEST(Script, DelayTakesAPathAndADuration) {
  auto d = parse_ok("delay m1->w3 50ms");
  EXPECT_EQ(d.kind, step_kind::delay);
  EXPECT_EQ(d.from, "m1");
  EXPECT_EQ(d.to, "w3");
  EXPECT_EQ(d.duration, 50ms);
}

// -- introspection and whole scripts ------------------------------------------

TEST(Script, IntrospectionSteps) {
  EXPECT_EQ(parse_ok("actors").kind, step_kind::actors);
  EXPECT_EQ(parse_ok("messages").argument, "");
  auto m = parse_ok("messages leader/controlapi");
  EXPECT_EQ(m.kind, step_kind::messages);
  EXPECT_EQ(m.argument, "leader/controlapi");
  auto s = parse_ok("schema ServiceSpec");
  EXPECT_EQ(s.kind, step_kind::schema);
  EXPECT_EQ(s.argument, "ServiceSpec");
  EXPECT_EQ(parse_ok("help").kind, step_kind::help);
  EXPECT_EQ(parse_ok("exit").kind, step_kind::exit);
  EXPECT_TRUE(contains(parse_error("schema"), "usage: schema NAME"));
  EXPECT_TRUE(contains(parse_error("exit now"), "unexpected `now`"));
  EXPECT_STREQ(to_string(step_kind::partition), "partition");
}

TEST(Script, CommentsBlankLinesAndCrLfKeepLineNumbers) {
  auto s = parse_script("# setup\r\n\r\n  sleep 1s\r\n# x\r\necho hi\r\n");
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s->steps.size(), 2u);
  EXPECT_EQ(s->steps[0].line, 3u);
  EXPECT_EQ(s->steps[1].line, 5u);
  EXPECT_EQ(s->steps[1].text, "hi");
  EXPECT_TRUE(is_blank_or_comment("   # note"));
  EXPECT_FALSE(is_blank_or_comment("echo # note"));
}

TEST(Script, OneBadStepRejectsTheWholeScript) {
  EXPECT_EQ(parse_error("sleep 1s\necho ok\nwait node w1 sleepy\n"),
            "line 3, column 14: unknown node state `sleepy` (want ready, down, "
            "active, pause, drain, leader, reachable, unreachable, manager, "
            "worker)");
}

// -- variables ----------------------------------------------------------------

result<std::string> lookup(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> vars{
    {"x", "1"},         {"svc", "web"}, {"x.a.b", "deep"},
    {"env.HOME", "/h"}, {"n", "3"},     {"bad", "x"}};
  auto i = vars.find(name);
  if (i == vars.end())
    return fail(errc::not_found, "no such variable");
  return i->second;
}

TEST(Script, SubstitutesEveryForm) {
  auto s = substitute("$x ${svc}-${x.a.b} ${env.HOME} costs $$5 $svc.", lookup);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(*s, "1 web-deep /h costs $5 web.");
  EXPECT_TRUE(has_variables("a $x"));
  EXPECT_FALSE(has_variables("a $$x"));
}

TEST(Script, SubstituteNamesUnknownAndMalformedVariables) {
  auto unknown = substitute("echo ${nope.id}", lookup);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "column 6: unknown variable `nope.id`");
  auto lone = substitute("awk '{print $1}'", lookup);
  ASSERT_FALSE(lone.ok());
  EXPECT_TRUE(contains(lone.error().message, "column 13: `$` starts no"));
  auto open = substitute("echo ${x", lookup);
  ASSERT_FALSE(open.ok());
  EXPECT_TRUE(contains(open.error().message, "not closed"));
  EXPECT_FALSE(substitute("${x..a}", lookup).ok());
}

TEST(Script, StepsWithVariablesAreBoundAtRunTime) {
  auto s = parse_script("sleep 1s\n"
                        "\n"
                        "wait service $svc running $n timeout 5s\n"
                        "call node/$svc/agent m (x = \"${x}\")\n");
  ASSERT_TRUE(s.ok()) << s.error().message;
  const auto& wait = s->steps[1];
  EXPECT_TRUE(wait.deferred); // `$n` is not a number yet
  auto bound = bind_variables(wait, lookup);
  ASSERT_TRUE(bound.ok()) << bound.error().message;
  EXPECT_FALSE(bound->deferred);
  EXPECT_EQ(bound->line, 3u);
  EXPECT_EQ(bound->cond.name, "web");
  EXPECT_EQ(bound->cond.count, 3u);
  EXPECT_EQ(bound->timeout, 5s);
  auto call = bind_variables(s->steps[2], lookup);
  ASSERT_TRUE(call.ok()) << call.error().message;
  EXPECT_EQ(call->actor, "node/web/agent");
  EXPECT_EQ(call->fields, "(x = \"1\")");
  // A value that does not fit fails at bind, with the step's line.
  step odd = wait;
  odd.source = "wait service web running $bad";
  auto wrong = bind_variables(odd, lookup);
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(contains(wrong.error().message, "line 3, column 26:"));
  odd.source = "wait service web running $nope";
  EXPECT_EQ(bind_variables(odd, lookup).error().message,
            "line 3, column 26: unknown variable `nope`");
}

// -- conditions: parsing ------------------------------------------------------

condition cond(std::string_view text) {
  auto c = parse_condition(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.error().message;
  return c.ok() ? *c : condition{};
}

TEST(Condition, ParsesEveryKind) {
  EXPECT_EQ(cond("service web running 6").kind,
            condition_kind::service_running);
  EXPECT_EQ(cond("service web converged").kind,
            condition_kind::service_converged);
  EXPECT_EQ(cond("service web removed").kind, condition_kind::service_removed);
  auto n = cond("node w2 drain");
  EXPECT_EQ(n.kind, condition_kind::node_is);
  EXPECT_EQ(n.name, "w2");
  EXPECT_EQ(n.state, "drain");
  EXPECT_EQ(cond("leader elected").kind, condition_kind::leader_elected);
  auto l = cond("leader is m1");
  EXPECT_EQ(l.kind, condition_kind::leader_is);
  EXPECT_EQ(l.name, "m1");
  auto t = cond("task my.web.3 running");
  EXPECT_EQ(t.kind, condition_kind::task_is);
  EXPECT_EQ(t.name, "my.web");
  EXPECT_EQ(t.slot, 3u);
  EXPECT_EQ(t.state, "running");
  auto e = cond("event reconcile service=web reason=*down*");
  EXPECT_EQ(e.kind, condition_kind::event_seen);
  EXPECT_EQ(e.name, "reconcile");
  ASSERT_EQ(e.fields.size(), 2u);
  EXPECT_EQ(e.fields[1].key, "reason");
  EXPECT_EQ(e.fields[1].pattern, "*down*");
  EXPECT_TRUE(cond("not leader elected").negated);
  EXPECT_FALSE(cond("not not leader elected").negated);
}

TEST(Condition, ParseErrorsSayWhatIsWanted) {
  auto err = [](std::string_view text) {
    auto c = parse_condition(text);
    EXPECT_FALSE(c.ok()) << text;
    return c.ok() ? std::string{} : c.error().message;
  };
  EXPECT_EQ(err("servce web converged"),
            "column 1: unknown condition `servce` (want service, node, "
            "leader, task or event); did you mean `service`?");
  EXPECT_TRUE(contains(err("service web running many"),
                       "column 21: the number of tasks must be a whole"));
  EXPECT_TRUE(contains(err("service web"), "missing `running N`"));
  EXPECT_TRUE(contains(err("task web running"), "SERVICE.SLOT"));
  EXPECT_TRUE(contains(err("task web.0 running"), "slots count from 1"));
  EXPECT_TRUE(contains(err("task web.1 runing"), "did you mean `running`?"));
  EXPECT_TRUE(contains(err("event reconcile reson=x"), "`reason`"));
  EXPECT_TRUE(contains(err("event recncile"), "unknown event type"));
  EXPECT_TRUE(contains(err("leader elected now"), "column 16: unexpected"));
  EXPECT_TRUE(contains(err("not"), "missing condition"));
}

TEST(Condition, NeedsOnlyWhatItReads) {
  auto n = needs(cond("node w1 ready"));
  EXPECT_TRUE(n.nodes);
  EXPECT_FALSE(n.services || n.tasks || n.events);
  auto s = needs(cond("service web converged"));
  EXPECT_TRUE(s.services && s.tasks);
  EXPECT_FALSE(s.nodes || s.events);
  auto t = needs(cond("task web.1 running"));
  EXPECT_TRUE(t.tasks && !t.services && !t.nodes);
  auto e = needs(cond("not event node"));
  EXPECT_TRUE(e.events && !e.nodes && !e.tasks);
  EXPECT_TRUE(needs(cond("leader is m1")).nodes);
}

// -- conditions: evaluation ---------------------------------------------------

task_row task(std::string service, uint64_t slot, std::string state,
              std::string desired = "running", int64_t created = 0) {
  task_row t;
  t.id = service + "." + std::to_string(slot) + "." + std::to_string(created);
  t.service_name = std::move(service);
  t.slot = slot;
  t.state = std::move(state);
  t.desired_state = std::move(desired);
  t.created_at_nanos = created;
  t.node_hostname = "w1";
  return t;
}

cluster_view cluster() {
  cluster_view v;
  v.nodes = {{"n1", "m1", "ready", "active", "leader", "manager"},
             {"n2", "m2", "ready", "active", "reachable", "manager"},
             {"n3", "w1", "ready", "active", "", "worker"},
             {"n4", "w2", "down", "drain", "", "worker"}};
  v.services = {{"s1", "web", false, 3}, {"s2", "mon", true, 0}};
  v.tasks = {task("web", 1, "running"),
             task("web", 2, "running"),
             task("web", 3, "failed", "shutdown", 1),
             task("web", 3, "starting", "running", 2),
             task("mon", 0, "running"),
             task("mon", 0, "running")};
  return v;
}

condition_result eval(std::string_view text, const cluster_view& v = cluster(),
                      const std::vector<event_row>& seen = {}) {
  return evaluate(cond(text), v, seen);
}

void expect_result(const condition_result& r, bool holds,
                   std::string_view observed) {
  EXPECT_EQ(r.holds, holds) << r.observed;
  EXPECT_EQ(r.observed, observed);
}

TEST(Condition, ServiceRunningCountsRunningTasksDesiredRunning) {
  expect_result(eval("service web running 2"), true,
                "service web has 2 running tasks");
  expect_result(eval("service web running 3"), false,
                "service web has 2 running tasks (want 3)");
  expect_result(eval("service api running 1"), false, "no service named api");
}

TEST(Condition, ServiceConvergedWantsEveryReplicaRunning) {
  expect_result(eval("service web converged"), false,
                "service web has 2 of 3 tasks running; not yet running: 1 "
                "starting");
  auto v = cluster();
  v.tasks[3].state = "running";
  expect_result(eval("service web converged", v), true,
                "service web has 3 of 3 tasks running");
  expect_result(eval("service mon converged"), true,
                "service mon has 2 of 2 tasks running");
  v.tasks = {};
  expect_result(eval("service mon converged", v), false,
                "global service mon has no tasks");
}

TEST(Condition, ServiceRemoved) {
  expect_result(eval("service api removed"), true, "no service named api");
  expect_result(eval("service web removed"), false,
                "service web exists (want removed)");
}

TEST(Condition, NodeStates) {
  expect_result(eval("node w2 down"), true, "node w2 is down");
  expect_result(eval("node w1 down"), false, "node w1 is ready (want down)");
  expect_result(eval("node n4 drain"), true, "node n4 is drain"); // by id
  expect_result(eval("node w1 pause"), false, "node w1 is active (want pause)");
  expect_result(eval("node m2 leader"), false,
                "node m2 is reachable (want leader)");
  expect_result(eval("node w1 unreachable"), false,
                "node w1 is not a manager (want unreachable)");
  expect_result(eval("node w1 manager"), false,
                "node w1 is a worker (want manager)");
  expect_result(eval("node m1 manager"), true, "node m1 is a manager");
  expect_result(eval("node w9 ready"), false, "no node named w9");
}

TEST(Condition, LeaderElectedAndLeaderIs) {
  expect_result(eval("leader elected"), true, "m1 is leader");
  expect_result(eval("leader is m1"), true, "m1 is leader");
  expect_result(eval("leader is m2"), false, "m1 is leader (want m2)");
  expect_result(eval("leader is m9"), false, "no node named m9");
  auto v = cluster();
  v.nodes[0].manager_status = "unreachable";
  expect_result(eval("leader elected", v), false,
                "no manager is leader (m1 unreachable, m2 reachable)");
  expect_result(eval("leader is m1", v), false,
                "no manager is leader (want m1)");
}

TEST(Condition, TaskSlotIsItsNewestOccupant) {
  expect_result(eval("task web.3 starting"), true,
                "task web.3 on w1 is starting");
  expect_result(eval("task web.3 running"), false,
                "task web.3 on w1 is starting (want running)");
  expect_result(eval("task web.7 running"), false, "no task in slot web.7");
  // Without an occupant, the newest task of the slot counts.
  auto v = cluster();
  v.tasks[3].desired_state = "shutdown";
  v.tasks[3].state = "shutdown";
  expect_result(eval("task web.3 shutdown", v), true,
                "task web.3 on w1 is shutdown");
}

TEST(Condition, EventWithGlobOnReason) {
  std::vector<event_row> seen(2);
  seen[0] = {1, "node", "update", "", "w2", "", {}};
  seen[1] = {2, "reconcile", "create", "web", "", "", {"node w2 is down"}};
  expect_result(
    eval("event reconcile service=web reason=*down*", cluster(), seen), true,
    "saw event #2: reconcile service=web reason=*down*");
  expect_result(eval("event reconcile reason=*drained*", cluster(), seen),
                false,
                "no event reconcile reason=*drained* among 2 events seen (1 "
                "of type reconcile)");
  EXPECT_TRUE(eval("event node node=w2 action=upd*", cluster(), seen).holds);
  EXPECT_FALSE(eval("event node", cluster(), {}).holds);
}

TEST(Condition, NotNegatesAndKeepsTheObservation) {
  expect_result(eval("not node w2 down"), false, "node w2 is down");
  expect_result(eval("not service web running 3"), true,
                "service web has 2 running tasks (want 3)");
}

TEST(Condition, GlobMatch) {
  EXPECT_TRUE(glob_match("*down*", "node w2 is down now"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbc"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("a*b", "acbd"));
  EXPECT_FALSE(glob_match("web", "web2"));
}

} // namespace
} // namespace skep::console
