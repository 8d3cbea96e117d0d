// The stable reasons (Error::reason()) of cloister-tasks, in one place so the
// store, the core and the service agree; clients and tests match on these
// strings, so never rename one. docs/tasks.md lists them with their codes.
#pragma once

namespace cloister::tasks_service::reason {

// Who is calling.
inline constexpr const char* kUnauthenticated = "TASKS_UNAUTHENTICATED";   // Unauthenticated
inline constexpr const char* kWorkerOnly = "WORKER_ONLY";                  // PermissionDenied
// Request fields (InvalidArgument; the message names the field).
inline constexpr const char* kTaskIdInvalid = "TASK_ID_INVALID";
inline constexpr const char* kFunctionIdInvalid = "FUNCTION_ID_INVALID";
inline constexpr const char* kFunctionHashInvalid = "FUNCTION_HASH_INVALID";
inline constexpr const char* kFileIdInvalid = "FILE_ID_INVALID";
inline constexpr const char* kUserIdInvalid = "USER_ID_INVALID";
inline constexpr const char* kKindInvalid = "FUNCTION_KIND_INVALID";
inline constexpr const char* kSpecInvalid = "FUNCTION_SPEC_INVALID";
inline constexpr const char* kSourceInvalid = "FUNCTION_SOURCE_INVALID";
inline constexpr const char* kSourceTooLarge = "FUNCTION_SOURCE_TOO_LARGE";
inline constexpr const char* kBuiltinUnknown = "BUILTIN_UNKNOWN";
inline constexpr const char* kArgsInvalid = "ARGS_INVALID";
inline constexpr const char* kSlotsInvalid = "SLOTS_INVALID";
inline constexpr const char* kDigestInvalid = "DIGEST_INVALID";
inline constexpr const char* kTextTooLong = "TEXT_TOO_LONG";
inline constexpr const char* kTextInvalid = "TEXT_INVALID";
inline constexpr const char* kPageTokenInvalid = "PAGE_TOKEN_INVALID";
inline constexpr const char* kStateInvalid = "STATE_FILTER_INVALID";
inline constexpr const char* kTimeoutInvalid = "TIMEOUT_INVALID";
inline constexpr const char* kOutputsInvalid = "OUTPUTS_INVALID";
inline constexpr const char* kFailureReasonInvalid = "FAILURE_REASON_INVALID";
// Functions.
inline constexpr const char* kFunctionNotFound = "FUNCTION_NOT_FOUND";      // NotFound
inline constexpr const char* kFunctionAmbiguous = "FUNCTION_AMBIGUOUS";     // InvalidArgument
inline constexpr const char* kFunctionDisabled = "FUNCTION_DISABLED";       // FailedPrecondition
inline constexpr const char* kNotFunctionOwner = "NOT_FUNCTION_OWNER";      // PermissionDenied
// Tasks: access and the lifecycle.
inline constexpr const char* kTaskNotFound = "TASK_NOT_FOUND";              // NotFound
inline constexpr const char* kTaskChanged = "TASK_CHANGED";                 // Aborted
inline constexpr const char* kNotCreator = "NOT_TASK_CREATOR";              // PermissionDenied
inline constexpr const char* kNotSlotOwner = "NOT_SLOT_OWNER";              // PermissionDenied
inline constexpr const char* kSlotUnknown = "SLOT_UNKNOWN";                 // InvalidArgument
inline constexpr const char* kFileNotFound = "FILE_NOT_FOUND";              // NotFound
inline constexpr const char* kDigestStale = "DIGEST_STALE";                 // FailedPrecondition
inline constexpr const char* kInputsMissing = "INPUTS_MISSING";             // FailedPrecondition
inline constexpr const char* kApprovalsMissing = "APPROVALS_MISSING";       // FailedPrecondition
inline constexpr const char* kNotApproved = "NOT_APPROVED";                 // FailedPrecondition
inline constexpr const char* kTaskQueued = "TASK_QUEUED";                   // FailedPrecondition
inline constexpr const char* kTaskRunning = "TASK_RUNNING";                 // FailedPrecondition
inline constexpr const char* kTaskFinished = "TASK_FINISHED";               // FailedPrecondition
inline constexpr const char* kWaitersExhausted = "WAITERS_EXHAUSTED";       // ResourceExhausted
// The queue.
inline constexpr const char* kLeaseLost = "LEASE_LOST";                     // FailedPrecondition
inline constexpr const char* kTaskCanceled = "TASK_CANCELED";               // FailedPrecondition
// How a task ended (TaskEnd.reason).
inline constexpr const char* kEndRejected = "REJECTED";
inline constexpr const char* kEndCanceled = "CANCELED";
inline constexpr const char* kEndAttemptsExhausted = "ATTEMPTS_EXHAUSTED";
// The store.
inline constexpr const char* kStoreInconsistent = "TASK_STORE_INCONSISTENT";  // DataLoss
inline constexpr const char* kAuditUnavailable = "AUDIT_UNAVAILABLE";         // Unavailable
inline constexpr const char* kStorageUnavailable = "STORAGE_LOOKUP_UNAVAILABLE";  // Unavailable

}  // namespace cloister::tasks_service::reason
