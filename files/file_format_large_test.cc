// A file of more than 4 GiB streams through the format with memory bounded
// by one chunk (no file on disk: the plaintext is generated chunk by chunk
// and the decrypted stream is hashed), so lengths and chunk indices above
// 32 bits are exercised end to end.
#include <gtest/gtest.h>

#include "common/crypto/random.h"
#include "files/file_stream.h"

namespace cloister::files {
namespace {

TEST(FileFormatLargeTest, MoreThanFourGiBStreamsInBoundedMemory) {
  const uint64_t size = (uint64_t{4} << 30) + 12345;  // > 2^32 bytes
  const Bytes key = crypto::RandomBytes(kFileKeySize);
  auto enc = FileEncryptor::Create(key, size);
  ASSERT_TRUE(enc.ok());
  auto dec = FileDecryptor::Open(key, enc->header_bytes());
  ASSERT_TRUE(dec.ok());
  ASSERT_EQ(dec->header().plaintext_length, size);
  crypto::Sha256Hasher in_hash, out_hash;
  Bytes chunk;
  for (uint64_t i = 0; i < enc->header().chunk_count(); ++i) {
    chunk.assign(enc->header().chunk_plaintext_size(i), static_cast<uint8_t>(i * 13));
    chunk[0] = static_cast<uint8_t>(i >> 8);
    in_hash.Update(ByteView(chunk));
    auto sealed = enc->SealChunk(chunk);
    ASSERT_TRUE(sealed.ok());
    auto plain = dec->OpenChunk(*sealed);
    ASSERT_TRUE(plain.ok()) << i << ": " << plain.error().ToString();
    out_hash.Update(ByteView(*plain));
  }
  EXPECT_TRUE(enc->Finish().ok());
  EXPECT_TRUE(dec->Finish().ok());
  EXPECT_EQ(in_hash.Finish(), out_hash.Finish());
  EXPECT_EQ(enc->header().chunk_count(), size / kDefaultChunkSize + 1);
}

}  // namespace
}  // namespace cloister::files
