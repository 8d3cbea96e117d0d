// The quote verifier: the six checks of docs/design.md §2 that decide whether a
// peer is a genuine, expected enclave. Every failure has its own reason so
// operators (and `cloister attest`) can tell exactly what was refused.
//
//   VerifyPolicy p = VerifyPolicy::FromTrust(trust, {"gateway"});
//   CLOISTER_ASSIGN_OR_RETURN(VerifiedPeer peer, VerifyRaTlsCertificate(cert, p, NowMs()));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attestation/trust.h"
#include "common/crypto/x509.h"
#include "proto/attestation.pb.h"

namespace cloister::attestation {

inline constexpr uint32_t kQuoteVersion = 1;
inline constexpr size_t kReportDataSize = 64;
inline constexpr size_t kMaxQuoteBytes = 64 * 1024;
inline constexpr size_t kMaxLaunchLogBytes = 256 * 1024;
// Private extensions of an RA-TLS certificate.
inline constexpr const char* kQuoteExtensionOid = "1.3.6.1.4.1.59876.1.1";
inline constexpr const char* kLaunchLogExtensionOid = "1.3.6.1.4.1.59876.1.2";
// The enclave's canonical configuration text (enclave_config.h); its
// digest is the quoted config_id, so it is informational: it lets a
// refusal name the settings that differ.
inline constexpr const char* kConfigExtensionOid = "1.3.6.1.4.1.59876.1.4";
// Clock skew tolerated for quotes from the future.
inline constexpr int64_t kMaxClockSkewMs = 30'000;

// Named failures, one per check (Error::reason()).
namespace reason {
inline constexpr const char* kCertMalformed = "CERT_MALFORMED";
// A call on a resumed TLS session (RaTlsCredentials::PeerOf): resumption
// would skip the certificate check, so attested channels never accept it.
inline constexpr const char* kSessionResumed = "TLS_SESSION_RESUMED";
inline constexpr const char* kQuoteMissing = "QUOTE_MISSING";
inline constexpr const char* kQuoteMalformed = "QUOTE_MALFORMED";
inline constexpr const char* kQuoteVersion = "QUOTE_VERSION_UNSUPPORTED";
inline constexpr const char* kChainUntrusted = "QUOTE_CHAIN_UNTRUSTED";            // check 1
inline constexpr const char* kSignatureInvalid = "QUOTE_SIGNATURE_INVALID";        // check 1
inline constexpr const char* kPlatformIdMismatch = "QUOTE_PLATFORM_ID_MISMATCH";   // check 1
inline constexpr const char* kKeyBindingMismatch = "KEY_BINDING_MISMATCH";         // check 2
inline constexpr const char* kMeasurementUnknown = "MEASUREMENT_NOT_IN_MANIFEST";  // check 3
inline constexpr const char* kRoleNotAllowed = "ROLE_NOT_ALLOWED";                 // check 3
inline constexpr const char* kSignerMismatch = "SIGNER_MISMATCH";                  // check 3
inline constexpr const char* kSvnTooLow = "SVN_TOO_LOW";                           // check 3
inline constexpr const char* kConfigNotInManifest = "CONFIG_NOT_IN_MANIFEST";      // check 3
inline constexpr const char* kLevelTooLow = "SECURITY_LEVEL_TOO_LOW";              // check 4
inline constexpr const char* kDebugNotAllowed = "DEBUG_ENCLAVE_NOT_ALLOWED";       // check 4
inline constexpr const char* kQuoteStale = "QUOTE_STALE";                          // check 5
inline constexpr const char* kQuoteFromFuture = "QUOTE_FROM_FUTURE";               // check 5
inline constexpr const char* kNonceMismatch = "QUOTE_NONCE_MISMATCH";              // check 5
inline constexpr const char* kLaunchLogMissing = "LAUNCH_LOG_MISSING";             // check 6
inline constexpr const char* kLaunchLogMismatch = "LAUNCH_LOG_MISMATCH";           // check 6
inline constexpr const char* kLaunchEventUnknown = "LAUNCH_EVENT_NOT_REFERENCED";  // check 6
}  // namespace reason

struct VerifyPolicy {
  const crypto::Certificate* attestation_root = nullptr;  // required
  const Manifest* manifest = nullptr;                     // required
  std::vector<std::string> allowed_roles;  // manifest names this peer may have; empty = none
  int min_security_level = 2;
  bool allow_debug = false;
  int64_t max_age_ms = 600'000;
  uint32_t min_svn = 0;
  std::optional<Bytes> expected_nonce;  // level 5 per-connection challenge
  // From level 3 the launch log must replay to the quoted digest.
  bool require_launch_log = false;

  // Policy from the cluster trust config; the launch log is required from
  // level 3 (docs/design.md §3).
  static VerifyPolicy FromTrust(const TrustConfig& trust, std::vector<std::string> roles);
};

struct VerifiedPeer {
  std::string role;  // the manifest name of the peer's measurement
  Bytes measurement;
  Bytes signer;
  uint32_t product_id = 0;
  uint32_t svn = 0;
  uint32_t security_level = 0;
  bool debug = false;
  int64_t quote_timestamp_ms = 0;
  Bytes platform_id;
  Bytes config_id;  // QuoteBody.config_id, checked against the manifest
  // The attested certificate's key (set by VerifyRaTlsCertificate), e.g. to
  // check a gateway grant signed by this peer.
  std::optional<crypto::PublicKey> public_key;
};

// Verifies a quote on its own: checks 1 and 3–6, plus that report_data
// starts with `expected_binding` (check 2; 32 bytes, normally SHA-256 of the
// peer's SPKI). `log` may be null when the policy does not require it.
// Check 3 includes the configuration: the quoted config id must be one the
// manifest lists for the peer's role, unless its entry is any_config
// (CONFIG_NOT_IN_MANIFEST; `config_text`, the peer's canonical text if
// known, lets the message name what differs).
// PermissionDenied with a reason from `reason::` on any failure.
Result<VerifiedPeer> VerifyQuote(const Quote& quote, ByteView expected_binding,
                                 const LaunchLog* log, const VerifyPolicy& policy,
                                 int64_t now_ms, std::string_view config_text = {});

// Parses an RA-TLS certificate (OpenSSL ASN.1 parser, private extensions),
// binds SHA-256(SPKI) to report_data and verifies the quote.
Result<VerifiedPeer> VerifyRaTlsCertificate(const crypto::Certificate& cert,
                                            const VerifyPolicy& policy, int64_t now_ms);

// Parses (bounds-checked) the quote/log out of a certificate's extensions.
Result<Quote> ExtractQuote(const crypto::Certificate& cert);
Result<std::optional<LaunchLog>> ExtractLaunchLog(const crypto::Certificate& cert);
// The configuration text extension ("" if absent), at most 16 KiB.
Result<std::string> ExtractConfigText(const crypto::Certificate& cert);

// Report data binding a certificate key: SHA-256(spki) ‖ extra (32 bytes).
Bytes MakeReportData(ByteView spki_der, ByteView extra32);

int64_t NowUnixMs();

}  // namespace cloister::attestation
