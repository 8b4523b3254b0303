#include "actors/console/commands/events_cmd.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <capnp/message.h>
#include <fmt/format.h>

namespace skep::console {

namespace {

namespace se = schema::events;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

/// Beyond the leader's wait: time for the request to reach it and come back.
constexpr milliseconds request_slack{10'000};
constexpr milliseconds retry_period{1'000};
/// How often a sleep looks at stop().
constexpr milliseconds stop_poll{100};

int64_t unix_nanos_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string str(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

/// Sleeps `d`, waking early when `stop()` turns true.
void sleep_unless_stopped(milliseconds d, const std::function<bool()>& stop) {
  auto end = steady_clock::now() + d;
  while (!stop()) {
    auto left = end - steady_clock::now();
    if (left <= steady_clock::duration::zero())
      return;
    std::this_thread::sleep_for(
      std::min<steady_clock::duration>(left, stop_poll));
  }
}

/// Where the stream stands: the log read, the position in it, the time of
/// the last event delivered.
struct cursor {
  std::string log;
  uint64_t after_seq = 0;
  int64_t since_nanos = 0;
  std::optional<int64_t> last_time;
};

control_request make_events_request(const event_stream_options& opts,
                                    const cursor& at, milliseconds wait) {
  capnp::MallocMessageBuilder b;
  auto r = b.initRoot<schema::control::Request>().initEvents();
  r.setAfterSeq(at.after_seq);
  r.setSinceNanos(at.since_nanos);
  r.setUntilNanos(opts.until_nanos);
  auto filters = r.initFilters(static_cast<unsigned>(opts.filters.size()));
  for (unsigned i = 0; i < opts.filters.size(); ++i)
    filters.set(i, opts.filters[i]);
  r.setWaitMillis(static_cast<uint32_t>(wait.count()));
  r.setLimit(opts.batch_limit);
  r.setLog(at.log);
  return control_request::from(b);
}

bool transient(errc code) {
  return code == errc::unavailable || code == errc::timeout;
}

} // namespace

result<event_stream_options>
make_event_stream_options(const std::string& since, const std::string& until,
                          const std::vector<std::string>& filters,
                          int64_t now_nanos) {
  event_stream_options opts;
  if (auto f = controlapi::parse_filters(filters); !f)
    return std::move(f).error();
  opts.filters = filters;
  if (!since.empty()) {
    auto t = controlapi::parse_event_time(since, now_nanos);
    if (!t)
      return fail(errc::invalid_argument, "--since: " + t.error().message);
    opts.since_nanos = *t;
  } else if (until.empty()) {
    // As `docker events`: with neither, only what happens from now on.
    opts.since_nanos = now_nanos;
  }
  if (!until.empty()) {
    auto t = controlapi::parse_event_time(until, now_nanos);
    if (!t)
      return fail(errc::invalid_argument, "--until: " + t.error().message);
    // 0 would mean "no end".
    opts.until_nanos = std::max<int64_t>(*t, 1);
  }
  if (opts.until_nanos != 0 && opts.since_nanos >= opts.until_nanos)
    return fail(
      errc::invalid_argument,
      fmt::format("--since '{}' is not before --until '{}'", since, until));
  return opts;
}

result<void>
stream_events_via(const control_call& call, const event_stream_options& opts,
                  const std::function<void(const controlapi::event&)>& on_event,
                  const std::function<bool()>& stop,
                  const std::function<void(const std::string&)>& on_notice) {
  auto notice = [&](const std::string& line) {
    if (on_notice)
      on_notice(line);
  };
  cursor at;
  at.since_nanos = opts.since_nanos;
  bool answered = false; // a reply came: later failures may be transient
  bool retrying = false;
  while (!stop()) {
    auto started = steady_clock::now();
    bool until_passed
      = opts.until_nanos != 0 && unix_nanos_now() >= opts.until_nanos;
    // Once until has passed nothing new can match: do not wait for it.
    auto wait = until_passed ? milliseconds{0} : opts.wait;
    auto reply = call(make_events_request(opts, at, wait));
    if (!reply) {
      if (!answered || !transient(reply.error().code))
        return std::move(reply).error();
      if (!retrying)
        notice(fmt::format("{}; retrying every second", reply.error().message));
      retrying = true;
      sleep_unless_stopped(retry_period, stop);
      continue;
    }
    auto root = reply->root();
    if (root.which() != schema::control::Reply::EVENTS)
      return fail(errc::malformed_message,
                  "the node answered an events request with something else");
    answered = true;
    retrying = false;
    auto batch = root.getEvents();
    auto log = str(batch.getLog());
    if (!at.log.empty() && log != at.log) {
      // Positions of the old log mean nothing here: ask again on the new
      // one for what came after the last event delivered.
      notice(fmt::format(
        "the leader changed; reading the new leader's events {}",
        at.last_time ? "after " + controlapi::format_event_time(*at.last_time)
                     : std::string{"from the start"}));
      at = cursor{log, 0,
                  at.last_time ? std::max(opts.since_nanos, *at.last_time + 1)
                               : opts.since_nanos,
                  at.last_time};
      continue;
    }
    if (at.after_seq > 0 && batch.getOldestSeq() > at.after_seq + 1)
      notice(fmt::format("{} events were dropped before they could be read",
                         batch.getOldestSeq() - at.after_seq - 1));
    for (auto ev : batch.getEvents()) {
      auto e = controlapi::from_schema(ev);
      on_event(e);
      at.last_time = e.time_nanos;
    }
    at.log = log;
    at.after_seq = std::max(at.after_seq, batch.getNextSeq());
    if (until_passed && batch.getEvents().size() < opts.batch_limit)
      return {};
    // A node that answers at once with nothing must not be asked in a loop.
    if (batch.getEvents().size() == 0)
      sleep_unless_stopped(opts.wait
                             - std::chrono::duration_cast<milliseconds>(
                               steady_clock::now() - started),
                           stop);
  }
  return {};
}

result<void>
stream_events(const node_address& node, const event_stream_options& opts,
              const std::function<void(const controlapi::event&)>& on_event,
              const std::function<bool()>& stop,
              const std::function<void(const std::string&)>& on_notice) {
  auto call = [&](const control_request& req) {
    return call_node(node, req, opts.wait + request_slack);
  };
  return stream_events_via(call, opts, on_event, stop, on_notice);
}

// ---- the command ----

namespace {

volatile std::sig_atomic_t interrupted = 0;

extern "C" void on_sigint(int) {
  interrupted = 1;
}

/// The first SIGINT asks the stream to stop (exit 0); SA_RESETHAND lets a
/// second one end the process at once.
void catch_sigint() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
}

} // namespace

struct events_command::state {
  CLI::App* cmd = nullptr;
  const std::optional<std::string>* host = nullptr;
  std::string since;
  std::string until;
  std::vector<std::string> filters;
  std::string format;
};

events_command::events_command(std::unique_ptr<state> s)
  : state_(std::move(s)) {}
events_command::events_command(events_command&&) noexcept = default;
events_command::~events_command() = default;

events_command add_events_command(CLI::App& app,
                                  const std::optional<std::string>& host) {
  auto s = std::make_unique<events_command::state>();
  s->host = &host;
  s->cmd = app.add_subcommand(
    "events", "Show what changes in the swarm and what the leader decides, "
              "as it happens");
  s->cmd
    ->add_option("--since", s->since,
                 "Start at this time: RFC 3339 (2026-11-22T07:37:51Z), Unix "
                 "seconds or a duration ago (10m, 1h30m); default: only new "
                 "events (with --until: the oldest event the leader keeps)")
    ->type_name("TIME");
  s->cmd
    ->add_option("--until", s->until,
                 "Stop at this time (same forms as --since); default: stream "
                 "until interrupted")
    ->type_name("TIME");
  s->cmd
    ->add_option("-f,--filter", s->filters,
                 "Only events matching KEY=VALUE; keys: type (service, node, "
                 "task, reconcile, schedule, dispatch), action, service, "
                 "node, task, id. Values of one key OR, keys AND")
    ->type_name("KEY=VALUE");
  s->cmd
    ->add_option("--format", s->format,
                 "json or '{{json .}}': one JSON object per line")
    ->type_name("FORMAT");
  return events_command{std::move(s)};
}

std::optional<int> events_command::run() {
  auto& s = *state_;
  if (!s.cmd->parsed())
    return std::nullopt;
  auto fail_with = [](const failure& why) {
    std::cerr << "Error: " << why.message << "\n";
    return 1;
  };
  bool json = s.format == "json" || s.format == "{{json .}}";
  if (!json && !s.format.empty())
    return fail_with(fail(errc::invalid_argument,
                          fmt::format("--format '{}' is not supported; use "
                                      "--format json or --format '{{{{json "
                                      ".}}}}'",
                                      s.format)));
  auto opts
    = make_event_stream_options(s.since, s.until, s.filters, unix_nanos_now());
  if (!opts)
    return fail_with(opts.error());
  auto node = resolve_node_address(*s.host, std::getenv("SKEP_HOST"));
  if (!node)
    return fail_with(node.error());
  catch_sigint();
  auto done = stream_events(
    *node, *opts,
    [&](const controlapi::event& e) {
      std::cout << (json ? controlapi::event_json(e)
                         : controlapi::format_event(e))
                << std::endl; // a pipe reader sees each event when it comes
    },
    [] { return interrupted != 0; },
    [](const std::string& line) { std::cerr << line << std::endl; });
  if (!done)
    return fail_with(done.error());
  return 0;
}

} // namespace skep::console
