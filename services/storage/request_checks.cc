// cloister-storage's input rules; see request_checks.h.
#include "services/storage/request_checks.h"

#include <array>

#include "common/bytes.h"
#include "services/storage/storage_reasons.h"

namespace cloister::storage_service {
namespace {

// Token layout: version byte, then the seq big-endian. A version byte lets
// a later cursor format be told apart from this one.
constexpr uint8_t kTokenVersion = 1;
constexpr size_t kTokenBytes = 9;

}  // namespace

bool IsHexId(std::string_view s) {
  if (s.size() != kIdHexLength) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Status CheckFileId(std::string_view file_id) {
  if (!IsHexId(file_id))
    return InvalidArgument("file_id must be 32 lowercase hex digits", reason::kFileIdInvalid);
  return OkStatus();
}

Status CheckUploadId(std::string_view upload_id) {
  if (!IsHexId(upload_id))
    return InvalidArgument("upload_id must be 32 lowercase hex digits", reason::kUploadIdInvalid);
  return OkStatus();
}

Status CheckDescription(std::string_view description) {
  if (description.size() > kMaxDescriptionBytes)
    return InvalidArgument("description is " + std::to_string(description.size()) +
                               " bytes; the limit is " + std::to_string(kMaxDescriptionBytes),
                           reason::kDescriptionTooLong);
  return OkStatus();
}

Status CheckLabels(const std::map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels)
    return InvalidArgument(std::to_string(labels.size()) + " labels; the limit is " +
                               std::to_string(kMaxLabels),
                           reason::kLabelsInvalid);
  for (const auto& [k, v] : labels) {
    if (k.empty()) return InvalidArgument("a label key is empty", reason::kLabelsInvalid);
    if (k.size() > kMaxLabelKeyBytes)
      return InvalidArgument("a label key is longer than " + std::to_string(kMaxLabelKeyBytes) +
                                 " bytes",
                             reason::kLabelsInvalid);
    if (v.size() > kMaxLabelValueBytes)
      return InvalidArgument("a label value is longer than " +
                                 std::to_string(kMaxLabelValueBytes) + " bytes",
                             reason::kLabelsInvalid);
  }
  return OkStatus();
}

std::string EncodePageToken(int64_t last_seq) {
  std::array<uint8_t, kTokenBytes> b{};
  b[0] = kTokenVersion;
  const auto v = static_cast<uint64_t>(last_seq);
  for (size_t i = 0; i < 8; ++i) b[1 + i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  return Base64Encode(b);
}

Result<int64_t> DecodePageToken(std::string_view token) {
  if (token.empty()) return int64_t{0};
  auto bad = [] { return InvalidArgument("page_token is not one this service issued",
                                         reason::kPageTokenInvalid); };
  auto b = Base64Decode(token);
  if (!b.ok() || b->size() != kTokenBytes || (*b)[0] != kTokenVersion) return bad();
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | (*b)[1 + i];
  // seqs start at 1 and stay within SQLite's signed 64 bits.
  if (v == 0 || v > static_cast<uint64_t>(INT64_MAX)) return bad();
  return static_cast<int64_t>(v);
}

}  // namespace cloister::storage_service
