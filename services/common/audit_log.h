// The append-only audit log writer (docs/design.md §4; line format in
// audit_format.h, design in docs/architecture.md "The audit trail"). A failed
// append fails the request: audit fails closed, as Vault's does.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto log, AuditLog::Open(path, "gateway", resource_key, options));
//   CLOISTER_RETURN_IF_ERROR(log->Append({.principal = uid, .method = m, .decision = "allow"}));
//   auto report = VerifyAuditLog(path);   // audit_verify.h: names the first broken line
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/secret.h"
#include "common/sys/unique_fd.h"
#include "services/common/audit_signer.h"
#include "services/common/audit_verify.h"

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
  // Checkpoints are always synced before the head records them.
  bool sync_each = true;
  int interval_ms = 10;
  static Result<AuditSyncPolicy> Parse(std::string_view mode);  // "always" | "interval"
};

struct AuditLogOptions {
  AuditSyncPolicy sync;
  // Both set: the sealed (keyed, signed, segmented) log. Neither: plain.
  SecretBytes chain_key;                      // ≥ 32 bytes
  std::shared_ptr<const AuditSigner> signer;
  uint64_t checkpoint_every_entries = 1000;
  int64_t checkpoint_every_ms = 10'000;       // when entries were written since the last
  uint64_t segment_max_bytes = 64ull << 20;
  uint64_t segment_max_entries = 1'000'000;
};

// What Open read, for tests and the start-up log line.
struct AuditOpenStats {
  uint64_t segment = 0;
  uint64_t tail_bytes_read = 0;
  uint64_t tail_lines = 0;
  bool migrated_plain_log = false;
};

// Sealed (services, ServiceRunner::OpenAudit): every line is also MAC'd
// under a chain key only the enclave holds; every N entries, every T seconds
// while entries come in, at rotation and at clean shutdown a checkpoint
// signed with the enclave's attested key covers everything before it; the
// log rotates into segments <path>.000001, ... (<path> links to the current
// one) and <path>.head repeats the latest checkpoint, so a cut tail shows.
// Plain (no chain key: other components' tests): one hash-chained file.
// Entries never hold data or key material; resource identifiers are HMAC'd
// with the resource key.
class AuditLog {
 public:
  // Sealed: continues the newest segment after checking its tail (chain,
  // MACs) against the head; refuses (DataLoss, a reason of audit_reason::)
  // a tail that does not verify or a log shorter than its head. A plain
  // log at `path` from before segments becomes segment 0.
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, std::string service,
                                                SecretBytes resource_key, AuditLogOptions options);
  // Plain: one file, re-verified whole at open.
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& path, std::string service,
                                                SecretBytes hmac_key, AuditSyncPolicy sync = {});
  // Sealed: writes a final checkpoint (a clean shutdown).
  ~AuditLog();

  // Thread-safe. Durable (fdatasync) when it returns OK in "always" mode.
  // Concurrent appends share syncs (group commit): each waits only until a
  // sync that started after its own write has finished.
  Status Append(const AuditEntry& entry);
  // Sealed: signs a checkpoint now (if anything was written since the last).
  Status Checkpoint();
  // Sealed: verifies every segment up to now with the chain key (MACs as
  // well as hashes and checkpoint structure), as only the service can.
  Result<AuditVerifyReport> VerifyKeyed() const;
  uint64_t next_seq() const;
  const AuditOpenStats& open_stats() const { return stats_; }

  struct Key {
    explicit Key() = default;
  };
  AuditLog(Key, std::string path, std::string service, SecretBytes resource_key,
           AuditLogOptions options);

 private:
  bool sealed() const { return !opts_.chain_key.empty(); }
  Status OpenPlain();
  Status OpenSealed();
  Status Recover(uint64_t segment);
  Status CheckHead(const std::vector<AuditLine>& tail, bool whole_segment, uint64_t segment);
  Status ContinuePlain(const std::string& file);
  Status MigratePlain();
  // All *Locked: mu_ held (the constructor and Open count as holding it).
  Status WriteLocked(const nlohmann::ordered_json& body, bool entry, std::string* text = nullptr);
  Status WriteSignerLocked(std::string_view why);
  Status CheckpointLocked(std::string_view why, bool final);
  Status CreateSegmentLocked(uint64_t n, std::string_view why);
  Status RotateLocked(std::unique_lock<std::mutex>* lock);
  Status SyncLocked();
  void Background();

  mutable std::mutex mu_;
  std::condition_variable synced_cv_;
  // Set once: path_, service_, resource_key_, opts_.
  std::string path_;
  std::string service_;
  SecretBytes resource_key_;
  AuditLogOptions opts_;
  AuditOpenStats stats_;
  uint64_t written_ = 0;  // writes made (not yet necessarily synced); guarded by mu_
  uint64_t synced_ = 0;   // writes covered by a finished sync; guarded by mu_
  bool syncing_ = false;  // an fdatasync of fd_ runs outside the lock; guarded by mu_
  bool broken_ = false;   // a write, sync or checkpoint failed: refuse all after; guarded by mu_
  sys::UniqueFd fd_;      // guarded by mu_ (replaced only while !syncing_)
  uint64_t seq_ = 0;      // the next line's seq; guarded by mu_
  std::string prev_;      // hex hash of the last line; guarded by mu_
  std::string prev_mac_;  // hex MAC of the last line (sealed); guarded by mu_
  uint64_t segment_ = 0, segment_bytes_ = 0, segment_entries_ = 0;  // guarded by mu_
  uint64_t entries_since_cp_ = 0, lines_since_cp_ = 0;              // guarded by mu_
  std::chrono::steady_clock::time_point last_cp_;                   // guarded by mu_
  std::string signer_line_;  // the latest signer line: the head repeats it; guarded by mu_
  bool stop_ = false;        // guarded by mu_
  std::thread background_;   // interval syncs and timed checkpoints; started by Open
};

}  // namespace cloister::services
