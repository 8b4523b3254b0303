// Placement constraints: parsing Swarm's expressions, clear errors naming the
// bad expression, and matching nodes by id, hostname, role and labels.

#include "actors/store/constraints.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace skep::scheduler {
namespace {

using kind = constraint::key_kind;

std::vector<constraint> parse(std::vector<std::string> exprs) {
  auto parsed = parse_constraints(exprs);
  EXPECT_TRUE(parsed.ok()) << (parsed ? "" : parsed.error().message);
  return parsed ? *parsed : std::vector<constraint>{};
}

std::string error_of(std::string expr) {
  auto parsed = parse_constraints({std::move(expr)});
  EXPECT_FALSE(parsed.ok());
  if (parsed.ok())
    return {};
  EXPECT_EQ(parsed.error().code, errc::invalid_argument);
  return parsed.error().message;
}

store::node_object make_node() {
  store::node_object n;
  n.id = "node-1";
  n.hostname = "alpha";
  n.role = ca::node_role::worker;
  n.labels = {{"zone", "east"}, {"disk", "ssd"}};
  return n;
}

TEST(ParseConstraints, ParsesEveryKeyKind) {
  auto cs = parse({"node.id==n1", "node.hostname!=h", "node.role==manager",
                   "node.labels.zone==east"});
  ASSERT_EQ(cs.size(), 4u);
  EXPECT_EQ(cs[0].key, kind::node_id);
  EXPECT_TRUE(cs[0].equal);
  EXPECT_EQ(cs[0].value, "n1");
  EXPECT_EQ(cs[1].key, kind::hostname);
  EXPECT_FALSE(cs[1].equal);
  EXPECT_EQ(cs[1].value, "h");
  EXPECT_EQ(cs[2].key, kind::role);
  EXPECT_EQ(cs[2].value, "manager");
  EXPECT_EQ(cs[3].key, kind::label);
  EXPECT_EQ(cs[3].label, "zone");
  EXPECT_EQ(cs[3].value, "east");
}

TEST(ParseConstraints, AllowsWhitespaceAroundOperator) {
  auto cs = parse({"  node.labels.zone  !=\teast "});
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].label, "zone");
  EXPECT_FALSE(cs[0].equal);
  EXPECT_EQ(cs[0].value, "east");
}

TEST(ParseConstraints, KeyIsCaseInsensitiveButLabelNameKeepsCase) {
  auto cs = parse({"Node.Role==Worker", "NODE.LABELS.Zone==x"});
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].key, kind::role);
  EXPECT_EQ(cs[0].value, "worker");
  EXPECT_EQ(cs[1].key, kind::label);
  EXPECT_EQ(cs[1].label, "Zone");
}

TEST(ParseConstraints, EmptyListIsValid) {
  EXPECT_TRUE(parse({}).empty());
}

TEST(ParseConstraints, RejectsUnknownKeyNamingExpressionAndKey) {
  EXPECT_EQ(error_of("foo==1"),
            "constraint \"foo==1\": unknown key foo; use node.id, "
            "node.hostname, node.role or node.labels.<name>");
}

TEST(ParseConstraints, RejectsMissingOperator) {
  EXPECT_EQ(error_of("node.id=abc"),
            "constraint \"node.id=abc\": missing operator; use KEY==VALUE or "
            "KEY!=VALUE");
}

TEST(ParseConstraints, RejectsEmptyValue) {
  EXPECT_EQ(error_of("node.hostname!=  "),
            "constraint \"node.hostname!=  \": empty value; give a value "
            "after !=");
}

TEST(ParseConstraints, RejectsMissingKey) {
  EXPECT_EQ(error_of(" ==x"),
            "constraint \" ==x\": missing key before ==; use node.id, "
            "node.hostname, node.role or node.labels.<name>");
}

TEST(ParseConstraints, RejectsEmptyLabelName) {
  EXPECT_EQ(error_of("node.labels.==x"),
            "constraint \"node.labels.==x\": empty label name; use "
            "node.labels.<name>");
}

TEST(ParseConstraints, RejectsRoleOtherThanManagerOrWorker) {
  EXPECT_EQ(error_of("node.role==boss"),
            "constraint \"node.role==boss\": unknown role boss; use manager "
            "or worker");
}

TEST(ParseConstraints, RejectsMoreThanOneOperator) {
  EXPECT_EQ(error_of("node.id==a==b"),
            "constraint \"node.id==a==b\": more than one operator; use one == "
            "or != per constraint");
}

TEST(ParseConstraints, ErrorNamesTheFirstBadExpression) {
  auto parsed = parse_constraints({"node.id==a", "bad", "worse==1"});
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message.rfind("constraint \"bad\":", 0), 0u)
    << parsed.error().message;
}

TEST(MatchConstraints, EmptyListMatchesEveryNode) {
  EXPECT_TRUE(matches({}, make_node()));
}

TEST(MatchConstraints, MatchesNodeId) {
  EXPECT_TRUE(matches(parse({"node.id==node-1"}), make_node()));
  EXPECT_FALSE(matches(parse({"node.id==node-2"}), make_node()));
  EXPECT_TRUE(matches(parse({"node.id!=node-2"}), make_node()));
}

TEST(MatchConstraints, MatchesHostname) {
  EXPECT_TRUE(matches(parse({"node.hostname==alpha"}), make_node()));
  EXPECT_FALSE(matches(parse({"node.hostname!=alpha"}), make_node()));
}

TEST(MatchConstraints, MatchesRole) {
  auto node = make_node();
  EXPECT_TRUE(matches(parse({"node.role==worker"}), node));
  EXPECT_FALSE(matches(parse({"node.role==manager"}), node));
  node.role = ca::node_role::manager;
  EXPECT_TRUE(matches(parse({"node.role==manager"}), node));
  EXPECT_TRUE(matches(parse({"node.role!=worker"}), node));
}

TEST(MatchConstraints, MatchesLabelValue) {
  EXPECT_TRUE(matches(parse({"node.labels.zone==east"}), make_node()));
  EXPECT_FALSE(matches(parse({"node.labels.zone==west"}), make_node()));
  EXPECT_TRUE(matches(parse({"node.labels.zone!=west"}), make_node()));
}

TEST(MatchConstraints, MissingLabelFailsEqualAndPassesNotEqual) {
  EXPECT_FALSE(matches(parse({"node.labels.rack==r1"}), make_node()));
  EXPECT_TRUE(matches(parse({"node.labels.rack!=r1"}), make_node()));
}

TEST(MatchConstraints, ValuesCompareCaseInsensitively) {
  EXPECT_TRUE(matches(parse({"node.hostname==ALPHA"}), make_node()));
  EXPECT_TRUE(matches(parse({"node.labels.zone==East"}), make_node()));
}

TEST(MatchConstraints, EveryConstraintMustHold) {
  EXPECT_TRUE(matches(parse({"node.labels.zone==east", "node.role==worker"}),
                      make_node()));
  EXPECT_FALSE(matches(parse({"node.labels.zone==east", "node.role==manager"}),
                       make_node()));
}

} // namespace
} // namespace skep::scheduler
