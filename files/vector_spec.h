// The inputs of the file format's test vector (docs/file-format.md): key
// 00 01 02 … 1f, file id a0 a1 … af, chunk size 1024, and 2500 bytes of
// plaintext where byte i is (i * 7 + 3) mod 256 — three chunks, the last
// one short. Shared by file_vector_gen and the unit test.
#pragma once

#include "files/file_stream.h"

namespace cloister::files {

inline Bytes TestVectorKey() {
  Bytes k(kFileKeySize);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i);
  return k;
}

inline FileId TestVectorFileId() {
  FileId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(0xa0 + i);
  return id;
}

inline Bytes TestVectorPlaintext() {
  Bytes p(2500);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>((i * 7 + 3) % 256);
  return p;
}

// The encrypted file of the vector, built with this library.
inline Result<Bytes> BuildTestVector() {
  const Bytes plain = TestVectorPlaintext();
  CLOISTER_ASSIGN_OR_RETURN(
      FileEncryptor enc,
      FileEncryptor::Create(TestVectorKey(), plain.size(),
                            {.chunk_size = 1024, .file_id = TestVectorFileId()}));
  Bytes out(enc.header_bytes().begin(), enc.header_bytes().end());
  size_t off = 0;
  for (uint64_t i = 0; i < enc.header().chunk_count(); ++i) {
    const size_t n = enc.header().chunk_plaintext_size(i);
    CLOISTER_ASSIGN_OR_RETURN(Bytes c, enc.SealChunk(ByteView(plain).subspan(off, n)));
    out.insert(out.end(), c.begin(), c.end());
    off += n;
  }
  CLOISTER_RETURN_IF_ERROR(enc.Finish());
  return out;
}

}  // namespace cloister::files
