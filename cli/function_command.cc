// `cloister function ...`: the functions registry of cloister-tasks from
// the command line (docs/tasks.md, "Functions"): register a built-in or a
// Lua function (every registration is an immutable version named by its
// hash), list the functions one may use, show one, disable versions.
//
//   cloister function register --builtin psi --public              # → function id + hash
//   cloister function register --lua joint_stats.lua --spec joint_stats.spec.json --allow bob
//   cloister function register --lua v2.lua --update 3f2a…c9        # a new version, a new hash
//   cloister function show 3f2a…c9 --source
#include <filesystem>
#include <iostream>

#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/session.h"
#include "cli/task_format.h"
#include "common/fs.h"
#include "sdk/tasks_client.h"

namespace cloister::cli {
namespace {

namespace fs = std::filesystem;
constexpr size_t kMaxSource = 4u << 20;    // the service's limit for a Lua source
constexpr size_t kMaxSpecFile = 1u << 20;

struct FunctionFlags {
  std::string lua, spec, builtin, description, update, id, hash;
  std::vector<std::string> allow;
  bool is_public = false, mine = false, all = false, source = false;
};

struct Session {
  std::unique_ptr<sdk::Client> client;
  std::unique_ptr<sdk::Tasks> tasks;
};

Session Connect(const Globals& g, std::string_view cmd) {
  Session s;
  s.client = ConnectForCommand(g, cmd, true);
  auto saved = LoadSession(ClusterPaths::For(g.home));
  if (!saved.ok()) FailError(cmd, saved.error());
  auto tasks = sdk::Tasks::Create(
      s.client.get(), {.gateway_address = saved->gateway, .trust_path = saved->trust_path});
  if (!tasks.ok()) FailError(cmd, tasks.error());
  s.tasks = std::move(*tasks);
  return s;
}

[[noreturn]] void Usage(std::string_view cmd, const std::string& msg) {
  std::cerr << "cloister " << cmd << ": " << msg << "\n";
  throw CLI::RuntimeError(kExitUsage);
}

void Register(const FunctionFlags& f, const Globals& g) {
  const std::string cmd = "function register";
  // Usage and local files first, before any connection.
  if (f.lua.empty() == f.builtin.empty())
    Usage(cmd, "give exactly one of --lua FILE (with --spec SPEC.json) or --builtin NAME");
  if (!f.builtin.empty() && !f.spec.empty())
    Usage(cmd, "--spec is for --lua: a built-in's spec comes from the registry");
  std::string source;
  SpecFile spec;
  if (!f.lua.empty()) {
    std::string spec_path = f.spec;
    if (spec_path.empty()) {
      // As `cloister lua run`: FILE.spec.json next to the source.
      fs::path sibling = fs::path(f.lua).replace_extension(".spec.json");
      if (!fs::exists(sibling))
        Usage(cmd, "--lua needs --spec SPEC.json (no " + sibling.string() + " next to it)");
      spec_path = sibling.string();
    }
    auto src = ReadFile(f.lua, kMaxSource);  // ResourceExhausted past the service's 4 MiB
    if (!src.ok()) FailError(cmd, src.error().WithContext(f.lua));
    source = std::move(*src);
    auto text = ReadFile(spec_path, kMaxSpecFile);
    if (!text.ok()) FailError(cmd, text.error().WithContext(spec_path));
    auto parsed = ParseSpecFile(*text);
    if (!parsed.ok()) FailError(cmd, parsed.error().WithContext(spec_path));
    spec = std::move(*parsed);
  }

  Session s = Connect(g, cmd);
  sdk::RegisterOptions opts;
  opts.description = f.description.empty() ? spec.description : f.description;
  opts.is_public = f.is_public;
  opts.function_id = f.update;
  for (const auto& u : f.allow) {
    auto id = s.tasks->ResolveUser(u);
    if (!id.ok()) FailError(cmd, id.error().WithContext("--allow " + u));
    opts.allowed_users.push_back(*id);
  }
  auto r = f.builtin.empty() ? s.tasks->functions().RegisterLua(source, spec.spec, opts)
                             : s.tasks->functions().RegisterBuiltin(f.builtin, opts);
  PersistSession(g, *s.client);
  if (!r.ok()) FailError(cmd, r.error());
  const auto& fn = r->function();
  if (g.json) {
    auto j = FunctionJson(fn);
    j["created"] = r->created();
    PrintJson(j);
    return;
  }
  std::cout << (r->created() ? "Registered " : "Already registered (unchanged): ")
            << fn.spec().name() << " (" << sdk::FunctionKindName(fn.kind()) << "), version "
            << fn.version() << "\n"
            << "  function id: " << fn.function_id() << "\n"
            << "  hash:        " << fn.hash() << "\n"
            << "  visibility:  " << (fn.public_() ? "public" : "private") << "\n"
            << "A task names this version by its hash (`cloister task create " << fn.hash()
            << " …`), or the function's latest version by its id.\n";
}

void List(const FunctionFlags& f, const Globals& g) {
  const std::string cmd = "function ls";
  Session s = Connect(g, cmd);
  auto all = s.tasks->functions().ListAll({.mine_only = f.mine, .include_disabled = f.all});
  PersistSession(g, *s.client);
  if (!all.ok()) FailError(cmd, all.error());
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& fn : *all) arr.push_back(FunctionJson(fn));
    PrintJson(arr);
    return;
  }
  const std::string self = s.tasks->self_user_id();
  std::vector<std::vector<std::string>> rows;
  for (const auto& fn : *all)
    rows.push_back({fn.function_id(), std::to_string(fn.version()), fn.spec().name(),
                    sdk::FunctionKindName(fn.kind()), fn.hash().substr(0, 16) + "…",
                    std::string(fn.public_() ? "public" : "private") +
                        (fn.disabled() ? ",disabled" : ""),
                    fn.owner_user_id() == self ? "you" : fn.owner_user_id(),
                    fn.description().substr(0, 60)});
  PrintTable({"FUNCTION_ID", "V", "NAME", "KIND", "HASH", "VISIBILITY", "OWNER", "DESCRIPTION"},
             rows);
}

void Show(const FunctionFlags& f, const Globals& g) {
  const std::string cmd = "function show";
  Session s = Connect(g, cmd);
  auto r = s.tasks->functions().Get(f.id, f.source);
  PersistSession(g, *s.client);
  if (!r.ok()) FailError(cmd, r.error());
  std::vector<tasks::FunctionVersion> versions(r->versions().begin(), r->versions().end());
  if (g.json) {
    nlohmann::json j = FunctionJson(r->function());
    nlohmann::json vs = nlohmann::json::array();
    for (const auto& v : versions) vs.push_back(FunctionJson(v));
    j["versions"] = vs;
    PrintJson(j);
    return;
  }
  std::cout << FormatFunction(r->function(), versions);
  if (f.source) {
    const std::string& src = r->function().source();
    std::cout << "== source (" << src.size() << " bytes) ==\n" << src;
    if (!src.empty() && src.back() != '\n') std::cout << "\n";
  }
}

void Disable(const FunctionFlags& f, const Globals& g) {
  const std::string cmd = "function disable";
  Session s = Connect(g, cmd);
  auto n = s.tasks->functions().Disable(f.id, f.hash);
  PersistSession(g, *s.client);
  if (!n.ok()) FailError(cmd, n.error());
  if (g.json) {
    PrintJson({{"function_id", f.id}, {"hash", f.hash}, {"disabled", *n}});
    return;
  }
  std::cout << "Disabled " << *n << (*n == 1 ? " version" : " versions") << " of function "
            << f.id << (f.hash.empty() ? "" : " (version " + f.hash + ")")
            << "; no new task may use " << (f.hash.empty() ? "them" : "it")
            << ", and none may be invoked.\n";
}

CommandRegistrar reg("function", [](CLI::App& app, Globals& g) {
  auto* fn = app.add_subcommand(
      "function",
      "functions for multi-party tasks: built-ins or Lua, each version immutable and named by "
      "its hash");
  fn->require_subcommand(1);
  auto add = [&](const std::string& name, const std::string& help,
                 void (*run)(const FunctionFlags&, const Globals&)) {
    auto flags = std::make_shared<FunctionFlags>();
    auto* sub = fn->add_subcommand(name, help);
    sub->add_flag("--json", g.json, "machine-readable output");
    sub->callback([flags, &g, run] { run(*flags, g); });
    return std::make_pair(sub, flags);
  };
  {
    auto [sub, f] = add("register",
                        "register a Lua function (--lua FILE --spec SPEC.json) or a built-in "
                        "(--builtin NAME); prints its function id and version hash",
                        Register);
    sub->add_option("--lua", f->lua, "Lua 5.4 source file (≤ 4 MiB)");
    sub->add_option("--spec", f->spec,
                    "the Lua function's spec JSON (examples/lua/*.spec.json; default: FILE with "
                    ".spec.json)");
    sub->add_option("--builtin", f->builtin, "a built-in's registry name (psi, gbdt_train, …)");
    sub->add_option("--description", f->description,
                    "a description (≤ 4 KiB; default: the spec's or the registry's)");
    sub->add_flag("--public", f->is_public, "usable by every user (default: private)");
    sub->add_option("--allow", f->allow,
                    "a user (name or id) who may also use this private function (repeatable)")
        ->allow_extra_args(false);
    sub->add_option("--update", f->update,
                    "FUNCTION_ID: register a new version of this function of yours");
  }
  {
    auto [sub, f] = add("ls", "the functions you may use (public, yours, or allowlisted)", List);
    sub->add_flag("--mine", f->mine, "only your own functions");
    sub->add_flag("--all", f->all, "also functions whose every version is disabled");
  }
  {
    auto [sub, f] = add("show",
                        "one function by id (its latest version and every version) or one "
                        "version by hash",
                        Show);
    sub->add_option("id_or_hash", f->id, "function id (32 hex) or version hash (64 hex)")
        ->required();
    sub->add_flag("--source", f->source, "also print the Lua source");
  }
  {
    auto [sub, f] = add("disable",
                        "disable one version (--hash) or every version of your function", Disable);
    sub->add_option("function_id", f->id, "the function id")->required();
    sub->add_option("--hash", f->hash, "only this version");
  }
});

}  // namespace
}  // namespace cloister::cli
