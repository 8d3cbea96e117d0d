// `cloister audit show|verify` over the services' audit logs (segments and
// head under DIR/data/<service>/audit/): verify checks every chain and every
// checkpoint signature against trust.toml, naming the first problem by reason.
//
//   cloister audit show --service gateway --lines 20
//   cloister audit verify                          # every log of the cluster
//   cloister audit verify --file /backup/gateway.log
#include <filesystem>
#include <iostream>

#include "attestation/trust.h"
#include "cli/cluster_secret.h"
#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/session.h"
#include "common/fs.h"
#include "services/common/audit_attested.h"
#include "services/common/audit_verify.h"

namespace cloister::cli {
namespace {

namespace fs = std::filesystem;
using services::AuditVerifyReport;

struct AuditFlags {
  std::string service;
  std::vector<std::string> files;
  size_t lines = 0;  // 0: all
  bool all = false;
  std::string trust;
};

struct LogRef {
  std::string service;  // "" for --file: the segment headers say
  std::string base;
};

// Every audit log of the cluster (each service's <svc>.log), sorted.
std::vector<LogRef> ClusterAuditLogs(const ClusterPaths& p, const std::string& service) {
  std::vector<LogRef> logs;
  std::error_code ec;
  if (!fs::is_directory(p.data, ec)) return logs;
  for (const auto& svc_dir : fs::directory_iterator(p.data, ec)) {
    const std::string svc = svc_dir.path().filename().string();
    if (!service.empty() && svc != service) continue;
    for (const std::string& base : services::FindAuditLogs((svc_dir.path() / "audit").string()))
      logs.push_back({fs::path(base).filename().string() == svc + ".log" ? svc : "", base});
  }
  std::sort(logs.begin(), logs.end(), [](const LogRef& a, const LogRef& b) { return a.base < b.base; });
  return logs;
}

std::vector<LogRef> LogsToRead(const AuditFlags& f, const ClusterPaths& p, const char* cmd) {
  std::vector<LogRef> logs;
  if (f.files.empty()) logs = ClusterAuditLogs(p, f.service);
  for (const auto& file : f.files) logs.push_back({"", file});
  if (logs.empty()) Fail(cmd, "no audit logs under " + p.data);
  return logs;
}

// ---- show ----

void RunShow(const AuditFlags& f, const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  nlohmann::json all = nlohmann::json::array();
  for (const LogRef& ref : LogsToRead(f, p, "audit show")) {
    auto log = services::LoadAuditLog(ref.base);
    if (!log.ok()) FailError("audit show", log.error());
    for (const auto& seg : log->segments) {
      size_t n = 0, pos = 0;
      while (pos < seg.content.size()) {
        size_t nl = seg.content.find('\n', pos);
        if (nl == std::string::npos) nl = seg.content.size();
        const std::string_view line = std::string_view(seg.content).substr(pos, nl - pos);
        pos = nl + 1;
        ++n;
        // Lines are external input: shown only after the bounded parse.
        auto parsed = services::ParseAuditLine(line);
        if (!parsed.ok()) {
          all.push_back({{"unparsable_line", n}, {"file", seg.file}});
          continue;
        }
        if (parsed->kind != services::AuditLineKind::kEntry && !f.all) continue;
        auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) continue;
        if (j.contains("cert")) j["cert"] = std::to_string(parsed->cert.size()) + " base64 bytes";
        j["file"] = seg.file;
        all.push_back(std::move(j));
      }
    }
  }
  // Interleave the services' logs by time (each log is already in order).
  auto time_of = [](const nlohmann::json& e) -> int64_t {
    return e.contains("ts_ms") && e["ts_ms"].is_number() ? e["ts_ms"].get<int64_t>() : 0;
  };
  std::stable_sort(all.begin(), all.end(), [&](const nlohmann::json& a, const nlohmann::json& b) {
    return time_of(a) < time_of(b);
  });
  if (f.lines > 0 && all.size() > f.lines)
    all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(f.lines));
  if (g.json) {
    PrintJson(all);
    return;
  }
  auto str = [](const nlohmann::json& j, const char* k) -> std::string {
    if (!j.contains(k)) return "";
    return j[k].is_string() ? j[k].get<std::string>() : j[k].dump();
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : all) {
    const std::string kind = str(e, "kind");
    rows.push_back({str(e, "service"), str(e, "seq"), FormatUnix(time_of(e) / 1000),
                    kind.empty() ? str(e, "principal") : "(" + kind + ")",
                    kind.empty() ? str(e, "method") : str(e, "why"), str(e, "decision"),
                    str(e, "reason")});
  }
  PrintTable({"SERVICE", "SEQ", "TIME", "PRINCIPAL", "METHOD", "DECISION", "REASON"}, rows);
}

// ---- verify ----

struct Trust {
  std::shared_ptr<const attestation::TrustConfig> config;
  std::optional<SecretBytes> cluster_secret;
  // Per log: its directory's archived manifests judge older certificates.
  services::AuditSignerTrust For(const std::string& base) const {
    const fs::path dir = fs::path(base).has_parent_path() ? fs::path(base).parent_path() : ".";
    return services::AttestedSignerTrust(config, cluster_secret,
                                         services::ArchivedManifests(dir.string()));
  }
};

Trust LoadTrust(const AuditFlags& f, const ClusterPaths& p) {
  auto trust = attestation::TrustConfig::Load(f.trust.empty() ? p.trust : f.trust);
  if (!trust.ok())
    Fail("audit verify", "cannot check checkpoint signatures without the cluster's trust: " +
                             trust.error().ToString() + " (use --trust FILE)");
  Trust t;
  // Level 1 signs with a key derived from the cluster secret (no attested
  // key exists there); reading it is what lets this check those.
  if (trust->security_level < 2) {
    auto s = ReadFile(ClusterSecretPath(p), 64);
    if (s.ok()) t.cluster_secret = SecretBytes(AsBytes(*s));
  }
  t.config = std::make_shared<const attestation::TrustConfig>(*std::move(trust));
  return t;
}

nlohmann::json ReportJson(const LogRef& ref, const AuditVerifyReport& r) {
  nlohmann::json j = {{"file", ref.base},
                      {"service", r.service},
                      {"ok", r.ok},
                      {"entries", r.entries},
                      {"lines", r.lines},
                      {"segments", r.segments},
                      {"first_segment", r.first_segment},
                      {"last_segment", r.last_segment},
                      {"checkpoints", r.checkpoints},
                      {"signatures_checked", r.signatures_checked},
                      {"signed_through_seq", r.signed_through_seq},
                      {"unsigned_tail_lines", r.unsigned_tail_lines},
                      {"last_seq", r.last_seq},
                      {"closed", r.closed},
                      {"head", r.head},
                      {"head_seq", r.head_seq},
                      {"warnings", r.warnings}};
  if (!r.ok) {
    j["reason"] = r.reason;
    j["reasons"] = r.reasons;
    j["line"] = r.first_bad_line;
    j["bad_file"] = r.bad_file;
    j["problem"] = r.problem;
  }
  return j;
}

std::string Where(const AuditVerifyReport& r) {
  return r.first_bad_line >= 0 ? r.bad_file + ":" + std::to_string(r.first_bad_line) : r.bad_file;
}

void RunVerify(const AuditFlags& f, const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  const std::vector<LogRef> logs = LogsToRead(f, p, "audit verify");
  const Trust trust = LoadTrust(f, p);
  nlohmann::json arr = nlohmann::json::array();
  bool all_ok = true;
  uint64_t total = 0;
  std::string first_broken;
  for (const LogRef& ref : logs) {
    services::AuditVerifyOptions o;
    o.trust = trust.For(ref.base);
    o.require_signed = true;
    o.require_head = true;
    o.expected_service = ref.service;
    auto rep = services::VerifyAuditLog(ref.base, o);
    if (!rep.ok()) FailError("audit verify", rep.error());
    const AuditVerifyReport& r = *rep;
    total += r.entries;
    arr.push_back(ReportJson(ref, r));
    if (!r.ok) {
      all_ok = false;
      if (first_broken.empty()) first_broken = Where(r) + ": " + r.reason + ": " + r.problem;
    }
    if (g.json) continue;
    const std::string name = r.service.empty() ? ref.base : r.service;
    if (r.ok) {
      std::cout << "OK      " << name << "  " << r.segments << " segment(s), " << r.entries
                << " entries, " << r.checkpoints << " signed checkpoints; signed through seq "
                << r.signed_through_seq;
      if (r.unsigned_tail_lines > 0)
        std::cout << " (+" << r.unsigned_tail_lines << " line(s) after the last checkpoint)";
      std::cout << (r.closed ? "; closed cleanly" : "; open (running, or not shut down cleanly)")
                << "\n";
    } else {
      std::cout << "BROKEN  " << name << "  " << r.reason << " at " << Where(r) << ": "
                << r.problem << "\n";
    }
    for (const auto& w : r.warnings) std::cout << "        note: " << w << "\n";
  }
  if (g.json) PrintJson({{"ok", all_ok}, {"entries", total}, {"files", arr}});
  if (!all_ok) Fail("audit verify", "the audit trail is broken at " + first_broken);
  if (!g.json)
    std::cout << "audit verify: " << logs.size() << " log(s), " << total
              << " entries: every chain intact, every checkpoint "
              << (trust.config->security_level >= 2
                      ? "signed by an attested enclave of its service\n"
                      : "MACed under its service's cluster-secret key (level 1: no attested keys)\n");
}

CommandRegistrar reg("audit", [](CLI::App& app, Globals& g) {
  auto* audit = app.add_subcommand("audit", "the services' signed, hash-chained audit logs");
  audit->require_subcommand(1);
  auto flags = std::make_shared<AuditFlags>();

  auto* show = audit->add_subcommand("show", "print audit entries");
  show->add_option("--service,-s", flags->service, "only this service (gateway, auth, exec)");
  show->add_option("--file", flags->files, "read these logs (a base path or one file) instead");
  show->add_option("--lines,-n", flags->lines, "only the last N entries");
  show->add_flag("--all", flags->all, "also segment headers, signer lines and checkpoints");
  show->add_flag("--json", g.json, "machine-readable output");
  show->callback([flags, &g] { RunShow(*flags, g); });

  auto* verify = audit->add_subcommand(
      "verify", "check every chain, segment and checkpoint signature; exit 1 naming the first "
                "problem");
  verify->add_option("--service,-s", flags->service, "only this service");
  verify->add_option("--file", flags->files,
                     "verify these logs (a base path such as backup/gateway.log, or one "
                     "segment file) instead of the cluster's");
  verify->add_option("--trust", flags->trust, "trust.toml to check signatures with (default: "
                                              "the cluster's)");
  verify->add_flag("--json", g.json, "machine-readable output");
  verify->callback([flags, &g] { RunVerify(*flags, g); });
});

}  // namespace
}  // namespace cloister::cli
