// KeyVaultGateway: the public service KeyVault (proto/keyvault.proto), served
// by cloister-gateway on its public port next to Cloister. Every RPC goes
// through GatewayService::Forward — the same authenticate → authorize →
// rate limit → audit pipeline and signed grant as the Cloister API — to
// cloister-keyvault's KeyVaultBackend. There is no other path.
//
//   gateway::KeyVaultGateway kv(&service, runner.ChannelTo(keyvault_addr, "keyvault"));
//   runner.Serve({&service, &kv});
#pragma once

#include <memory>

#include "gateway/gateway_service.h"
#include "proto/keyvault.grpc.pb.h"

namespace cloister::gateway {

class KeyVaultGateway final : public keyvault::KeyVault::Service {
 public:
  // `gateway` must outlive this service.
  KeyVaultGateway(GatewayService* gateway, std::shared_ptr<grpc::Channel> keyvault_channel);

#define CLOISTER_KV_GATEWAY_METHOD(M)                                              \
  grpc::Status M(grpc::ServerContext* ctx, const keyvault::M##Request* req, \
                 keyvault::M##Response* resp) override;
  CLOISTER_KV_GATEWAY_METHOD(CreateKey)
  CLOISTER_KV_GATEWAY_METHOD(ListKeys)
  CLOISTER_KV_GATEWAY_METHOD(DescribeKey)
  CLOISTER_KV_GATEWAY_METHOD(RotateKey)
  CLOISTER_KV_GATEWAY_METHOD(SetMinDecryptionVersion)
  CLOISTER_KV_GATEWAY_METHOD(SetKeyEnabled)
  CLOISTER_KV_GATEWAY_METHOD(ScheduleKeyDeletion)
  CLOISTER_KV_GATEWAY_METHOD(CancelKeyDeletion)
  CLOISTER_KV_GATEWAY_METHOD(CreateGrant)
  CLOISTER_KV_GATEWAY_METHOD(RevokeGrant)
  CLOISTER_KV_GATEWAY_METHOD(Encrypt)
  CLOISTER_KV_GATEWAY_METHOD(Decrypt)
  CLOISTER_KV_GATEWAY_METHOD(GenerateDataKey)
  CLOISTER_KV_GATEWAY_METHOD(Rewrap)
  CLOISTER_KV_GATEWAY_METHOD(BatchEncrypt)
  CLOISTER_KV_GATEWAY_METHOD(BatchDecrypt)
  CLOISTER_KV_GATEWAY_METHOD(Sign)
  CLOISTER_KV_GATEWAY_METHOD(Verify)
  CLOISTER_KV_GATEWAY_METHOD(BatchSign)
  CLOISTER_KV_GATEWAY_METHOD(Hmac)
  CLOISTER_KV_GATEWAY_METHOD(VerifyHmac)
  CLOISTER_KV_GATEWAY_METHOD(GetWrappingKey)
  CLOISTER_KV_GATEWAY_METHOD(ImportKey)
  CLOISTER_KV_GATEWAY_METHOD(ExportKey)
#undef CLOISTER_KV_GATEWAY_METHOD

 private:
  GatewayService* gateway_;
  std::unique_ptr<keyvault::KeyVaultBackend::Stub> backend_;
};

}  // namespace cloister::gateway
