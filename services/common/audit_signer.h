// Who signs audit checkpoints and how a verifier checks them: an ECDSA key
// bound by a certificate (services: the attested RA-TLS key, audit_attested.h),
// or at level 1 an HMAC key from the cluster secret; pinned keys for tests.
//
//   auto signer = MakeKeyAuditSigner(key, [cert] { return cert; });
//   VerifyAuditLog(path, {.trust = PinnedKeyTrust({key.public_key()})});
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/secret.h"
#include "services/common/audit_verify.h"

namespace cloister::services {

class AuditSigner {
 public:
  virtual ~AuditSigner() = default;
  virtual std::string scheme() const = 0;
  virtual std::string key_id() const = 0;  // 64 hex
  // The certificate binding the key, base64 DER ("" for the HMAC scheme).
  // Asked at each signer line, so a refreshed certificate is recorded.
  virtual std::string certificate_b64() const = 0;
  virtual Result<Bytes> Sign(std::string_view statement) const = 0;
};

// hex SHA-256 of the key's SubjectPublicKeyInfo.
std::string AuditKeyId(const crypto::PublicKey& key);

// `key` must be the key of every certificate `certificate` returns.
std::shared_ptr<const AuditSigner> MakeKeyAuditSigner(
    crypto::PrivateKey key, std::function<crypto::Certificate()> certificate);
// Level 1: HMAC-SHA256 under HKDF(cluster secret, service). Whoever can
// read the cluster secret can forge these checkpoints.
std::shared_ptr<const AuditSigner> MakeSecretAuditSigner(ByteView cluster_secret,
                                                         std::string_view service);

// The ECDSA check of a signer line's certificate (its key must be the
// line's key_id); says nothing about whether the key is trusted.
Result<std::shared_ptr<const AuditSignatureCheck>> CertificateCheck(
    const AuditLine& signer, std::optional<crypto::Certificate>* cert = nullptr);
// Trusts exactly these ECDSA keys.
AuditSignerTrust PinnedKeyTrust(std::vector<crypto::PublicKey> keys);
// Trusts the level-1 key of each service derived from `cluster_secret`.
AuditSignerTrust SecretSignerTrust(SecretBytes cluster_secret);

}  // namespace cloister::services
