// cloister-keyvault's logic on plain typed inputs (no gRPC): KeyVaultCore
// (access checks, key lifecycle, crypto, audit). KeyVaultService
// (keyvault_service.h, the gRPC layer) admits only gateway-granted calls and
// hands the core the grant's principal.
//
//   KeyVaultCore core(store.get(), audit);
//   CLOISTER_ASSIGN_OR_RETURN(auto resp, core.Encrypt(caller, request));
//
// Defined in keyvault_core.cc (lifecycle, grants, metadata, access checks,
// audit), keyvault_crypto_ops.cc (crypto, import/export) and file_keys.cc.
//
// Names (docs/keyvault.md, "Names and namespaces"): a key is its owner's.
// A bare name in a request always means the CALLER's own key; another
// user's key is "owner/name" (owner = that user's username) and is usable
// only through a live grant. Creating (and importing) makes a key in the
// caller's namespace only, so nobody can occupy a name for someone else,
// and a grant never changes what a bare name means.
//
// Access (docs/keyvault.md): the owner may do everything the key's policy
// allows plus management (rotate, grants, disable/enable, deletion, import
// of a new version); a grantee only the operations of its live grants (read
// from storage at every call, so revocation and expiry act at once); anyone
// else sees KEY_NOT_FOUND, as if the key did not exist. Admins may list and
// describe every key's metadata but not use keys. Every call is audited
// (principal, key, version, operation, outcome; never data or key material)
// and a failed audit write fails the call.
//
// File keys (RegisterFileKey, GetFileKey, DeleteFileKey, DestroyFileKey;
// defined in file_keys.cc, rules in file_keys.h): readable by their owner
// only; anyone else, admins included, gets FILE_KEY_NOT_FOUND. The one
// exception is the attested execution enclave holding a task grant that
// names the file as an input of the key's owner (GetFileKeyForTask); it
// also registers the keys of a task's outputs to their owners
// (RegisterFileKeyForTask).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "proto/keyvault.pb.h"
#include "services/common/audit_log.h"
#include "services/common/caller.h"
#include "services/common/task_grant.h"
#include "services/keyvault/file_keys.h"
#include "services/keyvault/key_store.h"

namespace cloister::keyvault_service {

namespace reason {
inline constexpr const char* kUnauthenticated = "KEYVAULT_UNAUTHENTICATED";
inline constexpr const char* kNotOwner = "NOT_KEY_OWNER";
inline constexpr const char* kNotGranted = "OPERATION_NOT_GRANTED";
inline constexpr const char* kNotAllowed = "OPERATION_NOT_ALLOWED";
inline constexpr const char* kDisabled = "KEY_DISABLED";
inline constexpr const char* kPendingDeletion = "KEY_PENDING_DELETION";
inline constexpr const char* kNotPendingDeletion = "KEY_NOT_PENDING_DELETION";
inline constexpr const char* kNotExportable = "KEY_NOT_EXPORTABLE";
inline constexpr const char* kKeyMismatch = "CIPHERTEXT_KEY_MISMATCH";
inline constexpr const char* kVersionRetired = "KEY_VERSION_RETIRED";
inline constexpr const char* kPayloadTooLarge = "PAYLOAD_TOO_LARGE";
inline constexpr const char* kBatchTooLarge = "BATCH_TOO_LARGE";
inline constexpr const char* kVersionInvalid = "KEY_VERSION_INVALID";
inline constexpr const char* kWaitingPeriod = "WAITING_PERIOD_INVALID";
inline constexpr const char* kGrantInvalid = "GRANT_INVALID";
inline constexpr const char* kGrantNotFound = "GRANT_NOT_FOUND";
inline constexpr const char* kImportTypeMismatch = "IMPORT_TYPE_MISMATCH";
inline constexpr const char* kAuditUnavailable = "AUDIT_UNAVAILABLE";
// Create/import with "owner/name": keys are made in the caller's namespace only.
inline constexpr const char* kNameQualified = "KEY_NAME_QUALIFIED";
// "owner/name" fits more than one key the caller may use (a deleted user's
// username was given to a new user, and both granted the caller a key).
inline constexpr const char* kNameAmbiguous = "KEY_NAME_AMBIGUOUS";
}  // namespace reason

inline constexpr size_t kMaxPayload = 1u << 20;         // one plaintext / message
inline constexpr size_t kMaxAad = 64u << 10;
inline constexpr size_t kMaxBatchItems = 100'000;
inline constexpr size_t kMaxBatchBytes = 32u << 20;
inline constexpr int64_t kDefaultDeletionWaitS = 7 * 86400;
inline constexpr int64_t kMaxDeletionWaitS = 30 * 86400;

// Who is calling: the one caller type (services/common/caller.h), built by
// the grant verifier from auth's proof (tests: MakeCallerForTesting).
using Caller = services::Caller;

class KeyVaultCore {
 public:
  // `store` must outlive the core; `audit` may be null (unit tests, bench).
  // `clock` returns unix seconds (tests move time forward).
  KeyVaultCore(keyvault_store::KeyStore* store, services::AuditLog* audit,
               std::function<int64_t()> clock = {});

  // Thread-safe. Each returns the codes/reasons documented in docs/keyvault.md.
  Result<keyvault::CreateKeyResponse> CreateKey(const Caller& c, const keyvault::CreateKeyRequest& r);
  Result<keyvault::ListKeysResponse> ListKeys(const Caller& c, const keyvault::ListKeysRequest& r);
  Result<keyvault::DescribeKeyResponse> DescribeKey(const Caller& c,
                                                    const keyvault::DescribeKeyRequest& r);
  Result<keyvault::RotateKeyResponse> RotateKey(const Caller& c, const keyvault::RotateKeyRequest& r);
  Result<keyvault::SetMinDecryptionVersionResponse> SetMinDecryptionVersion(
      const Caller& c, const keyvault::SetMinDecryptionVersionRequest& r);
  Result<keyvault::SetKeyEnabledResponse> SetKeyEnabled(const Caller& c,
                                                        const keyvault::SetKeyEnabledRequest& r);
  Result<keyvault::ScheduleKeyDeletionResponse> ScheduleKeyDeletion(
      const Caller& c, const keyvault::ScheduleKeyDeletionRequest& r);
  Result<keyvault::CancelKeyDeletionResponse> CancelKeyDeletion(
      const Caller& c, const keyvault::CancelKeyDeletionRequest& r);
  Result<keyvault::CreateGrantResponse> CreateGrant(const Caller& c,
                                                    const keyvault::CreateGrantRequest& r);
  Result<keyvault::RevokeGrantResponse> RevokeGrant(const Caller& c,
                                                    const keyvault::RevokeGrantRequest& r);
  Result<keyvault::EncryptResponse> Encrypt(const Caller& c, const keyvault::EncryptRequest& r);
  Result<keyvault::DecryptResponse> Decrypt(const Caller& c, const keyvault::DecryptRequest& r);
  Result<keyvault::GenerateDataKeyResponse> GenerateDataKey(
      const Caller& c, const keyvault::GenerateDataKeyRequest& r);
  Result<keyvault::RewrapResponse> Rewrap(const Caller& c, const keyvault::RewrapRequest& r);
  Result<keyvault::BatchEncryptResponse> BatchEncrypt(const Caller& c,
                                                      const keyvault::BatchEncryptRequest& r);
  Result<keyvault::BatchDecryptResponse> BatchDecrypt(const Caller& c,
                                                      const keyvault::BatchDecryptRequest& r);
  Result<keyvault::SignResponse> Sign(const Caller& c, const keyvault::SignRequest& r);
  Result<keyvault::VerifyResponse> Verify(const Caller& c, const keyvault::VerifyRequest& r);
  Result<keyvault::BatchSignResponse> BatchSign(const Caller& c, const keyvault::BatchSignRequest& r);
  Result<keyvault::HmacResponse> Hmac(const Caller& c, const keyvault::HmacRequest& r);
  Result<keyvault::VerifyHmacResponse> VerifyHmac(const Caller& c,
                                                  const keyvault::VerifyHmacRequest& r);
  Result<keyvault::GetWrappingKeyResponse> GetWrappingKey(const Caller& c,
                                                          const keyvault::GetWrappingKeyRequest& r);
  Result<keyvault::ImportKeyResponse> ImportKey(const Caller& c, const keyvault::ImportKeyRequest& r);
  Result<keyvault::ExportKeyResponse> ExportKey(const Caller& c, const keyvault::ExportKeyRequest& r);

  // File keys (file_keys.cc). Register: INVALID_ARGUMENT [FILE_ID_INVALID,
  // FILE_KEY_INVALID], ALREADY_EXISTS [FILE_KEY_EXISTS]. Get/Delete: owner
  // only, NOT_FOUND [FILE_KEY_NOT_FOUND] for everyone else. Destroy: the
  // storage service only (PERMISSION_DENIED [NOT_STORAGE_SERVICE]).
  Result<keyvault::RegisterFileKeyResponse> RegisterFileKey(
      const Caller& c, const keyvault::RegisterFileKeyRequest& r);
  Result<keyvault::GetFileKeyResponse> GetFileKey(const Caller& c,
                                                  const keyvault::GetFileKeyRequest& r);
  Result<keyvault::DeleteFileKeyResponse> DeleteFileKey(const Caller& c,
                                                        const keyvault::DeleteFileKeyRequest& r);
  Result<keyvault::DestroyFileKeyResponse> DestroyFileKey(const Caller& c,
                                                          const keyvault::DestroyFileKeyRequest& r);
  // The execution enclave only (PERMISSION_DENIED [NOT_EXEC_SERVICE] for
  // any other caller), with `task_grant` verified by `grants`
  // (PERMISSION_DENIED with its services::task_grant_reason).
  // GetFileKeyForTask: the key if MayReceiveFileKey lets the grant have it;
  // NOT_FOUND [FILE_KEY_NOT_FOUND] (as if absent) otherwise.
  Result<keyvault::GetFileKeyResponse> GetFileKeyForTask(
      const Caller& c, const keyvault::GetFileKeyForTaskRequest& r,
      services::TaskGrantVerifier& grants);
  // RegisterFileKeyForTask: the grant must give output `slot` to
  // `owner_user_id` (PERMISSION_DENIED [TASK_GRANT_NOT_NAMED]); then
  // RegisterFileKey's rules, the key registered to that owner.
  Result<keyvault::RegisterFileKeyResponse> RegisterFileKeyForTask(
      const Caller& c, const keyvault::RegisterFileKeyForTaskRequest& r,
      services::TaskGrantVerifier& grants);

  // A call the grant verifier refused (counted for Health).
  void CountRefusal() { refusals_.fetch_add(1, std::memory_order_relaxed); }
  // Since start: refusals.
  std::map<std::string, uint64_t> Counters() const {
    return {{"refusals", refusals_.load(std::memory_order_relaxed)}};
  }

 private:
  // What one call touched, for its audit entry.
  struct Trace {
    std::string key;
    uint32_t version = 0;
    std::string task_id;  // from a verified task grant only
  };
  // RegisterFileKey's storing step for `owner` (the caller, or a task
  // output's owner): the key's length, uniqueness of the id.
  Result<keyvault::RegisterFileKeyResponse> RegisterFileKeyFor(std::string_view owner,
                                                               std::string_view file_id,
                                                               std::string_view file_key);
  // The key of `file_id` if MayReceiveFileKey(c, its record, task).
  Result<keyvault::GetFileKeyResponse> ReleaseFileKey(const Caller& c, std::string_view file_id,
                                                      const TaskKeyClaim* task);
  // Runs `fn` for a user caller (CheckCaller) and audits the outcome.
  template <typename Resp, typename Fn>
  Result<Resp> Audited(const Caller& c, std::string_view op, Fn fn);
  // The same for the file-key calls on `file_id`, whose callers `check`
  // admits (file_keys.cc: users, the storage service for DestroyFileKey,
  // the execution enclave for the task calls); `fn` runs once the id is
  // valid (ValidateFileId) and named in the audit entry.
  template <typename Resp, typename Fn>
  Result<Resp> AuditedFileCall(const Caller& c, std::string_view op,
                               Status (*check)(const Caller&), std::string_view file_id, Fn fn);
  // Appends the audit entry of one call; Unavailable [AUDIT_UNAVAILABLE]
  // when it cannot be written (the call's result is then withheld).
  Status Record(const Caller& c, std::string_view op, const Status& outcome, const Trace& t);
  Status CheckCaller(const Caller& c) const;
  // The key `ref` names for `c`: its own key for a bare name (or for its
  // own username as owner), else the one key of that owner and name on
  // which `c` holds a live grant (any such key for `admin_view`).
  // NOT_FOUND [KEY_NOT_FOUND] when there is none (the same answer as for no
  // key at all), FAILED_PRECONDITION [KEY_NAME_AMBIGUOUS] for several.
  struct Resolved {
    keyvault_store::KeyRecord key;
    bool owner = false;
    keyvault_ops::OpMask granted = 0;  // the live grants' operations (non-owners)
  };
  Result<Resolved> Resolve(const Caller& c, const keyvault_ops::KeyRef& ref, bool admin_view,
                           int64_t now);
  // Resolves `name` and checks that `c` may do `op` on it
  // (OPERATION_UNSPECIFIED = owner-only management).
  Result<keyvault_store::KeyRecord> Authorize(const Caller& c, std::string_view name,
                                              keyvault::Operation op, Trace& t);
  // Checks the version is usable for decryption-side operations.
  Status CheckVersion(const keyvault_store::KeyRecord& k, uint32_t version) const;
  Result<keyvault::KeyMetadata> Metadata(const keyvault_store::KeyRecord& k, bool detailed,
                                         bool with_grants);
  Result<Bytes> DecryptOne(const keyvault_store::KeyRecord& k, std::string_view ciphertext,
                           ByteView aad, uint32_t* version);

  keyvault_store::KeyStore* store_;
  services::AuditLog* audit_;
  std::function<int64_t()> clock_;
  std::atomic<uint64_t> refusals_{0};
};

}  // namespace cloister::keyvault_service
