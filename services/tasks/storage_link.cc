// StatFileForTask on cloister-storage; see storage_link.h.
#include "services/tasks/storage_link.h"

#include <chrono>

#include "common/grpc_status.h"
#include "proto/internal.pb.h"
#include "proto/storage.grpc.pb.h"
#include "services/common/grant_verifier.h"

namespace cloister::tasks_service {
namespace {

constexpr std::string_view kStatFileForTask = "/cloister.filestore.Storage/StatFileForTask";
constexpr auto kTimeout = std::chrono::seconds(10);

}  // namespace

FileLookup MakeStorageFileLookup(std::shared_ptr<grpc::Channel> storage,
                                 attestation::Enclave* enclave) {
  std::shared_ptr<filestore::Storage::Stub> stub = filestore::Storage::NewStub(storage);
  return [stub, enclave](const Caller& caller, std::string_view file_id) -> Result<FileFacts> {
    filestore::StatFileForTaskRequest req;
    req.set_file_id(std::string(file_id));
    // Storage checks the owner itself: the user tasks proved from auth's proof.
    req.set_owner_user_id(caller.user_id());
    grpc::ClientContext cctx;
    cctx.set_deadline(std::chrono::system_clock::now() + kTimeout);
    internal::AccessGrant g;
    g.set_principal(std::string(kSelfPrincipal));
    CLOISTER_RETURN_IF_ERROR(services::AttachGrant(cctx, *enclave, "storage", req,
                                                   kStatFileForTask, g));
    filestore::StatFileForTaskResponse resp;
    CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(stub->StatFileForTask(&cctx, req, &resp)));
    return FileFacts{resp.file().owner_user_id(), ToBytes(resp.file().sha256())};
  };
}

}  // namespace cloister::tasks_service
