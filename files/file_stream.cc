// Chunk-by-chunk sealing and opening; see file_stream.h.
#include "files/file_stream.h"

#include "common/crypto/random.h"

namespace cloister::files {

FileEncryptor::FileEncryptor(crypto::AesGcm gcm, FileHeader h)
    : gcm_(std::move(gcm)), header_(h), header_bytes_(h.Encode()),
      header_digest_(crypto::Sha256(ByteView(header_bytes_))) {}

Result<FileEncryptor> FileEncryptor::Create(ByteView key, uint64_t plaintext_length,
                                            EncryptOptions options) {
  if (key.size() != kFileKeySize)
    return InvalidArgument("a file key is 32 bytes, got " + std::to_string(key.size()),
                           reason::kKey);
  FileHeader h;
  h.chunk_size = options.chunk_size;
  h.plaintext_length = plaintext_length;
  if (options.file_id) {
    h.file_id = *options.file_id;
  } else {
    Bytes id = crypto::RandomBytes(kFileIdSize);
    std::copy(id.begin(), id.end(), h.file_id.begin());
  }
  CLOISTER_RETURN_IF_ERROR(h.Validate());
  CLOISTER_ASSIGN_OR_RETURN(crypto::AesGcm gcm, crypto::AesGcm::Create(key));
  return FileEncryptor(std::move(gcm), h);
}

Result<Bytes> FileEncryptor::SealChunk(ByteView plaintext) {
  const uint64_t n = header_.chunk_count();
  if (next_ >= n) return FailedPrecondition("every chunk is already sealed", reason::kUsage);
  const size_t want = header_.chunk_plaintext_size(next_);
  if (plaintext.size() != want)
    return InvalidArgument("chunk " + std::to_string(next_) + " must hold " + std::to_string(want) +
                               " bytes, got " + std::to_string(plaintext.size()),
                           reason::kUsage);
  const auto nonce = ChunkNonce(header_.file_id, next_);
  const Bytes aad = ChunkAad(header_digest_, next_, next_ + 1 == n);
  CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, gcm_.Seal(ByteView(nonce), aad, plaintext));
  ++next_;
  return sealed;
}

Status FileEncryptor::Finish() const {
  if (next_ != header_.chunk_count())
    return FailedPrecondition("sealed " + std::to_string(next_) + " of " +
                                  std::to_string(header_.chunk_count()) + " chunks",
                              reason::kUsage);
  return OkStatus();
}

FileDecryptor::FileDecryptor(crypto::AesGcm gcm, FileHeader h, crypto::Digest digest)
    : gcm_(std::move(gcm)), header_(h), header_digest_(digest) {}

Result<FileDecryptor> FileDecryptor::Open(ByteView key, ByteView header_bytes) {
  if (key.size() != kFileKeySize)
    return InvalidArgument("a file key is 32 bytes, got " + std::to_string(key.size()),
                           reason::kKey);
  if (header_bytes.size() > kHeaderSize) header_bytes = header_bytes.first(kHeaderSize);
  CLOISTER_ASSIGN_OR_RETURN(FileHeader h, FileHeader::Decode(header_bytes));
  CLOISTER_ASSIGN_OR_RETURN(crypto::AesGcm gcm, crypto::AesGcm::Create(key));
  return FileDecryptor(std::move(gcm), h, crypto::Sha256(header_bytes));
}

Result<Bytes> FileDecryptor::OpenChunk(ByteView sealed) {
  const uint64_t n = header_.chunk_count();
  if (next_ >= n)
    return InvalidArgument("data after the last chunk (" + std::to_string(n) + " chunks)",
                           reason::kTrailing);
  const uint64_t want = sealed_chunk_size(next_);
  if (sealed.size() < want)
    return InvalidArgument("chunk " + std::to_string(next_) + " is cut short: " +
                               std::to_string(sealed.size()) + " of " + std::to_string(want) +
                               " bytes",
                           reason::kTruncated);
  if (sealed.size() > want)
    return InvalidArgument("chunk " + std::to_string(next_) + " is longer than the header says",
                           reason::kTrailing);
  const auto nonce = ChunkNonce(header_.file_id, next_);
  const Bytes aad = ChunkAad(header_digest_, next_, next_ + 1 == n);
  auto plain = gcm_.Open(ByteView(nonce), aad, sealed);
  if (!plain.ok())
    return InvalidArgument("chunk " + std::to_string(next_) +
                               " does not authenticate (wrong key, or the file was changed, "
                               "reordered or spliced)",
                           reason::kChunkAuth);
  ++next_;
  return plain;
}

Status FileDecryptor::Finish() const {
  if (next_ != header_.chunk_count())
    return InvalidArgument("file ends after chunk " + std::to_string(next_) + " of " +
                               std::to_string(header_.chunk_count()),
                           reason::kTruncated);
  return OkStatus();
}

}  // namespace cloister::files
