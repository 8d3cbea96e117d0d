// cloister-keyvault's file keys: the KeyVaultCore methods of
// RegisterFileKey, GetFileKey, DeleteFileKey, DestroyFileKey and, for the
// execution enclave under a task grant, GetFileKeyForTask and
// RegisterFileKeyForTask (rules in file_keys.h, storage in key_store.h).
#include "services/keyvault/file_keys.h"

#include "common/logging.h"
#include "services/common/task_grant.h"
#include "services/keyvault/keyvault_core.h"

namespace cloister::keyvault_service {
namespace {

constexpr size_t kMaxOwnerLength = 128;

Error FileKeyNotFound() {
  // The same answer whether the id is absent or another user's key, so
  // nobody learns which file ids exist.
  return NotFound("no key for this file (or no access to it)", reason::kFileKeyNotFound);
}

// A file key belongs to a user; anonymous and service callers own none.
Status UserCaller(const Caller& c) {
  if (c.kind() != Caller::Kind::kUser)
    return Unauthenticated("file keys need an authenticated user", reason::kUnauthenticated);
  return OkStatus();
}

Status StorageCaller(const Caller& c) {
  if (!IsStorageService(c))
    return PermissionDenied("only the storage service destroys file keys", reason::kNotStorage);
  return OkStatus();
}

Status ExecCaller(const Caller& c) {
  if (!IsExecService(c))
    return PermissionDenied("only the execution enclave fetches and registers file keys for tasks",
                            reason::kNotExec);
  return OkStatus();
}

Status CheckOwner(std::string_view owner) {
  if (owner.empty() || owner.size() > kMaxOwnerLength)
    return InvalidArgument("the file's owner must be a user id", reason::kFileOwnerInvalid);
  return OkStatus();
}

std::string Resource(std::string_view file_id) { return "file:" + std::string(file_id); }

void SetInfo(const keyvault_store::FileKeyRecord& rec, keyvault::FileKeyInfo* out) {
  out->set_file_id(rec.file_id);
  out->set_owner_user_id(rec.owner);
  out->set_created_unix(rec.created_unix);
}

}  // namespace

Status ValidateFileId(std::string_view id) {
  bool ok = id.size() == kFileIdHexLength;
  for (char ch : id) ok = ok && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
  if (!ok)
    return InvalidArgument("a file id is 32 lowercase hex digits (the file header's id)",
                           reason::kFileIdInvalid);
  return OkStatus();
}

bool IsStorageService(const services::Caller& c) {
  return c.is_service() && c.user_id() == kStoragePrincipal;
}

bool IsExecService(const services::Caller& c) {
  return c.is_service() && c.user_id() == kExecPrincipal;
}

bool MayReceiveFileKey(const services::Caller& c, const keyvault_store::FileKeyRecord& rec,
                       const TaskKeyClaim* task) {
  // Owner only: an admin manages files by id in storage but never reads
  // their keys (separation of duties, as for named keys).
  if (task == nullptr) return c.kind() == Caller::Kind::kUser && rec.owner == c.user_id();
  // The execution enclave, for a task the parties approved: the grant
  // names this file as an input of its owner, and that owner is the key's.
  return IsExecService(c) && !rec.owner.empty() && rec.owner == task->owner_user_id &&
         services::GrantedInput(task->grant, rec.file_id, rec.owner) != nullptr;
}

template <typename Resp, typename Fn>
Result<Resp> KeyVaultCore::AuditedFileCall(const Caller& c, std::string_view op,
                                           Status (*check)(const Caller&),
                                           std::string_view file_id, Fn fn) {
  Trace t;
  Result<Resp> r = [&]() -> Result<Resp> {
    CLOISTER_RETURN_IF_ERROR(check(c));
    CLOISTER_RETURN_IF_ERROR(ValidateFileId(file_id));
    t.key = Resource(file_id);
    return fn(t);
  }();
  CLOISTER_RETURN_IF_ERROR(Record(c, op, r.status(), t));
  return r;
}

Result<keyvault::RegisterFileKeyResponse> KeyVaultCore::RegisterFileKey(
    const Caller& c, const keyvault::RegisterFileKeyRequest& r) {
  return AuditedFileCall<keyvault::RegisterFileKeyResponse>(
      c, "RegisterFileKey", UserCaller, r.file_id(),
      [&](Trace&) -> Result<keyvault::RegisterFileKeyResponse> {
        return RegisterFileKeyFor(c.user_id(), r.file_id(), r.file_key());
      });
}

Result<keyvault::RegisterFileKeyResponse> KeyVaultCore::RegisterFileKeyFor(
    std::string_view owner, std::string_view file_id, std::string_view file_key) {
  if (file_key.size() != kFileKeyLength)
    return InvalidArgument("a file key is 32 bytes, got " + std::to_string(file_key.size()),
                           reason::kFileKeyInvalid);
  // An existing id is refused whoever owns it: the id is the file's name in
  // storage, so a second key under it would be a takeover.
  CLOISTER_ASSIGN_OR_RETURN(auto rec,
                            store_->PutFileKey(file_id, owner, AsBytes(file_key), clock_()));
  keyvault::RegisterFileKeyResponse resp;
  SetInfo(rec, resp.mutable_key());
  return resp;
}

Result<keyvault::GetFileKeyResponse> KeyVaultCore::GetFileKey(
    const Caller& c, const keyvault::GetFileKeyRequest& r) {
  return AuditedFileCall<keyvault::GetFileKeyResponse>(
      c, "GetFileKey", UserCaller, r.file_id(),
      [&](Trace&) -> Result<keyvault::GetFileKeyResponse> {
        return ReleaseFileKey(c, r.file_id(), nullptr);
      });
}

Result<keyvault::GetFileKeyResponse> KeyVaultCore::ReleaseFileKey(const Caller& c,
                                                                  std::string_view file_id,
                                                                  const TaskKeyClaim* task) {
  CLOISTER_ASSIGN_OR_RETURN(auto rec, store_->GetFileKey(file_id));
  if (!rec || !MayReceiveFileKey(c, *rec, task)) return FileKeyNotFound();
  CLOISTER_ASSIGN_OR_RETURN(SecretBytes key, store_->UnsealFileKey(*rec));
  keyvault::GetFileKeyResponse resp;
  SetInfo(*rec, resp.mutable_key());
  resp.set_file_key(key.data(), key.size());
  return resp;
}

Result<keyvault::GetFileKeyResponse> KeyVaultCore::GetFileKeyForTask(
    const Caller& c, const keyvault::GetFileKeyForTaskRequest& r,
    services::TaskGrantVerifier& grants) {
  return AuditedFileCall<keyvault::GetFileKeyResponse>(
      c, "GetFileKeyForTask", ExecCaller, r.file_id(),
      [&](Trace& t) -> Result<keyvault::GetFileKeyResponse> {
        // ExecCaller passed: the caller is "service:exec", whose role the
        // grant verifier matched with the attested peer.
        CLOISTER_ASSIGN_OR_RETURN(internal::TaskGrant grant,
                                  grants.Verify(r.task_grant(), kExecRole));
        t.task_id = grant.task_id();
        CLOISTER_RETURN_IF_ERROR(CheckOwner(r.owner_user_id()));
        const TaskKeyClaim claim{grant, r.owner_user_id()};
        return ReleaseFileKey(c, r.file_id(), &claim);
      });
}

Result<keyvault::RegisterFileKeyResponse> KeyVaultCore::RegisterFileKeyForTask(
    const Caller& c, const keyvault::RegisterFileKeyForTaskRequest& r,
    services::TaskGrantVerifier& grants) {
  return AuditedFileCall<keyvault::RegisterFileKeyResponse>(
      c, "RegisterFileKeyForTask", ExecCaller, r.file_id(),
      [&](Trace& t) -> Result<keyvault::RegisterFileKeyResponse> {
        CLOISTER_ASSIGN_OR_RETURN(internal::TaskGrant grant,
                                  grants.Verify(r.task_grant(), kExecRole));
        t.task_id = grant.task_id();
        CLOISTER_RETURN_IF_ERROR(CheckOwner(r.owner_user_id()));
        if (!services::GrantsOutput(grant, r.slot(), r.owner_user_id()))
          return PermissionDenied("task grant: output '" + r.slot().substr(0, 64) +
                                      "' of this task is not granted to '" +
                                      r.owner_user_id().substr(0, 64) + "'",
                                  services::task_grant_reason::kNotNamed);
        // The owner's key from now on, exactly as if it had registered it:
        // GetFileKey, DeleteFileKey and DestroyFileKey treat it the same.
        return RegisterFileKeyFor(r.owner_user_id(), r.file_id(), r.file_key());
      });
}

Result<keyvault::DeleteFileKeyResponse> KeyVaultCore::DeleteFileKey(
    const Caller& c, const keyvault::DeleteFileKeyRequest& r) {
  return AuditedFileCall<keyvault::DeleteFileKeyResponse>(
      c, "DeleteFileKey", UserCaller, r.file_id(),
      [&](Trace&) -> Result<keyvault::DeleteFileKeyResponse> {
        // The owner condition is in the DELETE itself, so a non-owner can
        // remove nothing and learns nothing (the same NOT_FOUND).
        CLOISTER_ASSIGN_OR_RETURN(bool deleted, store_->DeleteFileKey(r.file_id(), c.user_id()));
        if (!deleted) return FileKeyNotFound();
        return keyvault::DeleteFileKeyResponse();
      });
}

Result<keyvault::DestroyFileKeyResponse> KeyVaultCore::DestroyFileKey(
    const Caller& c, const keyvault::DestroyFileKeyRequest& r) {
  return AuditedFileCall<keyvault::DestroyFileKeyResponse>(
      c, "DestroyFileKey", StorageCaller, r.file_id(),
      [&](Trace&) -> Result<keyvault::DestroyFileKeyResponse> {
        CLOISTER_RETURN_IF_ERROR(CheckOwner(r.owner_user_id()));
        CLOISTER_ASSIGN_OR_RETURN(bool existed,
                                  store_->DeleteFileKey(r.file_id(), r.owner_user_id()));
        if (!existed) {
          // Idempotent: a retried DeleteFile finds the key already gone. A
          // key held by someone else is not this file's and stays.
          CLOISTER_ASSIGN_OR_RETURN(auto other, store_->GetFileKey(r.file_id()));
          if (other)
            LOG_WARN("DestroyFileKey: the id's key has another owner; kept",
                     {{"file_id", r.file_id()}});
        }
        keyvault::DestroyFileKeyResponse resp;
        resp.set_existed(existed);
        return resp;
      });
}

}  // namespace cloister::keyvault_service
