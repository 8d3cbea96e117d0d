// `cloister lua run`: runs a Lua function locally in the same sandbox the
// execution service uses (docs/lua.md), and prints its outputs, log and the
// resources it used.
//
//   cloister lua run wordcount.lua --input text=book.txt --arg top=10
//   cloister --json lua run join.lua --input left=a.csv --input right=b.csv --fork
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command_registry.h"
#include "functions/lua/limits.h"
#include "functions/lua/lua_function.h"
#include "functions/lua/spec_json.h"

#if __has_include("functions/builtin/registry.h")
#include "functions/builtin/registry.h"
#define CLOISTER_LUA_CLI_HAVE_BUILTINS 1
#endif

namespace cloister::cli {
namespace {

namespace fs = std::filesystem;
using functions::lua::LuaFunction;
using functions::lua::RunReport;
using functions::lua::SandboxOptions;

struct LuaRunFlags {
  std::string file;
  std::vector<std::string> inputs;   // name=path
  std::vector<std::string> args;     // k=v
  std::vector<std::string> outputs;  // declared output names (no spec file)
  std::string spec_path;
  std::string output_dir;
  bool fork = false;
  uint64_t memory_mb = 64;
  uint64_t instructions = 100'000'000;
  uint64_t timeout_ms = 5'000;
};

[[noreturn]] void Fail(const std::string& msg) {
  std::cerr << "cloister lua run: " << msg << "\n";
  throw CLI::RuntimeError(kExitFailure);
}

std::string ReadFileOrFail(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) Fail("cannot read '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::pair<std::string, std::string> SplitKv(const std::string& kv, const char* what) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    Fail(std::string(what) + " '" + kv + "' must look like name=value");
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

// Declares `name` as a slot; "set.alice" declares the variadic slot "set".
void AddSlot(std::vector<functions::SlotSpec>& slots, const std::string& name) {
  auto dot = name.find('.');
  functions::SlotSpec s;
  s.name = dot == std::string::npos ? name : name.substr(0, dot);
  for (const auto& existing : slots)
    if (existing.name == s.name) return;
  if (dot != std::string::npos) {
    s.variadic = true;
    s.min_count = 1;
    s.max_count = 1024;
  }
  s.optional = true;
  slots.push_back(s);
}

// Without a spec file every --arg is a string argument, every --input a slot,
// and outputs are the --out names (default "output").
functions::FunctionSpec DefaultSpec(const LuaRunFlags& f,
                                    const std::map<std::string, std::string>& args,
                                    const functions::Inputs& inputs) {
  functions::FunctionSpec spec;
  spec.name = fs::path(f.file).stem().string();
  for (const auto& [k, v] : args) spec.args.push_back({k, functions::ArgType::kString, {}, "", {}, {}});
  for (const auto& [name, bytes] : inputs) AddSlot(spec.inputs, name);
  std::vector<std::string> outs = f.outputs;
  if (outs.empty()) outs.push_back("output");
  for (const auto& o : outs) AddSlot(spec.outputs, o);
  return spec;
}

void RunLua(const LuaRunFlags& f, const Globals& g) {
  const std::string source = ReadFileOrFail(f.file);
  std::map<std::string, std::string> args;
  for (const auto& kv : f.args) args.insert(SplitKv(kv, "--arg"));
  functions::Inputs inputs;
  for (const auto& kv : f.inputs) {
    auto [name, path] = SplitKv(kv, "--input");
    inputs[name] = ReadFileOrFail(path);
  }

  std::string spec_path = f.spec_path;
  if (spec_path.empty()) {
    fs::path sibling = fs::path(f.file).replace_extension(".spec.json");
    if (fs::exists(sibling)) spec_path = sibling.string();
  }
  functions::FunctionSpec spec;
  if (!spec_path.empty()) {
    auto parsed = functions::lua::ParseFunctionSpecJson(ReadFileOrFail(spec_path));
    if (!parsed.ok()) Fail(spec_path + ": " + parsed.error().ToString());
    spec = std::move(*parsed);
  } else {
    spec = DefaultSpec(f, args, inputs);
  }

  SandboxOptions opts;
  functions::lua::LuaLimits want;
  want.memory_bytes = f.memory_mb << 20;
  want.instructions = f.instructions;
  want.wall_time_ms = f.timeout_ms;
  opts.limits = functions::lua::Clamp(want, functions::lua::ClusterMaxima());
  opts.forked = f.fork;
#ifdef CLOISTER_LUA_CLI_HAVE_BUILTINS
  opts.builtins = [](std::string_view n) { return functions::builtin::Builtins().Find(n); };
#endif

  auto fn = LuaFunction::Create(spec, source, opts);
  if (!fn.ok()) Fail(f.file + ": " + fn.error().ToString());
  auto rt = functions::Runtime::Create(spec, args, std::move(inputs));
  if (!rt.ok()) Fail(rt.error().ToString());
  RunReport report;
  Status st = (*fn)->RunWithReport(**rt, &report);
  functions::Outputs outputs;
  if (st.ok()) outputs = std::move(**rt).TakeOutputs();

  if (st.ok() && !f.output_dir.empty()) {
    fs::create_directories(f.output_dir);
    for (const auto& [name, bytes] : outputs) {
      if (name.find('/') != std::string::npos || name == "." || name == "..")
        Fail("refusing to write output named '" + name + "'");
      std::ofstream out(fs::path(f.output_dir) / name, std::ios::binary);
      out << bytes;
      if (!out) Fail("cannot write output '" + name + "' to " + f.output_dir);
    }
  }

  if (g.json) {
    nlohmann::json j;
    j["ok"] = st.ok();
    j["function_id"] = (*fn)->id();
    j["mode"] = f.fork ? "forked" : "in-process";
    if (!st.ok())
      j["error"] = {{"code", std::string(CodeName(st.code()))},
                    {"reason", st.error().reason()},
                    {"message", st.error().message()}};
    nlohmann::json outs = nlohmann::json::object();
    for (const auto& [name, bytes] : outputs)
      outs[name] = f.output_dir.empty() ? nlohmann::json(bytes)
                                        : nlohmann::json((fs::path(f.output_dir) / name).string());
    j["outputs"] = outs;
    j["log"] = report.log;
    j["usage"] = {{"instructions", report.usage.instructions},
                  {"peak_memory_bytes", report.usage.peak_memory_bytes},
                  {"wall_ms", report.usage.wall_ms}};
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const auto& [name, bytes] : outputs) {
      if (!f.output_dir.empty()) {
        std::cout << "output " << name << ": " << bytes.size() << " bytes -> "
                  << (fs::path(f.output_dir) / name).string() << "\n";
      } else {
        std::cout << "== output " << name << " (" << bytes.size() << " bytes) ==\n" << bytes;
        if (!bytes.empty() && bytes.back() != '\n') std::cout << "\n";
      }
    }
    if (!report.log.empty()) std::cout << "== log ==\n" << report.log;
    std::cout << "== resources ==\n"
              << "instructions: " << report.usage.instructions << "\n"
              << "peak memory:  " << report.usage.peak_memory_bytes / 1024 << " KiB\n"
              << "wall time:    " << report.usage.wall_ms << " ms"
              << (f.fork ? " (forked)" : "") << "\n";
  }
  if (!st.ok()) {
    if (!g.json) std::cerr << "cloister lua run: " << st.ToString() << "\n";
    throw CLI::RuntimeError(kExitFailure);
  }
}

CommandRegistrar reg("lua", [](CLI::App& app, Globals& globals) {
  auto* lua = app.add_subcommand("lua", "Lua user functions (sandboxed)");
  lua->require_subcommand(1);
  auto flags = std::make_shared<LuaRunFlags>();
  auto* run = lua->add_subcommand("run", "run a Lua function locally in the sandbox");
  run->add_option("file", flags->file, "Lua source file")->required()->check(CLI::ExistingFile);
  run->add_option("--input,-i", flags->inputs, "input slot: name=path (repeatable)");
  run->add_option("--arg,-a", flags->args, "argument: name=value (repeatable)");
  run->add_option("--spec", flags->spec_path,
                  "function spec JSON (default: FILE with .spec.json, if present)");
  run->add_option("--out", flags->outputs,
                  "declare an output slot when there is no spec (default: output)");
  run->add_option("--output-dir", flags->output_dir, "write outputs as files here");
  run->add_flag("--fork", flags->fork, "run in a forked child under seccomp (security level 3+)");
  run->add_option("--memory-mb", flags->memory_mb, "memory limit")->capture_default_str();
  run->add_option("--instructions", flags->instructions, "instruction limit")
      ->capture_default_str();
  run->add_option("--timeout-ms", flags->timeout_ms, "wall-time limit")->capture_default_str();
  run->add_flag("--json", globals.json, "machine-readable JSON output");
  run->callback([flags, &globals] { RunLua(*flags, globals); });
});

}  // namespace
}  // namespace cloister::cli
