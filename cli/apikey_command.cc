// `cloister apikey create|ls|revoke`: the API-key lifecycle through the
// gateway with the saved session (docs/api.md §2). A key is printed once,
// at creation; `ls` never shows secrets. (`cloister user apikey` remains as
// the older spelling of `apikey create`.)
//
//   cloister apikey create --description ci --expires-in 30d --scope read-only
//   cloister apikey ls --json
//   cloister apikey revoke ak0123456789abcdef
#include <ctime>
#include <iostream>

#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/session.h"

namespace cloister::cli {
namespace {

struct ApiKeyFlags {
  std::string description;
  std::string expires_in;  // a duration; "" = the cluster's default
  std::string scope;       // "" = unrestricted
  std::string user;        // ls: another user's keys (admin)
  std::string key_id;
};

[[noreturn]] void Usage(std::string_view cmd, const std::string& msg) {
  std::cerr << "cloister " << cmd << ": " << msg << "\n";
  throw CLI::RuntimeError(kExitUsage);
}

std::string ScopeText(const api::ApiKeyScope& s) {
  std::string t = sdk::ApiKeyScopeText(s);
  return t.empty() ? "all" : t;
}

nlohmann::json KeyJson(const api::ApiKeyInfo& k) {
  nlohmann::json methods = nlohmann::json::array();
  for (const auto& m : k.scope().methods()) methods.push_back(m);
  return {{"key_id", k.key_id()},
          {"username", k.username()},
          {"description", k.description()},
          {"created_unix", k.created_unix()},
          {"last_used_unix", k.last_used_unix()},
          {"expires_unix", k.expires_unix()},
          {"scope", {{"read_only", k.scope().read_only()}, {"methods", methods}}}};
}

void RunCreate(const ApiKeyFlags& f, const Globals& g) {
  constexpr std::string_view cmd = "apikey create";
  sdk::ApiKeyOptions opts;
  opts.description = f.description;
  if (!f.expires_in.empty()) {
    auto s = sdk::ParseDurationSeconds(f.expires_in);
    if (!s.ok()) Usage(cmd, "--expires-in: " + s.error().message());
    opts.expires_in_s = *s;
  }
  auto scope = sdk::ParseApiKeyScope(f.scope);
  if (!scope.ok()) Usage(cmd, "--scope: " + scope.error().message());
  opts.scope = *scope;
  auto client = ConnectForCommand(g, cmd, true);
  auto key = client->CreateApiKey(opts);
  PersistSession(g, *client);
  if (!key.ok()) FailError(cmd, key.error());
  if (g.json) {
    PrintJson({{"key_id", key->key_id()},
               {"api_key", key->api_key()},
               {"expires_unix", key->expires_unix()},
               {"scope", ScopeText(opts.scope)}});
    return;
  }
  std::cout << "API key " << key->key_id() << " (scope " << ScopeText(opts.scope)
            << ", expires " << FormatUnix(key->expires_unix()) << ").\n"
            << "Shown once; store it as a secret:\n"
            << key->api_key() << "\n";
}

void RunList(const ApiKeyFlags& f, const Globals& g) {
  constexpr std::string_view cmd = "apikey ls";
  auto client = ConnectForCommand(g, cmd, true);
  auto keys = client->ListApiKeys(f.user);
  PersistSession(g, *client);
  if (!keys.ok()) FailError(cmd, keys.error());
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& k : *keys) arr.push_back(KeyJson(k));
    PrintJson(arr);
    return;
  }
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  std::vector<std::vector<std::string>> rows;
  for (const auto& k : *keys)
    rows.push_back({k.key_id(), k.description(), FormatUnix(k.created_unix()),
                    k.last_used_unix() == 0 ? "never" : FormatUnix(k.last_used_unix()),
                    FormatUnix(k.expires_unix()) + (k.expires_unix() <= now ? " (expired)" : ""),
                    ScopeText(k.scope())});
  PrintTable({"ID", "DESCRIPTION", "CREATED", "LAST USED", "EXPIRES", "SCOPE"}, rows);
}

void RunRevoke(const ApiKeyFlags& f, const Globals& g) {
  constexpr std::string_view cmd = "apikey revoke";
  // The id is the part before the dot; a whole key pasted by mistake is
  // cut there, so the secret is never sent as an id (nor echoed back).
  std::string id = f.key_id.substr(0, f.key_id.find('.'));
  auto client = ConnectForCommand(g, cmd, true);
  auto key = client->RevokeApiKey(id);
  PersistSession(g, *client);
  if (!key.ok()) FailError(cmd, key.error());
  if (g.json) {
    nlohmann::json j = KeyJson(*key);
    j["revoked"] = true;
    PrintJson(j);
    return;
  }
  std::cout << "Revoked API key " << key->key_id()
            << (key->description().empty() ? "" : " (" + key->description() + ")")
            << "; every service refuses it within a second.\n";
}

CommandRegistrar reg("apikey", [](CLI::App& app, Globals& g) {
  auto* apikey = app.add_subcommand("apikey", "API keys for automation: create, list, revoke");
  apikey->require_subcommand(1);
  auto flags = std::make_shared<ApiKeyFlags>();

  auto* create = apikey->add_subcommand(
      "create", "create an API key for yourself (printed once; needs a password login)");
  create->add_option("--description", flags->description, "what the key is for");
  create->add_option("--expires-in", flags->expires_in,
                     "lifetime, e.g. 3600, 30m, 12h, 30d, 1d12h (default: the cluster's, 90d "
                     "unless configured; at most its maximum, 365d unless configured)");
  create->add_option("--scope", flags->scope,
                     "what the key may call: read-only (methods that change nothing), a "
                     "comma-separated list of methods (e.g. ListFunctions,Call), or both "
                     "(read-only,Call); default: everything you may call");
  create->add_flag("--json", g.json, "machine-readable output");
  create->callback([flags, &g] { RunCreate(*flags, g); });

  auto* ls = apikey->add_subcommand("ls", "list your API keys (never their secrets)");
  ls->alias("list");
  ls->add_option("--user", flags->user, "another user's keys (admin only)");
  ls->add_flag("--json", g.json, "machine-readable output");
  ls->callback([flags, &g] { RunList(*flags, g); });

  auto* revoke = apikey->add_subcommand(
      "revoke", "revoke an API key of yours (admin: anyone's); refused everywhere within ~1 s");
  revoke->add_option("id", flags->key_id, "the key id (ak…, as `apikey ls` shows it)")
      ->required();
  revoke->add_flag("--json", g.json, "machine-readable output");
  revoke->callback([flags, &g] { RunRevoke(*flags, g); });
});

}  // namespace
}  // namespace cloister::cli
