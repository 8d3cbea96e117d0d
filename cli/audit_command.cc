// `cloister audit show|verify`: reads and checks the services' hash-chained
// audit logs (DIR/data/<service>/audit/*.log; format in
// services/common/audit_log.h). `verify` exits 1 and names the first broken
// entry (file, line, problem) after an edit, deletion, insertion or reorder.
//
//   cloister audit show --service gateway --lines 20
//   cloister audit verify                       # every log of the cluster
//   cloister audit verify --file copy.log       # a log copied elsewhere
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/command_registry.h"
#include "cli/output.h"
#include "cli/session.h"
#include "common/fs.h"
#include "services/common/audit_log.h"

namespace cloister::cli {
namespace {

namespace fs = std::filesystem;

struct AuditFlags {
  std::string service;
  std::vector<std::string> files;
  size_t lines = 0;  // 0: all
};

// Every audit log of the cluster, sorted for a stable order.
std::vector<std::string> ClusterAuditLogs(const ClusterPaths& p, const std::string& service) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(p.data, ec)) return files;
  for (const auto& svc_dir : fs::directory_iterator(p.data, ec)) {
    if (!service.empty() && svc_dir.path().filename() != service) continue;
    fs::path audit = svc_dir.path() / "audit";
    if (!fs::is_directory(audit, ec)) continue;
    for (const auto& f : fs::directory_iterator(audit, ec))
      if (f.path().extension() == ".log") files.push_back(f.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void RunShow(const AuditFlags& f, const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  std::vector<std::string> files = f.files.empty() ? ClusterAuditLogs(p, f.service) : f.files;
  if (files.empty()) Fail("audit show", "no audit logs under " + p.data);
  nlohmann::json all = nlohmann::json::array();
  for (const auto& file : files) {
    auto text = ReadFile(file, 1ull << 32);
    if (!text.ok()) FailError("audit show", text.error());
    std::istringstream in(*text);
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object()) {
        j = {{"unparsable_line", n}};
      }
      j["file"] = file;
      all.push_back(std::move(j));
    }
  }
  // Interleave the services' logs by time (each file is already in order).
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
    int64_t ts = e.contains("ts_ms") && e["ts_ms"].is_number() ? e["ts_ms"].get<int64_t>() : 0;
    rows.push_back({str(e, "service"), str(e, "seq"), FormatUnix(ts / 1000), str(e, "principal"),
                    str(e, "method"), str(e, "decision"), str(e, "reason")});
  }
  PrintTable({"SERVICE", "SEQ", "TIME", "PRINCIPAL", "METHOD", "DECISION", "REASON"}, rows);
}

void RunVerify(const AuditFlags& f, const Globals& g) {
  const ClusterPaths p = ClusterPaths::For(g.home);
  std::vector<std::string> files = f.files.empty() ? ClusterAuditLogs(p, f.service) : f.files;
  if (files.empty()) Fail("audit verify", "no audit logs under " + p.data);
  nlohmann::json arr = nlohmann::json::array();
  bool all_ok = true;
  uint64_t total = 0;
  std::string first_broken;
  for (const auto& file : files) {
    auto rep = services::VerifyAuditLog(file);
    nlohmann::json r = {{"file", file}};
    if (!rep.ok()) {
      r["ok"] = false;
      r["problem"] = rep.error().ToString();
      all_ok = false;
      if (first_broken.empty()) first_broken = file + ": " + rep.error().ToString();
    } else {
      r["ok"] = rep->ok;
      r["entries"] = rep->entries;
      total += rep->entries;
      if (!rep->ok) {
        r["line"] = rep->first_bad_line;
        r["problem"] = rep->problem;
        all_ok = false;
        if (first_broken.empty())
          first_broken = file + ":" + std::to_string(rep->first_bad_line) + ": " + rep->problem;
      }
    }
    arr.push_back(r);
    if (!g.json) {
      if (r["ok"].get<bool>())
        std::cout << "OK      " << file << " (" << r["entries"].get<uint64_t>() << " entries)\n";
      else if (r.contains("line"))
        std::cout << "BROKEN  " << file << " line " << r["line"].get<int64_t>() << ": "
                  << r["problem"].get<std::string>() << "\n";
      else
        std::cout << "BROKEN  " << file << ": " << r["problem"].get<std::string>() << "\n";
    }
  }
  if (g.json) PrintJson({{"ok", all_ok}, {"entries", total}, {"files", arr}});
  if (!all_ok) Fail("audit verify", "the audit trail is broken at " + first_broken);
  if (!g.json)
    std::cout << "audit verify: " << files.size() << " log(s), " << total
              << " entries, every hash chain intact\n";
}

CommandRegistrar reg("audit", [](CLI::App& app, Globals& g) {
  auto* audit = app.add_subcommand("audit", "the services' hash-chained audit logs");
  audit->require_subcommand(1);
  auto flags = std::make_shared<AuditFlags>();

  auto* show = audit->add_subcommand("show", "print audit entries");
  show->add_option("--service,-s", flags->service, "only this service (gateway, auth, exec)");
  show->add_option("--file", flags->files, "read these log files instead of the cluster's");
  show->add_option("--lines,-n", flags->lines, "only the last N entries");
  show->add_flag("--json", g.json, "machine-readable output");
  show->callback([flags, &g] { RunShow(*flags, g); });

  auto* verify = audit->add_subcommand(
      "verify", "re-compute every hash chain; exit 1 naming the first broken entry");
  verify->add_option("--service,-s", flags->service, "only this service");
  verify->add_option("--file", flags->files, "verify these log files instead of the cluster's");
  verify->add_flag("--json", g.json, "machine-readable output");
  verify->callback([flags, &g] { RunVerify(*flags, g); });
});

}  // namespace
}  // namespace cloister::cli
