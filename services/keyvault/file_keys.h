// The rules of cloister-keyvault's file keys (docs/keyvault.md, "File
// keys"): the reasons and input checks of RegisterFileKey, GetFileKey,
// DeleteFileKey, DestroyFileKey and the execution enclave's
// GetFileKeyForTask and RegisterFileKeyForTask, whose KeyVaultCore methods
// live in file_keys.cc; and MayReceiveFileKey, the one decision on who gets
// a file key.
//
//   CLOISTER_RETURN_IF_ERROR(ValidateFileId(r.file_id()));
//   if (!IsStorageService(caller)) return PermissionDenied(..., reason::kNotStorage);
//   if (!rec || !MayReceiveFileKey(caller, *rec)) return FileKeyNotFound();
#pragma once

#include <cstddef>
#include <string_view>

#include "common/result.h"
#include "proto/internal.pb.h"
#include "services/common/caller.h"
#include "services/keyvault/key_store.h"

namespace cloister::keyvault_service {

namespace reason {
// Absent, or not the caller's: one answer, so file ids cannot be probed.
inline constexpr const char* kFileKeyNotFound = "FILE_KEY_NOT_FOUND";
inline constexpr const char* kFileIdInvalid = "FILE_ID_INVALID";
// Same string as files::reason::kKey (the format's own check).
inline constexpr const char* kFileKeyInvalid = "FILE_KEY_INVALID";
inline constexpr const char* kNotStorage = "NOT_STORAGE_SERVICE";
inline constexpr const char* kNotExec = "NOT_EXEC_SERVICE";
inline constexpr const char* kFileOwnerInvalid = "FILE_OWNER_INVALID";
}  // namespace reason

// The format header's file id, hex: 16 bytes → 32 lowercase digits.
inline constexpr size_t kFileIdHexLength = 32;
inline constexpr size_t kFileKeyLength = 32;  // AES-256
// How the grant verifier names the attested storage enclave calling for itself.
inline constexpr std::string_view kStoragePrincipal = "service:storage";
// ... and the attested execution enclave (its attested role: kExecRole).
inline constexpr std::string_view kExecPrincipal = "service:exec";
inline constexpr std::string_view kExecRole = "exec";

// InvalidArgument [FILE_ID_INVALID] unless `id` is exactly 32 lowercase hex
// digits (one spelling per id, so "AB…" and "ab…" never name two keys).
Status ValidateFileId(std::string_view id);

// True only for the storage service (a service caller, never a user: a user
// whose id happens to read "service:storage" is still a user).
bool IsStorageService(const services::Caller& c);
// The same for the execution enclave.
bool IsExecService(const services::Caller& c);

// A task's claim on a file key: a grant as TaskGrantVerifier::Verify
// returned it (never one parsed from a request) and the owner the
// execution enclave says the file has (GetFileKeyForTaskRequest).
struct TaskKeyClaim {
  const internal::TaskGrant& grant;
  std::string_view owner_user_id;
};

// The one decision on who receives file key `rec`: without `task`, its
// owner (a user caller; admins and services never); with `task`, the
// execution enclave (service:exec) when the key's owner is the claimed
// owner and the grant names (the key's file, that owner) as an input.
bool MayReceiveFileKey(const services::Caller& c, const keyvault_store::FileKeyRecord& rec,
                       const TaskKeyClaim* task = nullptr);

}  // namespace cloister::keyvault_service
