// cloister-storage's deletion and collection: DeleteFile (the key first,
// then the row, then the blob), dropped and expired upload sessions, and
// the orphan sweep at start; see storage_core.h.
#include "common/logging.h"
#include "services/storage/storage_core.h"
#include "services/storage/storage_core_detail.h"

namespace cloister::storage_service {
namespace {

using detail::FileNotFound;

constexpr size_t kCollectBatch = 1000;

}  // namespace

// ---- deletion ----

// Deletion order, and why:
//   1. destroy the file key in cloister-keyvault (the shredder); if that
//      fails, stop: the file stays intact and downloadable, and the error
//      is returned, so the caller can retry;
//   2. delete the row (one transaction): the file is gone for everyone;
//   3. unlink the blob; a crash before this leaves an orphan blob, which
//      CollectOrphans removes at the next start.
// Once the key is gone the ciphertext is unreadable by anyone, so no
// failure at any step leaves a readable orphan: the worst case is
// unreadable bytes on disk until the next start (or a row whose key is
// already gone after a failure between 1 and 2, which the retried delete
// finishes: the shredder is idempotent).
Result<filestore::DeleteFileResponse> StorageCore::DeleteFile(
    const Caller& c, const filestore::DeleteFileRequest& r) {
  return Call<filestore::DeleteFileResponse>(c, "DeleteFile", true, [&](Trace& t)
                                                 -> Result<filestore::DeleteFileResponse> {
    CLOISTER_ASSIGN_OR_RETURN(FileRow f, Authorize(c, r.file_id(), Access::kDelete));
    t.file_id = f.file_id;
    if (!shredder_)
      return Unavailable("no key vault to destroy the file key with", reason::kShredderMissing);
    CLOISTER_RETURN_IF_ERROR(shredder_(f.file_id, f.owner));
    {
      std::lock_guard lock(namespace_mu_);
      CLOISTER_ASSIGN_OR_RETURN(bool existed, catalog_->DeleteFile(f.file_id));
      if (!existed) return FileNotFound();  // a concurrent delete won
      if (Status st = blobs_->RemoveBlob(f.file_id); !st.ok())
        LOG_WARN("storage: cannot unlink a deleted file's blob (collected at start)",
                 {{"error", st.ToString()}});
    }
    files_deleted_++;
    return filestore::DeleteFileResponse();
  });
}

Result<bool> StorageCore::DropSession(const SessionRow& s) {
  CLOISTER_ASSIGN_OR_RETURN(bool existed, catalog_->DeleteSession(s.upload_id));
  ForgetHash(s.upload_id);
  // A part file left behind is an orphan that CollectOrphans removes.
  if (Status st = blobs_->RemovePart(s.upload_id); !st.ok())
    LOG_WARN("storage: cannot remove an aborted part file", {{"error", st.ToString()}});
  return existed;
}

// ---- collection ----

Result<size_t> StorageCore::CollectExpired(int64_t now) {
  CLOISTER_ASSIGN_OR_RETURN(auto expired, catalog_->ExpiredSessions(now, kCollectBatch));
  size_t collected = 0;
  for (const SessionRow& listed : expired) {
    auto claim = Claim(listed.upload_id);
    if (!claim.ok()) continue;  // a stream is using it: the next round
    CLOISTER_ASSIGN_OR_RETURN(auto s, catalog_->GetSession(listed.upload_id));
    if (!s || s->expires_unix > now) continue;  // completed or aborted meanwhile
    // The uploader registered the file key before uploading; the file will
    // never exist, so its key goes first (a failure: retried next round).
    if (shredder_) {
      if (Status st = shredder_(s->file_id, s->owner); !st.ok()) {
        LOG_WARN("storage: cannot destroy an expired upload's file key; retrying later",
                 {{"error", st.ToString()}});
        continue;
      }
    }
    CLOISTER_ASSIGN_OR_RETURN(bool existed, catalog_->DeleteSession(s->upload_id));
    ForgetHash(s->upload_id);
    if (Status st = blobs_->RemovePart(s->upload_id); !st.ok())
      LOG_WARN("storage: cannot remove an expired part file", {{"error", st.ToString()}});
    if (!existed) continue;
    collected++;
    uploads_collected_++;
    CLOISTER_RETURN_IF_ERROR(
        Audit("service:storage", "CollectUpload", OkStatus(), "", s->file_id));
  }
  return collected;
}

Result<OrphanReport> StorageCore::CollectOrphans() {
  OrphanReport report;
  CLOISTER_ASSIGN_OR_RETURN(auto parts, blobs_->ListParts());
  for (const std::string& upload_id : parts) {
    auto claim = Claim(upload_id);
    if (!claim.ok()) continue;
    CLOISTER_ASSIGN_OR_RETURN(auto s, catalog_->GetSession(upload_id));
    if (s) continue;
    CLOISTER_RETURN_IF_ERROR(blobs_->RemovePart(upload_id));
    report.parts_removed++;
  }
  CLOISTER_ASSIGN_OR_RETURN(auto blob_ids, blobs_->ListBlobs());
  for (const std::string& file_id : blob_ids) {
    std::lock_guard lock(namespace_mu_);
    CLOISTER_ASSIGN_OR_RETURN(auto f, catalog_->GetFile(file_id));
    if (f) continue;
    CLOISTER_ASSIGN_OR_RETURN(auto s, catalog_->SessionForFile(file_id));
    if (s && !blobs_->PartExists(s->upload_id)) {
      // CompleteUpload renamed the part but did not commit: give the
      // session its bytes back, so the client's retried completion works.
      CLOISTER_RETURN_IF_ERROR(blobs_->Unfinalize(file_id, s->upload_id));
      report.blobs_restored++;
      continue;
    }
    // A deleted file whose unlink did not happen (its key is already
    // destroyed), or a blob nobody will ever commit.
    CLOISTER_RETURN_IF_ERROR(blobs_->RemoveBlob(file_id));
    report.blobs_removed++;
    CLOISTER_RETURN_IF_ERROR(Audit("service:storage", "CollectOrphanBlob", OkStatus(), "", file_id));
  }
  return report;
}

}  // namespace cloister::storage_service
