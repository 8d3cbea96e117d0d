// cloister-storage's gRPC handlers; see storage_service.h.
#include "services/storage/storage_service.h"

#include "common/grpc_status.h"
#include "services/common/serve_unary.h"

namespace cloister::storage_service {
namespace {

std::string MethodPath(std::string_view method) {
  return services::FullMethod(filestore::Storage::service_full_name(), method);
}

}  // namespace

CLOISTER_SERVE_UNARY(StorageService, filestore::Storage, filestore, CreateUpload)
CLOISTER_SERVE_UNARY(StorageService, filestore::Storage, filestore, GetUpload)
CLOISTER_SERVE_UNARY(StorageService, filestore::Storage, filestore, CompleteUpload)
CLOISTER_SERVE_UNARY(StorageService, filestore::Storage, filestore, AbortUpload)
CLOISTER_SERVE_UNARY(StorageService, filestore::Storage, filestore, StatFile)
CLOISTER_SERVE_UNARY(StorageService, filestore::Storage, filestore, ListFiles)
CLOISTER_SERVE_UNARY(StorageService, filestore::Storage, filestore, DeleteFile)
CLOISTER_SERVE_UNARY(StorageService, filestore::Storage, filestore, StatFileForTask)

grpc::Status StorageService::UploadChunks(grpc::ServerContext* ctx,
                                          grpc::ServerReader<filestore::UploadChunksRequest>* reader,
                                          filestore::UploadChunksResponse* resp) {
  filestore::UploadChunksRequest first;
  if (!reader->Read(&first)) {
    core_->CountRefusal();
    return ToGrpcStatus(InvalidArgument("an upload stream needs at least one message",
                                        reason::kEmptyStream));
  }
  auto authz = verifier_->Admit(*ctx, first, MethodPath("UploadChunks"));
  if (!authz.ok()) {
    core_->CountRefusal();
    return ToGrpcStatus(authz.error());
  }
  auto stream = core_->OpenUploadStream(authz->caller(), authz->request());
  if (!stream.ok()) return ToGrpcStatus(stream.error());
  filestore::UploadChunksRequest next;
  // Read returns false at the client's half-close and also when the call
  // is cancelled or broken: either way Finish makes the received bytes
  // durable, so the client resumes from GetUpload's `received`.
  while (reader->Read(&next)) {
    if (Status st = (*stream)->Append(next); !st.ok()) return ToGrpcStatus(st);
  }
  auto session = (*stream)->Finish();
  if (!session.ok()) return ToGrpcStatus(session.error());
  *resp->mutable_session() = *std::move(session);
  return grpc::Status::OK;
}

grpc::Status StorageService::Download(grpc::ServerContext* ctx,
                                      const filestore::DownloadRequest* req,
                                      grpc::ServerWriter<filestore::DownloadResponse>* writer) {
  auto authz = verifier_->Admit(*ctx, *req, MethodPath("Download"));
  if (!authz.ok()) {
    core_->CountRefusal();
    return ToGrpcStatus(authz.error());
  }
  auto dl = core_->OpenDownload(authz->caller(), req->file_id(), req->offset());
  if (!dl.ok()) return ToGrpcStatus(dl.error());
  return StreamOut(**dl, writer);
}

grpc::Status StorageService::StreamOut(DownloadReader& reader,
                                       grpc::ServerWriter<filestore::DownloadResponse>* writer) {
  for (;;) {
    auto piece = reader.Next();
    if (!piece.ok()) return ToGrpcStatus(piece.error());
    if (!piece->has_value()) break;
    // A failed write: the client went away; it resumes from an offset.
    if (!writer->Write(**piece)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
  }
  return grpc::Status::OK;
}

grpc::Status StorageService::ReadFileForTask(
    grpc::ServerContext* ctx, const filestore::ReadFileForTaskRequest* req,
    grpc::ServerWriter<filestore::DownloadResponse>* writer) {
  auto authz = verifier_->Admit(*ctx, *req, MethodPath("ReadFileForTask"));
  if (!authz.ok()) {
    core_->CountRefusal();
    return ToGrpcStatus(authz.error());
  }
  auto reader = core_->OpenTaskRead(authz->caller(), authz->request(), *task_grants_);
  if (!reader.ok()) return ToGrpcStatus(reader.error());
  return StreamOut(**reader, writer);
}

grpc::Status StorageService::StoreTaskOutput(
    grpc::ServerContext* ctx, grpc::ServerReader<filestore::StoreTaskOutputRequest>* reader,
    filestore::StoreTaskOutputResponse* resp) {
  filestore::StoreTaskOutputRequest first;
  if (!reader->Read(&first)) {
    core_->CountRefusal();
    return ToGrpcStatus(InvalidArgument("an output stream needs at least one message",
                                        reason::kEmptyStream));
  }
  auto authz = verifier_->Admit(*ctx, first, MethodPath("StoreTaskOutput"));
  if (!authz.ok()) {
    core_->CountRefusal();
    return ToGrpcStatus(authz.error());
  }
  auto stream = core_->OpenTaskOutput(authz->caller(), authz->request(), *task_grants_);
  if (!stream.ok()) return ToGrpcStatus(stream.error());
  filestore::StoreTaskOutputRequest next;
  while (reader->Read(&next)) {
    // On error the stream is dropped: no file, the reservation freed.
    if (Status st = (*stream)->Append(next); !st.ok()) return ToGrpcStatus(st);
  }
  // Read also returns false when the call was cancelled or broke: a file
  // whose reply can never arrive is not stored (dropping the stream aborts).
  if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
  auto file = (*stream)->Finish();
  if (!file.ok()) return ToGrpcStatus(file.error());
  *resp = *std::move(file);
  return grpc::Status::OK;
}

grpc::Status StorageService::Health(grpc::ServerContext* ctx,
                                    const filestore::StorageHealthRequest* req,
                                    filestore::StorageHealthResponse* resp) {
  return services::ServeUnary(
      *verifier_, ctx, req, resp, MethodPath("Health"),
      [this](const Caller&, const filestore::StorageHealthRequest&) {
        return Result<filestore::StorageHealthResponse>(
            services::HealthReply<filestore::StorageHealthResponse>(security_level_,
                                                                    core_->Counters()));
      },
      [this] { core_->CountRefusal(); });
}

}  // namespace cloister::storage_service
