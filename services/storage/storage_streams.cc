// cloister-storage's streams: UploadStream (resumable, durable every
// durable_every_bytes and at its end), DownloadReader (≤ 1 MiB pieces) and
// the SessionClaim they hold; see storage_core.h.
#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "services/storage/storage_core.h"

namespace cloister::storage_service {

SessionClaim::SessionClaim(SessionClaim&& o) noexcept
    : core_(std::exchange(o.core_, nullptr)), upload_id_(std::move(o.upload_id_)) {}

SessionClaim::~SessionClaim() {
  if (core_ != nullptr) core_->Release(upload_id_);
}

// ---- UploadStream ----

UploadStream::UploadStream(Key, StorageCore* core, SessionClaim claim, SessionRow session,
                           posix::PosixFile part, UploadHash hash)
    : core_(core),
      claim_(std::move(claim)),
      session_(std::move(session)),
      part_(std::move(part)),
      hash_(std::move(hash)),
      offset_(session_.received),
      durable_(session_.received) {}

UploadStream::~UploadStream() { Close(); }

Status UploadStream::Append(const filestore::UploadChunksRequest& m) {
  if (closed_ || failed_)
    return FailedPrecondition("this upload stream has ended", reason::kStreamClosed);
  Status st = AppendChecked(m);
  if (!st.ok()) {
    // The call is refused; what was written before stays and is made
    // durable when the stream ends, so the client resumes from there.
    failed_ = true;
    core_->refusals_++;
  }
  return st;
}

Status UploadStream::AppendChecked(const filestore::UploadChunksRequest& m) {
  if (m.upload_id() != session_.upload_id)
    return InvalidArgument("every message of a stream must name the same upload session",
                           reason::kUploadIdMismatch);
  const size_t n = m.data().size();
  if (n == 0) return InvalidArgument("a message must carry data", reason::kEmptyChunk);
  if (n > core_->options_.max_message_bytes)
    return InvalidArgument("a message carries " + std::to_string(n) + " bytes; the limit is " +
                               std::to_string(core_->options_.max_message_bytes),
                           reason::kMessageTooLarge);
  if (m.offset() != offset_)
    return InvalidArgument("offset " + std::to_string(m.offset()) + " is not the expected " +
                               std::to_string(offset_),
                           reason::kOffsetMismatch);
  if (n > session_.size - offset_)
    return InvalidArgument("the message ends at " + std::to_string(offset_ + n) +
                               ", past the declared size " + std::to_string(session_.size),
                           reason::kBeyondSize);
  const ByteView data = AsBytes(m.data());
  CLOISTER_RETURN_IF_ERROR(part_.WriteAt(offset_, data));
  // Only bytes that reached the file are hashed and counted.
  hash_.hasher.Update(data);
  hash_.hashed += n;
  offset_ += n;
  core_->bytes_received_ += n;
  if (offset_ - durable_ >= core_->options_.durable_every_bytes) return MakeDurable();
  return OkStatus();
}

Status UploadStream::MakeDurable() {
  if (offset_ == durable_) return OkStatus();
  // fsync before the catalog says so: `received` never names bytes a crash
  // could lose.
  CLOISTER_RETURN_IF_ERROR(part_.Sync());
  CLOISTER_RETURN_IF_ERROR(core_->catalog_->SetReceived(session_.upload_id, offset_));
  durable_ = offset_;
  return OkStatus();
}

Result<filestore::UploadSession> UploadStream::Finish() {
  if (closed_) return FailedPrecondition("this upload stream has ended", reason::kStreamClosed);
  Status st = MakeDurable();
  Close();
  CLOISTER_RETURN_IF_ERROR(st);
  session_.received = durable_;
  return core_->ToProto(session_);
}

void UploadStream::Close() {
  if (closed_) return;
  closed_ = true;
  // Also after an error or a cancelled call: whatever was received is kept.
  if (Status st = MakeDurable(); !st.ok())
    LOG_WARN("storage: cannot make an upload's bytes durable", {{"error", st.ToString()}});
  // The next stream continues this hash unless it no longer matches the
  // durable offset (then it rehashes from disk).
  core_->PutHash(session_.upload_id, std::move(hash_));
}

// ---- DownloadReader ----

DownloadReader::DownloadReader(Key, StorageCore* core, FileRow file, posix::PosixFile blob,
                               uint64_t offset)
    : core_(core), file_(std::move(file)), blob_(std::move(blob)), offset_(offset) {}

Result<std::optional<filestore::DownloadResponse>> DownloadReader::Next() {
  if (!first_ && offset_ >= file_.size) return std::optional<filestore::DownloadResponse>();
  filestore::DownloadResponse r;
  r.set_offset(offset_);
  if (first_) {
    *r.mutable_file() = ToFileInfo(file_);
    first_ = false;
  }
  const size_t n = static_cast<size_t>(std::min<uint64_t>(kDownloadPieceBytes, file_.size - offset_));
  if (n > 0) {
    std::string* data = r.mutable_data();
    data->resize(n);
    CLOISTER_ASSIGN_OR_RETURN(
        size_t got,
        blob_.ReadAt(offset_, std::span(reinterpret_cast<uint8_t*>(data->data()), n)));
    if (got != n) return DataLoss("the file's ciphertext ends early", reason::kBlobCorrupt);
    offset_ += n;
    core_->bytes_sent_ += n;
  }
  return std::optional<filestore::DownloadResponse>(std::move(r));
}

}  // namespace cloister::storage_service
