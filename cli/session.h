// The cluster directory layout (--home), cluster.toml, and the saved login
// session (DIR/session.json, 0600) shared by the `cloister` commands.
//
//   DIR/cluster.toml            ports and security level (cluster init)
//   DIR/trust.toml              what every enclave and client trusts
//   DIR/manifest.bin            signed manifest of the service binaries
//   DIR/policy.toml             the gateway's authorization policy
//   DIR/platform-state/         emulated platform (InitPlatform)
//   DIR/auditors/               auditor keys (.pub 0644, .key 0600: dev only)
//   DIR/secrets/admin-password  0600, consumed by the first `cluster up`
//   DIR/run/<svc>.pid|.port     process ids and port files; platform.sock
//   DIR/logs/<svc>.log          each service's log
//   DIR/data/<svc>/             each service's data dir (audit/ inside)
//   DIR/session.json            0600, the token of `cloister login`
//
//   auto client = ConnectWithSession(globals, "call");   // fails with a hint
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command_registry.h"
#include "common/result.h"
#include "sdk/cloister_client.h"

namespace cloister::cli {

struct ClusterPaths {
  std::string home, cluster_toml, trust, manifest, policy, platform_state, auditors, secrets,
      admin_password, run, logs, data, session, platform_socket;
  static ClusterPaths For(const std::string& home);
  std::string PidFile(const std::string& svc) const { return run + "/" + svc + ".pid"; }
  std::string PortFile(const std::string& svc) const { return run + "/" + svc + ".port"; }
  std::string LogFile(const std::string& svc) const { return logs + "/" + svc + ".log"; }
  std::string DataDir(const std::string& svc) const { return data + "/" + svc; }
};

// cluster.toml: the level, logging, and one listen address per enclave
// service of the topology (services/topology/topology.def): [<name>] listen,
// and [gateway] public_listen for the one public endpoint.
struct ClusterConfig {
  std::string cluster_id;  // random, made at init; the manifest's cluster_id
  int security_level = 2;
  std::string gateway_public;  // host:port, the only public endpoint
  std::map<std::string, std::string> listen;  // internal service name → host:port
  std::string audit_sync = "always";  // "always" | "interval" (see AuditSyncPolicy)
  std::string log_level = "info";
  // [auth] token_lifetime_s: access token lifetime (auth --token-lifetime).
  int64_t auth_token_lifetime_s = 900;
  // [auth] api_key_default_expiry_s / api_key_max_expiry_s: an API key's
  // lifetime when none is asked, and the longest granted (auth
  // --api-key-default-expiry-s / --api-key-max-expiry-s).
  int64_t auth_api_key_default_expiry_s = 90 * 86400;
  int64_t auth_api_key_max_expiry_s = 365 * 86400;
  // [storage] quota_bytes / quota_files (per user) and upload_ttl_s (after
  // which an unfinished upload is collected): cloister-storage's flags.
  int64_t storage_quota_bytes = int64_t{10} << 30;
  int64_t storage_quota_files = 10'000;
  int64_t storage_upload_ttl_s = 86'400;
  // [tasks]: a claimed task's lease, claims before an expired lease fails
  // it, and the first retry's wait (doubling per attempt).
  int64_t tasks_lease_ms = 30'000;
  int64_t tasks_max_attempts = 3;
  int64_t tasks_backoff_ms = 1'000;
  // [exec]: tasks one execution enclave runs at once (0: it pulls none).
  int64_t exec_task_workers = 2;

  // Where service `name` listens ("" if this cluster has no address for it
  // yet, e.g. a service added to the topology after `cluster init`).
  std::string Address(const std::string& name) const;

  static Result<ClusterConfig> Load(const std::string& path);
  Status Save(const std::string& path) const;
};

// The saved session: where to reach the gateway, what to trust, and the
// token. Holds secrets; the file is written 0600 and never printed.
struct SavedSession {
  std::string gateway;
  std::string trust_path;
  sdk::Session session;
};
Result<SavedSession> LoadSession(const ClusterPaths& paths);
Status SaveSession(const ClusterPaths& paths, const SavedSession& s);
void RemoveSession(const ClusterPaths& paths);

// Gateway address and trust file: the saved session's, else the cluster's.
struct GatewayTarget {
  std::string address;
  std::string trust_path;
};
Result<GatewayTarget> DefaultGateway(const ClusterPaths& paths);

// An attested client for a command. With `need_login`, resumes the saved
// session (failing with a "run cloister login" hint when there is none).
// Exits through FailError on any error.
std::unique_ptr<sdk::Client> ConnectForCommand(const Globals& g, std::string_view cmd,
                                               bool need_login);
// Saves the client's session back (a refresh rotates the refresh token).
void PersistSession(const Globals& g, sdk::Client& client);

nlohmann::json UserJson(const api::User& u);
std::string RolesText(const api::User& u);

}  // namespace cloister::cli
