// KeyVaultService: admit (grant check) → Caller → KeyVaultCore →
// ToGrpcStatus; see keyvault_service.h.
#include "services/keyvault/keyvault_service.h"

#include <string>

#include "common/grpc_status.h"
#include "services/common/serve_unary.h"

namespace cloister::keyvault_service {
namespace {

std::string MethodPath(std::string_view method) {
  return services::FullMethod(keyvault::KeyVault::service_full_name(), method);
}

}  // namespace

template <typename Req, typename Resp, typename Fn>
grpc::Status KeyVaultService::Serve(grpc::ServerContext* ctx, const Req* req, Resp* resp,
                                    std::string_view method, Fn fn) {
  return services::ServeUnary(*verifier_, ctx, req, resp, MethodPath(method), std::move(fn),
                              [this] { core_->CountRefusal(); });
}

CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, CreateKey)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, ListKeys)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, DescribeKey)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, RotateKey)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, SetMinDecryptionVersion)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, SetKeyEnabled)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, ScheduleKeyDeletion)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, CancelKeyDeletion)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, CreateGrant)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, RevokeGrant)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, Encrypt)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, Decrypt)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, GenerateDataKey)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, Rewrap)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, BatchEncrypt)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, BatchDecrypt)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, Sign)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, Verify)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, BatchSign)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, Hmac)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, VerifyHmac)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, GetWrappingKey)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, ImportKey)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, ExportKey)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, RegisterFileKey)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, GetFileKey)
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, DeleteFileKey)
// Internal: the verifier admits only the attested storage enclave (the
// method table's callers rule); the core checks the caller again.
CLOISTER_SERVE_UNARY(KeyVaultService, keyvault::KeyVault, keyvault, DestroyFileKey)

// Internal: the verifier admits only the attested exec enclave; the core
// checks the caller again and verifies the task grant.
grpc::Status KeyVaultService::GetFileKeyForTask(grpc::ServerContext* ctx,
                                                const keyvault::GetFileKeyForTaskRequest* req,
                                                keyvault::GetFileKeyResponse* resp) {
  return Serve(ctx, req, resp, "GetFileKeyForTask",
               [this](const Caller& c, const keyvault::GetFileKeyForTaskRequest& r) {
                 return core_->GetFileKeyForTask(c, r, *task_grants_);
               });
}

grpc::Status KeyVaultService::RegisterFileKeyForTask(
    grpc::ServerContext* ctx, const keyvault::RegisterFileKeyForTaskRequest* req,
    keyvault::RegisterFileKeyResponse* resp) {
  return Serve(ctx, req, resp, "RegisterFileKeyForTask",
               [this](const Caller& c, const keyvault::RegisterFileKeyForTaskRequest& r) {
                 return core_->RegisterFileKeyForTask(c, r, *task_grants_);
               });
}

grpc::Status KeyVaultService::Health(grpc::ServerContext* ctx,
                                     const keyvault::KeyVaultHealthRequest* req,
                                     keyvault::KeyVaultHealthResponse* resp) {
  return Serve(ctx, req, resp, "Health",
               [this](const Caller&, const keyvault::KeyVaultHealthRequest&) {
                 return Result<keyvault::KeyVaultHealthResponse>(
                     services::HealthReply<keyvault::KeyVaultHealthResponse>(security_level_,
                                                                            core_->Counters()));
               });
}

}  // namespace cloister::keyvault_service
