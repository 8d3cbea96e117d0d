// The encrypted file format (files/): round trips at every chunk-boundary
// size, every tampering class with its named error and no plaintext, the
// version rule, the checked-in test vector, and file-to-file streaming
// that never leaves partial plaintext.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "common/crypto/random.h"
#include "common/fs.h"
#include "files/file_io.h"
#include "files/vector_spec.h"

namespace cloister::files {
namespace {

constexpr uint32_t kChunk = 1024;

Bytes Key() { return crypto::RandomBytes(kFileKeySize); }

Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 31 + 7);
  return b;
}

Result<Bytes> Encrypt(ByteView key, ByteView plain, uint32_t chunk = kChunk) {
  CLOISTER_ASSIGN_OR_RETURN(FileEncryptor enc,
                            FileEncryptor::Create(key, plain.size(), {.chunk_size = chunk}));
  Bytes out(enc.header_bytes().begin(), enc.header_bytes().end());
  size_t off = 0;
  for (uint64_t i = 0; i < enc.header().chunk_count(); ++i) {
    const size_t n = enc.header().chunk_plaintext_size(i);
    CLOISTER_ASSIGN_OR_RETURN(Bytes c, enc.SealChunk(plain.subspan(off, n)));
    out.insert(out.end(), c.begin(), c.end());
    off += n;
  }
  CLOISTER_RETURN_IF_ERROR(enc.Finish());
  return out;
}

// A reader over a byte buffer as a network stream would feed it: chunk by
// chunk, whatever is left at the end is fed too (so trailing bytes and cut
// chunks reach the decryptor). Returns the plaintext only if all of it
// authenticated; `released` counts bytes the decryptor let out before the
// error (each of them authenticated).
Result<Bytes> Decrypt(ByteView key, ByteView blob, size_t* released = nullptr) {
  CLOISTER_ASSIGN_OR_RETURN(FileDecryptor dec, FileDecryptor::Open(key, blob.first(std::min(blob.size(), kHeaderSize))));
  size_t off = kHeaderSize;
  Bytes out;
  while (off < blob.size() || dec.next_index() < dec.header().chunk_count()) {
    if (off >= blob.size()) break;
    size_t want = dec.next_index() < dec.header().chunk_count()
                      ? static_cast<size_t>(dec.sealed_chunk_size(dec.next_index()))
                      : blob.size() - off;
    want = std::min(want, blob.size() - off);
    auto plain = dec.OpenChunk(blob.subspan(off, want));
    if (!plain.ok()) {
      if (released) *released = out.size();
      return plain.error();
    }
    out.insert(out.end(), plain->begin(), plain->end());
    off += want;
  }
  if (released) *released = out.size();
  CLOISTER_RETURN_IF_ERROR(dec.Finish());
  return out;
}

std::string ReasonOf(const Result<Bytes>& r) { return r.ok() ? "OK" : r.error().reason(); }

TEST(FileFormatTest, RoundTripsAtEveryChunkBoundary) {
  const Bytes key = Key();
  for (size_t n : {size_t{0}, size_t{1}, size_t{kChunk - 1}, size_t{kChunk}, size_t{kChunk + 1},
                   size_t{3 * kChunk}, size_t{3 * kChunk + 17}}) {
    const Bytes plain = Pattern(n);
    auto blob = Encrypt(key, plain);
    ASSERT_TRUE(blob.ok()) << blob.error().ToString();
    const uint64_t chunks = std::max<uint64_t>(1, (n + kChunk - 1) / kChunk);
    EXPECT_EQ(blob->size(), kHeaderSize + n + chunks * kTagSize) << n;
    auto back = Decrypt(key, *blob);
    ASSERT_TRUE(back.ok()) << n << ": " << back.error().ToString();
    EXPECT_EQ(*back, plain) << n;
  }
}

TEST(FileFormatTest, SameInputTwiceGivesDifferentFiles) {
  const Bytes key = Key(), plain = Pattern(100);
  EXPECT_NE(*Encrypt(key, plain), *Encrypt(key, plain));  // fresh file id, so fresh nonces
}

TEST(FileFormatTest, EveryChangedByteFailsByNameWithoutPlaintext) {
  const Bytes key = Key(), plain = Pattern(2 * kChunk + 300);
  const Bytes blob = *Encrypt(key, plain);
  const std::set<std::string> named = {reason::kBadMagic, reason::kVersion, reason::kHeader,
                                       reason::kChunkAuth};
  for (size_t i = 0; i < blob.size(); ++i) {
    Bytes bad = blob;
    bad[i] ^= 0x01;
    size_t released = 0;
    auto r = Decrypt(key, bad, &released);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    EXPECT_TRUE(named.count(r.error().reason())) << "byte " << i << ": " << r.error().ToString();
    // Only chunks before the changed one may have been released, and those
    // authenticated: never a byte of the changed chunk.
    const size_t chunk_of_byte = i < kHeaderSize ? 0 : (i - kHeaderSize) / (kChunk + kTagSize);
    EXPECT_LE(released, chunk_of_byte * kChunk) << "byte " << i;
  }
}

TEST(FileFormatTest, ReorderDropDuplicateTruncateAppendAreNamed) {
  const Bytes key = Key(), plain = Pattern(3 * kChunk);
  const Bytes blob = *Encrypt(key, plain);
  const size_t c = kChunk + kTagSize;
  auto chunk = [&](int i) { return Bytes(blob.begin() + kHeaderSize + i * c, blob.begin() + kHeaderSize + (i + 1) * c); };
  const Bytes header(blob.begin(), blob.begin() + kHeaderSize);
  auto cat = [&](std::vector<Bytes> parts) {
    Bytes out = header;
    for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  EXPECT_EQ(ReasonOf(Decrypt(key, cat({chunk(1), chunk(0), chunk(2)}))), reason::kChunkAuth);  // reorder
  EXPECT_EQ(ReasonOf(Decrypt(key, cat({chunk(0), chunk(2)}))), reason::kChunkAuth);  // drop middle
  EXPECT_EQ(ReasonOf(Decrypt(key, cat({chunk(0), chunk(0), chunk(2)}))), reason::kChunkAuth);  // duplicate
  EXPECT_EQ(ReasonOf(Decrypt(key, cat({chunk(0), chunk(1)}))), reason::kTruncated);  // drop last
  Bytes longer = blob;
  longer.push_back(0);
  EXPECT_EQ(ReasonOf(Decrypt(key, longer)), reason::kTrailing);  // append
  Bytes twice = cat({chunk(0), chunk(1), chunk(2), chunk(2)});
  EXPECT_EQ(ReasonOf(Decrypt(key, twice)), reason::kTrailing);
  // Cut at every length: always a named error, never success.
  for (size_t n = 0; n < blob.size(); ++n) {
    auto r = Decrypt(key, ByteView(blob).first(n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_TRUE(r.error().reason() == reason::kTruncated || r.error().reason() == reason::kBadMagic)
        << n << ": " << r.error().ToString();
  }
}

TEST(FileFormatTest, HeaderClaimsAreAuthenticatedByTheChunks) {
  const Bytes key = Key();
  const Bytes blob = *Encrypt(key, Pattern(2 * kChunk));
  // A header that declares a shorter file (one chunk) so that the first
  // chunk would be "final": the digest changes, so chunk 0 fails.
  auto h = *FileHeader::Decode(ByteView(blob).first(kHeaderSize));
  h.plaintext_length = kChunk;
  const auto forged_header = h.Encode();
  Bytes forged(forged_header.begin(), forged_header.end());
  forged.insert(forged.end(), blob.begin() + kHeaderSize, blob.begin() + kHeaderSize + kChunk + kTagSize);
  EXPECT_EQ(ReasonOf(Decrypt(key, forged)), reason::kChunkAuth);
  // The chunks of one file do not open under another file's header (ids
  // differ, so nonces and AAD differ), even with the same key.
  const Bytes other = *Encrypt(key, Pattern(2 * kChunk));
  Bytes spliced(other.begin(), other.begin() + kHeaderSize);
  spliced.insert(spliced.end(), blob.begin() + kHeaderSize, blob.end());
  EXPECT_EQ(ReasonOf(Decrypt(key, spliced)), reason::kChunkAuth);
}

TEST(FileFormatTest, WrongKeyAndBadKeySizes) {
  const Bytes blob = *Encrypt(Key(), Pattern(10));
  EXPECT_EQ(ReasonOf(Decrypt(Key(), blob)), reason::kChunkAuth);
  EXPECT_EQ(FileEncryptor::Create(Bytes(16), 1).error().reason(), reason::kKey);
  EXPECT_EQ(FileDecryptor::Open(Bytes(31), ByteView(blob).first(kHeaderSize)).error().reason(),
            reason::kKey);
}

TEST(FileFormatTest, UnknownVersionIsRefusedByNameAndNumber) {
  Bytes blob = *Encrypt(Key(), Pattern(10));
  blob[8] = 0x00;
  blob[9] = 0x02;  // version 2
  auto r = FileHeader::Decode(ByteView(blob).first(kHeaderSize));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), reason::kVersion);
  EXPECT_NE(r.error().message().find("version 2"), std::string::npos) << r.error().message();
  EXPECT_EQ(FileHeader::Decode(ToBytes("NOTCLSTR" + std::string(32, '\0'))).error().reason(),
            reason::kBadMagic);
}

TEST(FileFormatTest, HeaderBoundsAreChecked) {
  FileHeader h;
  for (uint32_t bad : {0u, kMinChunkSize - 1, kMaxChunkSize + 1}) {
    h.chunk_size = bad;
    auto bytes = h.Encode();
    EXPECT_EQ(FileHeader::Decode(ByteView(bytes)).error().reason(), reason::kHeader) << bad;
  }
  h.chunk_size = kMinChunkSize;
  h.plaintext_length = ~uint64_t{0};  // more than 2^32 chunks
  auto bytes = h.Encode();
  EXPECT_EQ(FileHeader::Decode(ByteView(bytes)).error().reason(), reason::kHeader);
  bytes = FileHeader{}.Encode();
  bytes[11] = 1;  // a flag version 1 does not define
  EXPECT_EQ(FileHeader::Decode(ByteView(bytes)).error().reason(), reason::kHeader);
}

TEST(FileFormatTest, EncryptorRefusesMisuse) {
  auto enc = *FileEncryptor::Create(Key(), 1500, {.chunk_size = kChunk});
  EXPECT_EQ(enc.SealChunk(Pattern(10)).error().reason(), reason::kUsage);  // wrong size
  EXPECT_EQ(enc.Finish().error().reason(), reason::kUsage);                 // not done
  ASSERT_TRUE(enc.SealChunk(Pattern(kChunk)).ok());
  ASSERT_TRUE(enc.SealChunk(Pattern(476)).ok());
  EXPECT_EQ(enc.SealChunk(Pattern(1)).error().reason(), reason::kUsage);  // past the end
  EXPECT_TRUE(enc.Finish().ok());
}

TEST(FileFormatTest, CheckedInTestVectorIsStillProducedAndOpens) {
  const std::string dir = CLOISTER_FILE_VECTOR_DIR;
  auto key_hex = ReadFile(dir + "/vector1.key", 1024);
  auto plain = ReadFile(dir + "/vector1.plain", 1 << 20);
  auto sealed = ReadFile(dir + "/vector1.cloister", 1 << 20);
  ASSERT_TRUE(key_hex.ok() && plain.ok() && sealed.ok())
      << "run: build/bin/file_vector_gen files/testdata";
  std::string hex = *key_hex;
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
  auto key = HexDecode(hex);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, TestVectorKey());
  EXPECT_EQ(*plain, ToString(TestVectorPlaintext()));
  // A format change that alters the bytes must be a new version.
  EXPECT_EQ(ToString(*BuildTestVector()), *sealed);
  auto back = Decrypt(*key, AsBytes(*sealed));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(ToString(*back), *plain);
}

TEST(FileFormatTest, FilesOnDiskRoundTripAndTamperingLeavesNoPlaintext) {
  char tmpl[] = "/tmp/cloister-files-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const Bytes key = Key(), plain = Pattern(5 * kChunk + 9);
  ASSERT_TRUE(WriteFileAtomic(dir + "/in", plain, 0600).ok());
  uint64_t last_done = 0, calls = 0;
  auto h = EncryptFile(dir + "/in", dir + "/in.cloister", key, {.chunk_size = kChunk},
                       [&](uint64_t done, uint64_t total) {
                         EXPECT_EQ(total, plain.size());
                         EXPECT_GT(done, last_done);
                         last_done = done;
                         ++calls;
                       });
  ASSERT_TRUE(h.ok()) << h.error().ToString();
  EXPECT_EQ(calls, 6u);
  ASSERT_TRUE(DecryptFile(dir + "/in.cloister", dir + "/out", key).ok());
  EXPECT_EQ(*ReadFile(dir + "/out", 1 << 20), ToString(plain));
  // Tamper with the LAST chunk: earlier chunks authenticate, yet the
  // target file must not appear at all.
  auto sealed = *ReadFile(dir + "/in.cloister", 1 << 20);
  sealed[sealed.size() - 3] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(dir + "/bad.cloister", sealed, 0600).ok());
  auto r = DecryptFile(dir + "/bad.cloister", dir + "/bad.out", key);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), reason::kChunkAuth);
  EXPECT_FALSE(FileExists(dir + "/bad.out"));
  // A cut file is refused before anything is written.
  ASSERT_TRUE(WriteFileAtomic(dir + "/cut.cloister", sealed.substr(0, sealed.size() - 5), 0600).ok());
  EXPECT_EQ(DecryptFile(dir + "/cut.cloister", dir + "/cut.out", key).error().reason(),
            reason::kTruncated);
  EXPECT_FALSE(FileExists(dir + "/cut.out"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cloister::files
