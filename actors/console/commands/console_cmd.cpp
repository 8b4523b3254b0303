#include "actors/console/commands/console_cmd.hpp"

#include "actors/console/session/console_session.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <editline/readline.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace skep::console {

namespace {

std::atomic<bool> interrupted_flag{false};

void on_console_sigint(int) {
  interrupted_flag = true;
}

/// Scripts larger than this are refused: they are written by people.
constexpr size_t max_script_bytes = 1 << 20;

// Completion: libedit calls these with no user pointer.
known_names completion_names;
std::vector<std::string> candidates;

char* next_candidate(const char*, int state) {
  static size_t index = 0;
  if (state == 0)
    index = 0;
  if (index >= candidates.size())
    return nullptr;
  return strdup(candidates[index++].c_str());
}

char** complete_line(const char* text, int start, int) {
  rl_attempted_completion_over = 1;
  // The word breaks match completion_start(), so `text` is the word
  // complete() works on.
  std::string prefix(rl_line_buffer, static_cast<size_t>(start));
  prefix += text;
  candidates = complete(prefix, completion_names);
  return rl_completion_matches(text, next_candidate);
}

std::string history_path() {
  const char* home = std::getenv("HOME");
  return home ? std::string(home) + "/.skep_console_history" : std::string();
}

} // namespace

struct console_command::state {
  CLI::App* cmd = nullptr;
  const std::optional<std::string>* host = nullptr;
  std::string script;
  bool json = false;
  std::vector<std::string> vars;
};

console_command::console_command(std::unique_ptr<state> s)
  : state_(std::move(s)) {}
console_command::console_command(console_command&&) noexcept = default;
console_command::~console_command() = default;

console_command add_console_command(CLI::App& app,
                                    const std::optional<std::string>& host) {
  auto st = std::make_unique<console_command::state>();
  st->host = &host;
  st->cmd = app.add_subcommand(
    "console", "Send messages to the cluster's actors and watch its events, "
               "interactively or from a script");
  st->cmd
    ->add_option("script", st->script,
                 "Run this script instead of reading commands (steps piped on "
                 "stdin run as a script too). The whole script is checked "
                 "first: exit 2 and nothing sent if a step is wrong; exit 1 "
                 "at the first step that fails as it runs")
    ->check(CLI::ExistingFile);
  st->cmd->add_flag("--json", st->json, "Print replies as JSON");
  st->cmd->add_option("--var", st->vars,
                      "Define a variable for the script: NAME=VALUE "
                      "(repeatable)");
  return console_command(std::move(st));
}

namespace {

/// "SCRIPT:LINE: error", as compilers write it.
int report(const std::string& where, size_t line, const std::string& what) {
  std::cerr << fmt::format("{}:{}: {}\n", where, line, what);
  return 1;
}

/// Runs `text`, read from `path`: the whole script is parsed and checked
/// first (exit 2 and nothing sent when it is wrong), then its steps run in
/// order until one fails (exit 1).
int run_script_text(console_session& session, const std::string& path,
                    const std::string& text) {
  if (text.size() > max_script_bytes) {
    std::cerr << fmt::format("Error: {} is larger than 1 MiB\n", path);
    return 2;
  }
  auto parsed = parse_script(text);
  if (!parsed) {
    std::cerr << fmt::format("{}: {}\n", path, parsed.error().message);
    return 2;
  }
  if (auto ok = check_script(*parsed); !ok) {
    std::cerr << fmt::format("{}: {}\n", path, ok.error().message);
    return 2;
  }
  for (const auto& s : parsed->steps) {
    if (interrupted_flag)
      return report(path, s.line, "interrupted");
    auto bound = session.bind(s);
    if (!bound)
      return report(path, s.line, bound.error().message);
    auto done = session.run(*bound);
    if (!done) {
      auto first_line = s.source.substr(0, s.source.find('\n'));
      return report(path, s.line,
                    fmt::format("{}: {}", first_line, done.error().message));
    }
    session.pump_events();
    if (session.exit_requested())
      break;
  }
  return 0;
}

int run_script(console_session& session, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << fmt::format("Error: cannot read {}\n", path);
    return 1;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return run_script_text(session, path, text.str());
}

/// Steps piped in (stdin is not a terminal) run as a script: parsed and
/// checked whole first, so a step never closed is reported, not swallowed.
int run_piped(console_session& session) {
  std::string text;
  char buffer[65536];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) {
    text.append(buffer, n);
    if (text.size() > max_script_bytes)
      break;
  }
  return run_script_text(session, "<stdin>", text);
}

int run_interactive(console_session& session) {
  session.interactive = true;
  completion_names = session.names();
  rl_attempted_completion_function = complete_line;
  static char breaks[] = " ()[],=";
  rl_completer_word_break_characters = breaks;
  auto history = history_path();
  using_history();
  if (!history.empty())
    read_history(history.c_str());
  std::cout << "skep console: type help for the steps, Tab to complete, "
               "Ctrl-D to leave\n";
  size_t line_number = 0;
  for (;;) {
    interrupted_flag = false;
    std::string text;
    size_t first_line = line_number + 1;
    const char* prompt = "skep> ";
    for (;;) {
      char* raw = readline(prompt);
      if (raw == nullptr) {
        std::cout << "\n";
        if (!history.empty())
          write_history(history.c_str());
        return 0;
      }
      ++line_number;
      std::string line(raw);
      std::free(raw);
      text += (text.empty() ? "" : "\n") + line;
      if (!needs_more(text))
        break;
      prompt = "....> ";
    }
    if (is_blank_or_comment(text))
      continue;
    add_history(text.c_str());
    auto parsed = parse_step(text, first_line);
    if (!parsed) {
      std::cerr << "Error: " << parsed.error().message << "\n";
      continue;
    }
    auto bound = session.bind(*parsed);
    if (!bound) {
      std::cerr << "Error: " << bound.error().message << "\n";
      continue;
    }
    auto done = session.run(*bound);
    if (!done)
      std::cerr << "Error: " << done.error().message << "\n";
    if (session.exit_requested())
      break;
    if (parsed->kind == step_kind::let || parsed->kind == step_kind::call)
      completion_names = session.names(); // services may have come or gone
  }
  if (!history.empty())
    write_history(history.c_str());
  return 0;
}

} // namespace

std::optional<int> console_command::run() {
  auto& st = *state_;
  if (!st.cmd->parsed())
    return std::nullopt;
  auto node = resolve_node_address(*st.host, std::getenv("SKEP_HOST"));
  if (!node) {
    std::cerr << "Error: " << node.error().message << "\n";
    return 1;
  }
  session_options opts;
  opts.node = *node;
  opts.json = st.json;
  opts.out = &std::cout;
  opts.err = &std::cerr;
  console_session session(opts);
  session.interrupted = [] { return interrupted_flag.load(); };
  for (const auto& v : st.vars) {
    auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << fmt::format("Error: --var {}: use NAME=VALUE\n", v);
      return 1;
    }
    session.set_variable(v.substr(0, eq), v.substr(eq + 1));
  }
  struct sigaction sa {};
  sa.sa_handler = on_console_sigint;
  sigaction(SIGINT, &sa, nullptr);
  if (!st.script.empty())
    return run_script(session, st.script);
  if (::isatty(STDIN_FILENO) != 1)
    return run_piped(session);
  return run_interactive(session);
}

} // namespace skep::console
