// An append-only, hash-chained audit log (docs/design.md §4). One JSON object
// per line:
//   {"seq":N,"ts_ms":...,"service":"gateway","principal":"u-…","method":"/…",
//    "decision":"allow|deny","reason":"…","request_id":"…","resources":["hmac…"],
//    "prev":"<hex>","hash":"<hex>"}
// hash = SHA-256(prev ‖ canonical line without "hash"). Entries never hold
// data or key material; resource identifiers are HMAC'd with the log's key.
// Append fsyncs before returning; a failed append fails the request
// (audit fails closed, as Vault's does).
//
//   CLOISTER_ASSIGN_OR_RETURN(auto log, AuditLog::Open(path, "gateway", hmac_key));
//   CLOISTER_RETURN_IF_ERROR(log->Append({.principal = uid, .method = m, .decision = "allow"}));
//   auto report = VerifyAuditLog(path);   // names the first broken entry
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/secret.h"

namespace cloister::services {

struct AuditEntry {
  std::string principal;   // user id or "anonymous" or "service:<role>"
  std::string method;
  std::string decision;    // "allow" | "deny"
  std::string reason;      // refusal reason or ""
  std::string request_id;
  std::vector<std::string> resources;  // HMAC'd before writing
  std::string peer;        // client address or peer role
};

// When an appended entry is made durable.
struct AuditSyncPolicy {
  // true ("always", the default): Append returns only after an fdatasync
  // that covers the entry (group commit). false ("interval"): Append returns
  // after write() — the entry survives a crash of the process (kill -9) —
  // and a background thread syncs every `interval_ms`; a power loss may
  // lose the last interval. Write and sync errors fail closed either way.
  bool sync_each = true;
  int interval_ms = 10;
  static Result<AuditSyncPolicy> Parse(std::string_view mode);  // "always" | "interval"
};

class AuditLog {
 public:
  // Opens (creating 0600) and re-reads the tail to continue the chain;
  // DataLoss if the existing file's last line is broken.
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, std::string service,
                                                SecretBytes hmac_key,
                                                AuditSyncPolicy sync = {});
  ~AuditLog();

  // Thread-safe. Durable (fdatasync) when it returns OK. Concurrent appends
  // share syncs (group commit): each waits only until a sync that started
  // after its own write has finished.
  Status Append(const AuditEntry& entry);
  uint64_t next_seq() const;

  struct Key {
    explicit Key() = default;
  };
  AuditLog(Key, std::string path, std::string service, SecretBytes key, int fd, uint64_t seq,
           std::string prev, AuditSyncPolicy sync);

 private:
  mutable std::mutex mu_;
  std::condition_variable synced_cv_;
  // All below guarded by mu_ (path_, service_ and key_ are set once).
  uint64_t written_seq_ = 0;   // entries written (not yet necessarily synced)
  uint64_t synced_seq_ = 0;    // entries covered by a finished sync
  bool syncing_ = false;
  bool broken_ = false;        // a write or sync failed: refuse everything after
  std::string path_;
  std::string service_;
  SecretBytes key_;
  int fd_;
  uint64_t seq_;
  std::string prev_;  // hex
  AuditSyncPolicy sync_;
  bool stop_ = false;
  std::thread flusher_;        // interval mode only
  void FlushLoop();
};

struct AuditVerifyReport {
  bool ok = false;
  uint64_t entries = 0;
  int64_t first_bad_line = -1;  // 1-based line number of the first broken entry
  std::string problem;          // what is wrong with it
};

// Re-computes the chain. Detects edited, deleted, inserted and reordered
// entries (seq gaps, prev/hash mismatch).
Result<AuditVerifyReport> VerifyAuditLog(const std::string& path);

}  // namespace cloister::services
