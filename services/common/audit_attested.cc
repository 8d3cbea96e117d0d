// Attested checkpoint signer and trust; see audit_attested.h.
#include "services/common/audit_attested.h"

#include <filesystem>
#include <limits>

#include "attestation/quote_verifier.h"
#include "common/config.h"
#include "common/crypto/hash.h"
#include "common/fs.h"
#include "proto/attestation.pb.h"

namespace cloister::services {
namespace {

namespace fs = std::filesystem;
namespace r = audit_reason;

Error Untrusted(std::string msg) { return PermissionDenied(std::move(msg), r::kSignerUntrusted); }

class AttestedSigner : public AuditSigner {
 public:
  explicit AttestedSigner(const attestation::RaTlsCredentials& creds)
      : creds_(creds), id_(AuditKeyId(creds.current_certificate().public_key())) {}
  std::string scheme() const override { return kSchemeEcdsaP256; }
  std::string key_id() const override { return id_; }
  std::string certificate_b64() const override {
    return Base64Encode(creds_.current_certificate().Der());
  }
  Result<Bytes> Sign(std::string_view statement) const override {
    return creds_.SignWithIdentityKey(AsBytes(statement));
  }

 private:
  const attestation::RaTlsCredentials& creds_;
  std::string id_;
};

}  // namespace

std::shared_ptr<const AuditSigner> MakeAttestedAuditSigner(const attestation::RaTlsCredentials& creds) {
  return std::make_shared<AttestedSigner>(creds);
}

AuditSignerTrust AttestedSignerTrust(std::shared_ptr<const attestation::TrustConfig> trust,
                                     std::optional<SecretBytes> cluster_secret,
                                     std::vector<std::string> archived) {
  AuditSignerTrust level1;
  if (cluster_secret) level1 = SecretSignerTrust(*std::move(cluster_secret));
  // Only manifests the auditors signed count; others are ignored.
  auto older = std::make_shared<std::vector<attestation::Manifest>>();
  for (const auto& bytes : archived) {
    auto m = attestation::Manifest::Verify(AsBytes(bytes), trust->auditors);
    if (m.ok() && m->digest() != trust->manifest.digest()) older->push_back(*std::move(m));
  }
  return [trust, level1, older](const AuditLine& signer) -> Result<std::shared_ptr<const AuditSignatureCheck>> {
    if (signer.scheme == kSchemeHmacSha256) {
      // From level 2 every service has an attested key; a cluster-secret
      // key there would let anyone who reads the secret sign.
      if (trust->security_level >= 2)
        return Untrusted("a cluster-secret checkpoint key in a level " +
                         std::to_string(trust->security_level) + " cluster");
      if (!level1) return Untrusted("level-1 checkpoints need the cluster secret to check");
      return level1(signer);
    }
    std::optional<crypto::Certificate> cert;
    auto check = CertificateCheck(signer, &cert);
    if (!check.ok()) return check.error();
    auto quote = attestation::ExtractQuote(*cert);
    if (!quote.ok()) return Untrusted("not an attested (RA-TLS) certificate: " + quote.error().message());
    attestation::QuoteBody body;
    if (!body.ParseFromString(quote->body()))
      return Untrusted("the certificate's quote body does not parse");
    const int64_t at = static_cast<int64_t>(body.timestamp_unix_ms());
    auto judge = [&](const attestation::Manifest& m, uint32_t min_svn) {
      attestation::VerifyPolicy policy = attestation::VerifyPolicy::FromTrust(*trust, {signer.service});
      policy.manifest = &m;
      policy.min_svn = min_svn;
      // Judged as of the quote: the key signed while it was attested; age
      // is no reason to doubt a past signature.
      policy.max_age_ms = std::numeric_limits<int64_t>::max() / 4;
      return attestation::VerifyRaTlsCertificate(*cert, policy, at);
    };
    auto peer = judge(trust->manifest, 0);
    for (size_t i = 0; !peer.ok() && i < older->size(); ++i)
      if (judge((*older)[i], trust->manifest.MinSvn(signer.service)).ok()) return check;
    if (!peer.ok())
      return Untrusted("its certificate is not an attested '" + signer.service +
                       "' enclave of this cluster: " + peer.error().ToString());
    return check;
  };
}

Status ArchiveManifest(const attestation::TrustConfig& trust, const std::string& audit_dir) {
  CLOISTER_ASSIGN_OR_RETURN(ConfigFile cfg, ConfigFile::Load(trust.source));
  CLOISTER_ASSIGN_OR_RETURN(std::string rel, cfg.RequireString("attestation.manifest"));
  const fs::path src = fs::path(trust.source).parent_path() / rel;
  CLOISTER_ASSIGN_OR_RETURN(std::string bytes,
                            ReadFile(rel.starts_with("/") ? rel : src.string(), attestation::kMaxManifestBytes));
  const auto digest = crypto::Sha256(AsBytes(bytes));
  // Another file than the one the enclave verified: keep nothing.
  if (digest != trust.manifest.digest()) return OkStatus();
  const std::string dir = audit_dir + "/manifests";
  CLOISTER_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  const std::string path = dir + "/" + HexEncode(digest) + ".bin";
  if (FileExists(path)) return OkStatus();
  return WriteFileAtomic(path, bytes, 0644);
}

std::vector<std::string> ArchivedManifests(const std::string& audit_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(audit_dir + "/manifests", ec)) {
    if (out.size() >= 64 || e.path().extension() != ".bin") continue;
    auto bytes = ReadFile(e.path().string(), attestation::kMaxManifestBytes);
    if (bytes.ok()) out.push_back(*std::move(bytes));
  }
  return out;
}

}  // namespace cloister::services
