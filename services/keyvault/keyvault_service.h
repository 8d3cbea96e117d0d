// cloister-keyvault's gRPC layer: KeyVaultService implements the KeyVault
// service (proto/keyvault.proto). It admits only gateway-granted calls and
// hands the grant's principal to KeyVaultCore (keyvault_core.h: access
// rules, names, file keys), whose errors leave through ToGrpcStatus only.
//
//   KeyVaultCore core(store.get(), audit);
//   services::TaskGrantVerifier task_grants(enclave);
//   KeyVaultService svc(&verifier, &task_grants, &core, enclave->security_level());
//   runner.Serve({&svc});
#pragma once

#include "proto/keyvault.grpc.pb.h"
#include "services/common/grant_verifier.h"
#include "services/common/task_grant.h"
#include "services/keyvault/keyvault_core.h"

namespace cloister::keyvault_service {

// The gRPC face: Admit (grant check) → Caller → core → ToGrpcStatus.
class KeyVaultService final : public keyvault::KeyVault::Service {
 public:
  // `verifier`, `task_grants` and `core` must outlive the service.
  KeyVaultService(services::GrantVerifier* verifier, services::TaskGrantVerifier* task_grants,
                  KeyVaultCore* core, int security_level)
      : verifier_(verifier),
        task_grants_(task_grants),
        core_(core),
        security_level_(security_level) {}

#define CLOISTER_KV_METHOD(M) \
  grpc::Status M(grpc::ServerContext* ctx, const keyvault::M##Request* req, \
                 keyvault::M##Response* resp) override;
  CLOISTER_KV_METHOD(CreateKey)
  CLOISTER_KV_METHOD(ListKeys)
  CLOISTER_KV_METHOD(DescribeKey)
  CLOISTER_KV_METHOD(RotateKey)
  CLOISTER_KV_METHOD(SetMinDecryptionVersion)
  CLOISTER_KV_METHOD(SetKeyEnabled)
  CLOISTER_KV_METHOD(ScheduleKeyDeletion)
  CLOISTER_KV_METHOD(CancelKeyDeletion)
  CLOISTER_KV_METHOD(CreateGrant)
  CLOISTER_KV_METHOD(RevokeGrant)
  CLOISTER_KV_METHOD(Encrypt)
  CLOISTER_KV_METHOD(Decrypt)
  CLOISTER_KV_METHOD(GenerateDataKey)
  CLOISTER_KV_METHOD(Rewrap)
  CLOISTER_KV_METHOD(BatchEncrypt)
  CLOISTER_KV_METHOD(BatchDecrypt)
  CLOISTER_KV_METHOD(Sign)
  CLOISTER_KV_METHOD(Verify)
  CLOISTER_KV_METHOD(BatchSign)
  CLOISTER_KV_METHOD(Hmac)
  CLOISTER_KV_METHOD(VerifyHmac)
  CLOISTER_KV_METHOD(GetWrappingKey)
  CLOISTER_KV_METHOD(ImportKey)
  CLOISTER_KV_METHOD(ExportKey)
  CLOISTER_KV_METHOD(RegisterFileKey)
  CLOISTER_KV_METHOD(GetFileKey)
  CLOISTER_KV_METHOD(DeleteFileKey)
  CLOISTER_KV_METHOD(DestroyFileKey)
#undef CLOISTER_KV_METHOD
  // Internal (method table: callers exec).
  grpc::Status GetFileKeyForTask(grpc::ServerContext* ctx,
                                 const keyvault::GetFileKeyForTaskRequest* req,
                                 keyvault::GetFileKeyResponse* resp) override;
  grpc::Status RegisterFileKeyForTask(grpc::ServerContext* ctx,
                                      const keyvault::RegisterFileKeyForTaskRequest* req,
                                      keyvault::RegisterFileKeyResponse* resp) override;
  grpc::Status Health(grpc::ServerContext* ctx, const keyvault::KeyVaultHealthRequest* req,
                      keyvault::KeyVaultHealthResponse* resp) override;

 private:
  template <typename Req, typename Resp, typename Fn>
  grpc::Status Serve(grpc::ServerContext* ctx, const Req* req, Resp* resp,
                     std::string_view method, Fn fn);

  services::GrantVerifier* verifier_;
  services::TaskGrantVerifier* task_grants_;
  KeyVaultCore* core_;
  int security_level_;
};

}  // namespace cloister::keyvault_service
