// Integrity and freshness of a service's security-relevant rows at rest
// (issue 11): who is admin, who owns a key, which grants exist, which tokens
// are revoked. SQLite rows are plain bytes anyone with the file can edit, and
// a whole file can be put back to an older copy; this layer makes both
// detectable and refuses by name instead of acting on them.
//
//   * Every protected row carries row_mac = HMAC-SHA256(K, table ‖ columns),
//     K a random key sealed to the service's signer (attestation/sealer.h)
//     and stored sealed in the database (table cloister_integrity).
//   * Every read of a protected table goes through the TEMP view
//     <table>_checked, which checks each row's MAC, so a changed row fails
//     the statement with DataLoss [ROW_INTEGRITY_FAILED] naming the table
//     and the row; a statement that reads <table> itself is refused (so a
//     forgotten _checked fails every test). Writes name the table; TEMP
//     triggers recompute the MAC of what the service writes, after checking
//     the MAC of what it overwrites (a service write never launders an
//     edited row).
//   * A sealed state record (version, XOR of all row MACs) changes with every
//     row change; at start the service recomputes it and refuses a database
//     with rows added or removed outside it [STATE_INTEGRITY_FAILED].
//   * The version is also kept in a platform monotonic counter
//     (attestation/platform/counters.h), advanced after every committed
//     write and before the reply; a database whose version is below the
//     counter is an older copy: ROLLBACK_DETECTED at start, until an operator
//     accepts the restore (`cloister cluster accept-restore SERVICE`).
//
// The TEMP objects live in the service's connection only: nothing an
// attacker stores in the file can call the MAC function (it is
// SQLITE_DIRECTONLY) and a database file holding its own triggers or views is
// refused [SCHEMA_INTEGRITY_FAILED]. docs/threat-model.md ("Data at rest")
// says what this does and does not cover.
//
//   RowIntegrity::Config cfg{&sealer, &counters, "rows.auth"};
//   CLOISTER_ASSIGN_OR_RETURN(db, RowIntegrity::Protect(std::move(db), kAuthTables, cfg));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "attestation/platform/counters.h"
#include "attestation/sealer.h"
#include "storage/engine.h"

namespace cloister::services {

namespace integrity_reason {
inline constexpr const char* kRowIntegrityFailed = "ROW_INTEGRITY_FAILED";
inline constexpr const char* kStateIntegrityFailed = "STATE_INTEGRITY_FAILED";
inline constexpr const char* kStateMissing = "INTEGRITY_STATE_MISSING";
inline constexpr const char* kRollbackDetected = "ROLLBACK_DETECTED";
inline constexpr const char* kSchemaTampered = "SCHEMA_INTEGRITY_FAILED";
}  // namespace integrity_reason

// One protected table. `columns` are what the MAC covers (every column that
// decides who may do what; include the key); `key_columns` (a subset, the
// primary key) name the row in errors and locate it in the triggers.
struct ProtectedTable {
  std::string table;
  std::vector<std::string> key_columns;
  std::vector<std::string> columns;
};

class RowIntegrity {
 public:
  struct Config {
    attestation::Sealer* sealer = nullptr;                 // not owned
    attestation::MonotonicCounters* counters = nullptr;    // not owned
    // The platform counter of this database (IntegrityCounterName below:
    // one per service and cluster); see attestation::CheckCounterName.
    std::string counter_name;
    // Start from a database older than the counter (an operator's
    // restore): its version is raised to the counter instead of refused.
    bool accept_restore = false;
  };

  // Verifies `db` (migrated) and returns it wrapped: every row's MAC, the
  // state record, and the version against the counter, as described above;
  // a first start (no state, counter 0) seals the rows present. The
  // returned engine advances the counter after each committed write.
  // `db` must not be used directly afterwards.
  static Result<std::unique_ptr<storage::Engine>> Protect(std::unique_ptr<storage::Engine> db,
                                                          std::vector<ProtectedTable> tables,
                                                          const Config& config);
  // The same views (without MAC checks) and the same direct-read refusal,
  // no MACs and no counter: for unit tests of a store's SQL. The services
  // always Protect.
  static Result<std::unique_ptr<storage::Engine>> Unprotected(std::unique_ptr<storage::Engine> db,
                                                              std::vector<ProtectedTable> tables);
};

// The counter name of `service`'s database in the cluster `cluster_id`
// (the signed manifest's): "rows.<service>.<16 hex of SHA-256(cluster id)>",
// so two clusters on one node (same signer, same platform) keep apart.
std::string IntegrityCounterName(std::string_view service, std::string_view cluster_id);

// The operator's consent to one restore (`cloister cluster accept-restore`
// writes the file, the service's --accept-restore-file names it): true when
// `path` is set and exists. AcceptRestoreDone deletes it once the database
// opened, so the consent covers one start only.
bool AcceptRestoreRequested(const std::string& path);
void AcceptRestoreDone(const std::string& path, const RowIntegrity::Config& config);

}  // namespace cloister::services
