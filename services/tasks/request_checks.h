// cloister-tasks' input rules for ids, user ids, slot names, free text and
// page tokens, checked once at the core's edge so the store only ever sees
// well-formed values. Every refusal is InvalidArgument naming the field.
//
//   CLOISTER_RETURN_IF_ERROR(CheckTaskId(req.task_id()));
//   CLOISTER_RETURN_IF_ERROR(CheckUserId("inputs[set.bob]", owner));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cloister::tasks_service {

inline constexpr size_t kMaxNameBytes = 64;          // arg, slot, spec and party names
inline constexpr size_t kMaxUserIdBytes = 128;
inline constexpr size_t kMaxHelpBytes = 1024;
inline constexpr size_t kMaxDescriptionBytes = 4096;
inline constexpr size_t kMaxNoteBytes = 1024;        // a rejection's or failure's message
inline constexpr size_t kMaxWorkerIdBytes = 128;

// 32 lowercase hex digits (task ids, function ids, file ids).
bool IsHexId(std::string_view s);
// 64 lowercase hex digits (function hashes, task digests).
bool IsHexDigest(std::string_view s);
// [A-Za-z0-9_-]{1,64}.
bool IsName(std::string_view s);

// InvalidArgument [TASK_ID_INVALID] / [FUNCTION_ID_INVALID] /
// [FUNCTION_HASH_INVALID] / [FILE_ID_INVALID] / [DIGEST_INVALID].
Status CheckTaskId(std::string_view id);
Status CheckFunctionId(std::string_view id);
Status CheckFunctionHash(std::string_view field, std::string_view hash);
Status CheckFileId(std::string_view field, std::string_view id);
Status CheckDigest(std::string_view digest);
// 1..128 bytes of [A-Za-z0-9._@-]; no "service:" principal is a user.
// InvalidArgument [USER_ID_INVALID] naming `field`.
Status CheckUserId(std::string_view field, std::string_view id);
// A task's slot: "<name>" or "<name>.<party>", each part IsName.
// InvalidArgument [SLOTS_INVALID] naming `field`.
Status CheckSlotName(std::string_view field, std::string_view slot);
// At most `max` bytes of valid UTF-8 without control characters other than
// newline and tab. InvalidArgument [TEXT_TOO_LONG] / [TEXT_INVALID] naming `field`.
Status CheckText(std::string_view field, std::string_view text, size_t max);

// Listing cursors: the listing key of the last row of the previous page,
// opaque to clients. "" decodes to 0 (the start). InvalidArgument
// [PAGE_TOKEN_INVALID] for anything this code did not make.
std::string EncodePageToken(int64_t key);
Result<int64_t> DecodePageToken(std::string_view token);
// 0 → 100; otherwise min(size, 1000).
uint32_t PageSize(uint32_t requested);

}  // namespace cloister::tasks_service
