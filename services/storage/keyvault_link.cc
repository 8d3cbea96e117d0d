// DestroyFileKey on cloister-keyvault; see keyvault_link.h.
#include "services/storage/keyvault_link.h"

#include <chrono>

#include "common/grpc_status.h"
#include "proto/internal.pb.h"
#include "proto/keyvault.grpc.pb.h"
#include "services/common/grant_verifier.h"

namespace cloister::storage_service {
namespace {

constexpr std::string_view kDestroyFileKey = "/cloister.keyvault.KeyVault/DestroyFileKey";
constexpr auto kTimeout = std::chrono::seconds(10);

}  // namespace

KeyShredder MakeKeyVaultShredder(std::shared_ptr<grpc::Channel> keyvault,
                                 attestation::Enclave* enclave) {
  std::shared_ptr<keyvault::KeyVault::Stub> stub = keyvault::KeyVault::NewStub(keyvault);
  return [stub, enclave](const std::string& file_id, const std::string& owner) -> Status {
    keyvault::DestroyFileKeyRequest req;
    req.set_file_id(file_id);
    req.set_owner_user_id(owner);
    grpc::ClientContext cctx;
    cctx.set_deadline(std::chrono::system_clock::now() + kTimeout);
    internal::AccessGrant g;
    g.set_principal("service:storage");
    CLOISTER_RETURN_IF_ERROR(
        services::AttachGrant(cctx, *enclave, "keyvault", req, kDestroyFileKey, g));
    keyvault::DestroyFileKeyResponse resp;
    return FromGrpcStatus(stub->DestroyFileKey(&cctx, req, &resp));
  };
}

}  // namespace cloister::storage_service
