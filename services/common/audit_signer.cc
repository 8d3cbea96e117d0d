// Checkpoint signers and signature checks; see audit_signer.h.
#include "services/common/audit_signer.h"

#include "common/crypto/hash.h"

namespace cloister::services {
namespace {

namespace r = audit_reason;

class KeySigner : public AuditSigner {
 public:
  KeySigner(crypto::PrivateKey key, std::function<crypto::Certificate()> cert)
      : key_(std::move(key)), cert_(std::move(cert)), id_(AuditKeyId(key_.public_key())) {}
  std::string scheme() const override { return kSchemeEcdsaP256; }
  std::string key_id() const override { return id_; }
  std::string certificate_b64() const override { return Base64Encode(cert_().Der()); }
  Result<Bytes> Sign(std::string_view statement) const override {
    return key_.Sign(AsBytes(statement));
  }

 private:
  crypto::PrivateKey key_;
  std::function<crypto::Certificate()> cert_;
  std::string id_;
};

class KeyCheck : public AuditSignatureCheck {
 public:
  explicit KeyCheck(crypto::PublicKey key) : key_(std::move(key)) {}
  Status Verify(std::string_view statement, ByteView sig) const override {
    return key_.Verify(AsBytes(statement), sig);
  }

 private:
  crypto::PublicKey key_;
};

// The level-1 key: per service, so one service's key cannot sign another's
// log, and derived, so the cluster secret itself never signs anything.
Result<SecretBytes> SecretKey(ByteView cluster_secret, std::string_view service) {
  return crypto::HkdfSha256(cluster_secret, AsBytes("cloister-audit-checkpoint"),
                            AsBytes("v1\n" + std::string(service)), 32);
}

std::string SecretKeyId(const SecretBytes& key) {
  crypto::Sha256Hasher h;
  h.Update(std::string_view("cloister-audit-key-id/1\n"));
  h.Update(key.view());
  return HexEncode(h.Finish());
}

class SecretSigner : public AuditSigner {
 public:
  explicit SecretSigner(SecretBytes key) : key_(std::move(key)), id_(SecretKeyId(key_)) {}
  std::string scheme() const override { return kSchemeHmacSha256; }
  std::string key_id() const override { return id_; }
  std::string certificate_b64() const override { return ""; }
  Result<Bytes> Sign(std::string_view statement) const override {
    return crypto::DigestBytes(crypto::HmacSha256(key_.view(), AsBytes(statement)));
  }

 private:
  SecretBytes key_;
  std::string id_;
};

class SecretCheck : public AuditSignatureCheck {
 public:
  explicit SecretCheck(SecretBytes key) : key_(std::move(key)) {}
  Status Verify(std::string_view statement, ByteView sig) const override {
    if (!crypto::HmacSha256Verify(key_.view(), AsBytes(statement), sig))
      return PermissionDenied("checkpoint MAC does not verify", crypto::kSignatureInvalid);
    return OkStatus();
  }

 private:
  SecretBytes key_;
};

Error Untrusted(std::string msg) { return PermissionDenied(std::move(msg), r::kSignerUntrusted); }

}  // namespace

std::string AuditKeyId(const crypto::PublicKey& key) {
  return HexEncode(crypto::Sha256(key.SpkiDer()));
}

std::shared_ptr<const AuditSigner> MakeKeyAuditSigner(crypto::PrivateKey key,
                                                      std::function<crypto::Certificate()> cert) {
  return std::make_shared<KeySigner>(std::move(key), std::move(cert));
}

std::shared_ptr<const AuditSigner> MakeSecretAuditSigner(ByteView cluster_secret,
                                                         std::string_view service) {
  auto key = SecretKey(cluster_secret, service);
  if (!key.ok()) return nullptr;
  return std::make_shared<SecretSigner>(*std::move(key));
}

Result<std::shared_ptr<const AuditSignatureCheck>> CertificateCheck(
    const AuditLine& signer, std::optional<crypto::Certificate>* cert) {
  if (signer.scheme != kSchemeEcdsaP256) return Untrusted("not an ECDSA signer line");
  auto der = Base64Decode(signer.cert);
  if (!der.ok()) return Untrusted("the certificate is not base64");
  auto c = crypto::Certificate::FromDer(*der);
  if (!c.ok()) return Untrusted("the certificate does not parse: " + c.error().message());
  if (c->public_key().type() != crypto::KeyType::kEcdsaP256)
    return Untrusted("the certificate's key is not ECDSA P-256");
  if (AuditKeyId(c->public_key()) != signer.key_id)
    return Untrusted("key_id is not the certificate's key");
  std::shared_ptr<const AuditSignatureCheck> check = std::make_shared<KeyCheck>(c->public_key());
  if (cert != nullptr) *cert = *c;
  return check;
}

AuditSignerTrust PinnedKeyTrust(std::vector<crypto::PublicKey> keys) {
  return [keys = std::move(keys)](const AuditLine& signer)
             -> Result<std::shared_ptr<const AuditSignatureCheck>> {
    for (const auto& k : keys)
      if (AuditKeyId(k) == signer.key_id) {
        if (signer.scheme != kSchemeEcdsaP256) break;
        std::shared_ptr<const AuditSignatureCheck> check = std::make_shared<KeyCheck>(k);
        return check;
      }
    return Untrusted("key " + signer.key_id.substr(0, 16) + " is not pinned");
  };
}

AuditSignerTrust SecretSignerTrust(SecretBytes cluster_secret) {
  return [secret = std::move(cluster_secret)](const AuditLine& signer)
             -> Result<std::shared_ptr<const AuditSignatureCheck>> {
    if (signer.scheme != kSchemeHmacSha256) return Untrusted("not a level-1 signer line");
    auto key = SecretKey(secret.view(), signer.service);
    if (!key.ok()) return key.error();
    if (SecretKeyId(*key) != signer.key_id)
      return Untrusted("the checkpoint key is not derived from this cluster's secret");
    std::shared_ptr<const AuditSignatureCheck> check = std::make_shared<SecretCheck>(*std::move(key));
    return check;
  };
}

}  // namespace cloister::services
