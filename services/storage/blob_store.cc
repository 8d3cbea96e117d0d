// Ciphertext files of cloister-storage; see blob_store.h.
#include "services/storage/blob_store.h"

#include "services/storage/request_checks.h"

namespace cloister::storage_service {
namespace {

constexpr std::string_view kPartSuffix = ".part";

Status CheckId(std::string_view id) {
  // Defence in depth: the core validates ids, but a path is built here.
  if (!IsHexId(id)) return InvalidArgument("blob store id is not 32 lowercase hex");
  return OkStatus();
}

}  // namespace

BlobStore::BlobStore(std::string data_dir) : data_dir_(std::move(data_dir)) {}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(const std::string& data_dir) {
  auto store = std::make_unique<BlobStore>(data_dir);
  bool created = false;
  for (const std::string& dir : {store->uploads_dir(), store->blobs_dir()}) {
    CLOISTER_ASSIGN_OR_RETURN(bool c, posix::MakeDir(dir));
    created = created || c;
  }
  if (created) CLOISTER_RETURN_IF_ERROR(posix::SyncDir(data_dir));
  return store;
}

std::string BlobStore::PartPath(std::string_view upload_id) const {
  return uploads_dir() + "/" + std::string(upload_id) + std::string(kPartSuffix);
}

std::string BlobStore::ShardDir(std::string_view file_id) const {
  return blobs_dir() + "/" + std::string(file_id.substr(0, 2));
}

std::string BlobStore::BlobPath(std::string_view file_id) const {
  return ShardDir(file_id) + "/" + std::string(file_id);
}

Result<posix::PosixFile> BlobStore::OpenPart(std::string_view upload_id) {
  CLOISTER_RETURN_IF_ERROR(CheckId(upload_id));
  return posix::PosixFile::Open(PartPath(upload_id), posix::OpenMode::kReadWrite);
}

Status BlobStore::CreatePart(std::string_view upload_id) {
  CLOISTER_ASSIGN_OR_RETURN(auto part, OpenPart(upload_id));
  CLOISTER_RETURN_IF_ERROR(part.Sync());
  return posix::SyncDir(uploads_dir());
}

Status BlobStore::RemovePart(std::string_view upload_id) {
  CLOISTER_RETURN_IF_ERROR(CheckId(upload_id));
  CLOISTER_ASSIGN_OR_RETURN(bool removed, posix::Remove(PartPath(upload_id)));
  if (removed) CLOISTER_RETURN_IF_ERROR(posix::SyncDir(uploads_dir()));
  return OkStatus();
}

bool BlobStore::PartExists(std::string_view upload_id) const {
  return IsHexId(upload_id) && posix::Exists(PartPath(upload_id));
}

Status BlobStore::Finalize(std::string_view upload_id, std::string_view file_id) {
  CLOISTER_RETURN_IF_ERROR(CheckId(upload_id));
  CLOISTER_RETURN_IF_ERROR(CheckId(file_id));
  {
    CLOISTER_ASSIGN_OR_RETURN(auto part,
                              posix::PosixFile::Open(PartPath(upload_id), posix::OpenMode::kRead));
    CLOISTER_RETURN_IF_ERROR(part.Sync());
  }
  CLOISTER_ASSIGN_OR_RETURN(bool new_shard, posix::MakeDir(ShardDir(file_id)));
  if (new_shard) CLOISTER_RETURN_IF_ERROR(posix::SyncDir(blobs_dir()));
  CLOISTER_RETURN_IF_ERROR(posix::Rename(PartPath(upload_id), BlobPath(file_id)));
  CLOISTER_RETURN_IF_ERROR(posix::SyncDir(ShardDir(file_id)));
  return posix::SyncDir(uploads_dir());
}

Status BlobStore::Unfinalize(std::string_view file_id, std::string_view upload_id) {
  CLOISTER_RETURN_IF_ERROR(CheckId(upload_id));
  CLOISTER_RETURN_IF_ERROR(CheckId(file_id));
  CLOISTER_RETURN_IF_ERROR(posix::Rename(BlobPath(file_id), PartPath(upload_id)));
  CLOISTER_RETURN_IF_ERROR(posix::SyncDir(uploads_dir()));
  return posix::SyncDir(ShardDir(file_id));
}

Result<posix::PosixFile> BlobStore::OpenBlob(std::string_view file_id) const {
  CLOISTER_RETURN_IF_ERROR(CheckId(file_id));
  return posix::PosixFile::Open(BlobPath(file_id), posix::OpenMode::kRead);
}

Status BlobStore::RemoveBlob(std::string_view file_id) {
  CLOISTER_RETURN_IF_ERROR(CheckId(file_id));
  CLOISTER_ASSIGN_OR_RETURN(bool removed, posix::Remove(BlobPath(file_id)));
  if (removed) CLOISTER_RETURN_IF_ERROR(posix::SyncDir(ShardDir(file_id)));
  return OkStatus();
}

Result<std::vector<std::string>> BlobStore::ListParts() const {
  CLOISTER_ASSIGN_OR_RETURN(auto names, posix::ListDir(uploads_dir()));
  std::vector<std::string> ids;
  for (const std::string& n : names) {
    if (n.size() != kIdHexLength + kPartSuffix.size() || !n.ends_with(kPartSuffix)) continue;
    std::string id = n.substr(0, kIdHexLength);
    if (IsHexId(id)) ids.push_back(std::move(id));
  }
  return ids;
}

Result<std::vector<std::string>> BlobStore::ListBlobs() const {
  CLOISTER_ASSIGN_OR_RETURN(auto shards, posix::ListDir(blobs_dir()));
  std::vector<std::string> ids;
  for (const std::string& shard : shards) {
    if (shard.size() != 2 || !IsHexId(shard + std::string(kIdHexLength - 2, '0'))) continue;
    CLOISTER_ASSIGN_OR_RETURN(auto names, posix::ListDir(blobs_dir() + "/" + shard));
    for (const std::string& n : names)
      if (IsHexId(n) && n.starts_with(shard)) ids.push_back(n);
  }
  return ids;
}

}  // namespace cloister::storage_service
