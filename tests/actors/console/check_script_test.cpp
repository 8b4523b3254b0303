// `skep console` checks a whole script before it sends anything, and every
// example `help` prints parses and builds.

#include "actors/console/session/catalog.hpp"
#include "actors/console/session/console_session.hpp"

#include <gtest/gtest.h>

namespace skep::console {
namespace {

std::string check_error(const std::string& text) {
  auto parsed = parse_script(text);
  EXPECT_TRUE(parsed) << parsed.error().message;
  if (!parsed)
    return {};
  auto checked = check_script(*parsed);
  EXPECT_FALSE(checked) << text;
  return checked ? std::string{} : checked.error().message;
}

TEST(CheckScript, AMisspeltMessageOnALaterLineIsFoundFirst) {
  std::string text
    = "echo one\n"
      "call leader/controlapi serviceCreate (name = \"web\", replicas = 1,\n"
      "  container = (image = \"sleep\", args = [\"1000\"]))\n"
      "wait service web converged\n"
      "sleep 1s\n"
      "call scheduler inspect\n"
      "let x = call leader/controlapi serviceInspect (names = [\"web\"])\n"
      "echo ${x.services.0.service.id}\n"
      "call leader/controlapi serviceCreat (name = \"web2\")\n";
  auto why = check_error(text);
  EXPECT_EQ(why.rfind("line 9: ", 0), 0u) << why;
  EXPECT_NE(why.find("serviceCreat"), std::string::npos) << why;
}

TEST(CheckScript, BadFieldsAndActorsAreFound) {
  EXPECT_NE(check_error("call leader/controlapi serviceCreate (replicsa = 3)")
              .find("replicsa"),
            std::string::npos);
  EXPECT_NE(check_error("echo hi\ncall schedular inspect").find("line 2: "),
            std::string::npos);
  EXPECT_NE(check_error("send scheduler inspectt").find("inspectt"),
            std::string::npos);
}

TEST(CheckScript, StepsWithVariablesAreCheckedWhereWrittenOut) {
  // The message is written out: checked, though the fields hold a variable.
  auto why = check_error("let x = call leader/controlapi serviceInspect "
                         "(names = [\"web\"])\n"
                         "call leader/controlapi serviceInspekt (names = "
                         "[\"${x.services.0.service.id}\"])\n");
  EXPECT_NE(why.find("serviceInspekt"), std::string::npos) << why;
  // A variable in the actor: only the run can tell.
  auto parsed = parse_script("call reconciler/${env.SERVICE} inspect\n");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(check_script(*parsed));
  // Good steps with variables pass.
  parsed = parse_script("let x = call leader/controlapi serviceInspect (names "
                        "= [\"web\"])\n"
                        "call leader/controlapi serviceInspect (names = "
                        "[\"${x.services.0.service.id}\"])\n");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(check_script(*parsed)) << check_script(*parsed).error().message;
}

TEST(ConsoleHelp, EveryExampleParsesAndItsMessageBuilds) {
  ASSERT_FALSE(help_examples().empty());
  for (const auto& line : help_examples()) {
    auto s = parse_step(line, 1);
    ASSERT_TRUE(s) << line << ": " << s.error().message;
    script one;
    one.steps.push_back(*s);
    auto checked = check_script(one);
    EXPECT_TRUE(checked) << line << ": " << checked.error().message;
    if (s->deferred
        || (s->kind != step_kind::call && s->kind != step_kind::send
            && s->kind != step_kind::let))
      continue;
    auto actor = parse_actor(s->actor);
    ASSERT_TRUE(actor) << line;
    auto built = build_message(*actor, s->message, s->fields, s->fields_column,
                               s->kind == step_kind::send ? delivery::send
                                                          : delivery::call);
    EXPECT_TRUE(built) << line << ": " << built.error().message;
  }
}

} // namespace
} // namespace skep::console
