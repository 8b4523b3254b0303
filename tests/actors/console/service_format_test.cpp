// skep service ...: tables, JSON, progress, and the flag parsers.

#include "actors/console/commands/service_cmd.hpp"
#include "actors/console/formats/service_format.hpp"

#include <capnp/message.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skep::console {
namespace {

using schema::store::ServiceMode;
using schema::store::TaskState;

constexpr int64_t second = 1'000'000'000;
constexpr int64_t now = 1'700'000'000 * second;

void fill_web(schema::control::ServiceView::Builder v) {
  auto s = v.initService();
  s.setId("abcdefghijklmnopqrstuvwxy");
  s.setVersion(42);
  s.setSpecVersion(2);
  s.setCreatedAtNanos(now - 60 * second);
  s.setUpdatedAtNanos(now);
  auto spec = s.initSpec();
  spec.setName("web");
  spec.setReplicas(3);
  spec.getContainer().setImage("python3");
  auto args = spec.getContainer().initArgs(2);
  args.set(0, "-m");
  args.set(1, "http.server");
  auto ports = spec.initPorts(2);
  ports[0].setPublished(8080);
  ports[0].setTarget(80);
  ports[1].setTarget(53);
  ports[1].setProtocol("udp");
  v.setRunningTasks(2);
  v.setDesiredTasks(3);
}

struct task_args {
  const char* id;
  uint64_t slot;
  TaskState state;
  int64_t at;
  TaskState desired = TaskState::RUNNING;
  const char* err = "";
  const char* node = "n1";
  uint64_t spec_version = 2;
};

void fill_task(schema::control::TaskView::Builder v, const task_args& a) {
  v.setServiceName("web");
  v.setNodeHostname("host-1");
  auto t = v.initTask();
  t.setId(a.id);
  t.setServiceId("abcdefghijklmnopqrstuvwxy");
  t.setSlot(a.slot);
  t.setNodeId(a.node);
  t.setSpecVersion(a.spec_version);
  t.getContainer().setImage("python3");
  t.setDesiredState(a.desired);
  t.setCreatedAtNanos(a.at);
  auto st = t.initStatus();
  st.setState(a.state);
  st.setAtNanos(a.at);
  st.setErr(a.err);
}

struct task_list {
  capnp::MallocMessageBuilder message;
  capnp::List<schema::control::TaskView>::Builder list;

  explicit task_list(const std::vector<task_args>& tasks)
    : list(message.initRoot<schema::control::Reply>().initTasks(
      static_cast<unsigned>(tasks.size()))) {
    for (unsigned i = 0; i < tasks.size(); ++i)
      fill_task(list[i], tasks[i]);
  }
  auto reader() { return list.asReader(); }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

TEST(ServiceFormat, LsTableShowsRunningOverDesiredAndPorts) {
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initServices(1);
  fill_web(list[0]);
  auto lines = lines_of(format_service_table(list.asReader(), false));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("ID             NAME   MODE", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1], "abcdefghijkl   web    replicated   2/3        python3 "
                      "  *:8080->80/tcp, 53/udp");
  EXPECT_EQ(format_service_table(list.asReader(), true), "abcdefghijkl\n");
}

TEST(ServiceFormat, LsJsonHasDockersKeys) {
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initServices(1);
  fill_web(list[0]);
  list[0].getService().getSpec().setMaxReplicasPerNode(1);
  auto j = nlohmann::json::parse(service_lines_json(list.asReader()));
  EXPECT_EQ(j["ID"], "abcdefghijkl");
  EXPECT_EQ(j["Name"], "web");
  EXPECT_EQ(j["Mode"], "replicated");
  EXPECT_EQ(j["Replicas"], "2/3 (max 1 per node)");
  EXPECT_EQ(j["Image"], "python3");
  EXPECT_EQ(j["Ports"], "*:8080->80/tcp, 53/udp");
}

TEST(ServiceFormat, HumanDurationFollowsDocker) {
  EXPECT_EQ(human_duration(-5 * second), "Less than a second");
  EXPECT_EQ(human_duration(second / 2), "Less than a second");
  EXPECT_EQ(human_duration(1 * second), "1 second");
  EXPECT_EQ(human_duration(5 * second), "5 seconds");
  EXPECT_EQ(human_duration(90 * second), "About a minute");
  EXPECT_EQ(human_duration(5 * 60 * second), "5 minutes");
  EXPECT_EQ(human_duration(3600 * second), "About an hour");
  EXPECT_EQ(human_duration(5 * 3600 * second), "5 hours");
  EXPECT_EQ(human_duration(3 * 24 * 3600 * second), "3 days");
}

TEST(ServiceFormat, PsListsSlotsInOrderWithHistoryUnderTheCurrentTask) {
  task_list tasks{{
    {"t10aaaaaaaaaaaaaaaaaaaaaa", 10, TaskState::RUNNING, now - 5 * second},
    {"t2oldaaaaaaaaaaaaaaaaaaaa", 2, TaskState::FAILED, now - 120 * second,
     TaskState::SHUTDOWN, "task: non-zero exit (1)"},
    {"t2newaaaaaaaaaaaaaaaaaaaa", 2, TaskState::RUNNING, now - 30 * second},
  }};
  auto lines = lines_of(format_task_table(tasks.reader(), {}, now));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("ID             NAME", 0), 0u);
  EXPECT_NE(lines[0].find("DESIRED STATE   CURRENT STATE"), std::string::npos);
  EXPECT_EQ(lines[1].rfind("t2newaaaaaaa   web.2 ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("Running 30 seconds ago"), std::string::npos);
  EXPECT_EQ(lines[2].rfind("t2oldaaaaaaa    \\_ web.2", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find("Shutdown        Failed 2 minutes ago"),
            std::string::npos)
    << lines[2];
  EXPECT_NE(lines[2].find("\"task: non-zero exit (1)\""), std::string::npos);
  EXPECT_EQ(lines[3].rfind("t10aaaaaaaaa   web.10", 0), 0u) << lines[3];
  EXPECT_NE(lines[3].find("host-1"), std::string::npos);
}

TEST(ServiceFormat, PsTruncatesIdsAndErrorsUnlessNoTrunc) {
  task_list tasks{{{"t1aaaaaaaaaaaaaaaaaaaaaaa", 1, TaskState::PENDING, now,
                    TaskState::RUNNING,
                    "no suitable node (scheduling constraints not satisfied "
                    "on 3 nodes)"}}};
  auto short_table = format_task_table(tasks.reader(), {}, now);
  EXPECT_NE(short_table.find("\"no suitable node (scheduling \xE2\x80\xA6\""),
            std::string::npos)
    << short_table;
  EXPECT_EQ(short_table.find("t1aaaaaaaaaaaaa"), std::string::npos);
  task_table_options full;
  full.no_trunc = true;
  auto long_table = format_task_table(tasks.reader(), full, now);
  EXPECT_NE(long_table.find("t1aaaaaaaaaaaaaaaaaaaaaaa"), std::string::npos);
  EXPECT_NE(long_table.find("on 3 nodes)\""), std::string::npos);
  EXPECT_NE(long_table.find("Pending less than a second ago"),
            std::string::npos);
  task_table_options quiet;
  quiet.quiet = true;
  EXPECT_EQ(format_task_table(tasks.reader(), quiet, now), "t1aaaaaaaaaa\n");
}

TEST(ServiceFormat, PsJsonHasDockersKeysAndNoIndent) {
  task_list tasks{{
    {"t1newaaaaaaaaaaaaaaaaaaaa", 1, TaskState::RUNNING, now - 5 * second},
    {"t1oldaaaaaaaaaaaaaaaaaaaa", 1, TaskState::SHUTDOWN, now - 9 * second,
     TaskState::SHUTDOWN},
  }};
  task_table_options options;
  options.json = true;
  auto lines = lines_of(format_task_table(tasks.reader(), options, now));
  ASSERT_EQ(lines.size(), 2u);
  auto j = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j["ID"], "t1oldaaaaaaa");
  EXPECT_EQ(j["Name"], "web.1");
  EXPECT_EQ(j["Image"], "python3");
  EXPECT_EQ(j["Node"], "host-1");
  EXPECT_EQ(j["DesiredState"], "Shutdown");
  EXPECT_EQ(j["CurrentState"], "Shutdown 9 seconds ago");
  EXPECT_EQ(j["Error"], "");
  EXPECT_EQ(j["Ports"], "");
}

TEST(ServiceFormat, PsNamesGlobalTasksByNode) {
  task_list tasks{{{"t1aaaaaaaaaaaaaaaaaaaaaaa", 0, TaskState::RUNNING, now,
                    TaskState::RUNNING, "", "nodeid0000000000000000000"}}};
  auto table = format_task_table(tasks.reader(), {}, now);
  EXPECT_NE(table.find("web.nodeid0000000000000000000"), std::string::npos);
}

TEST(ServiceFormat, InspectJsonIsShapedLikeDockers) {
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initServices(1);
  fill_web(list[0]);
  auto all = nlohmann::json::parse(service_inspect_json(list.asReader()));
  ASSERT_EQ(all.size(), 1u);
  auto& s = all[0];
  EXPECT_EQ(s["ID"], "abcdefghijklmnopqrstuvwxy");
  EXPECT_EQ(s["Version"]["Index"], 42);
  EXPECT_EQ(s["Spec"]["Name"], "web");
  EXPECT_TRUE(s["Spec"]["Labels"].is_object());
  auto& tt = s["Spec"]["TaskTemplate"];
  EXPECT_EQ(tt["ContainerSpec"]["Image"], "python3");
  EXPECT_EQ(tt["ContainerSpec"]["Args"][1], "http.server");
  EXPECT_EQ(tt["ContainerSpec"]["StopGracePeriod"], 10 * second);
  EXPECT_EQ(tt["RestartPolicy"]["Condition"], "any");
  EXPECT_EQ(tt["RestartPolicy"]["Delay"], 5 * second);
  EXPECT_TRUE(tt["Resources"]["Limits"].is_object());
  EXPECT_EQ(s["Spec"]["Mode"]["Replicated"]["Replicas"], 3);
  EXPECT_EQ(s["Spec"]["UpdateConfig"]["Parallelism"], 1);
  EXPECT_EQ(s["Spec"]["UpdateConfig"]["FailureAction"], "pause");
  EXPECT_EQ(s["Spec"]["RollbackConfig"]["Order"], "stop-first");
  auto& port = s["Spec"]["EndpointSpec"]["Ports"][0];
  EXPECT_EQ(port["Protocol"], "tcp");
  EXPECT_EQ(port["TargetPort"], 80);
  EXPECT_EQ(port["PublishedPort"], 8080);
  EXPECT_FALSE(s.contains("PreviousSpec"));

  list[0].getService().initPreviousSpec().setMode(ServiceMode::GLOBAL);
  auto again = nlohmann::json::parse(service_inspect_json(list.asReader()));
  EXPECT_TRUE(again[0]["PreviousSpec"]["Mode"]["Global"].is_object());
}

TEST(ServiceFormat, PrettyFollowsDockersLayout) {
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<schema::control::Reply>().initServices(1);
  fill_web(list[0]);
  list[0].getService().getSpec().getLimits().setNanoCpus(500'000'000);
  list[0].getService().getSpec().getLimits().setMemoryBytes(64 << 20);
  auto text = format_service_pretty(list.asReader());
  EXPECT_EQ(text.rfind("ID:\t\tabcdefghijklmnopqrstuvwxy\nName:\t\tweb\n", 0),
            0u);
  EXPECT_NE(text.find("Service Mode:\tReplicated\n Replicas:\t3\n"),
            std::string::npos);
  EXPECT_NE(text.find(" Monitoring Period: 5s\n"), std::string::npos);
  EXPECT_NE(text.find(" Args:\t\t-m http.server\n"), std::string::npos);
  EXPECT_NE(
    text.find("Resources:\n Limits:\n  CPU:\t\t0.5\n  Memory:\t64MiB\n"),
    std::string::npos)
    << text;
  EXPECT_NE(text.find(" PublishedPort = 8080\n  Protocol = tcp\n"),
            std::string::npos);
}

struct progress_fixture {
  capnp::MallocMessageBuilder message;
  schema::control::ServiceView::Builder view;

  progress_fixture() : view(message.initRoot<schema::control::ServiceView>()) {
    fill_web(view);
    view.getService().getSpec().setReplicas(2);
  }
};

TEST(ServiceProgress, ConvergedWhenEverySlotRunsTheCurrentSpec) {
  progress_fixture f;
  task_list tasks{
    {{"a", 1, TaskState::RUNNING, now}, {"b", 2, TaskState::STARTING, now}}};
  auto p = assess_progress(f.view.asReader(), tasks.reader(), {});
  EXPECT_EQ(p.done, 1u);
  EXPECT_EQ(p.total, 2u);
  EXPECT_FALSE(p.converged);
  EXPECT_EQ(format_overall_progress(p), "overall progress: 1 out of 2 tasks");
  ASSERT_EQ(p.slot_lines.size(), 2u);
  EXPECT_EQ(p.slot_lines[0].rfind("1/2: running   [=====", 0), 0u);
  EXPECT_EQ(p.slot_lines[1].rfind("2/2: starting  [", 0), 0u);

  task_list all{
    {{"a", 1, TaskState::RUNNING, now}, {"b", 2, TaskState::RUNNING, now}}};
  EXPECT_TRUE(assess_progress(f.view.asReader(), all.reader(), {}).converged);
}

TEST(ServiceProgress, OutdatedTasksDoNotCount) {
  progress_fixture f;
  task_args old1{"a", 1, TaskState::RUNNING, now};
  old1.spec_version = 1;
  task_list tasks{{old1, {"b", 2, TaskState::RUNNING, now}}};
  auto p = assess_progress(f.view.asReader(), tasks.reader(), {});
  EXPECT_EQ(p.done, 1u);
  EXPECT_FALSE(p.converged);
  EXPECT_EQ(p.slot_lines[0], "1/2:"); // waits for its new task
}

TEST(ServiceProgress, PendingErrorIsTheReason) {
  progress_fixture f;
  task_list tasks{{{"a", 1, TaskState::PENDING, now, TaskState::RUNNING,
                    "no suitable node (1 node not available)"}}};
  auto p = assess_progress(f.view.asReader(), tasks.reader(), {});
  EXPECT_EQ(p.reason, "no suitable node (1 node not available)");
  EXPECT_EQ(p.slot_lines[0], "1/2: no suitable node (1 node not available)");
  EXPECT_TRUE(p.failure.empty());
}

TEST(ServiceProgress, ThreeFailuresInARowGiveUp) {
  progress_fixture f;
  auto failed = [](const char* id, int64_t at) {
    return task_args{id,
                     1,
                     TaskState::FAILED,
                     at,
                     TaskState::SHUTDOWN,
                     "task: non-zero exit (2)"};
  };
  task_list tasks{{failed("a", now - 3),
                   failed("b", now - 2),
                   failed("c", now - 1),
                   {"d", 1, TaskState::PENDING, now}}};
  auto p = assess_progress(f.view.asReader(), tasks.reader(), {});
  EXPECT_EQ(p.failure,
            "web.1: 3 tasks failed in a row: task: non-zero exit (2)");
  auto tolerated = assess_progress(f.view.asReader(), tasks.reader(), {"a"});
  EXPECT_TRUE(tolerated.failure.empty());
  EXPECT_EQ(tolerated.reason, "task: non-zero exit (2)");
}

TEST(ServiceProgress, SparseSlotsAfterAScaleDownCount) {
  // Scaled from 6 to 3 on the busiest nodes: slots 1, 2 and 4 remain.
  progress_fixture f;
  f.view.getService().getSpec().setReplicas(3);
  auto gone = [](const char* id, uint64_t slot) {
    return task_args{id, slot, TaskState::SHUTDOWN, now, TaskState::REMOVE};
  };
  task_list tasks{{{"a", 1, TaskState::RUNNING, now},
                   {"b", 2, TaskState::RUNNING, now},
                   gone("c", 3),
                   {"d", 4, TaskState::RUNNING, now},
                   gone("e", 5),
                   gone("f", 6)}};
  auto p = assess_progress(f.view.asReader(), tasks.reader(), {});
  EXPECT_EQ(p.done, 3u);
  EXPECT_TRUE(p.converged);
  ASSERT_EQ(p.slot_lines.size(), 3u);
  for (const auto& line : p.slot_lines)
    EXPECT_NE(line.find("running"), std::string::npos) << line;
  EXPECT_EQ(p.slot_lines[2].rfind("3/3: running", 0), 0u);
}

TEST(ServiceProgress, AHigherSlotStillShuttingDownDoesNotCount) {
  progress_fixture f; // 2 replicas
  task_list tasks{{{"a", 1, TaskState::RUNNING, now},
                   {"b", 3, TaskState::RUNNING, now},
                   {"c", 2, TaskState::RUNNING, now, TaskState::REMOVE}}};
  auto p = assess_progress(f.view.asReader(), tasks.reader(), {});
  EXPECT_EQ(p.done, 2u);
  EXPECT_TRUE(p.converged);
  EXPECT_EQ(p.running_ids, "a b ");
}

TEST(ServiceProgress, SparseSlotsAfterARollingUpdate) {
  progress_fixture f; // 2 replicas, spec version 2
  auto old = [](const char* id, uint64_t slot) {
    task_args a{id, slot, TaskState::SHUTDOWN, now - 10 * second,
                TaskState::SHUTDOWN};
    a.spec_version = 1;
    return a;
  };
  task_list tasks{{old("a", 1),
                   {"b", 1, TaskState::RUNNING, now},
                   old("c", 5),
                   {"d", 5, TaskState::STARTING, now}}};
  auto p = assess_progress(f.view.asReader(), tasks.reader(), {});
  EXPECT_EQ(p.done, 1u);
  EXPECT_FALSE(p.converged);
  ASSERT_EQ(p.slot_lines.size(), 2u);
  EXPECT_EQ(p.slot_lines[1].rfind("2/2: starting", 0), 0u) << p.slot_lines[1];
}

TEST(ServiceProgress, ASlotKeepsItsRowWhileWatched) {
  progress_fixture f; // 2 replicas
  progress_rows rows;
  task_list before{
    {{"a", 4, TaskState::RUNNING, now}, {"b", 7, TaskState::STARTING, now}}};
  assess_progress(f.view.asReader(), before.reader(), {}, &rows);
  EXPECT_EQ(rows, (progress_rows{{4, 1}, {7, 2}}));
  // Slot 4 goes (scaled down) and slot 2 comes: it takes the free row.
  task_list after{{{"a", 4, TaskState::SHUTDOWN, now, TaskState::REMOVE},
                   {"c", 2, TaskState::PENDING, now},
                   {"b", 7, TaskState::RUNNING, now}}};
  auto p = assess_progress(f.view.asReader(), after.reader(), {}, &rows);
  EXPECT_EQ(rows, (progress_rows{{2, 1}, {7, 2}}));
  EXPECT_EQ(p.slot_lines[1].rfind("2/2: running", 0), 0u) << p.slot_lines[1];
  EXPECT_EQ(p.slot_lines[0].rfind("1/2: pending", 0), 0u) << p.slot_lines[0];
}

TEST(ServiceProgress, NoMoreThanTheReplicasCountAsDone) {
  progress_fixture f; // 2 replicas
  task_list tasks{{{"a", 1, TaskState::RUNNING, now},
                   {"b", 2, TaskState::RUNNING, now},
                   {"c", 3, TaskState::RUNNING, now}}};
  auto p = assess_progress(f.view.asReader(), tasks.reader(), {});
  EXPECT_EQ(p.done, 2u);
  EXPECT_EQ(format_overall_progress(p), "overall progress: 2 out of 2 tasks");
}

TEST(ServiceFormat, PsListsTheNewestTaskOfASlotFirstWhateverItsNode) {
  task_args old{"a", 6, TaskState::SHUTDOWN, now - 60 * second,
                TaskState::SHUTDOWN};
  old.node = "n9"; // sorts after n1 by node id
  task_args fresh{"b", 6, TaskState::RUNNING, now};
  fresh.node = "n1";
  task_args older{"c", 6, TaskState::SHUTDOWN, now - 120 * second,
                  TaskState::SHUTDOWN};
  older.node = "n5";
  task_list tasks{{old, older, fresh}};
  auto lines = lines_of(format_task_table(tasks.reader(), {}, now));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1].rfind("b    web.6 ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("a     \\_ web.6 ", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("c     \\_ web.6 ", 0), 0u) << lines[3];
}

// ---- flags ----

TEST(ServiceFlags, PublishTakesDockersForms) {
  auto p = parse_publish("--publish", "8080:80");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->published, 8080);
  EXPECT_EQ(p->target, 80);
  EXPECT_EQ(p->protocol, "tcp");
  p = parse_publish("--publish", "53/udp");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->published, 0);
  EXPECT_EQ(p->target, 53);
  EXPECT_EQ(p->protocol, "udp");
  p = parse_publish("--publish", "published=9000,target=90,protocol=udp");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->published, 9000);
  EXPECT_EQ(p->protocol, "udp");
}

TEST(ServiceFlags, PublishRefusesBadPorts) {
  for (auto bad : {"8080:http", "70000:80", "8080:0", "8080:80/sctp",
                   "127.0.0.1:8080:80", "", "published=80"}) {
    auto p = parse_publish("--publish", bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().message.find("--publish"), std::string::npos);
  }
  EXPECT_EQ(parse_publish("-p", "8080:x").error().message,
            "invalid -p '8080:x': TARGET 'x' is not a port number; use "
            "PUBLISHED:TARGET[/tcp|udp] or TARGET[/tcp|udp]");
}

TEST(ServiceFlags, CpusAreDecimal) {
  EXPECT_EQ(*parse_cpus("--limit-cpu", "0.5"), 500'000'000);
  EXPECT_EQ(*parse_cpus("--limit-cpu", "2"), 2'000'000'000);
  EXPECT_EQ(*parse_cpus("--limit-cpu", ".25"), 250'000'000);
  EXPECT_FALSE(parse_cpus("--limit-cpu", "-1"));
  EXPECT_FALSE(parse_cpus("--limit-cpu", "half"));
  EXPECT_FALSE(parse_cpus("--limit-cpu", "0.0000000001"));
  EXPECT_FALSE(parse_cpus("--limit-cpu", "."));
}

TEST(ServiceFlags, MemoryDurationCountAndRatio) {
  EXPECT_EQ(*parse_memory("--limit-memory", "64M"), 64 << 20);
  EXPECT_EQ(*parse_memory("--limit-memory", "1G"), 1 << 30);
  EXPECT_FALSE(parse_memory("--limit-memory", "lots"));
  EXPECT_EQ(*parse_duration_flag("--update-delay", "1m30s"), 90 * second);
  EXPECT_EQ(*parse_duration_flag("--update-delay", "300ms"), second * 3 / 10);
  auto bad = parse_duration_flag("--update-delay", "5x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.rfind("--update-delay: ", 0), 0u);
  EXPECT_FALSE(parse_count("--replicas", "-1"));
  EXPECT_FALSE(parse_count("--replicas", "two"));
  EXPECT_EQ(*parse_count("--replicas", "3"), 3u);
  EXPECT_DOUBLE_EQ(*parse_ratio("--update-max-failure-ratio", "0.2"), 0.2);
  EXPECT_FALSE(parse_ratio("--update-max-failure-ratio", "1.5"));
  EXPECT_FALSE(parse_ratio("--update-max-failure-ratio", "nan"));
}

TEST(ServiceFlags, ScaleSpecifier) {
  auto s = parse_scale_specifier("web=5");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->first, "web");
  EXPECT_EQ(s->second, 5u);
  EXPECT_EQ(parse_scale_specifier("web").error().message,
            "invalid scale specifier 'web': use SERVICE=REPLICAS");
  EXPECT_FALSE(parse_scale_specifier("web=-1"));
  EXPECT_FALSE(parse_scale_specifier("=3"));
  EXPECT_FALSE(parse_scale_specifier("web="));
}

TEST(ServiceFlags, SplitWordsLikeAShell) {
  auto w = split_words(R"(-c 'sleep 100' "a \"b\"" c\ d)");
  ASSERT_TRUE(w);
  EXPECT_EQ(*w,
            (std::vector<std::string>{"-c", "sleep 100", "a \"b\"", "c d"}));
  EXPECT_TRUE(split_words("")->empty());
  EXPECT_FALSE(split_words("'open"));
}

TEST(ServiceFlags, DefaultNameComesFromTheImage) {
  EXPECT_EQ(default_service_name("/usr/bin/python3", "abcdef"),
            "python3-abcdef");
  EXPECT_EQ(default_service_name("registry:5000/nginx:1.25", "abcdef"),
            "nginx-abcdef");
  EXPECT_EQ(default_service_name("__a b", "xyzxyz"), "a-b-xyzxyz");
  EXPECT_EQ(default_service_name("/", "xyzxyz"), "service-xyzxyz");
}

struct spec_fixture {
  capnp::MallocMessageBuilder message;
  schema::store::ServiceSpec::Builder spec
    = message.initRoot<schema::store::ServiceSpec>();
};

TEST(ServiceFlags, ApplyWritesTheSpec) {
  spec_fixture f;
  service_flags flags;
  flags.name = "web";
  flags.image = "python3";
  flags.args = std::vector<std::string>{"-m", "http.server"};
  flags.replicas = "3";
  flags.env_add = {"A=1", "B=2", "A=3"};
  flags.publish_add = {"8080:80"};
  flags.limit_cpu = "0.5";
  flags.limit_memory = "64M";
  flags.restart_condition = "on-failure";
  flags.update.order = "start-first";
  flags.rollback.failure_action = "continue";
  ASSERT_TRUE(apply_flags(flags, f.spec));
  auto s = f.spec.asReader();
  EXPECT_EQ(s.getName(), "web");
  EXPECT_EQ(s.getReplicas(), 3u);
  ASSERT_EQ(s.getContainer().getEnv().size(), 2u);
  EXPECT_EQ(s.getContainer().getEnv()[0], "A=3");
  EXPECT_EQ(s.getPorts()[0].getPublished(), 8080);
  EXPECT_EQ(s.getLimits().getNanoCpus(), 500'000'000);
  EXPECT_EQ(s.getLimits().getMemoryBytes(), 64 << 20);
  EXPECT_EQ(s.getRestart().getCondition(),
            schema::store::RestartCondition::ON_FAILURE);
  EXPECT_EQ(s.getUpdate().getOrder(), schema::store::UpdateOrder::START_FIRST);
  EXPECT_EQ(s.getRollback().getOnFailure(),
            schema::store::FailureAction::PROCEED);
  EXPECT_EQ(s.getUpdate().getMonitorNanos(), 5 * second); // default kept
}

TEST(ServiceFlags, UpdateAddsAndRemoves) {
  spec_fixture f;
  service_flags create;
  create.env_add = {"A=1", "B=2"};
  create.publish_add = {"8080:80", "9090:90"};
  create.constraint_add = {"node.role==manager"};
  create.label_add = {"tier=front"};
  ASSERT_TRUE(apply_flags(create, f.spec));
  service_flags update;
  update.env_rm = {"A"};
  update.env_add = {"C=3"};
  update.publish_rm = {"80"};
  update.publish_add = {"9090:91"};
  update.constraint_rm = {"node.role==manager"};
  update.label_rm = {"tier"};
  update.label_add = {"team=x"};
  ASSERT_TRUE(apply_flags(update, f.spec));
  auto s = f.spec.asReader();
  ASSERT_EQ(s.getContainer().getEnv().size(), 2u);
  EXPECT_EQ(s.getContainer().getEnv()[0], "B=2");
  EXPECT_EQ(s.getContainer().getEnv()[1], "C=3");
  ASSERT_EQ(s.getPorts().size(), 1u);
  EXPECT_EQ(s.getPorts()[0].getTarget(), 91);
  EXPECT_EQ(s.getConstraints().size(), 0u);
  ASSERT_EQ(s.getLabels().size(), 1u);
  EXPECT_EQ(s.getLabels()[0].getKey(), "team");
}

TEST(ServiceFlags, ConflictsAndBadValuesAreRefused) {
  auto refused = [](service_flags flags) {
    spec_fixture f;
    auto ok = apply_flags(flags, f.spec);
    return ok ? std::string{} : ok.error().message;
  };
  service_flags global;
  global.mode = "global";
  global.replicas = "2";
  EXPECT_EQ(refused(global), "--replicas can only be used with replicated "
                             "mode");
  global.replicas.reset();
  global.replicas_max_per_node = "1";
  EXPECT_NE(refused(global).find("--replicas-max-per-node"), std::string::npos);
  service_flags mode;
  mode.mode = "job";
  EXPECT_EQ(refused(mode), "invalid --mode 'job': use one of replicated, "
                           "global");
  service_flags env;
  env.env_add = {"=x"};
  EXPECT_EQ(refused(env), "invalid --env '=x': use KEY=VALUE");
  service_flags health;
  health.health.cmd = "true";
  EXPECT_EQ(refused(health), "--health-* is not supported yet");
  health.health.interval = "often";
  EXPECT_NE(refused(health).find("--health-interval"), std::string::npos);
  service_flags order;
  order.update.order = "random";
  EXPECT_NE(refused(order).find("--update-order"), std::string::npos);
}

TEST(ServiceFlags, FilterSyntax) {
  auto f = parse_task_filters({"desired-state=running", "node=n1"});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->desired_state, "running");
  EXPECT_EQ(f->nodes, std::vector<std::string>{"n1"});
  EXPECT_FALSE(parse_task_filters({"desired-state=gone"}));
  EXPECT_FALSE(parse_task_filters({"label=x"}));
}

} // namespace
} // namespace skep::console
