// The console's catalog: actor names, messages, schemas, building messages,
// printing replies and completion.

#include "actors/console/session/catalog.hpp"

#include <capnp/message.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skep::console {
namespace {

using Kind = schema::Envelope::Kind;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

actor_name actor(std::string_view text) {
  auto a = parse_actor(text);
  EXPECT_TRUE(a) << a.error().message;
  return a ? *a : actor_name{};
}

std::string error_of(const result<actor_name>& r) {
  return r ? std::string() : r.error().message;
}

built_message build(std::string_view who, std::string_view message,
                    std::string_view args, delivery how = delivery::call) {
  auto built = build_message(actor(who), message, args, 1, how);
  EXPECT_TRUE(built) << built.error().message;
  return built ? *built : built_message{};
}

std::string build_error(std::string_view who, std::string_view message,
                        std::string_view args, size_t column = 1,
                        delivery how = delivery::call) {
  auto built = build_message(actor(who), message, args, column, how);
  return built ? std::string() : built.error().message;
}

bool has(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// --- actor names ----------------------------------------------------------

TEST(Catalog, ParseActorReadsEachKind) {
  EXPECT_EQ(actor("leader/controlapi").kind, actor_kind::controlapi);
  EXPECT_EQ(actor("dispatcher").kind, actor_kind::dispatcher);
  EXPECT_EQ(actor("scheduler").kind, actor_kind::scheduler);
  auto agent = actor("node/w-1.a_b/agent");
  EXPECT_EQ(agent.kind, actor_kind::agent);
  EXPECT_EQ(agent.node, "w-1.a_b");
  auto transport = actor("node/m1/transport");
  EXPECT_EQ(transport.kind, actor_kind::transport);
  EXPECT_EQ(transport.text, "node/m1/transport");
  auto reconciler = actor("reconciler/web");
  EXPECT_EQ(reconciler.kind, actor_kind::reconciler);
  EXPECT_EQ(reconciler.service, "web");
}

TEST(Catalog, ParseActorRejectsUnknownNamesListingTheActors) {
  EXPECT_EQ(error_of(parse_actor("schedular")),
            "unknown actor 'schedular' (did you mean scheduler?); actors are: "
            "leader/controlapi, node/NAME/agent, node/NAME/transport, "
            "dispatcher, scheduler, reconciler/SERVICE");
}

TEST(Catalog, ParseActorNeedsANodeName) {
  EXPECT_EQ(error_of(parse_actor("node/")),
            "node/ needs a node name: node/NAME/agent or node/NAME/transport");
  EXPECT_TRUE(contains(error_of(parse_actor("node//agent")), "needs a node"));
}

TEST(Catalog, ParseActorNeedsANodeActor) {
  EXPECT_EQ(error_of(parse_actor("node/w1")),
            "node/w1 needs an actor: node/w1/agent or node/w1/transport");
  EXPECT_EQ(error_of(parse_actor("node/w1/raft")),
            "unknown actor 'raft' on node w1; node actors are: agent, "
            "transport");
}

TEST(Catalog, ParseActorNeedsAServiceName) {
  EXPECT_EQ(error_of(parse_actor("reconciler/")),
            "reconciler/ needs a service name: reconciler/SERVICE");
}

TEST(Catalog, ParseActorRejectsBadCharactersAndLongNames) {
  EXPECT_EQ(error_of(parse_actor("reconciler/we b")),
            "service name 'we b' may contain only letters, digits, '-', '_' "
            "and '.'");
  auto long_name = "node/" + std::string(120, 'a') + "/agent";
  EXPECT_EQ(error_of(parse_actor(long_name)),
            "actor name is 131 characters; at most 128");
}

// --- messages -------------------------------------------------------------

TEST(Catalog, ControlApiAcceptsEveryRequestMember) {
  auto messages = messages_of(actor_kind::controlapi);
  auto members
    = capnp::Schema::from<schema::control::Request>().getUnionFields();
  ASSERT_EQ(messages.size(), members.size());
  auto create = std::find_if(messages.begin(), messages.end(),
                             [](auto& m) { return m.name == "serviceCreate"; });
  ASSERT_NE(create, messages.end());
  EXPECT_TRUE(create->call);
  EXPECT_EQ(create->argument, "ServiceSpec");
  EXPECT_EQ(create->reply, "Reply");
  EXPECT_EQ(create->reply_member, "created :Text");
}

TEST(Catalog, ReconcilerTakesInspectAndOneWayReconcile) {
  auto messages = messages_of(actor_kind::reconciler);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].name, "inspect");
  EXPECT_EQ(messages[0].reply, "ReconcilerState");
  EXPECT_EQ(messages[1].name, "reconcile");
  EXPECT_FALSE(messages[1].call);
}

TEST(Catalog, FormatMessagesListsEachActorsMessages) {
  auto text = format_messages();
  EXPECT_TRUE(contains(text, "leader/controlapi    call  serviceCreate"));
  EXPECT_TRUE(contains(text, "(ServiceSpec)"));
  EXPECT_TRUE(contains(text, "-> Reply.services :List(ServiceView)"));
  EXPECT_TRUE(contains(text, "node/NAME/transport"));
  EXPECT_TRUE(contains(text, "reconciler/SERVICE   send  reconcile"));
  auto scheduler = format_messages(actor_kind::scheduler);
  EXPECT_EQ(scheduler, "scheduler  call  inspect  ()  -> SchedulerState\n");
}

// --- schemas --------------------------------------------------------------

TEST(Catalog, SchemaTextShowsServiceSpecFields) {
  auto text = schema_text("ServiceSpec");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(text->substr(0, 41), "struct ServiceSpec {\n  name @0 :Text\n  la");
  EXPECT_TRUE(contains(*text, "  labels @1 :List(Label)\n"));
  EXPECT_TRUE(contains(*text, "  container @2 :ContainerSpec\n"));
  EXPECT_TRUE(
    contains(*text, "  mode @3 :ServiceMode  # replicated, global\n"));
  EXPECT_TRUE(contains(*text, "  replicas @4 :UInt64 = 1\n"));
  EXPECT_TRUE(contains(*text, "  ports @12 :List(PortConfig)\n}"));
}

TEST(Catalog, SchemaTextFindsAMessagesArgument) {
  EXPECT_EQ(*schema_text("serviceCreate"), *schema_text("ServiceSpec"));
  EXPECT_EQ(*schema_text("serviceList"),
            "serviceList takes no arguments (Void)");
}

TEST(Catalog, SchemaTextShowsFault) {
  auto text = schema_text("Fault");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "struct Fault {\n"
                   "  peers @0 :List(Text)\n"
                   "  drop @1 :Float64\n"
                   "  delayNanos @2 :Int64\n"
                   "  partitioned @3 :Bool\n"
                   "  heal @4 :Bool\n"
                   "}");
}

TEST(Catalog, SchemaTextShowsUnionsAndGroups) {
  EXPECT_TRUE(
    contains(*schema_text("Request"), "  union {\n    version @0 :Void\n"));
  EXPECT_TRUE(contains(*schema_text("Envelope"),
                       "  body :union {\n    error @5 :Error\n"));
  EXPECT_TRUE(contains(*schema_text("TaskState"), "  running @6\n"));
  EXPECT_TRUE(
    contains(*schema_text("EventsRequest"), "filters @3 :List(Text)"));
}

TEST(Catalog, SchemaTextOfAnUnknownNameSuggestsCloseOnes) {
  auto r = schema_text("ServiceSpc");
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message,
                       "no message or type 'ServiceSpc'; did you mean: "))
    << r.error().message;
  EXPECT_TRUE(contains(r.error().message, "ServiceSpec"));
  EXPECT_TRUE(
    contains(schema_text("zzzzzzzzzz").error().message, "run `messages`"));
}

// --- building messages ----------------------------------------------------

TEST(Catalog, BuildsAControlRequestWithTheMemberSet) {
  auto built = build("leader/controlapi", "serviceCreate",
                     R"((name = "web", replicas = 2))");
  ASSERT_TRUE(built.control);
  EXPECT_TRUE(built.expects_reply);
  auto request = built.request.root();
  ASSERT_TRUE(request.isServiceCreate());
  EXPECT_EQ(request.getServiceCreate().getName(), "web");
  EXPECT_EQ(request.getServiceCreate().getReplicas(), 2u);
}

TEST(Catalog, BuildsAVoidControlRequestWithOrWithoutParens) {
  EXPECT_TRUE(build("leader/controlapi", "serviceList", "")
                .request.root()
                .isServiceList());
  EXPECT_TRUE(build("leader/controlapi", "serviceList", " ( ) ")
                .request.root()
                .isServiceList());
}

TEST(Catalog, VoidMessageWithFieldsIsRefused) {
  EXPECT_EQ(build_error("leader/controlapi", "serviceList", " (x = 1)", 30),
            "column 31: serviceList takes no arguments (it is Void); write "
            "`serviceList` alone or with ()");
}

TEST(Catalog, BuildsTaskLogsForAnAgent) {
  auto built = build("node/w1/agent", "taskLogs",
                     R"((taskIds = ["t1", "t2"], tailLines = 10))");
  ASSERT_FALSE(built.control);
  auto env = built.env.root();
  EXPECT_EQ(env.getKind(), Kind::REQUEST);
  EXPECT_EQ(env.getCorrelationId(), 0u);
  EXPECT_EQ(env.getSender().getName(), "console");
  EXPECT_EQ(env.getTarget().getName(), "agent");
  ASSERT_TRUE(env.getBody().isTaskLogs());
  EXPECT_EQ(env.getBody().getTaskLogs().getTaskIds()[1], "t2");
  EXPECT_EQ(env.getBody().getTaskLogs().getTailLines(), 10);
}

TEST(Catalog, BuildsPingAndFaultForATransport) {
  auto ping = build("node/w1/transport", "ping", R"((payload = "hi"))");
  EXPECT_EQ(ping.env.root().getTarget().getName(), "transport");
  EXPECT_TRUE(ping.env.root().getBody().isPing());
  auto fault
    = build("node/w1/transport", "fault", R"((peers = ["w2"], drop = 0.5))");
  ASSERT_TRUE(fault.env.root().getBody().isFault());
  EXPECT_DOUBLE_EQ(fault.env.root().getBody().getFault().getDrop(), 0.5);
}

TEST(Catalog, BuildsDispatcherMessages) {
  auto heartbeat = build("dispatcher", "heartbeat", R"((nodeId = "w1"))");
  EXPECT_EQ(heartbeat.env.root().getTarget().getName(), "dispatcher");
  ASSERT_TRUE(heartbeat.env.root().getBody().isHeartbeat());
  EXPECT_EQ(heartbeat.env.root().getBody().getHeartbeat().getNodeId(), "w1");
  auto status = build("dispatcher", "taskStatus",
                      R"((nodeId = "w1", updates = [(taskId = "t1",
                          status = (state = running))]))");
  ASSERT_TRUE(status.env.root().getBody().isTaskStatus());
  EXPECT_EQ(status.env.root()
              .getBody()
              .getTaskStatus()
              .getUpdates()[0]
              .getStatus()
              .getState(),
            schema::store::TaskState::RUNNING);
}

TEST(Catalog, BuildsInspectForTheScheduler) {
  auto built = build("scheduler", "inspect", "");
  EXPECT_EQ(built.env.root().getTarget().getName(), "scheduler");
  EXPECT_TRUE(built.env.root().getBody().isInspect());
}

TEST(Catalog, InspectWithFieldsIsRefused) {
  EXPECT_EQ(build_error("scheduler", "inspect", "(x = 1)", 10),
            "column 11: unknown field 'x' in Inspect; it has no fields");
}

TEST(Catalog, SendsReconcileOneWay) {
  auto built = build("reconciler/web", "reconcile", "()", delivery::send);
  EXPECT_FALSE(built.expects_reply);
  EXPECT_EQ(built.env.root().getKind(), Kind::ONE_WAY);
  EXPECT_EQ(built.env.root().getTarget().getName(), "reconciler");
  EXPECT_TRUE(built.env.root().getBody().isReconcile());
}

TEST(Catalog, CallOfAOneWayMessageIsRefused) {
  EXPECT_EQ(build_error("reconciler/web", "reconcile", ""),
            "reconcile is one-way and has no reply: use send reconciler/web "
            "reconcile");
}

TEST(Catalog, SendOfACallDropsTheReply) {
  auto built = build("scheduler", "inspect", "", delivery::send);
  EXPECT_FALSE(built.expects_reply);
  EXPECT_EQ(built.env.root().getKind(), Kind::ONE_WAY);
}

TEST(Catalog, UnknownMessageListsWhatTheActorAccepts) {
  EXPECT_EQ(build_error("dispatcher", "hello", ""),
            "dispatcher does not accept 'hello'; it accepts: heartbeat, "
            "taskStatus, inspect");
  EXPECT_EQ(build_error("scheduler", "ping", ""),
            "scheduler does not accept 'ping' ('ping' goes to "
            "node/NAME/transport); it accepts: inspect");
}

TEST(Catalog, ArgumentErrorsCountColumnsFromArgsColumn) {
  EXPECT_EQ(
    build_error("leader/controlapi", "serviceCreate", "(replicas = -1)", 25)
      .substr(0, 10),
    "column 37:");
}

TEST(Catalog, BuildsADataMessageFromAValue) {
  auto built = build("leader/controlapi", "propose", R"(0x"0102")");
  ASSERT_TRUE(built.request.root().isPropose());
  EXPECT_EQ(built.request.root().getPropose().size(), 2u);
}

// --- replies --------------------------------------------------------------

control_reply services_reply() {
  capnp::MallocMessageBuilder builder;
  auto services = builder.initRoot<schema::control::Reply>().initServices(1);
  services[0].initService().setId("s1");
  services[0].setRunningTasks(1);
  return control_reply::from(builder);
}

TEST(Catalog, FormatsAControlReplyAsText) {
  auto text = format_reply(services_reply());
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, R"(services = [(service = (id = "s1"), runningTasks = 1)])");
}

TEST(Catalog, FormatsAVoidReplyByItsName) {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::control::Reply>().setDone();
  EXPECT_EQ(*format_reply(control_reply::from(builder)), "done");
}

TEST(Catalog, FormatsAControlReplyAsJson) {
  auto text = format_reply(services_reply(), {true, false});
  ASSERT_TRUE(text);
  auto j = nlohmann::json::parse(*text);
  EXPECT_EQ(j["services"][0]["service"]["id"], "s1");
  EXPECT_EQ(j["services"][0]["desiredTasks"], 0);
}

TEST(Catalog, ControlReplyErrorBecomesAFailure) {
  auto reply = make_error_reply(fail(errc::not_found, "no service 'x'"));
  auto text = format_reply(reply);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, errc::not_found);
  EXPECT_EQ(text.error().message, "no service 'x'");
}

envelope pong_reply() {
  return make_envelope(Kind::REPLY, 7, {"", "transport"}, {"", "console"},
                       [](schema::Envelope::Body::Builder body) {
                         body.initPong().setNode("w1");
                       });
}

TEST(Catalog, FormatsAnEnvelopeReplyBody) {
  EXPECT_EQ(*format_reply(pong_reply()), R"(pong = (node = "w1"))");
  auto json = nlohmann::json::parse(*format_reply(pong_reply(), {true, true}));
  EXPECT_EQ(json["pong"]["node"], "w1");
}

TEST(Catalog, EnvelopeErrorBecomesAFailure) {
  auto env = make_error_envelope(3, fail(errc::unsupported, "no such actor"));
  auto text = format_reply(env);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, errc::unsupported);
  EXPECT_EQ(text.error().message, "no such actor");
}

TEST(Catalog, UnwrapsADeliveredReply) {
  auto inner = make_envelope(Kind::REPLY, 1, {"", "scheduler"}, {"", "console"},
                             [](schema::Envelope::Body::Builder body) {
                               body.initSchedulerState().setPendingTasks(2);
                             });
  auto bytes = inner.encode();
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::control::Reply>().setDelivered(
    capnp::Data::Reader(bytes.data(), bytes.size()));
  auto reply = control_reply::from(builder);
  EXPECT_EQ(*format_reply(reply), "schedulerState = (pendingTasks = 2)");
  EXPECT_TRUE(delivered_envelope(reply)->root().getBody().isSchedulerState());
}

// --- completion -----------------------------------------------------------

TEST(Catalog, CompletesStepKeywords) {
  auto all = complete("");
  EXPECT_TRUE(has(all, "send"));
  EXPECT_TRUE(has(all, "partition"));
  EXPECT_EQ(complete("se"), (std::vector<std::string>{"send"}));
  EXPECT_EQ(complete("  ex"),
            (std::vector<std::string>{"exec", "exit", "expect"}));
}

TEST(Catalog, CompletesActorsAfterSendAndCall) {
  EXPECT_EQ(complete("call "),
            (std::vector<std::string>{"dispatcher", "leader/controlapi",
                                      "node/", "reconciler/", "scheduler"}));
  EXPECT_EQ(complete("send sch"), (std::vector<std::string>{"scheduler"}));
  EXPECT_EQ(complete("let x = call sch"),
            (std::vector<std::string>{"scheduler"}));
}

TEST(Catalog, CompletesNodeAndServiceNamesFromKnownNames) {
  known_names known{{"w1", "w2", "m1"}, {"web", "db"}};
  EXPECT_EQ(complete("call node/w", known),
            (std::vector<std::string>{"node/w1/", "node/w2/"}));
  EXPECT_EQ(complete("call node/w1/", known),
            (std::vector<std::string>{"node/w1/agent", "node/w1/transport"}));
  EXPECT_EQ(complete("call reconciler/w", known),
            (std::vector<std::string>{"reconciler/web"}));
}

TEST(Catalog, CompletesMessageNamesAfterAnActor) {
  EXPECT_EQ(complete("call dispatcher "),
            (std::vector<std::string>{"heartbeat", "inspect", "taskStatus"}));
  auto control = complete("call leader/controlapi service");
  EXPECT_TRUE(has(control, "serviceCreate"));
  EXPECT_TRUE(has(control, "serviceList"));
  EXPECT_FALSE(has(control, "nodeList"));
}

TEST(Catalog, CompletesFieldNamesOfTheInnermostStruct) {
  EXPECT_EQ(complete("call leader/controlapi serviceCreate (na"),
            (std::vector<std::string>{"name"}));
  EXPECT_EQ(
    complete(
      R"(call leader/controlapi serviceCreate (name = "a", container = (im)"),
    (std::vector<std::string>{"image"}));
  EXPECT_EQ(complete("call leader/controlapi serviceCreate (ports = [(pu"),
            (std::vector<std::string>{"published"}));
  EXPECT_EQ(complete("call leader/controlapi serviceCreate (mode = "),
            (std::vector<std::string>{"global", "replicated"}));
  EXPECT_TRUE(
    complete("call leader/controlapi serviceCreate (name = \"na").empty());
}

TEST(Catalog, CompletesSchemaNames) {
  auto names = complete("schema ServiceS");
  EXPECT_EQ(names, (std::vector<std::string>{"ServiceSpec"}));
  EXPECT_TRUE(has(complete("schema serviceC"), "serviceCreate"));
}

TEST(Catalog, CompletionStartsAfterTheLastSeparator) {
  EXPECT_EQ(completion_start("call node/w1"), 5u);
  EXPECT_EQ(completion_start("call x (a = (b"), 13u);
  EXPECT_EQ(completion_start("call "), 5u);
}

} // namespace
} // namespace skep::console
