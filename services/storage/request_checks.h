// cloister-storage's input rules (ids, metadata limits, page tokens), checked
// once at the core's edge so the catalog and the blob store only ever see
// well-formed ids (a file id becomes a path: it must be 32 lowercase hex).
//
//   CLOISTER_RETURN_IF_ERROR(CheckFileId(req.file_id()));
//   CLOISTER_ASSIGN_OR_RETURN(int64_t after, DecodePageToken(req.page_token()));
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cloister::storage_service {

inline constexpr size_t kIdHexLength = 32;
inline constexpr size_t kMaxDescriptionBytes = 1024;
inline constexpr size_t kMaxLabels = 32;
inline constexpr size_t kMaxLabelKeyBytes = 64;
inline constexpr size_t kMaxLabelValueBytes = 256;

// Exactly 32 characters of [0-9a-f].
bool IsHexId(std::string_view s);
// InvalidArgument [FILE_ID_INVALID] / [UPLOAD_ID_INVALID] unless IsHexId.
Status CheckFileId(std::string_view file_id);
Status CheckUploadId(std::string_view upload_id);
// InvalidArgument [DESCRIPTION_TOO_LONG] / [LABELS_INVALID].
Status CheckDescription(std::string_view description);
Status CheckLabels(const std::map<std::string, std::string>& labels);

// ListFiles' cursor: the listing order's key (a file's seq) of the last
// file of the previous page, opaque to clients. "" decodes to 0 (start).
// InvalidArgument [PAGE_TOKEN_INVALID] for anything this code did not make.
std::string EncodePageToken(int64_t last_seq);
Result<int64_t> DecodePageToken(std::string_view token);

}  // namespace cloister::storage_service
