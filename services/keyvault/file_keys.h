// The rules of cloister-keyvault's file keys (docs/keyvault.md, "File
// keys"): the reasons and input checks of RegisterFileKey, GetFileKey,
// DeleteFileKey and DestroyFileKey, whose KeyVaultCore methods live in
// file_keys.cc.
//
//   CLOISTER_RETURN_IF_ERROR(ValidateFileId(r.file_id()));
//   if (!IsStorageService(caller)) return PermissionDenied(..., reason::kNotStorage);
#pragma once

#include <cstddef>
#include <string_view>

#include "common/result.h"
#include "services/common/caller.h"

namespace cloister::keyvault_service {

namespace reason {
// Absent, or not the caller's: one answer, so file ids cannot be probed.
inline constexpr const char* kFileKeyNotFound = "FILE_KEY_NOT_FOUND";
inline constexpr const char* kFileIdInvalid = "FILE_ID_INVALID";
// Same string as files::reason::kKey (the format's own check).
inline constexpr const char* kFileKeyInvalid = "FILE_KEY_INVALID";
inline constexpr const char* kNotStorage = "NOT_STORAGE_SERVICE";
inline constexpr const char* kFileOwnerInvalid = "FILE_OWNER_INVALID";
}  // namespace reason

// The format header's file id, hex: 16 bytes → 32 lowercase digits.
inline constexpr size_t kFileIdHexLength = 32;
inline constexpr size_t kFileKeyLength = 32;  // AES-256
// How the grant verifier names the attested storage enclave calling for itself.
inline constexpr std::string_view kStoragePrincipal = "service:storage";

// InvalidArgument [FILE_ID_INVALID] unless `id` is exactly 32 lowercase hex
// digits (one spelling per id, so "AB…" and "ab…" never name two keys).
Status ValidateFileId(std::string_view id);

// True only for the storage service (a service caller, never a user: a user
// whose id happens to read "service:storage" is still a user).
bool IsStorageService(const services::Caller& c);

}  // namespace cloister::keyvault_service
