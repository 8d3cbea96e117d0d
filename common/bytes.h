// Byte containers and encodings used across Cloister: Bytes, ByteView, hex.
//
//   Bytes b = ToBytes("abc");  std::string h = HexEncode(b);
//   CLOISTER_ASSIGN_OR_RETURN(Bytes back, HexDecode(h));
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloister {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string ToString(ByteView b) { return std::string(AsChars(b)); }

std::string HexEncode(ByteView b);
// InvalidArgument on odd length or a non-hex character.
Result<Bytes> HexDecode(std::string_view hex);

// Base64 (standard alphabet, padded). Decode rejects malformed input.
std::string Base64Encode(ByteView b);
Result<Bytes> Base64Decode(std::string_view text);

// Constant-time equality (length is not secret).
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace cloister
