// `cloister login|logout|whoami`: a session with the cluster's gateway,
// saved (0600) in DIR/session.json for the other commands. The password is
// read without echo (or from stdin for scripts) and never stored.
//
//   cloister login --user alice                       # prompts
//   echo "$PW" | cloister login --user alice --password-stdin
//   cloister login --api-key-stdin < key.txt
#include <iostream>

#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/session.h"

namespace cloister::cli {
namespace {

struct LoginFlags {
  std::string user = "admin";
  bool password_stdin = false;
  bool api_key_stdin = false;
  std::string gateway;  // default: the cluster's
  std::string trust;
};

void RunLogin(const LoginFlags& f, const Globals& g) {
  const ClusterPaths paths = ClusterPaths::For(g.home);
  GatewayTarget target;
  if (!f.gateway.empty()) {
    target = {f.gateway, f.trust.empty() ? paths.trust : f.trust};
  } else {
    auto cfg = ClusterConfig::Load(paths.cluster_toml);
    if (!cfg.ok()) FailError("login", cfg.error());
    target = {cfg->gateway_public, f.trust.empty() ? paths.trust : f.trust};
  }
  // Attest the gateway before reading the password, so a refused gateway
  // never gets the chance to see it and the user is told why.
  auto client = sdk::Client::Connect({.gateway_address = target.address,
                                      .trust_path = target.trust_path});
  if (!client.ok()) FailError("login", client.error());

  Result<api::User> user = Unauthenticated("no login attempted");
  if (f.api_key_stdin) {
    auto key = ReadSecret("API key: ", true);
    if (!key.ok()) FailError("login", key.error());
    user = (*client)->LoginWithApiKey(*key);
  } else {
    auto password = ReadSecret("Password for " + f.user + ": ", f.password_stdin);
    if (!password.ok()) FailError("login", password.error());
    user = (*client)->Login(f.user, *password);
  }
  if (!user.ok()) FailError("login", user.error());

  SavedSession saved{target.address, target.trust_path, *(*client)->session()};
  saved.session.user = *user;
  Status st = SaveSession(paths, saved);
  if (!st.ok()) FailError("login", st.error());
  if (g.json) {
    PrintJson({{"user", UserJson(*user)},
               {"gateway", target.address},
               {"expires_unix", saved.session.expires_unix},
               {"session_file", paths.session}});
    return;
  }
  std::cout << "Logged in as " << user->username() << " (" << RolesText(*user) << ") at "
            << target.address << " (gateway attested)\n";
  if (saved.session.expires_unix > 0)
    std::cout << "Token valid until " << FormatUnix(saved.session.expires_unix)
              << "; refreshed automatically.\n";
}

void RunLogout(const Globals& g) {
  const ClusterPaths paths = ClusterPaths::For(g.home);
  if (!LoadSession(paths).ok()) {
    std::cout << "Not logged in.\n";
    return;
  }
  auto client = ConnectForCommand(g, "logout", true);
  Status st = client->Logout();
  RemoveSession(paths);
  if (!st.ok()) FailError("logout", st.error());
  if (g.json) PrintJson({{"logged_out", true}});
  else std::cout << "Logged out; the token is revoked.\n";
}

void RunWhoAmI(const Globals& g) {
  auto client = ConnectForCommand(g, "whoami", true);
  auto user = client->WhoAmI();
  PersistSession(g, *client);
  if (!user.ok()) FailError("whoami", user.error());
  if (g.json) PrintJson(UserJson(*user));
  else std::cout << user->username() << " (" << RolesText(*user) << ") id " << user->user_id()
                 << "\n";
}

CommandRegistrar reg("login", [](CLI::App& app, Globals& g) {
  auto flags = std::make_shared<LoginFlags>();
  auto* login = app.add_subcommand("login", "log in through the attested gateway; saves a session");
  login->add_option("--user,-u", flags->user, "user name")->capture_default_str();
  login->add_flag("--password-stdin", flags->password_stdin,
                  "read the password from stdin (scripts)");
  login->add_flag("--api-key-stdin", flags->api_key_stdin,
                  "log in with an API key read from stdin instead of a password");
  login->add_option("--gateway", flags->gateway, "gateway host:port (default: the cluster's)");
  login->add_option("--trust", flags->trust, "trust.toml (default: the cluster's)");
  login->add_flag("--json", g.json, "machine-readable output");
  login->callback([flags, &g] { RunLogin(*flags, g); });

  auto* logout = app.add_subcommand("logout", "revoke the saved session's token");
  logout->add_flag("--json", g.json, "machine-readable output");
  logout->callback([&g] { RunLogout(g); });

  auto* whoami = app.add_subcommand("whoami", "show the logged-in user");
  whoami->add_flag("--json", g.json, "machine-readable output");
  whoami->callback([&g] { RunWhoAmI(g); });
});

}  // namespace
}  // namespace cloister::cli
