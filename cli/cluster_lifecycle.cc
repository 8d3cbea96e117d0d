// `cloister cluster up|status|down|logs`: starting, probing and stopping the
// services of the cluster in --home; where their binaries are and their argv
// (cli/cluster_lifecycle.h). init and manifest are in cluster_command.cc.
#include "cli/cluster_lifecycle.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "attestation/manifest.h"
#include "attestation/platform/platform_client.h"
#include "attestation/trust.h"
#include "cli/cluster_restore.h"
#include "cli/cluster_secret.h"
#include "cli/output.h"
#include "cli/service_config.h"
#include "cli/service_process.h"
#include "common/fs.h"
#include "proto/method_table.h"
#include "sdk/cloister_client.h"

namespace cloister::cli {

namespace fs = std::filesystem;
using topology::Health;
using topology::ServiceSpec;

std::string BinDir() {
  auto self = SelfExePath();
  if (!self.ok()) return ".";
  return fs::path(*self).parent_path().string();
}
std::string BinaryPath(const ServiceSpec& s) { return BinDir() + "/" + s.binary(); }

std::vector<std::string> MissingBinaries() {
  std::vector<std::string> missing;
  for (const auto& s : topology::Topology())
    if (!FileExists(BinaryPath(s))) missing.push_back(BinaryPath(s));
  return missing;
}

[[noreturn]] void FailMissingBinaries(std::string_view cmd, const std::vector<std::string>& missing) {
  std::string list;
  for (const auto& m : missing) list += "\n  " + m;
  Fail(cmd, "service binaries not found next to `cloister` (" + BinDir() + "):" + list +
                "\nbuild them all with `cmake --build build --target cluster`, or install "
                "with `cmake --install build --prefix DIR` and run DIR/bin/cloister");
}

std::vector<std::string> ArgvFor(const ServiceSpec& s, const ClusterConfig& c,
                                 const ClusterPaths& p) {
  const std::string svc(s.name);
  const std::string bin = BinaryPath(s);
  if (s.is_platform())
    return {bin, "--state", p.platform_state, "--socket", p.platform_socket, "--trust", p.trust,
            "--log-level", c.log_level};
  // The gateway's --listen port is its public one (RA-TLS server
  // certificate, no client certificate asked).
  std::vector<std::string> argv = {bin,           "--trust",       p.trust,
                                   "--port-file", p.PortFile(svc), "--data-dir",
                                   p.DataDir(svc), "--log-level",  c.log_level,
                                   "--audit-sync", c.audit_sync,   "--listen",
                                   c.Address(svc)};
  if (c.security_level < 2) argv.insert(argv.end(), {"--cluster-secret", ClusterSecretPath(p)});
  if (!s.storage.empty())
    argv.insert(argv.end(), {"--db", "sqlite://" + p.DataDir(svc) + "/" + std::string(s.storage)});
  // One --<peer>-addr per service whose internal methods it may call (the
  // method table's callers rule): auth for every enclave (its keys verify
  // auth proofs), keyvault for storage. The gateway's backends come below.
  if (!s.is_public())
    for (const std::string& peer : rpc::MethodTable::Get().PeersOf(svc))
      argv.insert(argv.end(), {"--" + peer + "-addr", c.Address(peer)});
  if (svc == "auth")
    argv.insert(argv.end(), {"--token-lifetime", std::to_string(c.auth_token_lifetime_s),
                             "--api-key-default-expiry-s",
                             std::to_string(c.auth_api_key_default_expiry_s),
                             "--api-key-max-expiry-s",
                             std::to_string(c.auth_api_key_max_expiry_s)});
  if (svc == "storage")
    argv.insert(argv.end(), {"--quota-bytes", std::to_string(c.storage_quota_bytes),
                             "--quota-files", std::to_string(c.storage_quota_files),
                             "--upload-ttl-s", std::to_string(c.storage_upload_ttl_s)});
  if (svc == "tasks")
    argv.insert(argv.end(), {"--lease-ms", std::to_string(c.tasks_lease_ms), "--max-attempts",
                             std::to_string(c.tasks_max_attempts), "--backoff-ms",
                             std::to_string(c.tasks_backoff_ms)});
  if (svc == "exec")
    argv.insert(argv.end(), {"--task-workers", std::to_string(c.exec_task_workers)});
  // The operator's one-time consent to a restored database (cluster_restore.h).
  if (KeepsProtectedRows(svc) && FileExists(AcceptRestoreFile(p, svc)))
    argv.insert(argv.end(), {"--accept-restore-file", AcceptRestoreFile(p, svc)});
  if (svc == "auth" && FileExists(p.admin_password))
    argv.insert(argv.end(), {"--bootstrap-admin-password-file", p.admin_password});
  if (s.is_public()) {
    for (const auto& b : topology::Topology())
      if (b.is_gateway_backend())
        argv.insert(argv.end(), {"--" + std::string(b.name) + "-addr", c.Address(std::string(b.name))});
    if (FileExists(p.policy)) argv.insert(argv.end(), {"--policy", p.policy});
  }
  return argv;
}

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(10);

struct ServiceView {
  std::string name;
  std::optional<pid_t> pid;
  bool running = false;
  std::string address;  // what it listens on (socket path for the platform)
  bool healthy = false;
  std::string health;   // detail
};

std::string AddressOf(const ServiceSpec& s, const ClusterConfig& c, const ClusterPaths& p) {
  if (s.is_platform()) return p.platform_socket;
  return c.Address(std::string(s.name));
}

// One health probe, no waiting; how is the topology's Health of `s`.
bool Probe(const ServiceSpec& s, const ClusterConfig& c, const ClusterPaths& p,
           std::string* detail) {
  const std::string svc(s.name);
  switch (s.health) {
    case Health::kPlatformSocket: {
      auto client = attestation::PlatformClient::Connect(p.platform_socket);
      *detail = client.ok() ? "SERVING" : client.error().ToString();
      return client.ok();
    }
    case Health::kListening: {
      // Internal services accept attested enclaves only; the CLI is not one,
      // so a listening port (written after the server started) is the check.
      bool ok = FileExists(p.PortFile(svc)) &&
                TcpConnectable(AddressOf(s, c, p), std::chrono::milliseconds(500));
      *detail = ok ? "listening" : "not listening";
      return ok;
    }
    case Health::kGatewayHealth:
      break;
  }
  // The gateway: the same attested path a client takes.
  auto client = sdk::Client::Connect({.gateway_address = c.gateway_public,
                                      .trust_path = p.trust,
                                      .connect_timeout = std::chrono::milliseconds(2000),
                                      .call_timeout = std::chrono::milliseconds(3000)});
  if (!client.ok()) {
    *detail = client.error().ToString();
    return false;
  }
  auto h = (*client)->Health();
  if (!h.ok()) {
    *detail = h.error().ToString();
    return false;
  }
  *detail = h->status() + " (attested, level " + std::to_string(h->security_level()) + ")";
  return h->status() == "SERVING";
}

ServiceView View(const ServiceSpec& s, const ClusterConfig& c, const ClusterPaths& p,
                 bool probe) {
  ServiceView v;
  v.name = std::string(s.name);
  v.pid = ReadPidFile(p.PidFile(v.name));
  v.running = v.pid && IsServiceProcess(*v.pid, s.binary());
  v.address = AddressOf(s, c, p);
  if (!v.running) {
    v.health = "not running";
  } else if (probe) {
    v.healthy = Probe(s, c, p, &v.health);
  }
  return v;
}

std::string LogTail(const std::string& path, size_t lines) {
  auto text = ReadFile(path, 64u << 20);
  if (!text.ok()) return "";
  size_t pos = text->size();
  if (pos > 0 && (*text)[pos - 1] == '\n') --pos;
  for (size_t n = 0; n < lines && pos > 0; ++n) {
    pos = text->rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
  }
  return text->substr(pos == 0 ? 0 : pos + 1);
}

// Refuses to start binaries whose measurement is not the signed one, or
// whose configuration in this cluster is not: they would refuse to start
// (or be refused by their peers) with a much less obvious error.
void CheckManifestCurrent(const ClusterPaths& p, const ClusterConfig& cfg) {
  auto trust = attestation::TrustConfig::Load(p.trust);
  if (!trust.ok()) FailError("cluster up", trust.error());
  if (auto missing = MissingBinaries(); !missing.empty()) FailMissingBinaries("cluster up", missing);
  for (const auto& spec : topology::Topology()) {
    const std::string bin = BinaryPath(spec);
    auto digest = attestation::HashFile(bin);
    if (!digest.ok()) FailError("cluster up", digest.error());
    const auto* entry = trust->manifest.FindByMeasurement(ByteView(*digest));
    if (entry == nullptr || entry->name() != spec.name)
      Fail("cluster up", bin + " is not the binary the manifest was signed for (rebuilt?); run "
                               "`cloister cluster manifest`, then `cloister cluster up`");
    if (spec.is_platform()) continue;
    auto c = AskServiceConfig(ArgvFor(spec, cfg, p), p.run);
    if (!c.ok()) FailError("cluster up", c.error());
    if (auto st = trust->manifest.CheckConfig(*entry, c->config_id, c->text); !st.ok())
      Fail("cluster up", st.error().message() +
                             ". The cluster's settings changed since the manifest was signed; "
                             "re-sign with `cloister cluster manifest`, then `cloister cluster up`");
  }
}

Status StartService(const ServiceSpec& s, const ClusterConfig& c, const ClusterPaths& p,
                    bool quiet, pid_t* pid_out) {
  const std::string svc(s.name);
  // Stale files from a killed instance would make the health check pass early.
  ::unlink(p.PortFile(svc).c_str());
  if (!s.is_platform() && !PortFree(AddressOf(s, c, p)))
    return Unavailable(svc + ": " + (s.is_public() ? "public port " : "") + AddressOf(s, c, p) +
                       " is in use by another process (edit cluster.toml)");
  CLOISTER_RETURN_IF_ERROR(MakeDirs(p.DataDir(svc), 0700));
  CLOISTER_ASSIGN_OR_RETURN(pid_t pid, SpawnDetached(ArgvFor(s, c, p), p.LogFile(svc)));
  *pid_out = pid;
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(p.PidFile(svc), std::to_string(pid) + "\n", 0600));

  Progress progress("starting " + svc, quiet);
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  std::string detail;
  for (;;) {
    // Our own child: gone once reaped. (Its argv[0] is still "cloister"
    // until execv runs, so IsServiceProcess would misreport that window.)
    if (ReapIfExited(pid)) {
      progress.Done("FAILED");
      return Internal(svc + " exited during start; last log lines (" + p.LogFile(svc) + "):\n" +
                      LogTail(p.LogFile(svc), 15));
    }
    if (Probe(s, c, p, &detail)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      progress.Done("TIMEOUT");
      return DeadlineExceeded(svc + " did not become healthy within " +
                              std::to_string(kStartTimeout.count()) + " s (" + detail +
                              "); see " + p.LogFile(svc));
    }
    progress.Tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  progress.Done("healthy, pid " + std::to_string(pid));
  return OkStatus();
}

}  // namespace

void RunClusterUp(const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  auto cfg = ClusterConfig::Load(p.cluster_toml);
  if (!cfg.ok()) FailError("cluster up", cfg.error());
  // A service added to the topology after `cluster init` gets a port now
  // (its configuration must then be signed: `cloister cluster manifest`).
  bool added = false;
  for (const auto& s : topology::Topology()) {
    if (s.is_platform() || !cfg->Address(std::string(s.name)).empty()) continue;
    auto port = PickPort("127.0.0.1", s.default_port);
    if (!port.ok()) FailError("cluster up", port.error());
    cfg->listen[std::string(s.name)] = "127.0.0.1:" + std::to_string(*port);
    added = true;
  }
  if (added) {
    Status s = cfg->Save(p.cluster_toml);
    if (!s.ok()) FailError("cluster up", s.error());
  }
  CheckManifestCurrent(p, *cfg);
  for (const auto& d : {p.run, p.logs, p.data}) {
    Status s = MakeDirs(d, 0700);
    if (!s.ok()) FailError("cluster up", s.error());
  }
  nlohmann::json services = nlohmann::json::array();
  // A platform started now has none of the running enclaves' sessions (a
  // session is the measured identity and never reconnects): they can no
  // longer quote, seal or advance their rollback counters, so they restart.
  bool platform_started = false;
  for (const auto& spec : topology::Topology()) {
    const std::string svc(spec.name);
    ServiceView v = View(spec, *cfg, p, /*probe=*/false);
    bool started = false;
    if (v.running && platform_started && !spec.is_platform()) {
      if (!g.json) std::cerr << "  " << svc << " restarting (the platform restarted)\n";
      (void)StopProcess(*v.pid, spec.binary(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(kStopGrace));
      v.running = false;
    }
    if (v.running) {
      if (!g.json) std::cerr << "  " << svc << " already running (pid " << *v.pid << ")\n";
    } else {
      pid_t pid = 0;
      Status s = StartService(spec, *cfg, p, g.json, &pid);
      if (!s.ok()) FailError("cluster up", s.error());
      v.pid = pid;
      started = true;
      if (spec.is_platform()) platform_started = true;
      // The bootstrap password has been consumed (admin created or it
      // already existed); do not leave it on disk.
      if (svc == "auth" && FileExists(p.admin_password)) ::unlink(p.admin_password.c_str());
    }
    services.push_back({{"name", svc}, {"pid", *v.pid}, {"address", v.address},
                        {"started", started}});
  }
  // The cluster is up when the gateway serves through its attested port.
  // After a dependency restarted, a running gateway reports NOT_SERVING
  // until it has reconnected, so wait for it rather than probe once.
  {
    std::string detail;
    Progress progress("waiting for the gateway to serve", g.json);
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (!Probe(*topology::FindService("gateway"), *cfg, p, &detail)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        progress.Done("NOT HEALTHY");
        Fail("cluster up", "the gateway is running but not healthy: " + detail + "; see " +
                               p.LogFile("gateway"));
      }
      progress.Tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    progress.Done("SERVING");
  }
  if (g.json) {
    PrintJson({{"gateway", cfg->gateway_public},
               {"trust", p.trust},
               {"logs", p.logs},
               {"services", services}});
    return;
  }
  std::cout << "Cluster is up.\n"
            << "  gateway (public, attested): " << cfg->gateway_public << "\n"
            << "  trust file for clients:     " << p.trust << "\n"
            << "  logs:                       " << p.logs << "/<service>.log\n"
            << "Next: cloister login --user admin\n";
}

void RunClusterStatus(const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  auto cfg = ClusterConfig::Load(p.cluster_toml);
  if (!cfg.ok()) FailError("cluster status", cfg.error());
  nlohmann::json arr = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& spec : topology::Topology()) {
    const std::string svc(spec.name);
    ServiceView v = View(spec, *cfg, p, /*probe=*/true);
    arr.push_back({{"name", svc},
                   {"pid", v.running ? nlohmann::json(*v.pid) : nlohmann::json(nullptr)},
                   {"running", v.running},
                   {"address", v.address},
                   {"healthy", v.healthy},
                   {"health", v.health}});
    rows.push_back({svc, v.running ? std::to_string(*v.pid) : "-", v.running ? "yes" : "no",
                    v.address, v.health});
  }
  if (g.json) {
    PrintJson({{"home", p.home}, {"gateway", cfg->gateway_public}, {"services", arr}});
  } else {
    PrintTable({"SERVICE", "PID", "RUNNING", "ADDRESS", "HEALTH"}, rows);
  }
}

void RunClusterDown(const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  nlohmann::json arr = nlohmann::json::array();
  auto services = topology::Topology();
  for (auto it = services.rbegin(); it != services.rend(); ++it) {
    const std::string svc(it->name);
    auto pid = ReadPidFile(p.PidFile(svc));
    std::string outcome = "not running";
    if (pid && IsServiceProcess(*pid, it->binary())) {
      bool killed = StopProcess(*pid, it->binary(),
                                std::chrono::duration_cast<std::chrono::milliseconds>(kStopGrace));
      outcome = killed ? "killed (did not stop within 10 s)" : "stopped";
    }
    ::unlink(p.PidFile(svc).c_str());
    ::unlink(p.PortFile(svc).c_str());
    arr.push_back({{"name", svc}, {"outcome", outcome}});
    if (!g.json) std::cout << "  " << svc << ": " << outcome << "\n";
  }
  if (g.json) PrintJson({{"services", arr}});
}

void RunClusterLogs(const ClusterFlags& f, const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  if (topology::FindService(f.service) == nullptr)
    Fail("cluster logs", "unknown service '" + f.service + "' (" + topology::ServiceNames() + ")");
  if (!FileExists(p.LogFile(f.service)))
    Fail("cluster logs", "no log yet at " + p.LogFile(f.service));
  std::cout << LogTail(p.LogFile(f.service), f.lines);
}

}  // namespace cloister::cli
