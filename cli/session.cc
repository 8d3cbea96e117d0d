// Cluster layout, cluster.toml and session.json; see session.h.
#include "cli/session.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <utility>

#include "cli/output.h"
#include "common/config.h"
#include "common/fs.h"
#include "services/topology/service_spec.h"

namespace cloister::cli {

ClusterPaths ClusterPaths::For(const std::string& home) {
  ClusterPaths p;
  p.home = home;
  p.cluster_toml = home + "/cluster.toml";
  p.trust = home + "/trust.toml";
  p.manifest = home + "/manifest.bin";
  p.policy = home + "/policy.toml";
  p.platform_state = home + "/platform-state";
  p.auditors = home + "/auditors";
  p.secrets = home + "/secrets";
  p.admin_password = home + "/secrets/admin-password";
  p.run = home + "/run";
  p.logs = home + "/logs";
  p.data = home + "/data";
  p.session = home + "/session.json";
  p.platform_socket = home + "/run/platform.sock";
  return p;
}

Result<ClusterConfig> ClusterConfig::Load(const std::string& path) {
  if (!FileExists(path))
    return NotFound(path + " does not exist: run `cloister cluster init` first",
                    "CLUSTER_NOT_INITIALIZED");
  CLOISTER_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Load(path));
  std::vector<std::string> known = {"cluster.*", "gateway.*"};
  for (const auto& s : topology::Topology())
    if (!s.is_platform() && !s.is_public()) known.push_back(std::string(s.name) + ".*");
  CLOISTER_RETURN_IF_ERROR(cfg.CheckKnownKeys(known));
  ClusterConfig c;
  CLOISTER_ASSIGN_OR_RETURN(int64_t level, cfg.GetInt("cluster.security_level", 2, 1, 5));
  c.security_level = static_cast<int>(level);
  CLOISTER_ASSIGN_OR_RETURN(c.log_level, cfg.GetString("cluster.log_level", "info"));
  CLOISTER_ASSIGN_OR_RETURN(c.cluster_id, cfg.GetString("cluster.id", ""));
  CLOISTER_ASSIGN_OR_RETURN(c.audit_sync, cfg.GetString("cluster.audit_sync", "always"));
  if (c.audit_sync != "always" && c.audit_sync != "interval")
    return InvalidArgument(path + ": key 'cluster.audit_sync': must be \"always\" or \"interval\"",
                           "CONFIG_INVALID");
  CLOISTER_ASSIGN_OR_RETURN(c.gateway_public, cfg.RequireString("gateway.public_listen"));
  CLOISTER_ASSIGN_OR_RETURN(c.auth_token_lifetime_s,
                            cfg.GetInt("auth.token_lifetime_s", 900, 30, 24 * 3600));
  constexpr int64_t kTenYears = int64_t{10} * 365 * 86400;  // auth's flag range
  CLOISTER_ASSIGN_OR_RETURN(c.auth_api_key_default_expiry_s,
                            cfg.GetInt("auth.api_key_default_expiry_s",
                                       c.auth_api_key_default_expiry_s, 1, kTenYears));
  CLOISTER_ASSIGN_OR_RETURN(c.auth_api_key_max_expiry_s,
                            cfg.GetInt("auth.api_key_max_expiry_s", c.auth_api_key_max_expiry_s,
                                       1, kTenYears));
  if (c.auth_api_key_default_expiry_s > c.auth_api_key_max_expiry_s)
    return InvalidArgument(path + ": key 'auth.api_key_default_expiry_s' (" +
                               std::to_string(c.auth_api_key_default_expiry_s) +
                               ") exceeds 'auth.api_key_max_expiry_s' (" +
                               std::to_string(c.auth_api_key_max_expiry_s) + ")",
                           "CONFIG_INVALID");
  CLOISTER_ASSIGN_OR_RETURN(c.storage_quota_bytes,
                            cfg.GetInt("storage.quota_bytes", c.storage_quota_bytes, 0,
                                       int64_t{1} << 50));
  CLOISTER_ASSIGN_OR_RETURN(c.storage_quota_files,
                            cfg.GetInt("storage.quota_files", c.storage_quota_files, 0, 100'000'000));
  CLOISTER_ASSIGN_OR_RETURN(c.storage_upload_ttl_s,
                            cfg.GetInt("storage.upload_ttl_s", c.storage_upload_ttl_s, 60,
                                       30 * 86400));
  CLOISTER_ASSIGN_OR_RETURN(c.tasks_lease_ms,
                            cfg.GetInt("tasks.lease_ms", c.tasks_lease_ms, 100, 3'600'000));
  CLOISTER_ASSIGN_OR_RETURN(c.tasks_max_attempts,
                            cfg.GetInt("tasks.max_attempts", c.tasks_max_attempts, 1, 100));
  CLOISTER_ASSIGN_OR_RETURN(c.tasks_backoff_ms,
                            cfg.GetInt("tasks.backoff_ms", c.tasks_backoff_ms, 0, 3'600'000));
  CLOISTER_ASSIGN_OR_RETURN(c.exec_task_workers,
                            cfg.GetInt("exec.task_workers", c.exec_task_workers, 0, 64));
  for (const auto& s : topology::Topology()) {
    if (s.is_platform() || s.is_public()) continue;
    const std::string name(s.name);
    CLOISTER_ASSIGN_OR_RETURN(std::string addr, cfg.GetString(name + ".listen", ""));
    if (!addr.empty()) c.listen[name] = addr;
  }
  return c;
}

std::string ClusterConfig::Address(const std::string& name) const {
  if (name == "gateway") return gateway_public;
  auto it = listen.find(name);
  return it == listen.end() ? "" : it->second;
}

namespace {

// A section's integer settings in cluster.toml: one `key = N` line each.
std::string IntSettings(std::initializer_list<std::pair<const char*, int64_t>> settings) {
  std::string out;
  for (const auto& [key, value] : settings)
    out += std::string(key) + " = " + std::to_string(value) + "\n";
  return out;
}

}  // namespace

Status ClusterConfig::Save(const std::string& path) const {
  std::string t;
  t += "# Cloister single-node cluster (written by `cloister cluster init`).\n";
  t += "# Internal ports are fixed so a restarted service is found again.\n";
  t += "[cluster]\n";
  t += "# This cluster instance: part of every enclave's signed configuration.\n";
  t += "id = \"" + cluster_id + "\"\n";
  t += "security_level = " + std::to_string(security_level) + "\n";
  t += "log_level = \"" + log_level + "\"\n";
  t += "# always: fsync each audit entry before answering; interval: fsync every\n";
  t += "# 10 ms (faster; survives a killed process, may lose 10 ms on power loss)\n";
  t += "audit_sync = \"" + audit_sync + "\"\n\n";
  t += "[gateway]\n# The only public endpoint (RA-TLS server certificate).\n";
  t += "public_listen = \"" + gateway_public + "\"\n\n";
  for (const auto& s : topology::Topology()) {
    auto it = listen.find(std::string(s.name));
    if (it == listen.end()) continue;
    t += "[" + it->first + "]\nlisten = \"" + it->second + "\"\n";
    if (it->first == "auth")
      t += "# access token lifetime in seconds (30 .. 86400)\n" +
           IntSettings({{"token_lifetime_s", auth_token_lifetime_s}}) +
           "# API keys: lifetime when none is asked, and the longest granted (seconds)\n" +
           IntSettings({{"api_key_default_expiry_s", auth_api_key_default_expiry_s},
                        {"api_key_max_expiry_s", auth_api_key_max_expiry_s}});
    if (it->first == "storage")
      t += "# per-user quota (ciphertext bytes, files) and how long an unfinished\n"
           "# upload is kept before it is collected (seconds)\n" +
           IntSettings({{"quota_bytes", storage_quota_bytes},
                        {"quota_files", storage_quota_files},
                        {"upload_ttl_s", storage_upload_ttl_s}});
    if (it->first == "tasks")
      t += "# a claimed task's lease (ms; heartbeats renew it), claims per task before\n"
           "# an expired lease fails it, and the wait before the first retry (ms)\n" +
           IntSettings({{"lease_ms", tasks_lease_ms},
                        {"max_attempts", tasks_max_attempts},
                        {"backoff_ms", tasks_backoff_ms}});
    if (it->first == "exec")
      t += "# tasks this execution enclave runs at once (0: it runs no tasks)\n" +
           IntSettings({{"task_workers", exec_task_workers}});
    t += "\n";
  }
  return WriteFileAtomic(path, t, 0644);
}

Result<SavedSession> LoadSession(const ClusterPaths& paths) {
  if (!FileExists(paths.session)) return Unauthenticated("not logged in", sdk::kNotLoggedIn);
  CLOISTER_RETURN_IF_ERROR(CheckPrivateFile(paths.session));
  CLOISTER_ASSIGN_OR_RETURN(std::string text, ReadFile(paths.session, 1 << 20));
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return DataLoss(paths.session + " is not valid JSON; run `cloister login` again");
  SavedSession s;
  auto str = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  s.gateway = str("gateway");
  s.trust_path = str("trust");
  s.session.token = str("token");
  s.session.refresh_token = str("refresh_token");
  s.session.api_key = str("api_key");
  if (j.contains("expires_unix") && j["expires_unix"].is_number_integer())
    s.session.expires_unix = j["expires_unix"].get<int64_t>();
  s.session.user.set_username(str("username"));
  s.session.user.set_user_id(str("user_id"));
  if (s.gateway.empty() || (s.session.token.empty() && s.session.api_key.empty()))
    return Unauthenticated("the saved session is incomplete", sdk::kNotLoggedIn);
  return s;
}

Status SaveSession(const ClusterPaths& paths, const SavedSession& s) {
  nlohmann::json j;
  j["gateway"] = s.gateway;
  j["trust"] = s.trust_path;
  j["username"] = s.session.user.username();
  j["user_id"] = s.session.user.user_id();
  j["token"] = s.session.token;
  j["expires_unix"] = s.session.expires_unix;
  j["refresh_token"] = s.session.refresh_token;
  if (!s.session.api_key.empty()) j["api_key"] = s.session.api_key;
  CLOISTER_RETURN_IF_ERROR(MakeDirs(paths.home, 0700));
  return WriteFileAtomic(paths.session, j.dump(2) + "\n", 0600);
}

void RemoveSession(const ClusterPaths& paths) { ::unlink(paths.session.c_str()); }

Result<GatewayTarget> DefaultGateway(const ClusterPaths& paths) {
  auto saved = LoadSession(paths);
  if (saved.ok()) return GatewayTarget{saved->gateway, saved->trust_path};
  CLOISTER_ASSIGN_OR_RETURN(ClusterConfig cfg, ClusterConfig::Load(paths.cluster_toml));
  return GatewayTarget{cfg.gateway_public, paths.trust};
}

std::unique_ptr<sdk::Client> ConnectForCommand(const Globals& g, std::string_view cmd,
                                               bool need_login) {
  ClusterPaths paths = ClusterPaths::For(g.home);
  std::optional<SavedSession> saved;
  GatewayTarget target;
  if (need_login) {
    auto s = LoadSession(paths);
    if (!s.ok()) FailError(cmd, s.error());
    saved = std::move(*s);
    target = {saved->gateway, saved->trust_path};
  } else {
    auto t = DefaultGateway(paths);
    if (!t.ok()) FailError(cmd, t.error());
    target = *t;
  }
  auto client = sdk::Client::Connect({.gateway_address = target.address,
                                      .trust_path = target.trust_path});
  if (!client.ok()) FailError(cmd, client.error());
  if (saved) (*client)->Resume(saved->session);
  return std::move(*client);
}

void PersistSession(const Globals& g, sdk::Client& client) {
  ClusterPaths paths = ClusterPaths::For(g.home);
  auto saved = LoadSession(paths);
  auto now = client.session();
  if (!saved.ok() || !now) return;
  if (saved->session.token == now->token && saved->session.refresh_token == now->refresh_token)
    return;
  saved->session.token = now->token;
  saved->session.expires_unix = now->expires_unix;
  saved->session.refresh_token = now->refresh_token;
  Status st = SaveSession(paths, *saved);
  if (!st.ok()) std::fprintf(stderr, "warning: could not save the refreshed session: %s\n",
                             st.ToString().c_str());
}

nlohmann::json UserJson(const api::User& u) {
  nlohmann::json roles = nlohmann::json::array();
  for (int r : u.roles()) roles.push_back(sdk::RoleName(static_cast<api::Role>(r)));
  return {{"user_id", u.user_id()},     {"username", u.username()}, {"roles", roles},
          {"disabled", u.disabled()},   {"created_unix", u.created_unix()}};
}

std::string RolesText(const api::User& u) {
  std::string s;
  for (int r : u.roles()) s += (s.empty() ? "" : ",") + sdk::RoleName(static_cast<api::Role>(r));
  return s;
}

}  // namespace cloister::cli
