// The SDK's KeyVault calls; see keyvault_client.h.
#include "sdk/keyvault_client.h"

#include <ctime>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "common/crypto/aead.h"
#include "common/crypto/keys.h"
#include "common/crypto/random.h"
#include "common/grpc_status.h"
#include "sdk/gateway_channel.h"
#include "services/keyvault/key_ops.h"

namespace cloister::sdk {
namespace {


template <typename It>
void CopyOps(It begin, It end, google::protobuf::RepeatedField<int>* out) {
  for (auto it = begin; it != end; ++it) out->Add(*it);
}

}  // namespace

Result<Bytes> WrapKeyForImport(ByteView wrapping_key_spki, ByteView material,
                               std::string_view key_name) {
  // The vault's own envelope code (services/keyvault/key_ops.h), so the
  // format has one implementation that both sides test against.
  CLOISTER_ASSIGN_OR_RETURN(auto pub, crypto::PublicKey::FromSpkiDer(wrapping_key_spki));
  return keyvault_ops::WrapForImport(pub, material, key_name);
}

Result<std::unique_ptr<KeyVaultClient>> KeyVaultClient::Create(Client* client,
                                                               ClientOptions options) {
  if (client == nullptr) return InvalidArgument("no client");
  CLOISTER_ASSIGN_OR_RETURN(auto channel, OpenGatewayChannel(options));
  return std::make_unique<KeyVaultClient>(Key(), client, std::move(options), std::move(channel));
}

KeyVaultClient::KeyVaultClient(Key, Client* client, ClientOptions options,
                               std::shared_ptr<grpc::Channel> channel)
    : client_(client),
      options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(keyvault::KeyVault::NewStub(channel_)) {}

template <typename Req, typename Resp, typename Fn>
Result<Resp> KeyVaultClient::Invoke(const Req& req, Fn fn) {
  auto session = client_->session();
  if (!session) return Unauthenticated("not logged in", kNotLoggedIn);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (session->api_key.empty() && !session->refresh_token.empty() &&
      session->expires_unix - now < options_.refresh_margin.count()) {
    // Any authenticated Client call refreshes a token close to expiry.
    CLOISTER_RETURN_IF_ERROR(client_->WhoAmI());
    session = client_->session();
    if (!session) return Unauthenticated("session ended", kNotLoggedIn);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
  if (!session->api_key.empty())
    ctx.AddMetadata("authorization", "ApiKey " + session->api_key);
  else
    ctx.AddMetadata("authorization", "Bearer " + session->token);
  Resp resp;
  CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(fn(&ctx, req, &resp)));
  return resp;
}

#define CLOISTER_KV_STUB(M) \
  [this](grpc::ClientContext* stub_ctx, const auto& stub_req, auto* stub_resp) { \
    return stub_->M(stub_ctx, stub_req, stub_resp);                                 \
  }

Result<keyvault::KeyMetadata> KeyVaultClient::CreateKey(std::string_view name,
                                                        keyvault::KeyType type, bool exportable,
                                                        std::vector<keyvault::Operation> allowed) {
  keyvault::CreateKeyRequest r;
  r.set_name(std::string(name));
  r.set_type(type);
  r.set_exportable(exportable);
  CopyOps(allowed.begin(), allowed.end(), r.mutable_allowed_operations());
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (Invoke<keyvault::CreateKeyRequest, keyvault::CreateKeyResponse>(
                                r, CLOISTER_KV_STUB(CreateKey))));
  return resp.key();
}

Result<std::vector<keyvault::KeyMetadata>> KeyVaultClient::ListKeys(bool owned_only) {
  keyvault::ListKeysRequest r;
  r.set_owned_only(owned_only);
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (Invoke<keyvault::ListKeysRequest, keyvault::ListKeysResponse>(
                                r, CLOISTER_KV_STUB(ListKeys))));
  return std::vector<keyvault::KeyMetadata>(resp.keys().begin(), resp.keys().end());
}

Result<keyvault::KeyMetadata> KeyVaultClient::DescribeKey(std::string_view name) {
  keyvault::DescribeKeyRequest r;
  r.set_name(std::string(name));
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (Invoke<keyvault::DescribeKeyRequest, keyvault::DescribeKeyResponse>(
                                r, CLOISTER_KV_STUB(DescribeKey))));
  return resp.key();
}

Result<keyvault::KeyMetadata> KeyVaultClient::RotateKey(std::string_view name,
                                                        uint32_t min_decryption_version) {
  keyvault::RotateKeyRequest r;
  r.set_name(std::string(name));
  r.set_min_decryption_version(min_decryption_version);
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (Invoke<keyvault::RotateKeyRequest, keyvault::RotateKeyResponse>(
                                r, CLOISTER_KV_STUB(RotateKey))));
  return resp.key();
}

Result<keyvault::KeyMetadata> KeyVaultClient::SetMinDecryptionVersion(std::string_view name,
                                                                      uint32_t version) {
  keyvault::SetMinDecryptionVersionRequest r;
  r.set_name(std::string(name));
  r.set_min_decryption_version(version);
  CLOISTER_ASSIGN_OR_RETURN(auto resp, (Invoke<keyvault::SetMinDecryptionVersionRequest,
                                               keyvault::SetMinDecryptionVersionResponse>(
                                           r, CLOISTER_KV_STUB(SetMinDecryptionVersion))));
  return resp.key();
}

Result<keyvault::KeyMetadata> KeyVaultClient::SetKeyEnabled(std::string_view name, bool enabled) {
  keyvault::SetKeyEnabledRequest r;
  r.set_name(std::string(name));
  r.set_enabled(enabled);
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (Invoke<keyvault::SetKeyEnabledRequest, keyvault::SetKeyEnabledResponse>(
                                r, CLOISTER_KV_STUB(SetKeyEnabled))));
  return resp.key();
}

Result<keyvault::KeyMetadata> KeyVaultClient::ScheduleKeyDeletion(std::string_view name,
                                                                  int64_t waiting_period_s) {
  keyvault::ScheduleKeyDeletionRequest r;
  r.set_name(std::string(name));
  r.set_waiting_period_s(waiting_period_s);
  CLOISTER_ASSIGN_OR_RETURN(auto resp, (Invoke<keyvault::ScheduleKeyDeletionRequest,
                                               keyvault::ScheduleKeyDeletionResponse>(
                                           r, CLOISTER_KV_STUB(ScheduleKeyDeletion))));
  return resp.key();
}

Result<keyvault::KeyMetadata> KeyVaultClient::CancelKeyDeletion(std::string_view name) {
  keyvault::CancelKeyDeletionRequest r;
  r.set_name(std::string(name));
  CLOISTER_ASSIGN_OR_RETURN(auto resp, (Invoke<keyvault::CancelKeyDeletionRequest,
                                               keyvault::CancelKeyDeletionResponse>(
                                           r, CLOISTER_KV_STUB(CancelKeyDeletion))));
  return resp.key();
}

Result<keyvault::Grant> KeyVaultClient::CreateGrant(std::string_view name,
                                                    std::string_view grantee_user_id,
                                                    std::vector<keyvault::Operation> operations,
                                                    int64_t expires_unix) {
  keyvault::CreateGrantRequest r;
  r.set_name(std::string(name));
  r.set_grantee_user_id(std::string(grantee_user_id));
  CopyOps(operations.begin(), operations.end(), r.mutable_operations());
  r.set_expires_unix(expires_unix);
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (Invoke<keyvault::CreateGrantRequest, keyvault::CreateGrantResponse>(
                                r, CLOISTER_KV_STUB(CreateGrant))));
  return resp.grant();
}

Status KeyVaultClient::RevokeGrant(std::string_view name, std::string_view grant_id) {
  keyvault::RevokeGrantRequest r;
  r.set_name(std::string(name));
  r.set_grant_id(std::string(grant_id));
  return Invoke<keyvault::RevokeGrantRequest, keyvault::RevokeGrantResponse>(
             r, CLOISTER_KV_STUB(RevokeGrant))
      .status();
}

Result<keyvault::EncryptResponse> KeyVaultClient::Encrypt(std::string_view name, ByteView plaintext,
                                                          ByteView aad) {
  keyvault::EncryptRequest r;
  r.set_name(std::string(name));
  r.set_plaintext(std::string(AsChars(plaintext)));
  r.set_aad(std::string(AsChars(aad)));
  return Invoke<keyvault::EncryptRequest, keyvault::EncryptResponse>(r, CLOISTER_KV_STUB(Encrypt));
}

Result<keyvault::DecryptResponse> KeyVaultClient::Decrypt(std::string_view name,
                                                          std::string_view ciphertext,
                                                          ByteView aad) {
  keyvault::DecryptRequest r;
  r.set_name(std::string(name));
  r.set_ciphertext(std::string(ciphertext));
  r.set_aad(std::string(AsChars(aad)));
  return Invoke<keyvault::DecryptRequest, keyvault::DecryptResponse>(r, CLOISTER_KV_STUB(Decrypt));
}

Result<keyvault::GenerateDataKeyResponse> KeyVaultClient::GenerateDataKey(std::string_view name,
                                                                          ByteView aad,
                                                                          bool wrapped_only) {
  keyvault::GenerateDataKeyRequest r;
  r.set_name(std::string(name));
  r.set_aad(std::string(AsChars(aad)));
  r.set_wrapped_only(wrapped_only);
  return Invoke<keyvault::GenerateDataKeyRequest, keyvault::GenerateDataKeyResponse>(
      r, CLOISTER_KV_STUB(GenerateDataKey));
}

Result<keyvault::RewrapResponse> KeyVaultClient::Rewrap(std::string_view name,
                                                        std::string_view ciphertext, ByteView aad) {
  keyvault::RewrapRequest r;
  r.set_name(std::string(name));
  r.set_ciphertext(std::string(ciphertext));
  r.set_aad(std::string(AsChars(aad)));
  return Invoke<keyvault::RewrapRequest, keyvault::RewrapResponse>(r, CLOISTER_KV_STUB(Rewrap));
}

Result<keyvault::BatchEncryptResponse> KeyVaultClient::BatchEncrypt(
    const keyvault::BatchEncryptRequest& req) {
  return Invoke<keyvault::BatchEncryptRequest, keyvault::BatchEncryptResponse>(
      req, CLOISTER_KV_STUB(BatchEncrypt));
}

Result<keyvault::BatchDecryptResponse> KeyVaultClient::BatchDecrypt(
    const keyvault::BatchDecryptRequest& req) {
  return Invoke<keyvault::BatchDecryptRequest, keyvault::BatchDecryptResponse>(
      req, CLOISTER_KV_STUB(BatchDecrypt));
}

Result<keyvault::SignResponse> KeyVaultClient::Sign(std::string_view name, ByteView input,
                                                    bool prehashed,
                                                    keyvault::SignatureAlgorithm alg) {
  keyvault::SignRequest r;
  r.set_name(std::string(name));
  r.set_input(std::string(AsChars(input)));
  r.set_prehashed(prehashed);
  r.set_algorithm(alg);
  return Invoke<keyvault::SignRequest, keyvault::SignResponse>(r, CLOISTER_KV_STUB(Sign));
}

Result<bool> KeyVaultClient::Verify(std::string_view name, ByteView input, ByteView signature,
                                    bool prehashed, keyvault::SignatureAlgorithm alg,
                                    uint32_t key_version) {
  keyvault::VerifyRequest r;
  r.set_name(std::string(name));
  r.set_input(std::string(AsChars(input)));
  r.set_signature(std::string(AsChars(signature)));
  r.set_prehashed(prehashed);
  r.set_algorithm(alg);
  r.set_key_version(key_version);
  CLOISTER_ASSIGN_OR_RETURN(auto resp, (Invoke<keyvault::VerifyRequest, keyvault::VerifyResponse>(
                                           r, CLOISTER_KV_STUB(Verify))));
  return resp.valid();
}

Result<keyvault::BatchSignResponse> KeyVaultClient::BatchSign(const keyvault::BatchSignRequest& req) {
  return Invoke<keyvault::BatchSignRequest, keyvault::BatchSignResponse>(req,
                                                                         CLOISTER_KV_STUB(BatchSign));
}

Result<keyvault::HmacResponse> KeyVaultClient::Hmac(std::string_view name, ByteView input) {
  keyvault::HmacRequest r;
  r.set_name(std::string(name));
  r.set_input(std::string(AsChars(input)));
  return Invoke<keyvault::HmacRequest, keyvault::HmacResponse>(r, CLOISTER_KV_STUB(Hmac));
}

Result<bool> KeyVaultClient::VerifyHmac(std::string_view name, ByteView input, ByteView mac,
                                        uint32_t key_version) {
  keyvault::VerifyHmacRequest r;
  r.set_name(std::string(name));
  r.set_input(std::string(AsChars(input)));
  r.set_mac(std::string(AsChars(mac)));
  r.set_key_version(key_version);
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (Invoke<keyvault::VerifyHmacRequest, keyvault::VerifyHmacResponse>(
                                r, CLOISTER_KV_STUB(VerifyHmac))));
  return resp.valid();
}

Result<keyvault::GetWrappingKeyResponse> KeyVaultClient::GetWrappingKey() {
  return Invoke<keyvault::GetWrappingKeyRequest, keyvault::GetWrappingKeyResponse>(
      keyvault::GetWrappingKeyRequest(), CLOISTER_KV_STUB(GetWrappingKey));
}

Result<keyvault::KeyMetadata> KeyVaultClient::ImportKey(std::string_view name,
                                                        keyvault::KeyType type, ByteView material,
                                                        bool exportable) {
  CLOISTER_ASSIGN_OR_RETURN(auto wk, GetWrappingKey());
  SecretBytes der;
  // Accept PEM for convenience; the envelope carries DER.
  if (AsChars(material).find("-----BEGIN") != std::string_view::npos) {
    CLOISTER_ASSIGN_OR_RETURN(auto pk, crypto::PrivateKey::FromPem(AsChars(material)));
    der = pk.Pkcs8Der();
  } else {
    der = SecretBytes(material);
  }
  CLOISTER_ASSIGN_OR_RETURN(Bytes wrapped,
                            WrapKeyForImport(AsBytes(wk.public_key_spki()), der.view(), name));
  keyvault::ImportKeyRequest r;
  r.set_name(std::string(name));
  r.set_type(type);
  r.set_wrapped_key(wrapped.data(), wrapped.size());
  r.set_exportable(exportable);
  CLOISTER_ASSIGN_OR_RETURN(auto resp,
                            (Invoke<keyvault::ImportKeyRequest, keyvault::ImportKeyResponse>(
                                r, CLOISTER_KV_STUB(ImportKey))));
  return resp.key();
}

Result<keyvault::ExportKeyResponse> KeyVaultClient::ExportKey(std::string_view name,
                                                              uint32_t key_version) {
  keyvault::ExportKeyRequest r;
  r.set_name(std::string(name));
  r.set_key_version(key_version);
  return Invoke<keyvault::ExportKeyRequest, keyvault::ExportKeyResponse>(
      r, CLOISTER_KV_STUB(ExportKey));
}

#undef CLOISTER_KV_STUB

}  // namespace cloister::sdk
