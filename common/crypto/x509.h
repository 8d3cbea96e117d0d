// X.509 certificates over OpenSSL 3: creation (self-signed or CA-issued,
// with custom extensions) and parsing. Parsing uses OpenSSL's ASN.1 decoder;
// nothing here searches raw bytes.
//
//   CertOptions o{.common_name = "gateway", .not_after = now + 3600};
//   o.extensions.push_back({"1.3.6.1.4.1.59876.1.1", false, quote_bytes});
//   auto cert = *Certificate::Create(o, key.public_key(), key, nullptr);
//   auto quote = *cert.FindExtension("1.3.6.1.4.1.59876.1.1");
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/crypto/keys.h"

namespace cloister::crypto {

struct CertExtension {
  std::string oid;    // dotted form
  bool critical = false;
  Bytes value;        // becomes the extnValue OCTET STRING contents
};

struct CertOptions {
  std::string common_name;
  std::string organization;
  int64_t not_before = 0;  // unix seconds; 0 = now - 60
  int64_t not_after = 0;   // unix seconds; required
  bool is_ca = false;
  std::vector<std::string> dns_names;  // subjectAltName
  std::vector<CertExtension> extensions;
};

struct CertHandle;  // opaque; holds the X509

class Certificate {
 public:
  // Issues a certificate for `subject`, signed by `issuer_key`. With
  // `issuer` == nullptr the certificate is self-signed (issuer = subject).
  static Result<Certificate> Create(const CertOptions& opts, const PublicKey& subject,
                                    const PrivateKey& issuer_key,
                                    const Certificate* issuer);
  // InvalidArgument on garbage, trailing bytes, or an unsupported key type.
  static Result<Certificate> FromDer(ByteView der);
  static Result<Certificate> FromPem(std::string_view pem);

  Bytes Der() const;
  std::string Pem() const;
  const PublicKey& public_key() const { return key_; }
  std::string SubjectCommonName() const;
  int64_t not_before() const;
  int64_t not_after() const;
  bool is_ca() const;

  // The raw extnValue contents of the extension with this OID, nullopt if
  // absent. InvalidArgument if it appears more than once.
  Result<std::optional<Bytes>> FindExtension(std::string_view oid) const;

  // PermissionDenied [SIGNATURE_INVALID] unless `issuer` signed this cert.
  Status VerifySignedBy(const PublicKey& issuer) const;

  const CertHandle& handle() const { return *h_; }
  // For x509.cc only (it owns the handle type).
  static Certificate FromHandleForInternalUse(std::shared_ptr<const CertHandle> h, PublicKey key) {
    return Certificate(std::move(h), std::move(key));
  }

 private:
  Certificate(std::shared_ptr<const CertHandle> h, PublicKey key)
      : h_(std::move(h)), key_(std::move(key)) {}
  std::shared_ptr<const CertHandle> h_;
  PublicKey key_;
};

// Verifies that `leaf` chains through `intermediates` to `root` (the only
// trust anchor), that every certificate is valid at `now` (unix seconds) and
// that every issuer is a CA. PermissionDenied [CHAIN_UNTRUSTED] otherwise.
Status VerifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                   const Certificate& root, int64_t now);

}  // namespace cloister::crypto
