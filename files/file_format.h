// The Cloister encrypted file format, version 1 (docs/file-format.md): a
// 40-byte header followed by AES-256-GCM chunks under a fresh random file
// key. Pure library, no I/O, no gRPC: the SDK and CLI encrypt and decrypt
// with it, cloister-storage only ever sees its bytes.
//
//   header (big-endian):  magic "CLSTRFIL" (8) | version u16 = 1 | flags u16 = 0 |
//                         chunk_size u32 | file_id (16) | plaintext_length u64
//   chunk i (0 ≤ i < n):  AES-256-GCM(file key, nonce_i, aad_i, plaintext_i) ‖ tag (16)
//   n       = max(1, ceil(plaintext_length / chunk_size))
//   nonce_i = SHA-256("cloister-file-nonce-v1" ‖ file_id ‖ be64(i))[0..12]
//   aad_i   = SHA-256(header) ‖ be64(i) ‖ (i == n-1 ? 0x01 : 0x00)
//
// So the header is authenticated by every chunk, and reordering, dropping,
// duplicating, truncating, appending or changing any byte fails with a
// named error (docs/file-format.md lists which).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/bytes.h"
#include "common/crypto/hash.h"

namespace cloister::files {

inline constexpr std::string_view kMagic = "CLSTRFIL";
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kHeaderSize = 40;
inline constexpr size_t kFileIdSize = 16;
inline constexpr size_t kFileKeySize = 32;
inline constexpr size_t kTagSize = 16;
inline constexpr uint32_t kDefaultChunkSize = 1u << 20;  // 1 MiB
inline constexpr uint32_t kMinChunkSize = 1u << 10;      // 1 KiB
inline constexpr uint32_t kMaxChunkSize = 16u << 20;     // 16 MiB: bounds reader memory
// 2^32 chunks of at most 16 MiB: far beyond any file, and every index
// fits the nonce derivation's 64 bits.
inline constexpr uint64_t kMaxChunks = uint64_t{1} << 32;

// Named failures (Error::reason()).
namespace reason {
inline constexpr const char* kBadMagic = "FILE_NOT_CLOISTER_FORMAT";
inline constexpr const char* kVersion = "FILE_FORMAT_VERSION_UNSUPPORTED";
inline constexpr const char* kHeader = "FILE_HEADER_MALFORMED";
inline constexpr const char* kChunkAuth = "FILE_CHUNK_AUTH_FAILED";
inline constexpr const char* kTruncated = "FILE_TRUNCATED";
inline constexpr const char* kTrailing = "FILE_TRAILING_DATA";
inline constexpr const char* kKey = "FILE_KEY_INVALID";
inline constexpr const char* kUsage = "FILE_STREAM_MISUSE";
}  // namespace reason

using FileId = std::array<uint8_t, kFileIdSize>;

struct FileHeader {
  uint16_t version = kFormatVersion;
  uint32_t chunk_size = kDefaultChunkSize;
  FileId file_id{};
  uint64_t plaintext_length = 0;

  // Number of chunks (≥ 1: an empty file has one empty final chunk).
  uint64_t chunk_count() const;
  // Plaintext bytes in chunk `index` (< chunk_count()).
  size_t chunk_plaintext_size(uint64_t index) const;
  // Total size of the encrypted file: header + plaintext + one tag per chunk.
  uint64_t encrypted_size() const;

  std::array<uint8_t, kHeaderSize> Encode() const;
  // Bounds-checked: exactly kHeaderSize bytes, the magic, a known version
  // (FILE_FORMAT_VERSION_UNSUPPORTED names the one found), flags 0, a chunk
  // size within bounds and a chunk count ≤ kMaxChunks.
  static Result<FileHeader> Decode(ByteView bytes);
  // Checks a header to be written (same rules as Decode).
  Status Validate() const;
};

// The per-chunk values of the format (exposed for other implementations'
// tests and the spec's worked example).
std::array<uint8_t, 12> ChunkNonce(const FileId& id, uint64_t index);
Bytes ChunkAad(const crypto::Digest& header_digest, uint64_t index, bool final_chunk);

}  // namespace cloister::files
