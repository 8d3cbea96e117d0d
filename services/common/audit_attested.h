// Checkpoints under the enclave's attested key: the service's signer (its
// RA-TLS key) and the verifier's trust (the certificate's quote against
// trust.toml, for the log's own role), so a rewriter cannot bring its own key.
//
//   auto signer = MakeAttestedAuditSigner(*enclave->ratls());
//   VerifyAuditLog(path, {.trust = AttestedSignerTrust(trust, std::nullopt)});
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "services/common/audit_signer.h"

namespace cloister::services {

// Signs with `creds`' identity key; records its current certificate in each
// signer line. `creds` must outlive the signer.
std::shared_ptr<const AuditSigner> MakeAttestedAuditSigner(const attestation::RaTlsCredentials& creds);

// ECDSA signer lines: an RA-TLS certificate whose quote verifies for the
// line's service role, judged as of the quote's own time (a checkpoint is
// signed when the key was attested, not when it is checked). A certificate
// the current manifest no longer lists (a rebuild, re-signed settings) is
// judged by the `archived` manifests (signed bytes: each must verify under
// trust.toml's auditors), still at the current manifest's minimum svn for
// its role, so a retired release stays retired. HMAC signer lines: only
// below level 2, with the cluster secret.
AuditSignerTrust AttestedSignerTrust(std::shared_ptr<const attestation::TrustConfig> trust,
                                     std::optional<SecretBytes> cluster_secret,
                                     std::vector<std::string> archived = {});

// Keeps the manifest in force as <audit_dir>/manifests/<sha256>.bin (once),
// so later verifiers can judge this run's certificate after it changes.
Status ArchiveManifest(const attestation::TrustConfig& trust, const std::string& audit_dir);
// The archived manifests' contents (at most 64, 1 MiB each).
std::vector<std::string> ArchivedManifests(const std::string& audit_dir);

}  // namespace cloister::services
