// `cloister`: the command-line tool to operate a cluster and try functions.
// Subcommands register themselves (command_registry.h).
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/command_registry.h"

namespace cloister::cli {
std::vector<CommandEntry>& Registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}
}  // namespace cloister::cli

int main(int argc, char** argv) {
  using namespace cloister::cli;
  CLI::App app{"cloister — operate a Cloister confidential-computing cluster"};
  app.require_subcommand(1);
  Globals globals;
  if (const char* env = std::getenv("CLOISTER_HOME")) globals.home = env;
  else if (const char* h = std::getenv("HOME")) globals.home = std::string(h) + "/.cloister";
  app.add_option("--home", globals.home, "cluster directory (env CLOISTER_HOME)")
      ->capture_default_str();
  app.add_flag("--json", globals.json, "machine-readable JSON output");

  auto& reg = Registry();
  std::sort(reg.begin(), reg.end(),
            [](const CommandEntry& a, const CommandEntry& b) { return a.name < b.name; });
  for (auto& entry : reg) entry.fn(app, globals);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Command callbacks report failure by throwing CLI::RuntimeError(code)
    // (0, 1 or 2); CLI11's own parse errors have codes of their own (106
    // for a missing option...), which become the documented usage code 2.
    const int rc = app.exit(e);
    return (rc == 0 || rc == kExitFailure || rc == kExitUsage) ? rc : kExitUsage;
  }
  return 0;
}
