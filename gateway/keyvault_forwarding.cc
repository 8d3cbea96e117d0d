// KeyVault public RPCs → GatewayService::Forward → KeyVaultBackend; see
// keyvault_forwarding.h. The public method name (the policy key) equals the
// RPC name; the grant names the backend's full method.
#include "gateway/keyvault_forwarding.h"

namespace cloister::gateway {

KeyVaultGateway::KeyVaultGateway(GatewayService* gateway,
                                 std::shared_ptr<grpc::Channel> keyvault_channel)
    : gateway_(gateway), backend_(keyvault::KeyVaultBackend::NewStub(std::move(keyvault_channel))) {}

#define CLOISTER_KV_FORWARD(M)                                                                 \
  grpc::Status KeyVaultGateway::M(grpc::ServerContext* ctx, const keyvault::M##Request* req,  \
                                  keyvault::M##Response* resp) {                              \
    return gateway_->Forward(ctx, *req, resp, #M, "keyvault",                                 \
                             "/cloister.keyvault.KeyVaultBackend/" #M,                        \
                             [this](grpc::ClientContext* c, const keyvault::M##Request& r,    \
                                    keyvault::M##Response* o) { return backend_->M(c, r, o); }); \
  }
CLOISTER_KV_FORWARD(CreateKey)
CLOISTER_KV_FORWARD(ListKeys)
CLOISTER_KV_FORWARD(DescribeKey)
CLOISTER_KV_FORWARD(RotateKey)
CLOISTER_KV_FORWARD(SetMinDecryptionVersion)
CLOISTER_KV_FORWARD(SetKeyEnabled)
CLOISTER_KV_FORWARD(ScheduleKeyDeletion)
CLOISTER_KV_FORWARD(CancelKeyDeletion)
CLOISTER_KV_FORWARD(CreateGrant)
CLOISTER_KV_FORWARD(RevokeGrant)
CLOISTER_KV_FORWARD(Encrypt)
CLOISTER_KV_FORWARD(Decrypt)
CLOISTER_KV_FORWARD(GenerateDataKey)
CLOISTER_KV_FORWARD(Rewrap)
CLOISTER_KV_FORWARD(BatchEncrypt)
CLOISTER_KV_FORWARD(BatchDecrypt)
CLOISTER_KV_FORWARD(Sign)
CLOISTER_KV_FORWARD(Verify)
CLOISTER_KV_FORWARD(BatchSign)
CLOISTER_KV_FORWARD(Hmac)
CLOISTER_KV_FORWARD(VerifyHmac)
CLOISTER_KV_FORWARD(GetWrappingKey)
CLOISTER_KV_FORWARD(ImportKey)
CLOISTER_KV_FORWARD(ExportKey)
#undef CLOISTER_KV_FORWARD

}  // namespace cloister::gateway
