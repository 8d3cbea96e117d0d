// BlobStore: cloister-storage's ciphertext on disk, under the data dir:
//   uploads/<upload_id>.part      an upload in progress (written at offsets)
//   blobs/<first 2 hex>/<file_id> a completed file (immutable)
// Files are 0600, directories 0700. Nothing here holds a whole file in
// memory: callers read and write pieces at offsets.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto blobs, BlobStore::Open(data_dir));
//   CLOISTER_ASSIGN_OR_RETURN(auto part, blobs->OpenPart(upload_id));
//   CLOISTER_RETURN_IF_ERROR(blobs->Finalize(upload_id, file_id));
//
// Durability: Finalize fsyncs the part, renames it into place and fsyncs
// both directories, so after it returns the blob survives a crash and the
// part is gone. Ids must be 32 lowercase hex (InvalidArgument otherwise):
// they become path components. Thread-safe for distinct ids; the core
// serializes operations on one id.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "services/storage/sys/posix_file.h"

namespace cloister::storage_service {

class BlobStore {
 public:
  // Creates <data_dir>/uploads and <data_dir>/blobs (0700) if absent.
  static Result<std::unique_ptr<BlobStore>> Open(const std::string& data_dir);
  explicit BlobStore(std::string data_dir);

  std::string PartPath(std::string_view upload_id) const;
  std::string BlobPath(std::string_view file_id) const;

  // The part file, opened read-write and created (empty, 0600) if absent.
  Result<posix::PosixFile> OpenPart(std::string_view upload_id);
  // Creates the empty part file durably (fsync of uploads/).
  Status CreatePart(std::string_view upload_id);
  // OK if already absent.
  Status RemovePart(std::string_view upload_id);
  bool PartExists(std::string_view upload_id) const;

  // Part → blob: fsync the part, rename it to BlobPath, fsync both dirs.
  Status Finalize(std::string_view upload_id, std::string_view file_id);
  // Blob → part: the undo of Finalize when the catalog did not commit the
  // file (and crash recovery of that case).
  Status Unfinalize(std::string_view file_id, std::string_view upload_id);

  // Read-only; NotFound if absent.
  Result<posix::PosixFile> OpenBlob(std::string_view file_id) const;
  // OK if already absent; fsyncs the shard directory.
  Status RemoveBlob(std::string_view file_id);

  // Upload ids of the `<id>.part` files, and file ids of the blobs; other
  // names (nobody's files) are left alone and not listed.
  Result<std::vector<std::string>> ListParts() const;
  Result<std::vector<std::string>> ListBlobs() const;

 private:
  std::string uploads_dir() const { return data_dir_ + "/uploads"; }
  std::string blobs_dir() const { return data_dir_ + "/blobs"; }
  std::string ShardDir(std::string_view file_id) const;

  std::string data_dir_;
};

}  // namespace cloister::storage_service
