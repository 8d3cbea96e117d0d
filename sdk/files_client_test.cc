// Unit tests of the files client's parts that need no cluster: the
// ciphertext an upload sends (identical to the format's encryptor, and
// reproduced byte for byte and hash for hash when resumed at any offset),
// the download's decrypting sink (pieces of any size, resumption offsets,
// the format's named errors, nothing released before it authenticated),
// and which errors are retried.
#include "sdk/files_client.h"

#include <gtest/gtest.h>

#include <sstream>

#include "common/crypto/random.h"

namespace cloister::sdk::files_internal {
namespace {

constexpr uint32_t kChunk = files::kMinChunkSize;  // 1 KiB: many chunks, small data

struct Fixture {
  SecretBytes key = SecretBytes::Random(files::kFileKeySize);
  files::FileId id{};
  std::string plain;
  std::string cipher;  // the reference: FileEncryptor's own output

  explicit Fixture(size_t n) {
    Bytes raw = crypto::RandomBytes(files::kFileIdSize);
    std::copy(raw.begin(), raw.end(), id.begin());
    plain = ToString(crypto::RandomBytes(n));
    auto enc = files::FileEncryptor::Create(key.view(), n, {.chunk_size = kChunk, .file_id = id});
    EXPECT_TRUE(enc.ok());
    cipher = ToString(enc->header_bytes());
    for (uint64_t i = 0; i < enc->header().chunk_count(); ++i) {
      auto sealed =
          enc->SealChunk(AsBytes(plain).subspan(i * kChunk, enc->header().chunk_plaintext_size(i)));
      EXPECT_TRUE(sealed.ok());
      cipher += ToString(*sealed);
    }
  }
  std::string hex_id() const { return HexEncode(id); }
};

std::string Drain(CiphertextStream& s, size_t max) {
  std::string out;
  while (true) {
    auto piece = s.Next(max);
    EXPECT_TRUE(piece.ok()) << piece.error().ToString();
    if (!piece.ok() || piece->empty()) return out;
    EXPECT_LE(piece->size(), max);
    out += AsChars(*piece);
  }
}

TEST(CiphertextStreamTest, ProducesExactlyTheEncryptorsBytesAndTheirHash) {
  Fixture f(3 * kChunk + 517);
  std::istringstream in(f.plain);
  auto s = CiphertextStream::Create(&in, f.plain.size(), f.key.view(),
                                    {.chunk_size = kChunk, .file_id = f.id});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->size(), f.cipher.size());
  EXPECT_EQ(Drain(*s, 100), f.cipher);
  auto d = s->Digest();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, crypto::Sha256(std::string_view(f.cipher)));
}

TEST(CiphertextStreamTest, ResumingAtAnyOffsetReproducesTheRestAndTheWholeHash) {
  Fixture f(2 * kChunk + 100);
  const uint64_t n = f.cipher.size();
  const uint64_t sealed = kChunk + files::kTagSize;
  for (uint64_t at : {uint64_t{0}, uint64_t{1}, uint64_t{39}, uint64_t{40}, uint64_t{41},
                      40 + sealed - 1, 40 + sealed, 40 + sealed + 1, n - 1, n}) {
    std::istringstream in(f.plain);
    auto s = CiphertextStream::Create(&in, f.plain.size(), f.key.view(),
                                      {.chunk_size = kChunk, .file_id = f.id});
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s->Skip(at).ok()) << at;
    EXPECT_EQ(s->offset(), at);
    EXPECT_EQ(Drain(*s, 333), f.cipher.substr(at)) << at;
    auto d = s->Digest();
    ASSERT_TRUE(d.ok()) << at;
    EXPECT_EQ(*d, crypto::Sha256(std::string_view(f.cipher))) << at;
  }
}

TEST(CiphertextStreamTest, DigestOnlyAtTheEndAndSkipNotPastIt) {
  Fixture f(10);
  std::istringstream in(f.plain);
  auto s = CiphertextStream::Create(&in, f.plain.size(), f.key.view(),
                                    {.chunk_size = kChunk, .file_id = f.id});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Digest().code(), Code::kFailedPrecondition);
  auto past = s->Skip(f.cipher.size() + 1);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().reason(), kUploadOffsetInvalid);
}

TEST(CiphertextStreamTest, AnInputOfAnotherSizeIsRefused) {
  Fixture f(2 * kChunk);
  for (const std::string& actual : {f.plain.substr(0, kChunk + 3), f.plain + "x"}) {
    std::istringstream in(actual);
    auto s = CiphertextStream::Create(&in, f.plain.size(), f.key.view(),
                                      {.chunk_size = kChunk, .file_id = f.id});
    ASSERT_TRUE(s.ok());
    Status st;
    while (st.ok()) {
      auto piece = s->Next(4096);
      if (!piece.ok())
        st = piece.status();
      else if (piece->empty())
        break;
    }
    ASSERT_FALSE(st.ok()) << actual.size();
    EXPECT_EQ(st.error().reason(), kUploadSourceChanged) << actual.size();
  }
}

struct Collected {
  std::string out;
  int writes = 0;
};

PlaintextSink SinkFor(const Fixture& f, Collected* c) {
  return PlaintextSink(f.key, f.hex_id(), [c](ByteView b) {
    c->out += AsChars(b);
    ++c->writes;
    return OkStatus();
  });
}

TEST(PlaintextSinkTest, DecryptsPiecesOfAnySizeAndReleasesWholeChunksOnly) {
  Fixture f(4 * kChunk + 9);
  for (size_t piece : {size_t{1}, size_t{7}, size_t{40}, size_t{1000}, f.cipher.size()}) {
    Collected c;
    PlaintextSink sink = SinkFor(f, &c);
    for (size_t at = 0; at < f.cipher.size(); at += piece) {
      const std::string part = f.cipher.substr(at, piece);
      ASSERT_TRUE(sink.Add(at, AsBytes(part)).ok()) << piece << "@" << at;
      EXPECT_EQ(sink.offset(), at + part.size());
    }
    EXPECT_EQ(sink.total(), f.cipher.size());
    ASSERT_TRUE(sink.Finish().ok()) << piece;
    EXPECT_EQ(c.out, f.plain) << piece;
    EXPECT_EQ(c.writes, 5) << piece;  // one write per authenticated chunk
  }
}

TEST(PlaintextSinkTest, EmptyFileRoundTrips) {
  Fixture f(0);
  Collected c;
  PlaintextSink sink = SinkFor(f, &c);
  ASSERT_TRUE(sink.Add(0, AsBytes(f.cipher)).ok());
  EXPECT_TRUE(sink.Finish().ok());
  EXPECT_EQ(c.out, "");
}

TEST(PlaintextSinkTest, APieceAtAnotherOffsetIsRefusedAndTheErrorSticks) {
  Fixture f(2 * kChunk);
  Collected c;
  PlaintextSink sink = SinkFor(f, &c);
  ASSERT_TRUE(sink.Add(0, AsBytes(f.cipher).first(100)).ok());
  Status gap = sink.Add(101, AsBytes(f.cipher).subspan(101));
  ASSERT_FALSE(gap.ok());
  EXPECT_EQ(gap.error().reason(), kDownloadOffsetMismatch);
  // Even the right bytes now: a failed sink never resumes.
  EXPECT_FALSE(sink.Add(100, AsBytes(f.cipher).subspan(100)).ok());
  EXPECT_FALSE(sink.Finish().ok());
}

TEST(PlaintextSinkTest, ATamperedByteFailsItsChunkAndReleasesNothingOfIt) {
  Fixture f(3 * kChunk);
  std::string bad = f.cipher;
  const size_t second_chunk = files::kHeaderSize + kChunk + files::kTagSize;
  bad[second_chunk + 5] ^= 0x01;
  Collected c;
  PlaintextSink sink = SinkFor(f, &c);
  Status st = sink.Add(0, AsBytes(bad));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().reason(), files::reason::kChunkAuth);
  EXPECT_EQ(c.out, f.plain.substr(0, kChunk));  // the first chunk only
}

TEST(PlaintextSinkTest, TruncationAndTrailingBytesHaveTheFormatsReasons) {
  Fixture f(2 * kChunk + 1);
  {
    Collected c;
    PlaintextSink sink = SinkFor(f, &c);
    ASSERT_TRUE(sink.Add(0, AsBytes(f.cipher).first(f.cipher.size() - 1)).ok());
    Status st = sink.Finish();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().reason(), files::reason::kTruncated);
  }
  {
    Collected c;
    PlaintextSink sink = SinkFor(f, &c);
    ASSERT_TRUE(sink.Add(0, AsBytes(f.cipher).first(20)).ok());
    Status st = sink.Finish();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().reason(), files::reason::kTruncated);
  }
  {
    Collected c;
    PlaintextSink sink = SinkFor(f, &c);
    const std::string longer = f.cipher + "zz";
    Status st = sink.Add(0, AsBytes(longer));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().reason(), files::reason::kTrailing);
  }
}

TEST(PlaintextSinkTest, AnotherFilesBytesOrAnotherKeyAreRefused) {
  Fixture f(kChunk), g(kChunk);
  {
    Collected c;
    PlaintextSink sink = SinkFor(f, &c);  // expects f's id
    Status st = sink.Add(0, AsBytes(g.cipher));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().reason(), kFileIdMismatch);
  }
  {
    Collected c;
    PlaintextSink sink(g.key, f.hex_id(), [&c](ByteView b) {
      c.out += AsChars(b);
      return OkStatus();
    });
    Status st = sink.Add(0, AsBytes(f.cipher));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().reason(), files::reason::kChunkAuth);
    EXPECT_EQ(c.out, "");
  }
}

TEST(PlaintextSinkTest, AFailedWriteIsFinal) {
  Fixture f(2 * kChunk);
  PlaintextSink sink(f.key, f.hex_id(), [](ByteView) -> Status { return Internal("disk full"); });
  EXPECT_FALSE(sink.Add(0, AsBytes(f.cipher)).ok());
  EXPECT_FALSE(sink.error().ok());
  EXPECT_FALSE(sink.Finish().ok());
}

TEST(FilesClientTest, OnlyBrokenStreamsAreRetried) {
  for (Code c : {Code::kUnavailable, Code::kAborted, Code::kCancelled, Code::kDeadlineExceeded,
                 Code::kInternal})
    EXPECT_TRUE(IsTransientFileError(c)) << CodeName(c);
  for (Code c : {Code::kInvalidArgument, Code::kNotFound, Code::kPermissionDenied,
                 Code::kResourceExhausted, Code::kAlreadyExists, Code::kFailedPrecondition,
                 Code::kDataLoss, Code::kUnauthenticated, Code::kOutOfRange})
    EXPECT_FALSE(IsTransientFileError(c)) << CodeName(c);
}

}  // namespace
}  // namespace cloister::sdk::files_internal
