// The stable reasons (Error::reason()) of cloister-storage, in one place so
// the catalog, the blob store, the core and the service agree; clients and
// tests match on these strings, so never rename one.
#pragma once

namespace cloister::storage_service::reason {

// Who is calling.
inline constexpr const char* kUnauthenticated = "STORAGE_UNAUTHENTICATED";
// CreateUpload's input.
inline constexpr const char* kFileIdInvalid = "FILE_ID_INVALID";
inline constexpr const char* kUploadIdInvalid = "UPLOAD_ID_INVALID";
inline constexpr const char* kSizeInvalid = "FILE_SIZE_INVALID";
inline constexpr const char* kDescriptionTooLong = "DESCRIPTION_TOO_LONG";
inline constexpr const char* kLabelsInvalid = "LABELS_INVALID";
inline constexpr const char* kFileExists = "FILE_EXISTS";
inline constexpr const char* kQuotaBytes = "QUOTA_BYTES_EXCEEDED";
inline constexpr const char* kQuotaFiles = "QUOTA_FILES_EXCEEDED";
// Sessions and their streams.
inline constexpr const char* kUploadNotFound = "UPLOAD_NOT_FOUND";
inline constexpr const char* kUploadBusy = "UPLOAD_BUSY";
inline constexpr const char* kUploadIdMismatch = "UPLOAD_ID_MISMATCH";
inline constexpr const char* kOffsetMismatch = "UPLOAD_OFFSET_MISMATCH";
inline constexpr const char* kMessageTooLarge = "MESSAGE_TOO_LARGE";
inline constexpr const char* kEmptyChunk = "EMPTY_CHUNK";
inline constexpr const char* kBeyondSize = "UPLOAD_BEYOND_SIZE";
inline constexpr const char* kEmptyStream = "UPLOAD_STREAM_EMPTY";
inline constexpr const char* kStreamClosed = "UPLOAD_STREAM_CLOSED";
inline constexpr const char* kUploadDataLost = "UPLOAD_DATA_LOST";
// CompleteUpload.
inline constexpr const char* kUploadIncomplete = "UPLOAD_INCOMPLETE";
inline constexpr const char* kSha256Invalid = "SHA256_INVALID";
inline constexpr const char* kSha256Mismatch = "SHA256_MISMATCH";
inline constexpr const char* kHeaderMismatch = "FILE_HEADER_MISMATCH";
// Files.
inline constexpr const char* kFileNotFound = "FILE_NOT_FOUND";
inline constexpr const char* kTasksOnly = "TASKS_SERVICE_ONLY";
// Task reads and outputs (the execution enclave under a task grant; the
// grant's own refusals are services::task_grant_reason).
inline constexpr const char* kExecOnly = "EXEC_SERVICE_ONLY";
inline constexpr const char* kTaskOutputHeaderRepeated = "TASK_OUTPUT_HEADER_REPEATED";
inline constexpr const char* kOffsetOutOfRange = "DOWNLOAD_OFFSET_OUT_OF_RANGE";
inline constexpr const char* kPageTokenInvalid = "PAGE_TOKEN_INVALID";
inline constexpr const char* kBlobCorrupt = "BLOB_CORRUPT";
inline constexpr const char* kCatalogInconsistent = "CATALOG_INCONSISTENT";
inline constexpr const char* kShredderMissing = "KEY_SHREDDER_UNAVAILABLE";
inline constexpr const char* kAuditUnavailable = "AUDIT_UNAVAILABLE";

}  // namespace cloister::storage_service::reason
