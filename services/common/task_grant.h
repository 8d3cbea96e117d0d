// Task grants (docs/tasks.md, "Task grants"): what cloister-tasks signs for
// a claimed task, and the one check cloister-storage and cloister-keyvault
// run before releasing an input (ciphertext, file key) or accepting an
// output to an execution enclave. A grant names the task's inputs (file,
// owner, ciphertext hash) and outputs (slot, owners) and expires with the
// lease; it is signed by the attested RA-TLS key of cloister-tasks (its
// certificate travels with it and is verified against the manifest like a
// TLS peer), or at level 1 MACed under the cluster secret.
//
//   lease.set_task_grant(*SignTaskGrant(*enclave, grant));               // tasks
//   CLOISTER_ASSIGN_OR_RETURN(auto g, verifier.Verify(bytes, "exec"));   // storage
//   if (!GrantedInput(g, file_id, owner)) → NotFound
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "attestation/enclave.h"
#include "common/crypto/keys.h"
#include "common/result.h"
#include "proto/internal.pb.h"

namespace cloister::services {

inline constexpr int64_t kMaxTaskGrantLifetimeMs = 10 * 60'000;
inline constexpr size_t kMaxTaskGrantBytes = 256 * 1024;

namespace task_grant_reason {
inline constexpr const char* kMissing = "TASK_GRANT_MISSING";
inline constexpr const char* kMalformed = "TASK_GRANT_MALFORMED";
inline constexpr const char* kSignature = "TASK_GRANT_SIGNATURE_INVALID";
inline constexpr const char* kSigner = "TASK_GRANT_SIGNER_NOT_TASKS";
inline constexpr const char* kExpired = "TASK_GRANT_EXPIRED";
inline constexpr const char* kWorker = "TASK_GRANT_WRONG_WORKER";
inline constexpr const char* kNotNamed = "TASK_GRANT_NOT_NAMED";
}  // namespace task_grant_reason

// cloister-tasks: the serialized SignedTaskGrant for `grant` (issued now;
// its expiry is clamped to issued + kMaxTaskGrantLifetimeMs).
Result<std::string> SignTaskGrant(attestation::Enclave& tasks, internal::TaskGrant grant);

// Checks task grants for one service. Thread-safe; caches the verdict on
// a tasks certificate for a minute so a worker's many reads do not re-verify
// its quote each time.
class TaskGrantVerifier {
 public:
  explicit TaskGrantVerifier(attestation::Enclave* self) : self_(self) {}

  // The grant, if `signed_bytes` is a SignedTaskGrant signed by an attested
  // cloister-tasks of this cluster (level 1: the cluster secret), unexpired,
  // for a worker of `peer_role` (the attested role of the caller presenting
  // it). PermissionDenied with a task_grant_reason otherwise.
  Result<internal::TaskGrant> Verify(std::string_view signed_bytes, std::string_view peer_role);

 private:
  Status CheckSigner(const internal::SignedTaskGrant& sg, int64_t now_ms);

  attestation::Enclave* self_;
  std::mutex mu_;
  // SHA-256 of a verified tasks certificate → (its key, verified until).
  std::map<std::string, std::pair<crypto::PublicKey, int64_t>> verified_;  // guarded by mu_
};

// The input of `grant` that is file `file_id` owned by `owner`, or null.
const internal::TaskGrantInput* GrantedInput(const internal::TaskGrant& grant,
                                             std::string_view file_id, std::string_view owner);
// Whether `owner` owns output `slot` in `grant`.
bool GrantsOutput(const internal::TaskGrant& grant, std::string_view slot, std::string_view owner);

}  // namespace cloister::services
