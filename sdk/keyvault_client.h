// The SDK's key vault calls (service KeyVault in proto/keyvault.proto,
// docs/keyvault.md), on top of an attested, logged-in sdk::Client.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto kv, sdk::KeyVaultClient::Create(client.get(), options));
//   CLOISTER_ASSIGN_OR_RETURN(auto key, kv->CreateKey("db", keyvault::KEY_TYPE_AES256_GCM));
//   CLOISTER_ASSIGN_OR_RETURN(auto dk, kv->GenerateDataKey("db", file_id, /*wrapped_only=*/false));
//
// Create() opens a second channel to the same gateway with the same
// attestation check (role "gateway") and forces its handshake before any
// credential is sent. Every call carries the Client's current token (or
// API key); a token close to expiry is refreshed through the Client first.
// Thread-safe. Errors are the server's code + stable reason (e.g.
// KEY_NOT_FOUND, AEAD_AUTHENTICATION_FAILED).
//
// Key names (docs/keyvault.md, "Names and namespaces"): every `name` below
// is "name" for one of YOUR keys, or "owner/name" for a key the user
// `owner` (a username) granted you; a bare name never reaches anyone
// else's key, whatever they create or grant. CreateKey and ImportKey take a
// bare name (your namespace); "owner/name" is refused with
// KEY_NAME_QUALIFIED.
//
//   kv->Encrypt("payroll", data);        // your own payroll key, or KEY_NOT_FOUND
//   kv->Encrypt("alice/payroll", data);  // alice's, if she granted you encrypt
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "proto/keyvault.grpc.pb.h"
#include "sdk/cloister_client.h"

namespace cloister::sdk {

class KeyVaultClient {
 public:
  // `client` must be connected, must outlive this object, and must be logged
  // in before the first call.
  static Result<std::unique_ptr<KeyVaultClient>> Create(Client* client, ClientOptions options);

  Result<keyvault::KeyMetadata> CreateKey(std::string_view name, keyvault::KeyType type,
                                          bool exportable = false,
                                          std::vector<keyvault::Operation> allowed = {});
  // Your keys and (unless owned_only) the keys granted to you; each carries
  // its owner (owner_username, owner_user_id) and full_name "owner/name".
  Result<std::vector<keyvault::KeyMetadata>> ListKeys(bool owned_only = false);
  Result<keyvault::KeyMetadata> DescribeKey(std::string_view name);
  Result<keyvault::KeyMetadata> RotateKey(std::string_view name, uint32_t min_decryption_version = 0);
  Result<keyvault::KeyMetadata> SetMinDecryptionVersion(std::string_view name, uint32_t version);
  Result<keyvault::KeyMetadata> SetKeyEnabled(std::string_view name, bool enabled);
  // waiting_period_s 0 = the default (7 days).
  Result<keyvault::KeyMetadata> ScheduleKeyDeletion(std::string_view name, int64_t waiting_period_s);
  Result<keyvault::KeyMetadata> CancelKeyDeletion(std::string_view name);
  Result<keyvault::Grant> CreateGrant(std::string_view name, std::string_view grantee_user_id,
                                      std::vector<keyvault::Operation> operations,
                                      int64_t expires_unix = 0);
  Status RevokeGrant(std::string_view name, std::string_view grant_id);

  Result<keyvault::EncryptResponse> Encrypt(std::string_view name, ByteView plaintext,
                                            ByteView aad = {});
  Result<keyvault::DecryptResponse> Decrypt(std::string_view name, std::string_view ciphertext,
                                            ByteView aad = {});
  Result<keyvault::GenerateDataKeyResponse> GenerateDataKey(std::string_view name, ByteView aad,
                                                            bool wrapped_only);
  Result<keyvault::RewrapResponse> Rewrap(std::string_view name, std::string_view ciphertext,
                                          ByteView aad = {});
  Result<keyvault::BatchEncryptResponse> BatchEncrypt(const keyvault::BatchEncryptRequest& req);
  Result<keyvault::BatchDecryptResponse> BatchDecrypt(const keyvault::BatchDecryptRequest& req);

  Result<keyvault::SignResponse> Sign(std::string_view name, ByteView input, bool prehashed = false,
                                      keyvault::SignatureAlgorithm alg = {});
  // true/false for a (non-)matching signature; errors only for bad requests.
  Result<bool> Verify(std::string_view name, ByteView input, ByteView signature,
                      bool prehashed = false, keyvault::SignatureAlgorithm alg = {},
                      uint32_t key_version = 0);
  Result<keyvault::BatchSignResponse> BatchSign(const keyvault::BatchSignRequest& req);
  Result<keyvault::HmacResponse> Hmac(std::string_view name, ByteView input);
  Result<bool> VerifyHmac(std::string_view name, ByteView input, ByteView mac,
                          uint32_t key_version = 0);

  Result<keyvault::GetWrappingKeyResponse> GetWrappingKey();
  // Wraps `material` here, for the vault's wrapping key and this name (the
  // envelope of ImportKeyRequest), then imports it. Material: 32 raw bytes
  // for aes256-gcm / hmac-sha256, PKCS#8 DER or PEM for asymmetric types.
  Result<keyvault::KeyMetadata> ImportKey(std::string_view name, keyvault::KeyType type,
                                          ByteView material, bool exportable = false);
  // Only for exportable keys. key_version 0 = latest.
  Result<keyvault::ExportKeyResponse> ExportKey(std::string_view name, uint32_t key_version = 0);

  struct Key {
    explicit Key() = default;
  };
  KeyVaultClient(Key, Client* client, ClientOptions options, std::shared_ptr<grpc::Channel> channel);

 private:
  template <typename Req, typename Resp, typename Fn>
  Result<Resp> Invoke(const Req& req, Fn fn);

  Client* client_;
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<keyvault::KeyVault::Stub> stub_;
};

// The client half of the import envelope (u16be(len E) ‖ E ‖ nonce ‖
// AES-256-GCM(K, material, aad = name), E = RSA-OAEP-SHA256(wrapping key, K)).
Result<Bytes> WrapKeyForImport(ByteView wrapping_key_spki, ByteView material,
                               std::string_view key_name);

}  // namespace cloister::sdk
