// KeyVaultCore's crypto operations: encrypt/decrypt (single and batch), data
// keys, rewrap, signatures, MACs, and key import/export. The access checks
// (Authorize) are keyvault_core.cc's; see keyvault_core.h for the contract.
#include "services/keyvault/keyvault_core.h"

#include <algorithm>
#include <map>
#include <string>

#include "common/crypto/random.h"
#include "services/keyvault/keyvault_core_detail.h"

namespace cloister::keyvault_service {
namespace {

using keyvault_ops::OpMask;
using keyvault_store::KeyRecord;

Status CheckSize(size_t n, size_t limit, std::string_view what) {
  if (n > limit)
    return InvalidArgument(std::string(what) + " is " + std::to_string(n) + " bytes; the limit is " +
                               std::to_string(limit),
                           reason::kPayloadTooLarge);
  return OkStatus();
}

// Per-item error inside a batch response.
void SetItemError(keyvault::ItemError* out, const Error& e) {
  out->set_code(static_cast<int>(e.code()));
  out->set_reason(e.reason());
  out->set_message(e.message());
}

// Whether a ciphertext's header names key `k`: its full name, or (for a key
// made before namespaces) the bare name its older ciphertexts carry.
bool HeaderNamesKey(std::string_view header, const KeyRecord& k) {
  return header == k.FullName() || (k.legacy_name && header == k.name);
}

using detail::CheckType;
using detail::OpsFrom;
using detail::OwnNewName;

}  // namespace

// ---- symmetric ----

Result<keyvault::EncryptResponse> KeyVaultCore::Encrypt(const Caller& c,
                                                        const keyvault::EncryptRequest& r) {
  return Audited<keyvault::EncryptResponse>(c, "Encrypt", [&](Trace& t)
                                                -> Result<keyvault::EncryptResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.plaintext().size(), kMaxPayload, "plaintext"));
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.aad().size(), kMaxAad, "aad"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_ENCRYPT, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
    keyvault::EncryptResponse resp;
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_ciphertext(),
                              keyvault_ops::EncryptWith(gcm, k.FullName(), k.latest_version,
                                                        AsBytes(r.plaintext()), AsBytes(r.aad())));
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<Bytes> KeyVaultCore::DecryptOne(const KeyRecord& k, std::string_view ciphertext,
                                       ByteView aad, uint32_t* version) {
  CLOISTER_ASSIGN_OR_RETURN(auto ct, keyvault_ops::ParseCiphertext(ciphertext));
  if (!HeaderNamesKey(ct.name, k))
    return InvalidArgument("ciphertext was made with another key", reason::kKeyMismatch);
  *version = ct.version;
  CLOISTER_RETURN_IF_ERROR(CheckVersion(k, ct.version));
  CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, ct.version));
  CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
  return keyvault_ops::DecryptWith(gcm, ct, aad);
}

Result<keyvault::DecryptResponse> KeyVaultCore::Decrypt(const Caller& c,
                                                        const keyvault::DecryptRequest& r) {
  return Audited<keyvault::DecryptResponse>(c, "Decrypt", [&](Trace& t)
                                                -> Result<keyvault::DecryptResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.aad().size(), kMaxAad, "aad"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_DECRYPT, t));
    CLOISTER_ASSIGN_OR_RETURN(Bytes pt, DecryptOne(k, r.ciphertext(), AsBytes(r.aad()), &t.version));
    keyvault::DecryptResponse resp;
    resp.set_plaintext(pt.data(), pt.size());
    Cleanse(pt);
    resp.set_key_version(t.version);
    return resp;
  });
}

Result<keyvault::GenerateDataKeyResponse> KeyVaultCore::GenerateDataKey(
    const Caller& c, const keyvault::GenerateDataKeyRequest& r) {
  return Audited<keyvault::GenerateDataKeyResponse>(
      c, "GenerateDataKey", [&](Trace& t) -> Result<keyvault::GenerateDataKeyResponse> {
        CLOISTER_RETURN_IF_ERROR(CheckSize(r.aad().size(), kMaxAad, "aad"));
        CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_ENCRYPT, t));
        t.version = k.latest_version;
        CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
        CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
        SecretBytes dk = SecretBytes::Random(keyvault_ops::kSymmetricKeySize);
        keyvault::GenerateDataKeyResponse resp;
        CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_ciphertext(),
                                  keyvault_ops::EncryptWith(gcm, k.FullName(), k.latest_version, dk.view(),
                                                            AsBytes(r.aad())));
        if (!r.wrapped_only()) resp.set_plaintext(dk.data(), dk.size());
        resp.set_key_version(k.latest_version);
        return resp;
      });
}

Result<keyvault::RewrapResponse> KeyVaultCore::Rewrap(const Caller& c,
                                                      const keyvault::RewrapRequest& r) {
  return Audited<keyvault::RewrapResponse>(c, "Rewrap", [&](Trace& t)
                                               -> Result<keyvault::RewrapResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.aad().size(), kMaxAad, "aad"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_REWRAP, t));
    uint32_t from = 0;
    CLOISTER_ASSIGN_OR_RETURN(Bytes pt, DecryptOne(k, r.ciphertext(), AsBytes(r.aad()), &from));
    SecretBytes plain = SecretBytes::Adopt(std::move(pt));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
    keyvault::RewrapResponse resp;
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_ciphertext(),
                              keyvault_ops::EncryptWith(gcm, k.FullName(), k.latest_version, plain.view(),
                                                        AsBytes(r.aad())));
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::BatchEncryptResponse> KeyVaultCore::BatchEncrypt(
    const Caller& c, const keyvault::BatchEncryptRequest& r) {
  return Audited<keyvault::BatchEncryptResponse>(c, "BatchEncrypt", [&](Trace& t)
                                                     -> Result<keyvault::BatchEncryptResponse> {
    if (static_cast<size_t>(r.items_size()) > kMaxBatchItems)
      return InvalidArgument("at most 100000 items per batch", reason::kBatchTooLarge);
    size_t total = 0;
    for (const auto& it : r.items()) total += it.plaintext().size() + it.aad().size();
    if (total > kMaxBatchBytes)
      return InvalidArgument("batch holds more than 32 MiB", reason::kBatchTooLarge);
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_ENCRYPT, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
    // One CSPRNG call for every nonce of the batch: per-item calls dominate
    // the cost of small messages.
    Bytes nonces(static_cast<size_t>(r.items_size()) * crypto::kAesGcmNonceSize);
    crypto::FillRandom(nonces);
    keyvault_ops::Encryptor enc(&gcm, k.FullName(), k.latest_version);
    keyvault::BatchEncryptResponse resp;
    resp.mutable_results()->Reserve(r.items_size());
    for (int i = 0; i < r.items_size(); ++i) {
      const auto& item = r.items(i);
      auto* out = resp.add_results();
      if (item.plaintext().size() > kMaxPayload || item.aad().size() > kMaxAad) {
        SetItemError(out->mutable_error(),
                     InvalidArgument("item exceeds the size limit", reason::kPayloadTooLarge));
        continue;
      }
      auto ct = enc.Encrypt(ByteView(nonces).subspan(i * crypto::kAesGcmNonceSize,
                                                      crypto::kAesGcmNonceSize),
                            AsBytes(item.plaintext()), AsBytes(item.aad()));
      if (ct.ok()) {
        *out->mutable_ciphertext() = *std::move(ct);
      } else {
        SetItemError(out->mutable_error(), ct.error());
      }
    }
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::BatchDecryptResponse> KeyVaultCore::BatchDecrypt(
    const Caller& c, const keyvault::BatchDecryptRequest& r) {
  return Audited<keyvault::BatchDecryptResponse>(c, "BatchDecrypt", [&](Trace& t)
                                                     -> Result<keyvault::BatchDecryptResponse> {
    if (static_cast<size_t>(r.items_size()) > kMaxBatchItems)
      return InvalidArgument("at most 100000 items per batch", reason::kBatchTooLarge);
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_DECRYPT, t));
    // Versions differ per item; keep one keyed context per version.
    std::map<uint32_t, crypto::AesGcm> contexts;
    keyvault::BatchDecryptResponse resp;
    resp.mutable_results()->Reserve(r.items_size());
    for (const auto& item : r.items()) {
      auto* out = resp.add_results();
      auto one = [&]() -> Result<Bytes> {
        CLOISTER_RETURN_IF_ERROR(CheckSize(item.aad().size(), kMaxAad, "aad"));
        CLOISTER_ASSIGN_OR_RETURN(auto ct, keyvault_ops::ParseCiphertext(item.ciphertext()));
        if (!HeaderNamesKey(ct.name, k))
          return InvalidArgument("ciphertext was made with another key", reason::kKeyMismatch);
        CLOISTER_RETURN_IF_ERROR(CheckVersion(k, ct.version));
        auto it = contexts.find(ct.version);
        if (it == contexts.end()) {
          CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, ct.version));
          CLOISTER_ASSIGN_OR_RETURN(auto gcm, m->Cipher());
          it = contexts.emplace(ct.version, std::move(gcm)).first;
        }
        t.version = std::max(t.version, ct.version);
        return keyvault_ops::DecryptWith(it->second, ct, AsBytes(item.aad()));
      };
      auto pt = one();
      if (pt.ok()) {
        out->set_plaintext(pt->data(), pt->size());
        Cleanse(*pt);
      } else {
        SetItemError(out->mutable_error(), pt.error());
      }
    }
    return resp;
  });
}

// ---- signatures and MACs ----

Result<keyvault::SignResponse> KeyVaultCore::Sign(const Caller& c, const keyvault::SignRequest& r) {
  return Audited<keyvault::SignResponse>(c, "Sign", [&](Trace& t) -> Result<keyvault::SignResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.input().size(), kMaxPayload, "input"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_SIGN, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(Bytes sig, m->Sign(AsBytes(r.input()), r.prehashed(), r.algorithm()));
    keyvault::SignResponse resp;
    resp.set_signature(sig.data(), sig.size());
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::VerifyResponse> KeyVaultCore::Verify(const Caller& c,
                                                      const keyvault::VerifyRequest& r) {
  return Audited<keyvault::VerifyResponse>(c, "Verify", [&](Trace& t)
                                               -> Result<keyvault::VerifyResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.input().size(), kMaxPayload, "input"));
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.signature().size(), 4096, "signature"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_VERIFY, t));
    uint32_t v = r.key_version() == 0 ? k.latest_version : r.key_version();
    t.version = v;
    CLOISTER_RETURN_IF_ERROR(CheckVersion(k, v));
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, v));
    CLOISTER_ASSIGN_OR_RETURN(bool ok, m->Verify(AsBytes(r.input()), r.prehashed(), r.algorithm(),
                                                 AsBytes(r.signature())));
    keyvault::VerifyResponse resp;
    resp.set_valid(ok);
    return resp;
  });
}

Result<keyvault::BatchSignResponse> KeyVaultCore::BatchSign(const Caller& c,
                                                            const keyvault::BatchSignRequest& r) {
  return Audited<keyvault::BatchSignResponse>(c, "BatchSign", [&](Trace& t)
                                                  -> Result<keyvault::BatchSignResponse> {
    if (static_cast<size_t>(r.inputs_size()) > kMaxBatchItems)
      return InvalidArgument("at most 100000 items per batch", reason::kBatchTooLarge);
    size_t total = 0;
    for (const auto& in : r.inputs()) total += in.size();
    if (total > kMaxBatchBytes)
      return InvalidArgument("batch holds more than 32 MiB", reason::kBatchTooLarge);
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_SIGN, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    keyvault::BatchSignResponse resp;
    resp.mutable_results()->Reserve(r.inputs_size());
    for (const auto& in : r.inputs()) {
      auto* out = resp.add_results();
      auto sig = m->Sign(AsBytes(in), r.prehashed(), r.algorithm());
      if (sig.ok()) {
        out->set_signature(sig->data(), sig->size());
      } else {
        SetItemError(out->mutable_error(), sig.error());
      }
    }
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::HmacResponse> KeyVaultCore::Hmac(const Caller& c, const keyvault::HmacRequest& r) {
  return Audited<keyvault::HmacResponse>(c, "Hmac", [&](Trace& t) -> Result<keyvault::HmacResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.input().size(), kMaxPayload, "input"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_HMAC, t));
    t.version = k.latest_version;
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, k.latest_version));
    CLOISTER_ASSIGN_OR_RETURN(Bytes mac, m->Hmac(AsBytes(r.input())));
    keyvault::HmacResponse resp;
    resp.set_mac(mac.data(), mac.size());
    resp.set_key_version(k.latest_version);
    return resp;
  });
}

Result<keyvault::VerifyHmacResponse> KeyVaultCore::VerifyHmac(
    const Caller& c, const keyvault::VerifyHmacRequest& r) {
  return Audited<keyvault::VerifyHmacResponse>(c, "VerifyHmac", [&](Trace& t)
                                                   -> Result<keyvault::VerifyHmacResponse> {
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.input().size(), kMaxPayload, "input"));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_VERIFY_HMAC, t));
    uint32_t v = r.key_version() == 0 ? k.latest_version : r.key_version();
    t.version = v;
    CLOISTER_RETURN_IF_ERROR(CheckVersion(k, v));
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, v));
    CLOISTER_ASSIGN_OR_RETURN(bool ok, m->VerifyHmac(AsBytes(r.input()), AsBytes(r.mac())));
    keyvault::VerifyHmacResponse resp;
    resp.set_valid(ok);
    return resp;
  });
}

// ---- import / export ----

Result<keyvault::GetWrappingKeyResponse> KeyVaultCore::GetWrappingKey(
    const Caller& c, const keyvault::GetWrappingKeyRequest&) {
  return Audited<keyvault::GetWrappingKeyResponse>(
      c, "GetWrappingKey", [&](Trace&) -> Result<keyvault::GetWrappingKeyResponse> {
        CLOISTER_ASSIGN_OR_RETURN(auto wk, store_->WrappingKey());
        keyvault::GetWrappingKeyResponse resp;
        Bytes spki = wk.public_key().SpkiDer();
        resp.set_public_key_spki(spki.data(), spki.size());
        resp.set_public_key_pem(wk.public_key().Pem());
        return resp;
      });
}

Result<keyvault::ImportKeyResponse> KeyVaultCore::ImportKey(const Caller& c,
                                                            const keyvault::ImportKeyRequest& r) {
  return Audited<keyvault::ImportKeyResponse>(c, "ImportKey", [&](Trace& t)
                                                  -> Result<keyvault::ImportKeyResponse> {
    t.key = r.name();
    CLOISTER_ASSIGN_OR_RETURN(std::string name, OwnNewName(r.name()));
    t.key = keyvault_ops::FullKeyName(c.username(), name);
    CLOISTER_RETURN_IF_ERROR(CheckType(r.type()));
    CLOISTER_RETURN_IF_ERROR(CheckSize(r.wrapped_key().size(), 64u << 10, "wrapped key"));
    CLOISTER_ASSIGN_OR_RETURN(auto wk, store_->WrappingKey());
    CLOISTER_ASSIGN_OR_RETURN(SecretBytes raw,
                              keyvault_ops::UnwrapImport(wk, AsBytes(r.wrapped_key()), r.name()));
    CLOISTER_ASSIGN_OR_RETURN(auto material, keyvault_ops::KeyMaterial::FromBytes(r.type(), raw.view()));
    const int64_t now = clock_();
    CLOISTER_ASSIGN_OR_RETURN(auto existing, store_->Get(c.user_id(), name, now));
    KeyRecord rec;
    if (existing) {
      // Bring-your-own-key rotation: a new version of the caller's own key.
      CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, name, keyvault::OPERATION_UNSPECIFIED, t));
      if (k.type != r.type())
        return InvalidArgument("key exists with another type", reason::kImportTypeMismatch);
      if (k.state == keyvault::KEY_STATE_PENDING_DELETION)
        return FailedPrecondition("key is scheduled for deletion", reason::kPendingDeletion);
      CLOISTER_ASSIGN_OR_RETURN(rec, store_->AddVersion(k, material, 0, now));
    } else {
      CLOISTER_ASSIGN_OR_RETURN(OpMask allowed, OpsFrom(r.allowed_operations(), r.type()));
      if (allowed == 0) allowed = keyvault_ops::SupportedOps(r.type());
      CLOISTER_ASSIGN_OR_RETURN(rec, store_->Create({.name = name, .type = r.type(),
                                                     .owner = c.user_id(),
                                                     .owner_username = c.username(),
                                                     .exportable = r.exportable(),
                                                     .allowed = allowed},
                                                    material, now));
    }
    t.version = rec.latest_version;
    keyvault::ImportKeyResponse resp;
    CLOISTER_ASSIGN_OR_RETURN(*resp.mutable_key(), Metadata(rec, true, true));
    return resp;
  });
}

Result<keyvault::ExportKeyResponse> KeyVaultCore::ExportKey(const Caller& c,
                                                            const keyvault::ExportKeyRequest& r) {
  return Audited<keyvault::ExportKeyResponse>(c, "ExportKey", [&](Trace& t)
                                                  -> Result<keyvault::ExportKeyResponse> {
    CLOISTER_ASSIGN_OR_RETURN(auto k, Authorize(c, r.name(), keyvault::OPERATION_EXPORT, t));
    uint32_t v = r.key_version() == 0 ? k.latest_version : r.key_version();
    t.version = v;
    CLOISTER_RETURN_IF_ERROR(CheckVersion(k, v));
    CLOISTER_ASSIGN_OR_RETURN(auto m, store_->Material(k, v));
    SecretBytes form = m->ExportForm();
    keyvault::ExportKeyResponse resp;
    resp.set_key_material(form.data(), form.size());
    resp.set_key_version(v);
    resp.set_type(k.type);
    return resp;
  });
}

}  // namespace cloister::keyvault_service
