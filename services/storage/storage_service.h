// StorageService: the gRPC face of cloister-storage (cloister.filestore.Storage,
// sync API). Every call is admitted by the GrantVerifier (a gateway grant
// over the request; the Caller comes from the auth proof), then handed to
// StorageCore; errors map to gRPC through the one ToGrpcStatus.
//
//   services::TaskGrantVerifier task_grants(enclave);
//   StorageService svc(&verifier, &task_grants, core.get(), enclave->security_level());
//   runner.Serve({&svc});
//
// UploadChunks and StoreTaskOutput: the grant covers exactly the FIRST
// message's deterministic encoding (the caller signs what it sends first);
// the following messages ride the same attested, admitted call and are
// checked by the core's stream (same session, contiguous offsets, limits).
// ReadFileForTask and StoreTaskOutput (internal, callers exec) carry a task
// grant too, which the core verifies with `task_grants`.
#pragma once

#include "proto/storage.grpc.pb.h"
#include "services/common/grant_verifier.h"
#include "services/common/task_grant.h"
#include "services/storage/storage_core.h"

namespace cloister::storage_service {

class StorageService final : public filestore::Storage::Service {
 public:
  // `verifier`, `task_grants` and `core` must outlive the service.
  StorageService(services::GrantVerifier* verifier, services::TaskGrantVerifier* task_grants,
                 StorageCore* core, int security_level)
      : verifier_(verifier),
        task_grants_(task_grants),
        core_(core),
        security_level_(security_level) {}

  grpc::Status CreateUpload(grpc::ServerContext* ctx, const filestore::CreateUploadRequest* req,
                            filestore::CreateUploadResponse* resp) override;
  grpc::Status GetUpload(grpc::ServerContext* ctx, const filestore::GetUploadRequest* req,
                         filestore::GetUploadResponse* resp) override;
  grpc::Status UploadChunks(grpc::ServerContext* ctx,
                            grpc::ServerReader<filestore::UploadChunksRequest>* reader,
                            filestore::UploadChunksResponse* resp) override;
  grpc::Status CompleteUpload(grpc::ServerContext* ctx,
                              const filestore::CompleteUploadRequest* req,
                              filestore::CompleteUploadResponse* resp) override;
  grpc::Status AbortUpload(grpc::ServerContext* ctx, const filestore::AbortUploadRequest* req,
                           filestore::AbortUploadResponse* resp) override;
  grpc::Status StatFile(grpc::ServerContext* ctx, const filestore::StatFileRequest* req,
                        filestore::StatFileResponse* resp) override;
  grpc::Status ListFiles(grpc::ServerContext* ctx, const filestore::ListFilesRequest* req,
                         filestore::ListFilesResponse* resp) override;
  grpc::Status DeleteFile(grpc::ServerContext* ctx, const filestore::DeleteFileRequest* req,
                          filestore::DeleteFileResponse* resp) override;
  grpc::Status Download(grpc::ServerContext* ctx, const filestore::DownloadRequest* req,
                        grpc::ServerWriter<filestore::DownloadResponse>* writer) override;
  // Internal (method table: callers tasks): a file of a given owner.
  grpc::Status StatFileForTask(grpc::ServerContext* ctx,
                               const filestore::StatFileForTaskRequest* req,
                               filestore::StatFileForTaskResponse* resp) override;
  // Internal (method table: callers exec): a task input's ciphertext, as Download.
  grpc::Status ReadFileForTask(grpc::ServerContext* ctx,
                               const filestore::ReadFileForTaskRequest* req,
                               grpc::ServerWriter<filestore::DownloadResponse>* writer) override;
  // Internal (method table: callers exec): one task output for one owner.
  grpc::Status StoreTaskOutput(grpc::ServerContext* ctx,
                               grpc::ServerReader<filestore::StoreTaskOutputRequest>* reader,
                               filestore::StoreTaskOutputResponse* resp) override;
  // Internal (method table): SERVING, the security level and the core's counters.
  grpc::Status Health(grpc::ServerContext* ctx, const filestore::StorageHealthRequest* req,
                      filestore::StorageHealthResponse* resp) override;

 private:
  // The pieces of an admitted reader (Download, ReadFileForTask).
  grpc::Status StreamOut(DownloadReader& reader,
                         grpc::ServerWriter<filestore::DownloadResponse>* writer);

  services::GrantVerifier* verifier_;
  services::TaskGrantVerifier* task_grants_;
  StorageCore* core_;
  int security_level_;
};

}  // namespace cloister::storage_service
