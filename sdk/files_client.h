// The SDK's file calls (service Storage in proto/storage.proto, docs/api.md
// "Files"): files are encrypted HERE with a fresh key per file
// (files/file_stream.h, docs/file-format.md), the key is kept by
// cloister-keyvault for its owner, and cloister-storage only ever holds
// ciphertext. On top of an attested, logged-in sdk::Client.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto files, sdk::FilesClient::Create(client.get(), options));
//   CLOISTER_ASSIGN_OR_RETURN(filestore::FileInfo f, files->Upload("q3.csv", opts));
//   CLOISTER_RETURN_IF_ERROR(files->Download(f.file_id(), "q3-copy.csv"));
//
// Upload: RegisterFileKey (keyvault) → CreateUpload → UploadChunks… →
// CompleteUpload(SHA-256). The key is registered first, so by the time the
// file id is visible anywhere its owner holds its key. A broken stream is
// resumed from the session's durable offset (GetUpload); a final failure
// aborts the session and deletes the key (best effort).
// Download: GetFileKey → (StatFile, for the size) → Download (resumed by
// offset) → decrypt into a temporary file beside the target, renamed into
// place only after the last chunk authenticated; on any failure no output
// file is left.
//
// Create() opens its own channel to the gateway with the same attestation
// check as Client::Connect (role "gateway") and forces the handshake before
// any credential is sent; every call carries the Client's token or API key
// (refreshed through the Client when close to expiry). Thread-safe: calls
// may run concurrently. Errors keep the server's or the file format's code
// and stable reason (e.g. FILE_KEY_NOT_FOUND, FILE_CHUNK_AUTH_FAILED), with
// the file named in the message.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/hash.h"
#include "common/secret.h"
#include "files/file_stream.h"
#include "proto/keyvault.grpc.pb.h"
#include "proto/storage.grpc.pb.h"
#include "sdk/cloister_client.h"

namespace cloister::sdk {

// Reasons the files client itself produces (the server's pass through).
inline constexpr const char* kUploadSourceChanged = "UPLOAD_SOURCE_CHANGED";
inline constexpr const char* kUploadNotResumable = "UPLOAD_NOT_RESUMABLE";
inline constexpr const char* kUploadOffsetInvalid = "UPLOAD_OFFSET_INVALID";
inline constexpr const char* kUploadIncomplete = "UPLOAD_INCOMPLETE";
inline constexpr const char* kDownloadOffsetMismatch = "DOWNLOAD_OFFSET_MISMATCH";
inline constexpr const char* kFileIdMismatch = "FILE_ID_MISMATCH";
inline constexpr const char* kListPagingBroken = "LIST_PAGING_BROKEN";

// Called with (bytes done, bytes total) of the ciphertext as it is sent or
// received (done may go back after a resumption). Runs on the calling thread.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

struct UploadOptions {
  std::string description;                         // ≤ 1 KiB
  std::map<std::string, std::string> labels;       // ≤ 32 labels
  uint32_t chunk_size = files::kDefaultChunkSize;  // the format's chunk size
  // Largest `data` of one UploadChunks message (the session's own limit,
  // if smaller, wins).
  size_t max_message_bytes = 1u << 20;
  // Resumptions after a broken stream or a transient error, with backoff
  // doubling from initial_backoff (capped at 5 s).
  int max_retries = 5;
  std::chrono::milliseconds initial_backoff{200};
  // TEST HOOK, never set in production: cancel the upload stream (once) as
  // soon as this many ciphertext bytes were sent, so a test sees a broken
  // stream resumed. 0: off.
  uint64_t fail_after_bytes_for_testing = 0;
};

struct DownloadOptions {
  int max_retries = 5;
  std::chrono::milliseconds initial_backoff{200};
  // TEST HOOK, never set in production: cancel the download stream (once)
  // after this many ciphertext bytes arrived. 0: off.
  uint64_t fail_after_bytes_for_testing = 0;
};

class FilesClient {
 public:
  // `client` must be connected, must outlive this object, and must be logged
  // in before the first call. Unavailable [GATEWAY_UNREACHABLE] when no
  // gateway answers; TrustConfig::Load's errors for a bad trust file.
  static Result<std::unique_ptr<FilesClient>> Create(Client* client, ClientOptions options);

  // Encrypts and uploads the regular file `path` (memory: about two chunks
  // plus one message, whatever the file size). Returns the stored file.
  // Errors: the open/read error of `path`; FailedPrecondition
  // [UPLOAD_SOURCE_CHANGED] if the file changes size meanwhile; the
  // key vault's and storage's errors (e.g. RESOURCE_EXHAUSTED for quota);
  // after max_retries, the last transport error.
  Result<filestore::FileInfo> Upload(const std::string& path, const UploadOptions& opts = {},
                                     ProgressFn progress = nullptr);
  // The same from `in`, which must deliver exactly `size` bytes. Resuming
  // re-reads it from its current position, so a stream that cannot seek
  // (a pipe) fails a resumption with FailedPrecondition [UPLOAD_NOT_RESUMABLE].
  Result<filestore::FileInfo> Upload(std::istream& in, uint64_t size,
                                     const UploadOptions& opts = {}, ProgressFn progress = nullptr);

  // Downloads and decrypts `file_id` to `out_path` (mode 0600, written
  // atomically). NotFound [FILE_KEY_NOT_FOUND] for a file that is not the
  // caller's; the format's reasons (FILE_CHUNK_AUTH_FAILED, FILE_TRUNCATED,
  // FILE_TRAILING_DATA, FILE_NOT_CLOISTER_FORMAT...) for bad ciphertext;
  // FILE_ID_MISMATCH when storage serves another file's bytes.
  Status Download(const std::string& file_id, const std::string& out_path,
                  ProgressFn progress = nullptr, const DownloadOptions& opts = {});

  // One page of the caller's files, newest first (page_size 0: 100).
  Result<filestore::ListFilesResponse> List(uint32_t page_size = 0,
                                            std::string_view page_token = {});
  // Every page. InvalidArgument [LIST_PAGING_BROKEN] if the server repeats a token.
  Result<std::vector<filestore::FileInfo>> ListAll();
  Result<filestore::FileInfo> Stat(std::string_view file_id);
  // Owner or admin; storage destroys the key first, then the ciphertext.
  Status Delete(std::string_view file_id);

  struct Key {
    explicit Key() = default;
  };
  FilesClient(Key, Client* client, ClientOptions options, std::shared_ptr<grpc::Channel> channel);

 private:
  // Deadline and authorization metadata (refreshing a token close to expiry).
  Status Prepare(grpc::ClientContext& ctx, std::chrono::milliseconds timeout);
  template <typename Req, typename Resp, typename Fn>
  Result<Resp> Invoke(const Req& req, Fn fn);
  Result<filestore::FileInfo> UploadFrom(std::istream& in, uint64_t size, const std::string& name,
                                         const UploadOptions& opts, const ProgressFn& progress);

  Client* client_;
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<filestore::Storage::Stub> storage_;
  std::unique_ptr<keyvault::KeyVault::Stub> keyvault_;
};

// The codes after which an upload or download is resumed: a broken or
// timed-out stream, not a refusal.
bool IsTransientFileError(Code code);

namespace files_internal {

// The ciphertext of one file, produced in order from its plaintext with
// memory bounded by one chunk, and hashed as it goes. Deterministic given
// (key, file id, plaintext): a second stream with the same file id
// reproduces the same bytes, which is how an upload resumes.
// Not thread-safe; `in` must outlive the stream.
class CiphertextStream {
 public:
  // `in` is positioned at the first plaintext byte and holds `size` bytes.
  static Result<CiphertextStream> Create(std::istream* in, uint64_t size, ByteView key,
                                         files::EncryptOptions options);
  const files::FileHeader& header() const { return enc_.header(); }
  uint64_t size() const { return header().encrypted_size(); }
  // Bytes produced (and hashed) so far.
  uint64_t offset() const { return offset_; }
  // The next ≤ `max` bytes (empty at the end); valid until the next call.
  // FailedPrecondition [UPLOAD_SOURCE_CHANGED] if the input ends early or
  // runs on past `size`.
  Result<ByteView> Next(size_t max);
  // Produces and hashes `n` bytes without returning them.
  Status Skip(uint64_t n);
  // SHA-256 of the whole ciphertext; FailedPrecondition before the end.
  Result<crypto::Digest> Digest();

 private:
  CiphertextStream(std::istream* in, files::FileEncryptor enc)
      : in_(in), enc_(std::move(enc)), hasher_(std::make_unique<crypto::Sha256Hasher>()) {}
  Status Refill();  // seals the next chunk into current_

  std::istream* in_;
  files::FileEncryptor enc_;
  std::unique_ptr<crypto::Sha256Hasher> hasher_;
  Bytes plain_;
  Bytes current_;   // the header, then one sealed chunk at a time
  size_t pos_ = 0;  // consumed bytes of current_
  bool header_done_ = false;
  uint64_t offset_ = 0;
};

// Decrypts a ciphertext that arrives in pieces at increasing offsets,
// handing each chunk's plaintext to `write` only after it authenticated.
// Any error is sticky (a resumed stream cannot skip a chunk that failed to
// decrypt or to be written). Not thread-safe.
class PlaintextSink {
 public:
  PlaintextSink(SecretBytes key, std::string expected_file_id,
                std::function<Status(ByteView)> write)
      : key_(std::move(key)), file_id_(std::move(expected_file_id)), write_(std::move(write)) {}
  // Ciphertext bytes taken so far: where a resumed download starts.
  uint64_t offset() const { return offset_; }
  // The ciphertext size from the header (0 before it arrived).
  uint64_t total() const { return dec_ ? dec_->header().encrypted_size() : 0; }
  // `data` must start at offset() [DOWNLOAD_OFFSET_MISMATCH]; the format's
  // errors; FILE_ID_MISMATCH if the header names another file.
  Status Add(uint64_t at, ByteView data);
  // After the input ended: FILE_TRUNCATED unless every chunk authenticated.
  Status Finish();
  // The first error Add met (OK if none).
  const Status& error() const { return error_; }

 private:
  Status Consume();

  SecretBytes key_;
  std::string file_id_;
  std::function<Status(ByteView)> write_;
  std::optional<files::FileDecryptor> dec_;
  Bytes pending_;  // ciphertext not yet consumed: < one sealed chunk + one message
  uint64_t offset_ = 0;
  Status error_;
};

}  // namespace files_internal
}  // namespace cloister::sdk
