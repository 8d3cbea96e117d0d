// cloister-tasks' input rules; see request_checks.h.
#include "services/tasks/request_checks.h"

#include <algorithm>
#include <charconv>

#include "services/tasks/tasks_reasons.h"

namespace cloister::tasks_service {
namespace {

bool IsLowerHex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::string Field(std::string_view f) { return std::string(f.substr(0, 128)); }

// Strict UTF-8 (no overlong forms, no surrogates): free text is shown to
// other participants and written to logs.
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      if (c < 0x20 && c != '\n' && c != '\t') return false;
      if (c == 0x7f) return false;
      ++i;
      continue;
    }
    if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; }
    else return false;
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

bool IsHexId(std::string_view s) { return IsLowerHex(s, 32); }
bool IsHexDigest(std::string_view s) { return IsLowerHex(s, 64); }

bool IsName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxNameBytes && std::all_of(s.begin(), s.end(), IsNameChar);
}

Status CheckTaskId(std::string_view id) {
  if (!IsHexId(id))
    return InvalidArgument("task_id must be 32 lowercase hex digits", reason::kTaskIdInvalid);
  return OkStatus();
}

Status CheckFunctionId(std::string_view id) {
  if (!IsHexId(id))
    return InvalidArgument("function_id must be 32 lowercase hex digits",
                           reason::kFunctionIdInvalid);
  return OkStatus();
}

Status CheckFunctionHash(std::string_view field, std::string_view hash) {
  if (!IsHexDigest(hash))
    return InvalidArgument(Field(field) + " must be 64 lowercase hex digits (a function version's hash)",
                           reason::kFunctionHashInvalid);
  return OkStatus();
}

Status CheckFileId(std::string_view field, std::string_view id) {
  if (!IsHexId(id))
    return InvalidArgument(Field(field) + " must be a file id: 32 lowercase hex digits",
                           reason::kFileIdInvalid);
  return OkStatus();
}

Status CheckDigest(std::string_view digest) {
  if (!IsHexDigest(digest))
    return InvalidArgument("digest must be the task's digest as GetTask shows it (64 lowercase hex digits)",
                           reason::kDigestInvalid);
  return OkStatus();
}

Status CheckUserId(std::string_view field, std::string_view id) {
  const bool ok = !id.empty() && id.size() <= kMaxUserIdBytes &&
                  std::all_of(id.begin(), id.end(), [](char c) {
                    return IsNameChar(c) || c == '.' || c == '@';
                  });
  if (!ok)
    return InvalidArgument(Field(field) + " must be a user id (1..128 of [A-Za-z0-9._@-])",
                           reason::kUserIdInvalid);
  return OkStatus();
}

Status CheckSlotName(std::string_view field, std::string_view slot) {
  const size_t dot = slot.find('.');
  const bool ok = dot == std::string_view::npos
                      ? IsName(slot)
                      : IsName(slot.substr(0, dot)) && IsName(slot.substr(dot + 1));
  if (!ok)
    return InvalidArgument(Field(field) + ": a slot is <name> or <name>.<party>, each 1..64 of "
                               "[A-Za-z0-9_-]",
                           reason::kSlotsInvalid);
  return OkStatus();
}

Status CheckText(std::string_view field, std::string_view text, size_t max) {
  if (text.size() > max)
    return InvalidArgument(Field(field) + " is " + std::to_string(text.size()) +
                               " bytes; at most " + std::to_string(max),
                           reason::kTextTooLong);
  if (!ValidUtf8(text))
    return InvalidArgument(Field(field) + " must be UTF-8 text without control characters",
                           reason::kTextInvalid);
  return OkStatus();
}

std::string EncodePageToken(int64_t key) { return "p" + std::to_string(key); }

Result<int64_t> DecodePageToken(std::string_view token) {
  if (token.empty()) return int64_t{0};
  int64_t v = 0;
  if (token.size() < 2 || token.size() > 20 || token[0] != 'p' || token[1] == '0')
    return InvalidArgument("page_token is not one this service issued", reason::kPageTokenInvalid);
  auto [end, ec] = std::from_chars(token.data() + 1, token.data() + token.size(), v);
  if (ec != std::errc() || end != token.data() + token.size() || v <= 0)
    return InvalidArgument("page_token is not one this service issued", reason::kPageTokenInvalid);
  return v;
}

uint32_t PageSize(uint32_t requested) {
  return requested == 0 ? 100u : std::min<uint32_t>(requested, 1000u);
}

}  // namespace cloister::tasks_service
