// Self-registration of `cloister` subcommands: each cli/<area>_command.cc
// defines a registrar, so adding a command never edits main.cc.
//
//   static cli::CommandRegistrar reg("lua", [](CLI::App& app, cli::Globals& g) {...});
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace cloister::cli {

// Options every command sees.
struct Globals {
  std::string home;  // --home or CLOISTER_HOME or ~/.cloister
  bool json = false; // --json: machine-readable output on stdout
};

using RegisterFn = std::function<void(CLI::App& app, Globals& globals)>;

struct CommandEntry {
  std::string name;
  RegisterFn fn;
};

std::vector<CommandEntry>& Registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, RegisterFn fn) {
    Registry().push_back({std::move(name), std::move(fn)});
  }
};

// Exit codes: 0 ok, 1 operation failed, 2 usage error. A command callback
// reports failure by printing a clear message to stderr and then
// `throw CLI::RuntimeError(kExitFailure);` (main turns it into the exit code).
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

}  // namespace cloister::cli
