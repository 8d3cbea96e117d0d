// Header encoding and the per-chunk nonce/AAD of the file format; see
// file_format.h.
#include "files/file_format.h"

#include <algorithm>

namespace cloister::files {
namespace {

void PutBe(uint8_t* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) out[i] = static_cast<uint8_t>(v & 0xff);
}
uint64_t GetBe(const uint8_t* in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | in[i];
  return v;
}

Status CheckVersion(uint64_t version) {
  if (version == kFormatVersion) return OkStatus();
  return InvalidArgument("file format version " + std::to_string(version) +
                             " is not supported (this reader knows version " +
                             std::to_string(kFormatVersion) + ")",
                         reason::kVersion);
}

}  // namespace

uint64_t FileHeader::chunk_count() const {
  if (plaintext_length == 0 || chunk_size == 0) return 1;
  // Not (len + cs - 1) / cs: that wraps for a hostile length near 2^64.
  return plaintext_length / chunk_size + (plaintext_length % chunk_size != 0 ? 1 : 0);
}

size_t FileHeader::chunk_plaintext_size(uint64_t index) const {
  const uint64_t n = chunk_count();
  if (index + 1 < n) return chunk_size;
  return static_cast<size_t>(plaintext_length - (n - 1) * uint64_t{chunk_size});
}

uint64_t FileHeader::encrypted_size() const {
  return kHeaderSize + plaintext_length + chunk_count() * kTagSize;
}

std::array<uint8_t, kHeaderSize> FileHeader::Encode() const {
  std::array<uint8_t, kHeaderSize> h{};
  std::copy(kMagic.begin(), kMagic.end(), h.begin());
  PutBe(h.data() + 8, version, 2);
  PutBe(h.data() + 10, 0, 2);  // flags
  PutBe(h.data() + 12, chunk_size, 4);
  std::copy(file_id.begin(), file_id.end(), h.begin() + 16);
  PutBe(h.data() + 32, plaintext_length, 8);
  return h;
}

Status FileHeader::Validate() const {
  CLOISTER_RETURN_IF_ERROR(CheckVersion(version));
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize)
    return InvalidArgument("chunk size " + std::to_string(chunk_size) + " is outside " +
                               std::to_string(kMinChunkSize) + ".." + std::to_string(kMaxChunkSize),
                           reason::kHeader);
  if (chunk_count() > kMaxChunks)
    return InvalidArgument("file has more than 2^32 chunks", reason::kHeader);
  return OkStatus();
}

Result<FileHeader> FileHeader::Decode(ByteView b) {
  if (b.size() < kHeaderSize)
    return InvalidArgument("file is shorter than its " + std::to_string(kHeaderSize) +
                               "-byte header",
                           b.size() >= kMagic.size() ? reason::kTruncated : reason::kBadMagic);
  if (!std::equal(kMagic.begin(), kMagic.end(), b.begin()))
    return InvalidArgument("not a Cloister encrypted file (bad magic)", reason::kBadMagic);
  FileHeader h;
  const uint64_t version = GetBe(b.data() + 8, 2);
  h.version = static_cast<uint16_t>(version);
  // The version first: a later format may lay out the rest differently.
  CLOISTER_RETURN_IF_ERROR(CheckVersion(version));
  if (GetBe(b.data() + 10, 2) != 0)
    return InvalidArgument("header flags are not zero (version 1 defines none)", reason::kHeader);
  h.chunk_size = static_cast<uint32_t>(GetBe(b.data() + 12, 4));
  std::copy(b.begin() + 16, b.begin() + 32, h.file_id.begin());
  h.plaintext_length = GetBe(b.data() + 32, 8);
  CLOISTER_RETURN_IF_ERROR(h.Validate());
  return h;
}

std::array<uint8_t, 12> ChunkNonce(const FileId& id, uint64_t index) {
  crypto::Sha256Hasher hasher;
  hasher.Update(std::string_view("cloister-file-nonce-v1"));
  hasher.Update(ByteView(id));
  uint8_t be[8];
  PutBe(be, index, 8);
  hasher.Update(ByteView(be, 8));
  const crypto::Digest d = hasher.Finish();
  std::array<uint8_t, 12> nonce{};
  std::copy_n(d.begin(), 12, nonce.begin());
  return nonce;
}

Bytes ChunkAad(const crypto::Digest& header_digest, uint64_t index, bool final_chunk) {
  Bytes aad(header_digest.begin(), header_digest.end());
  aad.resize(32 + 8 + 1);
  PutBe(aad.data() + 32, index, 8);
  aad[40] = final_chunk ? 1 : 0;
  return aad;
}

}  // namespace cloister::files
