// Cap'n Proto text format: parsing, printing, JSON and paths.

#include "actors/console/session/message_text.hpp"
#include "messages/control.capnp.h"
#include "messages/envelope.capnp.h"
#include "messages/raft.capnp.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skep::console {
namespace {

using schema::control::Reply;
using schema::control::Request;
using schema::store::ServiceSpec;

/// A fresh message with root T.
template <class T>
struct fresh {
  capnp::MallocMessageBuilder builder;
  typename T::Builder root = builder.initRoot<T>();
  capnp::DynamicStruct::Builder dynamic() { return capnp::toDynamic(root); }
  typename T::Reader reader() { return root.asReader(); }
  capnp::DynamicStruct::Reader view() { return capnp::toDynamic(reader()); }
};

template <class T>
result<void> parse(fresh<T>& into, std::string_view text, size_t offset = 0) {
  return parse_struct_text(text, into.dynamic(), offset);
}

/// The error parsing `text` into a ServiceSpec gives; "" if none.
std::string spec_error(std::string_view text, size_t offset = 0) {
  fresh<ServiceSpec> spec;
  auto r = parse(spec, text, offset);
  return r ? std::string() : r.error().message;
}

template <class T>
bool same(typename T::Reader a, typename T::Reader b) {
  return capnp::toAny(a).equals(capnp::toAny(b)) == capnp::Equality::EQUAL;
}

/// Prints `r` (compact and indented), parses both back, expects equality.
template <class T>
void expect_round_trip(typename T::Reader r) {
  for (bool indent : {false, true}) {
    auto text = print_text(capnp::toDynamic(r), indent);
    fresh<T> back;
    auto parsed = parse(back, text);
    ASSERT_TRUE(parsed) << parsed.error().message << "\n" << text;
    EXPECT_TRUE(same<T>(r, back.reader())) << text << "\nvs\n"
                                           << print_text(back.view());
    EXPECT_EQ(to_json_text(capnp::toDynamic(r)),
              to_json_text(capnp::toDynamic(back.reader())));
  }
}

void fill_spec(ServiceSpec::Builder spec) {
  spec.setName("web");
  spec.setMode(schema::store::ServiceMode::GLOBAL);
  spec.setReplicas(0);
  auto labels = spec.initLabels(2);
  labels[0].setKey("tier");
  labels[0].setValue("front \"end\"\n");
  labels[1].setKey("empty");
  auto c = spec.initContainer();
  c.setImage("nginx");
  auto env = c.initEnv(2);
  env.set(0, "A=1");
  env.set(1, "B=\t2");
  c.setStopGraceNanos(-5);
  auto ports = spec.initPorts(2);
  ports[0].setPublished(8080);
  ports[0].setTarget(80);
  ports[1].setTarget(53);
  ports[1].setProtocol("udp");
  spec.getRestart().setCondition(schema::store::RestartCondition::ON_FAILURE);
  spec.getUpdate().setMaxFailureRatio(0.1);
  spec.getUpdate().setOrder(schema::store::UpdateOrder::START_FIRST);
  spec.getRollback().setParallelism(0);
}

void fill_reply(Reply::Builder reply) {
  auto services = reply.initServices(1);
  auto service = services[0].initService();
  service.setId("s1");
  service.setVersion(9'223'372'036'854'775'809ull);
  service.getSpec().setName("web");
  service.getSpec().getContainer().setImage("nginx");
  services[0].setRunningTasks(2);
  services[0].setDesiredTasks(3);
}

// --- parsing --------------------------------------------------------------

TEST(MessageText, ParsesScalarsListsAndNestedStructs) {
  fresh<ServiceSpec> spec;
  auto r = parse(spec, R"((name = "web", replicas = 3, mode = global,
    container = (image = "nginx", args = ["-g", "daemon off;"],
                 stopGraceNanos = -5),
    update = (maxFailureRatio = 0.25, parallelism = 0x10)))");
  ASSERT_TRUE(r) << r.error().message;
  auto s = spec.reader();
  EXPECT_EQ(s.getName(), "web");
  EXPECT_EQ(s.getReplicas(), 3u);
  EXPECT_EQ(s.getMode(), schema::store::ServiceMode::GLOBAL);
  EXPECT_EQ(s.getContainer().getImage(), "nginx");
  ASSERT_EQ(s.getContainer().getArgs().size(), 2u);
  EXPECT_EQ(s.getContainer().getArgs()[1], "daemon off;");
  EXPECT_EQ(s.getContainer().getStopGraceNanos(), -5);
  EXPECT_DOUBLE_EQ(s.getUpdate().getMaxFailureRatio(), 0.25);
  EXPECT_EQ(s.getUpdate().getParallelism(), 16u);
}

TEST(MessageText, ParsesFloatsWithExponents) {
  fresh<ServiceSpec> spec;
  ASSERT_TRUE(parse(spec, "(update = (maxFailureRatio = 5e-1))"));
  EXPECT_DOUBLE_EQ(spec.reader().getUpdate().getMaxFailureRatio(), 0.5);
}

TEST(MessageText, ParsesStringEscapes) {
  fresh<ServiceSpec> spec;
  ASSERT_TRUE(parse(spec, R"((name = "a\"b\\c\n\t\x41"))"));
  EXPECT_EQ(spec.reader().getName(), "a\"b\\c\n\tA");
}

TEST(MessageText, ParsesDataAsTextOrHex) {
  fresh<schema::diag::Ping> text;
  ASSERT_TRUE(parse(text, R"((payload = "hi"))"));
  EXPECT_EQ(text.reader().getPayload().size(), 2u);
  EXPECT_EQ(text.reader().getPayload()[1], 'i');
  fresh<schema::diag::Ping> hex;
  ASSERT_TRUE(parse(hex, R"((payload = 0x"00 ff 10"))"));
  ASSERT_EQ(hex.reader().getPayload().size(), 3u);
  EXPECT_EQ(hex.reader().getPayload()[1], 0xff);
}

TEST(MessageText, AcceptsEmptyTextAndEmptyParens) {
  fresh<ServiceSpec> a;
  EXPECT_TRUE(parse(a, ""));
  fresh<ServiceSpec> b;
  EXPECT_TRUE(parse(b, "  ( )  "));
  EXPECT_FALSE(b.reader().hasName());
}

TEST(MessageText, AcceptsCommentsAndNewlines) {
  fresh<ServiceSpec> spec;
  auto r = parse(spec, "(\n  name = \"web\",  # the name\n  replicas = 2\n)\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(spec.reader().getReplicas(), 2u);
}

TEST(MessageText, SetsUnionMembers) {
  fresh<Request> create;
  ASSERT_TRUE(parse(create, R"((serviceCreate = (name = "web")))"));
  ASSERT_TRUE(create.reader().isServiceCreate());
  EXPECT_EQ(create.reader().getServiceCreate().getName(), "web");
  fresh<Request> list;
  ASSERT_TRUE(parse(list, "(serviceList = void)"));
  EXPECT_TRUE(list.reader().isServiceList());
}

TEST(MessageText, SetsAUnionMemberInsideAGroup) {
  fresh<schema::Envelope> env;
  auto r = parse(env, R"((kind = request, body = (ping = (payload = "x"))))");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(env.reader().getBody().isPing());
  EXPECT_EQ(env.reader().getKind(), schema::Envelope::Kind::REQUEST);
}

TEST(MessageText, ParseFieldTextSetsOneValue) {
  fresh<Request> request;
  auto field = capnp::Schema::from<Request>().getFieldByName("propose");
  ASSERT_TRUE(parse_field_text(R"(0x"0102")", request.dynamic(), field));
  ASSERT_TRUE(request.reader().isPropose());
  EXPECT_EQ(request.reader().getPropose().size(), 2u);
}

// --- errors ---------------------------------------------------------------

TEST(MessageText, UnknownFieldNamesColumnAndFields) {
  EXPECT_EQ(spec_error(R"((name = "web", replicsa = 3))").substr(0, 51),
            "column 16: unknown field 'replicsa' in ServiceSpec;");
  EXPECT_NE(spec_error("(replicsa = 3)")
              .find("its fields are: name, labels, "
                    "container, mode, replicas"),
            std::string::npos);
}

TEST(MessageText, TextForANumberIsRefused) {
  EXPECT_EQ(spec_error(R"((replicas = "abc"))"),
            "column 13: field 'replicas' of ServiceSpec is UInt64; \"abc\" is "
            "not a number");
}

TEST(MessageText, ValueTooBigForItsTypeIsRefused) {
  fresh<schema::raft::Entry> entry;
  auto r = parse(entry, "(type = 300)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "column 9: field 'type' of Entry: value 300 "
                               "does not fit UInt8 (0 to 255)");
  EXPECT_NE(
    spec_error("(replicas = 18446744073709551616)").find("does not fit UInt64"),
    std::string::npos);
}

TEST(MessageText, NegativeValueForUnsignedIsRefused) {
  EXPECT_EQ(spec_error("(replicas = -1)"),
            "column 13: field 'replicas' of ServiceSpec is UInt64; -1 is "
            "negative");
}

TEST(MessageText, FloatForIntegerIsRefused) {
  EXPECT_EQ(spec_error("(replicas = 1.5)"),
            "column 13: field 'replicas' of ServiceSpec is UInt64; 1.5 is not "
            "an integer");
}

TEST(MessageText, UnknownEnumerantListsTheValidOnes) {
  EXPECT_EQ(spec_error("(mode = sideways)"),
            "column 9: field 'mode' of ServiceSpec is ServiceMode; 'sideways' "
            "is not one of: replicated, global");
}

TEST(MessageText, EnumerantNumberOutOfRangeIsRefused) {
  EXPECT_EQ(spec_error("(mode = 7)"),
            "column 9: field 'mode' of ServiceSpec is ServiceMode; write one "
            "of: replicated, global, not 7");
}

TEST(MessageText, OddHexDataIsRefused) {
  fresh<schema::diag::Ping> ping;
  auto r = parse(ping, R"((payload = 0x"abc"))");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "column 18: 0x\"...\" needs an even number of hex digits");
}

TEST(MessageText, UnknownEscapeIsRefused) {
  EXPECT_EQ(spec_error(R"((name = "a\qb"))").substr(0, 35),
            "column 11: unknown escape '\\q' in a");
}

TEST(MessageText, UnclosedParenthesisIsReported) {
  EXPECT_EQ(spec_error(R"((name = "x", container = (image = "y"))"),
            "column 39: unbalanced parentheses: '(' at column 1 is never "
            "closed");
}

TEST(MessageText, CloseWithoutOpenIsReported) {
  EXPECT_EQ(spec_error(R"((name = "x")))"), "column 13: ')' without '('");
}

TEST(MessageText, TwoUnionMembersAreRefused) {
  fresh<Request> request;
  auto r = parse(request, "(serviceList = void, nodeList = void)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "column 22: two members of the same union: "
                               "'serviceList' and 'nodeList'");
}

TEST(MessageText, FieldSetTwiceIsRefused) {
  EXPECT_EQ(spec_error(R"((name = "a", name = "b"))"),
            "column 14: field 'name' set twice (first at column 2)");
}

TEST(MessageText, MissingCommaIsReported) {
  EXPECT_EQ(spec_error(R"((name = "a" replicas = 3))"),
            "column 13: expected ',' or ')' after a field, found 'replicas'");
}

TEST(MessageText, TrailingCharactersAreRefused) {
  EXPECT_EQ(spec_error(R"((name = "a") extra)"),
            "column 14: unexpected 'extra' after the closing ')' of the '(' "
            "at column 1");
}

TEST(MessageText, MissingEqualsIsReported) {
  EXPECT_EQ(
    spec_error("(name \"a\")"),
    "column 7: expected '=' after the field name 'name', found '\"a\"'");
}

TEST(MessageText, StructWhereAScalarBelongsIsRefused) {
  EXPECT_EQ(spec_error("(container = 5)"),
            "column 14: field 'container' of ServiceSpec is ContainerSpec; "
            "write it as ( ... ), not 5");
}

TEST(MessageText, UnterminatedStringIsReported) {
  EXPECT_EQ(spec_error("(name = \"web)"),
            "column 9: this string is never closed (no closing '\"')");
}

TEST(MessageText, ColumnOffsetShiftsColumns) {
  EXPECT_EQ(spec_error("(replicas = -1)", 20).substr(0, 10), "column 33:");
}

TEST(MessageText, ErrorsOnLaterLinesNameTheLine) {
  EXPECT_EQ(spec_error("(name = \"a\",\n  bogus = 1)").substr(0, 25),
            "line 2, column 3: unknown");
}

// --- limits ---------------------------------------------------------------

TEST(MessageText, InputOver64KiBIsRefused) {
  std::string text = "(name = \"" + std::string(65 * 1024, 'a') + "\")";
  EXPECT_EQ(spec_error(text).substr(0, 40),
            "the message text is 66571 bytes; at most");
}

TEST(MessageText, NestingDeeperThan32IsRefused) {
  std::string deep(33, '(');
  deep += std::string(33, ')');
  EXPECT_EQ(spec_error(deep), "column 33: nesting deeper than 32 levels");
  std::string ok = std::string(32, '(') + std::string(32, ')');
  EXPECT_EQ(spec_error(ok).find("nesting"), std::string::npos);
}

TEST(MessageText, ListsOver10000ElementsAreRefused) {
  auto list = [](size_t n) {
    std::string text = "(constraints = [";
    for (size_t i = 0; i < n; ++i)
      text += i ? ",\"a\"" : "\"a\"";
    return text + "])";
  };
  EXPECT_EQ(spec_error(list(10'000)), "");
  auto error = spec_error(list(10'001));
  EXPECT_NE(error.find("a list may have at most 10000 elements"),
            std::string::npos)
    << error;
}

// --- printing -------------------------------------------------------------

TEST(MessageText, PrintsCompactlyInSchemaOrder) {
  fresh<ServiceSpec> spec;
  spec.root.setName("web");
  spec.root.setReplicas(3);
  spec.root.getContainer().setImage("nginx");
  EXPECT_EQ(print_text(spec.view()),
            R"((name = "web", container = (image = "nginx"), replicas = 3))");
}

TEST(MessageText, PrintOmitsDefaultsButNotExplicitZeros) {
  fresh<ServiceSpec> spec;
  EXPECT_EQ(print_text(spec.view()), "()");
  spec.root.setReplicas(1); // the schema default
  spec.root.getContainer(); // an empty struct
  EXPECT_EQ(print_text(spec.view()), "()");
  spec.root.setReplicas(0);
  EXPECT_EQ(print_text(spec.view()), "(replicas = 0)");
}

TEST(MessageText, PrintShowsTheActiveVoidMember) {
  fresh<Request> request;
  request.root.setServiceList();
  EXPECT_EQ(print_text(request.view()), "(serviceList = void)");
}

TEST(MessageText, PrintsBinaryDataAsHexAndTextAsString) {
  fresh<schema::diag::Pong> pong;
  const capnp::byte bytes[] = {0x00, 0xff};
  pong.root.setPayload(capnp::Data::Reader(bytes, 2));
  pong.root.setNode("w\"1");
  EXPECT_EQ(print_text(pong.view()), R"((payload = 0x"00ff", node = "w\"1"))");
}

TEST(MessageText, IndentedPrintPutsOneFieldPerLine) {
  fresh<ServiceSpec> spec;
  spec.root.setName("web");
  spec.root.setReplicas(3);
  EXPECT_EQ(print_text(spec.view(), true),
            "(\n  name = \"web\",\n  replicas = 3\n)");
}

TEST(MessageText, RoundTripsAServiceSpec) {
  fresh<ServiceSpec> spec;
  fill_spec(spec.root);
  expect_round_trip<ServiceSpec>(spec.reader());
}

TEST(MessageText, RoundTripsAReplyWithServicesAndTasks) {
  fresh<Reply> reply;
  fill_reply(reply.root);
  expect_round_trip<Reply>(reply.reader());
  fresh<Reply> tasks;
  auto list = tasks.root.initTasks(1);
  list[0].getTask().getStatus().setState(schema::store::TaskState::RUNNING);
  auto ports = list[0].getTask().getStatus().initHostPorts(2);
  ports.set(0, 30000);
  ports.set(1, 65535);
  expect_round_trip<Reply>(tasks.reader());
}

TEST(MessageText, RoundTripsAnEnvelopeWithBinaryData) {
  fresh<schema::Envelope> env;
  env.root.setKind(schema::Envelope::Kind::REPLY);
  env.root.setCorrelationId(UINT64_MAX);
  env.root.getSender().setName("console");
  const capnp::byte bytes[] = {0x01, 0x80, 0x7f, 0x00};
  env.root.getBody().initPong().setPayload(capnp::Data::Reader(bytes, 4));
  expect_round_trip<schema::Envelope>(env.reader());
}

TEST(MessageText, RoundTripsExtremeNumbers) {
  fresh<schema::control::SwarmInit> init;
  init.root.setTaskHistoryLimit(INT64_MIN);
  init.root.setDispatcherHeartbeatNanos(INT64_MAX);
  init.root.setSnapshotInterval(UINT64_MAX);
  expect_round_trip<schema::control::SwarmInit>(init.reader());
  fresh<schema::console::Fault> fault;
  fault.root.setDrop(0.1 + 0.2);
  expect_round_trip<schema::console::Fault>(fault.reader());
}

// --- JSON -----------------------------------------------------------------

TEST(MessageText, JsonOfAReplyHasTheActiveMemberOnly) {
  fresh<Reply> reply;
  fill_reply(reply.root);
  auto j = nlohmann::json::parse(to_json_text(reply.view()));
  ASSERT_EQ(j.size(), 1u);
  const auto& view = j["services"][0];
  EXPECT_EQ(view["runningTasks"], 2);
  EXPECT_EQ(view["service"]["spec"]["name"], "web");
  uint64_t version = view["service"]["version"];
  EXPECT_EQ(version, 9'223'372'036'854'775'809ull);
}

TEST(MessageText, JsonIncludesDefaultsAndNamesEnums) {
  fresh<ServiceSpec> spec;
  auto j = nlohmann::json::parse(to_json_text(spec.view()));
  EXPECT_EQ(j["replicas"], 1);
  EXPECT_EQ(j["mode"], "replicated");
  EXPECT_EQ(j["name"], "");
  EXPECT_TRUE(j["labels"].is_array());
  EXPECT_EQ(j["restart"]["condition"], "any");
}

TEST(MessageText, JsonShowsBinaryDataAsBase64) {
  fresh<schema::diag::Pong> pong;
  const capnp::byte bytes[] = {0xff, 0x00, 0x01};
  pong.root.setPayload(capnp::Data::Reader(bytes, 3));
  auto j = nlohmann::json::parse(to_json_text(pong.view()));
  EXPECT_EQ(j["payload"]["base64"], "/wAB");
  const capnp::byte text[] = {'h', 'i'};
  pong.root.setPayload(capnp::Data::Reader(text, 2));
  EXPECT_EQ(nlohmann::json::parse(to_json_text(pong.view()))["payload"], "hi");
}

// --- lookup ---------------------------------------------------------------

TEST(MessageText, LookupReadsScalarsByPath) {
  fresh<Reply> reply;
  fill_reply(reply.root);
  EXPECT_EQ(*lookup(reply.view(), "services.0.service.spec.name"), "web");
  EXPECT_EQ(*lookup(reply.view(), "services.0.runningTasks"), "2");
  EXPECT_EQ(*lookup(reply.view(), "services.0.service.spec.mode"),
            "replicated");
  fresh<Reply> created;
  created.root.setCreated("abc");
  EXPECT_EQ(*lookup(created.view(), "created"), "abc");
}

TEST(MessageText, LookupPrintsStructsAndLists) {
  fresh<Reply> reply;
  fill_reply(reply.root);
  EXPECT_EQ(*lookup(reply.view(), "services.0.service.spec"),
            R"((name = "web", container = (image = "nginx")))");
}

TEST(MessageText, LookupOfAnUnknownFieldListsTheFields) {
  fresh<Reply> reply;
  fill_reply(reply.root);
  auto r = lookup(reply.view(), "services.0.bogus");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "no field 'bogus' in ServiceView at 'services.0'; its fields "
            "are: service, runningTasks, desiredTasks");
}

TEST(MessageText, LookupPastTheEndOfAListIsRefused) {
  fresh<Reply> reply;
  fill_reply(reply.root);
  auto r = lookup(reply.view(), "services.3.service");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "'services' has 1 element; there is no element 3");
}

TEST(MessageText, LookupOfAnInactiveUnionMemberNamesTheActiveOne) {
  fresh<Reply> reply;
  fill_reply(reply.root);
  auto r = lookup(reply.view(), "created");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "'created' is not set in Reply; it holds "
                               "'services'");
}

TEST(MessageText, LookupIntoAScalarIsRefused) {
  fresh<Reply> reply;
  fill_reply(reply.root);
  auto r = lookup(reply.view(), "services.0.runningTasks.x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "'services.0.runningTasks' is UInt64; it has no part 'x'");
}

} // namespace
} // namespace skep::console
