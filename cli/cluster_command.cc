// `cloister cluster init|manifest|up|status|down|logs|accept-restore`: a single-node
// attested cluster in one directory (--home; layout in cli/session.h). This file:
// init, manifest and the subcommands' wiring; up/status/down/logs are in
// cluster_lifecycle.cc, accept-restore in cluster_restore.cc.
//
//   cloister cluster init            # platform state, auditors, signed manifest, trust, admin
//   cloister cluster up              # starts what is not running, waits until healthy
//   cloister --json cluster status
//   cloister cluster manifest        # after a rebuild: re-measure and re-sign the binaries
//   cloister cluster down
#include <ctime>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "attestation/enclave_config.h"
#include "attestation/manifest.h"
#include "attestation/platform/platform_state.h"
#include "cli/cluster_lifecycle.h"
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
#include "services/topology/service_spec.h"

namespace cloister::cli {
namespace {

namespace fs = std::filesystem;
using topology::ServiceSpec;

constexpr int kAuditors = 3;
constexpr int kAuditorThreshold = 2;

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
  up->callback([&g] { RunClusterUp(g); });

  auto* status = cluster->add_subcommand("status", "each service: pid, running, address, health");
  status->add_flag("--json", g.json, "machine-readable output");
  status->callback([&g] { RunClusterStatus(g); });

  auto* down = cluster->add_subcommand("down", "stop all services (SIGTERM, SIGKILL after 10 s)");
  down->add_flag("--json", g.json, "machine-readable output");
  down->callback([&g] { RunClusterDown(g); });

  auto* logs = cluster->add_subcommand("logs", "print the end of a service's log");
  logs->add_option("service", flags->service, "a service: " + topology::ServiceNames())->required();
  logs->add_option("--lines,-n", flags->lines, "number of lines")->capture_default_str();
  logs->callback([flags, &g] { RunClusterLogs(*flags, g); });

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