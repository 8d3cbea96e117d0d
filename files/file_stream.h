// Streaming encryption and decryption of the file format (file_format.h)
// with memory bounded by one chunk, whatever the file size: the caller
// feeds one chunk at a time in order and writes each result out.
//
//   auto enc = *FileEncryptor::Create(key, size);       // fresh file id
//   out.write(enc.header());
//   for (each chunk i) out.write(*enc.SealChunk(plain_i));
//   CLOISTER_RETURN_IF_ERROR(enc.Finish());
//
//   auto dec = *FileDecryptor::Open(key, header_bytes);
//   for (i < dec.header().chunk_count()) plain_i = *dec.OpenChunk(read(dec.sealed_chunk_size(i)));
//   CLOISTER_RETURN_IF_ERROR(dec.Finish());   // after the last byte of input
//
// A decryptor releases a chunk's plaintext only after its tag verified, so
// no unauthenticated byte ever leaves it; a stream that ends early or runs
// on is an error at Finish (FILE_TRUNCATED / FILE_TRAILING_DATA), so a
// consumer must treat its output as incomplete until Finish succeeds
// (file_io.h writes to a temporary file and renames only then).
#pragma once

#include <optional>

#include "common/crypto/aead.h"
#include "common/secret.h"
#include "files/file_format.h"

namespace cloister::files {

struct EncryptOptions {
  uint32_t chunk_size = kDefaultChunkSize;
  std::optional<FileId> file_id;  // default: 16 random bytes (tests pin it)
};

class FileEncryptor {
 public:
  // `key`: the 32-byte file key [FILE_KEY_INVALID otherwise]; the plaintext
  // length must be known up front (it is in the header).
  static Result<FileEncryptor> Create(ByteView key, uint64_t plaintext_length,
                                      EncryptOptions options = {});
  const FileHeader& header() const { return header_; }
  ByteView header_bytes() const { return header_bytes_; }
  // Chunk `next_index()`; its size must be header().chunk_plaintext_size(i)
  // [FILE_STREAM_MISUSE otherwise, or after the last chunk].
  Result<Bytes> SealChunk(ByteView plaintext);
  uint64_t next_index() const { return next_; }
  // FILE_STREAM_MISUSE unless every chunk was sealed.
  Status Finish() const;

 private:
  FileEncryptor(crypto::AesGcm gcm, FileHeader h);
  crypto::AesGcm gcm_;
  FileHeader header_;
  std::array<uint8_t, kHeaderSize> header_bytes_{};
  crypto::Digest header_digest_{};
  uint64_t next_ = 0;
};

class FileDecryptor {
 public:
  // Parses the header (FILE_NOT_CLOISTER_FORMAT, FILE_FORMAT_VERSION_UNSUPPORTED,
  // FILE_HEADER_MALFORMED, FILE_TRUNCATED); the key is checked by the first chunk.
  static Result<FileDecryptor> Open(ByteView key, ByteView header_bytes);
  const FileHeader& header() const { return header_; }
  // Bytes of sealed chunk `index` on the wire (plaintext + tag).
  uint64_t sealed_chunk_size(uint64_t index) const {
    return header_.chunk_plaintext_size(index) + kTagSize;
  }
  uint64_t next_index() const { return next_; }
  // Chunk `next_index()`: FILE_TRUNCATED if shorter than expected,
  // FILE_CHUNK_AUTH_FAILED if it does not authenticate at this position
  // (another key, a changed byte, a chunk from elsewhere or moved),
  // FILE_TRAILING_DATA after the last chunk.
  Result<Bytes> OpenChunk(ByteView sealed);
  // After the input ended: FILE_TRUNCATED unless every chunk was opened.
  Status Finish() const;

 private:
  FileDecryptor(crypto::AesGcm gcm, FileHeader h, crypto::Digest digest);
  crypto::AesGcm gcm_;
  FileHeader header_;
  crypto::Digest header_digest_{};
  uint64_t next_ = 0;
};

}  // namespace cloister::files
