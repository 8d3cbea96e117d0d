// `cloister user add|list|disable|enable|passwd|delete|apikey`: user
// administration through the gateway with the saved session (admin role,
// except passwd of oneself and apikey for oneself).
//
//   echo "$PW" | cloister user add alice --password-stdin
//   cloister --json user list
//   cloister user disable alice        # revokes all of alice's tokens
#include <unistd.h>

#include <iostream>

#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/session.h"

namespace cloister::cli {
namespace {

struct UserFlags {
  std::string name;
  bool admin = false;
  bool password_stdin = false;
  std::string description;
  int64_t expires_unix = 0;
};

// New passwords: twice when typed interactively, once from stdin.
std::string ReadNewPassword(std::string_view cmd, const std::string& who, bool from_stdin) {
  auto pw = ReadSecret("New password for " + who + ": ", from_stdin);
  if (!pw.ok()) FailError(cmd, pw.error());
  if (!from_stdin && ::isatty(0) == 1) {
    auto again = ReadSecret("Repeat: ", false);
    if (!again.ok() || *again != *pw) Fail(cmd, "the passwords do not match");
  }
  return *pw;
}

void RunAdd(const UserFlags& f, const Globals& g) {
  auto client = ConnectForCommand(g, "user add", true);
  std::string pw = ReadNewPassword("user add", f.name, f.password_stdin);
  std::vector<api::Role> roles = {api::ROLE_USER};
  if (f.admin) roles.push_back(api::ROLE_ADMIN);
  auto user = client->CreateUser(f.name, pw, roles);
  PersistSession(g, *client);
  if (!user.ok()) FailError("user add", user.error());
  if (g.json) PrintJson(UserJson(*user));
  else std::cout << "Created user " << user->username() << " (" << RolesText(*user) << ")\n";
}

void RunList(const Globals& g) {
  auto client = ConnectForCommand(g, "user list", true);
  auto users = client->ListUsers();
  PersistSession(g, *client);
  if (!users.ok()) FailError("user list", users.error());
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& u : *users) arr.push_back(UserJson(u));
    PrintJson(arr);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : *users)
    rows.push_back({u.username(), RolesText(u), u.disabled() ? "disabled" : "active",
                    FormatUnix(u.created_unix()), u.user_id()});
  PrintTable({"USER", "ROLES", "STATE", "CREATED", "ID"}, rows);
}

void RunDisable(const UserFlags& f, const Globals& g, bool disable) {
  const char* cmd = disable ? "user disable" : "user enable";
  auto client = ConnectForCommand(g, cmd, true);
  auto user = client->DisableUser(f.name, disable);
  PersistSession(g, *client);
  if (!user.ok()) FailError(cmd, user.error());
  if (g.json) PrintJson(UserJson(*user));
  else std::cout << (disable ? "Disabled " : "Enabled ") << user->username()
                 << (disable ? " (all of its tokens are revoked)" : "") << "\n";
}

void RunPasswd(const UserFlags& f, const Globals& g) {
  auto client = ConnectForCommand(g, "user passwd", true);
  const std::string self = client->session() ? client->session()->user.username() : "";
  const std::string target = f.name.empty() ? self : f.name;
  std::string old_pw;
  if (target == self) {
    auto old = ReadSecret("Current password: ", f.password_stdin);
    if (!old.ok()) FailError("user passwd", old.error());
    old_pw = *old;
  }
  std::string new_pw = ReadNewPassword("user passwd", target, f.password_stdin);
  Status st = client->ChangePassword(target, old_pw, new_pw);
  PersistSession(g, *client);
  if (!st.ok()) FailError("user passwd", st.error());
  if (g.json) PrintJson({{"username", target}, {"changed", true}});
  else std::cout << "Password of " << target << " changed.\n";
}

void RunDelete(const UserFlags& f, const Globals& g) {
  auto client = ConnectForCommand(g, "user delete", true);
  Status st = client->DeleteUser(f.name);
  PersistSession(g, *client);
  if (!st.ok()) FailError("user delete", st.error());
  if (g.json) PrintJson({{"username", f.name}, {"deleted", true}});
  else std::cout << "Deleted user " << f.name << "\n";
}

void RunApiKey(const UserFlags& f, const Globals& g) {
  auto client = ConnectForCommand(g, "user apikey", true);
  auto key = client->CreateApiKey(f.description, f.expires_unix);
  PersistSession(g, *client);
  if (!key.ok()) FailError("user apikey", key.error());
  if (g.json) {
    PrintJson({{"key_id", key->key_id()}, {"api_key", key->api_key()}});
    return;
  }
  std::cout << "API key (shown once; store it as a secret):\n" << key->api_key() << "\n";
}

CommandRegistrar reg("user", [](CLI::App& app, Globals& g) {
  auto* user = app.add_subcommand("user", "user administration (through the gateway)");
  user->require_subcommand(1);
  auto flags = std::make_shared<UserFlags>();

  auto* add = user->add_subcommand("add", "create a user");
  add->add_option("name", flags->name, "user name")->required();
  add->add_flag("--admin", flags->admin, "also give the admin role");
  add->add_flag("--password-stdin", flags->password_stdin, "read the password from stdin");
  add->add_flag("--json", g.json, "machine-readable output");
  add->callback([flags, &g] { RunAdd(*flags, g); });

  auto* list = user->add_subcommand("list", "list users");
  list->add_flag("--json", g.json, "machine-readable output");
  list->callback([&g] { RunList(g); });

  for (bool disable : {true, false}) {
    auto* sub = user->add_subcommand(disable ? "disable" : "enable",
                                     disable ? "disable a user (revokes its tokens)"
                                             : "re-enable a disabled user");
    sub->add_option("name", flags->name, "user name")->required();
    sub->add_flag("--json", g.json, "machine-readable output");
    sub->callback([flags, &g, disable] { RunDisable(*flags, g, disable); });
  }

  auto* passwd = user->add_subcommand(
      "passwd", "change your password, or (admin) set another user's");
  passwd->add_option("name", flags->name, "user name (default: yourself)");
  passwd->add_flag("--password-stdin", flags->password_stdin,
                   "read from stdin: the current password (for yourself), then the new one");
  passwd->add_flag("--json", g.json, "machine-readable output");
  passwd->callback([flags, &g] { RunPasswd(*flags, g); });

  auto* del = user->add_subcommand("delete", "delete a user");
  del->add_option("name", flags->name, "user name")->required();
  del->add_flag("--json", g.json, "machine-readable output");
  del->callback([flags, &g] { RunDelete(*flags, g); });

  auto* apikey = user->add_subcommand("apikey", "create an API key for yourself (automation)");
  apikey->add_option("--description", flags->description, "what the key is for");
  apikey->add_option("--expires-unix", flags->expires_unix, "expiry (unix seconds; 0: the cluster's default expiry; `cloister apikey create` is the fuller command)");
  apikey->add_flag("--json", g.json, "machine-readable output");
  apikey->callback([flags, &g] { RunApiKey(*flags, g); });
});

}  // namespace
}  // namespace cloister::cli
