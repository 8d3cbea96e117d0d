// `cloister cluster init|manifest|up|status|down|logs|accept-restore`: a single-node
// attested cluster in one directory (--home; layout in cli/session.h).
//
//   cloister cluster init            # platform state, auditors, signed manifest, trust, admin
//   cloister cluster up              # starts what is not running, waits until healthy
//   cloister --json cluster status
//   cloister cluster manifest        # after a rebuild: re-measure and re-sign the binaries
//   cloister cluster down
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "attestation/enclave_config.h"
#include "attestation/manifest.h"
#include "attestation/platform/platform_client.h"
#include "attestation/platform/platform_state.h"
#include "attestation/trust.h"
#include "cli/cluster_restore.h"
#include "cli/cluster_secret.h"
#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/release_svn.h"
#include "cli/service_config.h"
#include "cli/service_process.h"
#include "cli/session.h"
#include "common/crypto/keys.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "gateway/filters/authorize/policy.h"
#include "proto/method_table.h"
#include "sdk/cloister_client.h"
#include "services/topology/service_spec.h"

namespace cloister::cli {
namespace {

namespace fs = std::filesystem;
using topology::Health;
using topology::ServiceSpec;

constexpr int kAuditors = 3;
constexpr int kAuditorThreshold = 2;
constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(10);

struct ClusterFlags {
  int security_level = 2;
  bool force = false;
  bool refresh_manifest = false;
  int gateway_port = topology::FindService("gateway")->default_port;
  std::string policy;
  std::string service;  // logs
  size_t lines = 50;
};

// The rule for finding the service binaries (docs/operations.md): they live
// next to the `cloister` binary — build/bin in a build tree, PREFIX/bin
// after `cmake --install`. Nothing else is looked up on disk: the default
// gateway policy is built in.
std::string BinDir() {
  auto self = SelfExePath();
  if (!self.ok()) return ".";
  return fs::path(*self).parent_path().string();
}
std::string BinaryPath(const ServiceSpec& s) { return BinDir() + "/" + s.binary(); }

// Binaries of the topology that are not next to `cloister`.
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

// The gateway policy cluster init writes: a copy of --policy (checked), or
// the built-in default rendered as a commented file operators can edit.
Result<std::string> PolicyText(const std::string& flag) {
  if (flag.empty()) return gateway::Policy::ToToml(gateway::Policy::Default());
  CLOISTER_ASSIGN_OR_RETURN(std::string text, ReadFile(flag, 1 << 20));
  std::vector<std::string> known;
  for (const auto& m : rpc::MethodTable::Get().PublicNames()) known.push_back(m);
  CLOISTER_RETURN_IF_ERROR(gateway::Policy::Parse(text, flag, known).status());
  return text;
}

Result<std::vector<crypto::PrivateKey>> LoadAuditorKeys(const ClusterPaths& p) {
  std::vector<crypto::PrivateKey> keys;
  for (int i = 1; i <= kAuditors; ++i) {
    std::string path = p.auditors + "/auditor-" + std::to_string(i) + ".key";
    if (!FileExists(path)) continue;
    CLOISTER_RETURN_IF_ERROR(CheckPrivateFile(path));
    CLOISTER_ASSIGN_OR_RETURN(std::string pem, ReadFile(path, 1 << 16));
    CLOISTER_ASSIGN_OR_RETURN(crypto::PrivateKey k, crypto::PrivateKey::FromPem(pem));
    keys.push_back(std::move(k));
  }
  if (static_cast<int>(keys.size()) < kAuditorThreshold)
    return FailedPrecondition("fewer than " + std::to_string(kAuditorThreshold) +
                              " auditor private keys in " + p.auditors);
  return keys;
}

struct ManifestOutcome {
  nlohmann::json entries = nlohmann::json::array();
  std::vector<std::string> missing;
};

std::vector<std::string> ArgvFor(const ServiceSpec& s, const ClusterConfig& c,
                                 const ClusterPaths& p);

// Measures every service binary found next to `cloister`, asks each for
// the configuration it will run with in this cluster (cli/service_config.h),
// and signs both with the dev auditor keys. Needs trust.toml, the policy
// and cluster.toml in place: the services read them to compute their
// configuration.
Result<ManifestOutcome> WriteManifest(const ClusterPaths& p, const ClusterConfig& cfg) {
  attestation::ManifestBody body;
  body.set_version(attestation::kManifestVersion);
  body.set_created_unix(::time(nullptr));
  body.set_cluster_id(cfg.cluster_id);
  ManifestOutcome out;
  std::vector<std::string> bins;  // their shared libraries become reference values
  std::vector<const ServiceSpec*> measured;
  for (const auto& spec : topology::Topology()) {
    const std::string svc(spec.name);
    std::string bin = BinaryPath(spec);
    if (!FileExists(bin)) {
      out.missing.push_back(bin);
      continue;
    }
    bins.push_back(bin);
    measured.push_back(&spec);
    CLOISTER_ASSIGN_OR_RETURN(attestation::ManifestEntry e,
                              attestation::MakeManifestEntry(svc, bin, spec.product_id,
                                                             ReleaseSvn()));
    e.set_min_svn(ReleaseMinSvn());  // release/svn, release/min_svn
    out.entries.push_back({{"name", svc},
                           {"binary", bin},
                           {"measurement", HexEncode(AsBytes(e.measurement()))}});
    *body.add_entries() = std::move(e);
  }
  CLOISTER_RETURN_IF_ERROR(attestation::AddLibraryReferences(body, bins));
  CLOISTER_ASSIGN_OR_RETURN(auto keys, LoadAuditorKeys(p));
  // Two passes: the services load trust.toml (and so this manifest) to
  // compute their configuration, which depends on the cluster id and the
  // auditors but not on the list of configurations itself.
  CLOISTER_ASSIGN_OR_RETURN(Bytes first, attestation::SignManifest(body, keys));
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(p.manifest, first, 0644));
  for (size_t i = 0; i < measured.size(); ++i) {
    const ServiceSpec& spec = *measured[i];
    if (spec.is_platform()) continue;  // the platform is not an enclave
    if (cfg.Address(std::string(spec.name)).empty()) continue;  // no port yet: `cluster up`
    CLOISTER_ASSIGN_OR_RETURN(ServiceConfigText c,
                              AskServiceConfig(ArgvFor(spec, cfg, p), p.run));
    auto* ref = body.add_configs();
    ref->set_role(std::string(spec.name));
    ref->set_config_id(c.config_id.data(), c.config_id.size());
    ref->set_text(c.text);
    for (auto& e : out.entries)
      if (e["name"] == spec.name) e["config_id"] = HexEncode(c.config_id);
  }
  CLOISTER_ASSIGN_OR_RETURN(Bytes signed_manifest, attestation::SignManifest(body, keys));
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(p.manifest, signed_manifest, 0644));
  return out;
}

Status WriteTrust(const ClusterPaths& p, int level) {
  std::string t = "# What every enclave and client of this cluster trusts.\n[attestation]\n";
  t += "root_ca = \"platform-state/platform/root.pem\"\n";
  t += "manifest = \"manifest.bin\"\n";
  t += "auditor_keys = [";
  for (int i = 1; i <= kAuditors; ++i)
    t += std::string(i > 1 ? ", " : "") + "\"auditors/auditor-" + std::to_string(i) + ".pub\"";
  t += "]\n";
  t += "auditor_threshold = " + std::to_string(kAuditorThreshold) + "\n";
  t += "security_level = " + std::to_string(level) + "\n";
  t += "allow_debug = false\n";
  t += "quote_max_age_s = 600\n";
  t += "platform_socket = \"" + p.platform_socket + "\"\n";
  return WriteFileAtomic(p.trust, t, 0644);
}

// 24 characters from a 64-symbol alphabet: 144 bits.
std::string GeneratePassword() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_+=.,@%";
  Bytes r = crypto::RandomBytes(24);
  std::string s;
  for (uint8_t b : r) s += kAlphabet[b % 64];
  return s;
}

bool AnyRunning(const ClusterPaths& p) {
  for (const auto& s : topology::Topology()) {
    auto pid = ReadPidFile(p.PidFile(std::string(s.name)));
    if (pid && IsServiceProcess(*pid, s.binary())) return true;
  }
  return false;
}

void PrintManifest(const ManifestOutcome& m) {
  for (const auto& e : m.entries)
    std::cout << "  " << e["name"].get<std::string>() << "  "
              << e["measurement"].get<std::string>().substr(0, 16) << "…  "
              << e["binary"].get<std::string>() << "\n";
  for (const auto& miss : m.missing)
    std::cerr << "warning: " << miss << " not found: not in the manifest (build it, then run "
              << "`cloister cluster manifest`)\n";
}

void RunInit(const ClusterFlags& f, const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  if (auto missing = MissingBinaries(); !missing.empty())
    FailMissingBinaries(f.refresh_manifest ? "cluster manifest" : "cluster init", missing);
  if (f.refresh_manifest) {
    auto cfg = ClusterConfig::Load(p.cluster_toml);
    if (!cfg.ok()) FailError("cluster manifest", cfg.error());
    if (cfg->cluster_id.empty()) {
      // A cluster made before cluster ids: give it one now.
      cfg->cluster_id = HexEncode(crypto::RandomBytes(16));
      if (auto st = cfg->Save(p.cluster_toml); !st.ok()) FailError("cluster manifest", st.error());
    }
    auto m = WriteManifest(p, *cfg);
    if (!m.ok()) FailError("cluster init", m.error());
    if (g.json) {
      PrintJson({{"manifest", p.manifest}, {"entries", m->entries}, {"missing", m->missing}});
    } else {
      std::cout << "Re-measured and re-signed " << p.manifest << ":\n";
      PrintManifest(*m);
      std::cout << "Restart running services (`cloister cluster down && cloister cluster up`).\n";
    }
    return;
  }
  if (FileExists(p.cluster_toml) && !f.force)
    Fail("cluster init", "a cluster already exists in " + g.home +
                             " (use `cloister cluster manifest` after a rebuild, or --force to "
                             "start over, which destroys its data)");
  if (f.force && AnyRunning(p))
    Fail("cluster init", "the cluster in " + g.home + " is running; `cloister cluster down` first");

  auto check = [](const Status& s) {
    if (!s.ok()) FailError("cluster init", s.error());
  };
  check(MakeDirs(p.home, 0700));
  if (f.force) {
    std::error_code ec;
    for (const auto& d : {p.data, p.run, p.logs, p.secrets}) fs::remove_all(d, ec);
    fs::remove(p.session, ec);
  }
  for (const auto& d : {p.run, p.logs, p.data, p.secrets}) check(MakeDirs(d, 0700));
  check(MakeDirs(p.auditors, 0755));
  check(CreateClusterSecret(p));  // level 1's grant key (cli/cluster_secret.h)

  attestation::PlatformInitOptions popts;
  popts.force = f.force;
  auto platform = attestation::InitPlatform(p.platform_state, popts);
  if (!platform.ok()) FailError("cluster init", platform.error());

  // Dev cluster: the auditors' private keys sit next to the cluster so
  // `cluster manifest` can re-sign after a rebuild. In production each
  // auditor keeps their key elsewhere and signs the manifest themselves.
  for (int i = 1; i <= kAuditors; ++i) {
    auto k = crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
    if (!k.ok()) FailError("cluster init", k.error());
    std::string base = p.auditors + "/auditor-" + std::to_string(i);
    check(WriteFileAtomic(base + ".pub", k->public_key().Pem(), 0644));
    check(WriteFileAtomic(base + ".key", k->Pem().view(), 0600));
  }
  check(WriteTrust(p, f.security_level));
  auto policy_text = PolicyText(f.policy);
  if (!policy_text.ok()) FailError("cluster init", policy_text.error());
  check(WriteFileAtomic(p.policy, *policy_text, 0644));

  ClusterConfig cfg;
  cfg.cluster_id = HexEncode(crypto::RandomBytes(16));
  cfg.security_level = f.security_level;
  auto port = [&](int preferred) {
    auto r = PickPort("127.0.0.1", preferred);
    if (!r.ok()) FailError("cluster init", r.error());
    return "127.0.0.1:" + std::to_string(*r);
  };
  cfg.gateway_public = port(f.gateway_port);
  for (const auto& s : topology::Topology())
    if (!s.is_platform() && !s.is_public()) cfg.listen[std::string(s.name)] = port(s.default_port);
  check(cfg.Save(p.cluster_toml));

  // Last: the services compute their configuration from the files above.
  auto manifest = WriteManifest(p, cfg);
  if (!manifest.ok()) FailError("cluster init", manifest.error());

  // The admin password reaches cloister-auth through a 0600 file at the
  // first `cluster up`, which deletes it once auth has started.
  const std::string password = GeneratePassword();
  check(WriteFileAtomic(p.admin_password, password + "\n", 0600));

  if (g.json) {
    PrintJson({{"home", p.home},
               {"gateway", cfg.gateway_public},
               {"trust", p.trust},
               {"security_level", cfg.security_level},
               {"platform_id", platform->platform_id_hex},
               {"manifest", manifest->entries},
               {"missing_binaries", manifest->missing},
               {"policy", p.policy},
               {"admin_user", "admin"},
               {"admin_password", password}});
    return;
  }
  std::cout << "Initialized a Cloister cluster in " << p.home << " (security level "
            << cfg.security_level << ")\n"
            << "  platform id:   " << platform->platform_id_hex << "\n"
            << "  auditors:      " << kAuditors << " Ed25519 keys, threshold "
            << kAuditorThreshold << " (" << p.auditors << ")\n"
            << "  manifest:      " << p.manifest << "\n";
  PrintManifest(*manifest);
  std::cout << "  trust:         " << p.trust << "\n"
            << "  gateway:       " << cfg.gateway_public
            << (f.gateway_port == 0 ||
                        cfg.gateway_public.ends_with(":" + std::to_string(f.gateway_port))
                    ? ""
                    : " (port " + std::to_string(f.gateway_port) + " was busy)")
            << "\n";
  std::cout << "  policy:        " << p.policy
            << (f.policy.empty() ? " (the built-in default; edit to change)" : "") << "\n";
  std::cout << "\nDEV CLUSTER: the attestation root key and the auditors' private keys are "
               "stored\nin this directory (0600). In production keep them offline.\n\n"
            << "Admin user:     admin\n"
            << "Admin password: " << password << "\n"
            << "(shown once; it is applied at the first `cloister cluster up`)\n\n"
            << "Next: cloister cluster up\n";
}

// ---- up / status / down ----

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

// A service's command line, from its topology entry: the common flags of
// every enclave, its storage, and for the gateway one --<name>-addr per
// backend it forwards to.
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

void RunUp(const Globals& g) {
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

void RunStatus(const Globals& g) {
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

void RunDown(const Globals& g) {
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

void RunLogs(const ClusterFlags& f, const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  if (topology::FindService(f.service) == nullptr)
    Fail("cluster logs", "unknown service '" + f.service + "' (" + topology::ServiceNames() + ")");
  if (!FileExists(p.LogFile(f.service)))
    Fail("cluster logs", "no log yet at " + p.LogFile(f.service));
  std::cout << LogTail(p.LogFile(f.service), f.lines);
}

CommandRegistrar reg("cluster", [](CLI::App& app, Globals& g) {
  auto* cluster = app.add_subcommand("cluster", "a single-node attested cluster in --home");
  cluster->require_subcommand(1);
  auto flags = std::make_shared<ClusterFlags>();

  auto* init = cluster->add_subcommand(
      "init", "create platform state, auditor keys, signed manifest, trust.toml, admin user");
  init->add_option("--security-level", flags->security_level, "cluster security level 1..5")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  init->add_flag("--force", flags->force, "start over: replaces everything, destroys its data");
  init->add_flag("--refresh-manifest", flags->refresh_manifest,
                 "only re-measure and re-sign the service binaries (after a rebuild)");
  init->add_option("--gateway-port", flags->gateway_port,
                   "public gateway port on 127.0.0.1 (a free one is chosen if busy; 0: any)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  init->add_option("--policy", flags->policy,
                   "gateway policy to copy (checked; default: the built-in policy)");
  init->add_flag("--json", g.json, "machine-readable output (includes the admin password)");
  init->callback([flags, &g] { RunInit(*flags, g); });

  auto* manifest = cluster->add_subcommand(
      "manifest", "re-measure and re-sign the service binaries (after a rebuild)");
  manifest->add_flag("--json", g.json, "machine-readable output");
  manifest->callback([flags, &g] {
    ClusterFlags f = *flags;
    f.refresh_manifest = true;
    RunInit(f, g);
  });

  auto* up = cluster->add_subcommand(
      "up", "start every service that is not running and wait until the cluster is healthy");
  up->add_flag("--json", g.json, "machine-readable output");
  up->callback([&g] { RunUp(g); });

  auto* status = cluster->add_subcommand("status", "each service: pid, running, address, health");
  status->add_flag("--json", g.json, "machine-readable output");
  status->callback([&g] { RunStatus(g); });

  auto* down = cluster->add_subcommand("down", "stop all services (SIGTERM, SIGKILL after 10 s)");
  down->add_flag("--json", g.json, "machine-readable output");
  down->callback([&g] { RunDown(g); });

  auto* logs = cluster->add_subcommand("logs", "print the end of a service's log");
  logs->add_option("service", flags->service, "a service: " + topology::ServiceNames())->required();
  logs->add_option("--lines,-n", flags->lines, "number of lines")->capture_default_str();
  logs->callback([flags, &g] { RunLogs(*flags, g); });

  auto* restore = cluster->add_subcommand(
      "accept-restore",
      "accept, at the service's next start, a database older than the platform counter "
      "(after restoring a backup; refused as ROLLBACK_DETECTED otherwise)");
  restore->add_option("service", flags->service, "auth or keyvault")->required();
  restore->add_flag("--json", g.json, "machine-readable output");
  restore->callback([flags, &g] { RunAcceptRestore(flags->service, g); });
});

}  // namespace
}  // namespace cloister::cli
