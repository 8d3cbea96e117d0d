// The six attestation checks of docs/design.md §2; see quote_verifier.h.
#include "attestation/quote_verifier.h"

#include <chrono>
#include <map>
#include <mutex>

#include "attestation/enclave_config.h"
#include "attestation/launch_log.h"
#include "common/crypto/hash.h"

namespace cloister::attestation {
namespace {

Error Refuse(const char* why, std::string msg) { return PermissionDenied(std::move(msg), why); }

std::string Short(const std::string& bytes) {
  return HexEncode(AsBytes(bytes)).substr(0, 16);
}

// Check 6: the launch log replays to the quoted digest and every event is
// expected: its extender is a manifest enclave and it is either a reference
// value or an enclave announcing its own manifest measurement.
Status CheckLaunchLog(const QuoteBody& body, const LaunchLog* log, const Manifest& manifest) {
  if (log == nullptr)
    return Refuse(reason::kLaunchLogMissing,
                  "security level requires a measured-launch log and the peer sent none");
  auto digest = Replay(*log);
  if (!digest.ok()) return Refuse(reason::kLaunchLogMismatch, digest.error().message());
  if (!ConstantTimeEqual(*digest, AsBytes(body.launch_digest())))
    return Refuse(reason::kLaunchLogMismatch,
                  "measured-launch log does not replay to the quoted digest (" +
                      std::to_string(log->events_size()) + " events)");
  for (const auto& ev : log->events()) {
    const ManifestEntry* ext = manifest.FindByMeasurement(AsBytes(ev.extender()));
    bool self_start = ev.type() == "enclave.start" || ev.type() == "platform.start";
    bool ok = ext != nullptr &&
              (manifest.IsReferenceValue(ev.type(), AsBytes(ev.data_digest())) ||
               (self_start && ConstantTimeEqual(AsBytes(ev.data_digest()), AsBytes(ev.extender()))));
    if (!ok)
      return Refuse(reason::kLaunchEventUnknown,
                    "launch event " + std::to_string(ev.index()) + " ('" + ev.type().substr(0, 64) +
                        "', digest " + Short(ev.data_digest()) + ") is not a reference value");
  }
  return OkStatus();
}

// Verified attestation-key chains, keyed by SHA-256(root DER ‖ chain DERs).
// X.509 chain building costs ~8x the quote signature check, and every
// handshake from a node presents the same attestation certificate; the
// entry lives until the earliest not_after in the chain, so an expired
// certificate is never accepted from the cache.
class ChainCache {
 public:
  struct Entry {
    crypto::PublicKey key;
    int64_t valid_until_s;
  };
  std::optional<crypto::PublicKey> Find(const std::string& id, int64_t now_s) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.valid_until_s < now_s) return std::nullopt;
    return it->second.key;
  }
  void Put(const std::string& id, Entry e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.size() >= 256) entries_.clear();
    entries_.insert_or_assign(id, std::move(e));
  }

 private:
  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

ChainCache& Chains() {
  static ChainCache* cache = [] {
    static ChainCache c;
    return &c;
  }();
  return *cache;
}

// Check 1a: the attestation key's chain ends at the trusted root. Returns
// the attestation public key.
Result<crypto::PublicKey> VerifiedAttestationKey(const Quote& quote, const crypto::Certificate& root,
                                                 int64_t now_ms) {
  crypto::Sha256Hasher h;
  h.Update(root.Der());
  for (const auto& der : quote.cert_chain_der()) {
    h.Update(std::string_view("|"));
    h.Update(AsBytes(der));
  }
  const std::string id = HexEncode(h.Finish());
  const int64_t now_s = now_ms / 1000;
  if (auto key = Chains().Find(id, now_s)) return *key;

  auto ak_cert = crypto::Certificate::FromDer(AsBytes(quote.cert_chain_der(0)));
  if (!ak_cert.ok())
    return Refuse(reason::kQuoteMalformed, "attestation certificate does not parse");
  std::vector<crypto::Certificate> intermediates;
  int64_t until = ak_cert->not_after();
  for (int i = 1; i < quote.cert_chain_der_size(); ++i) {
    auto c = crypto::Certificate::FromDer(AsBytes(quote.cert_chain_der(i)));
    if (!c.ok()) return Refuse(reason::kQuoteMalformed, "quote chain certificate does not parse");
    until = std::min(until, c->not_after());
    intermediates.push_back(*std::move(c));
  }
  if (auto st = crypto::VerifyChain(*ak_cert, intermediates, root, now_s); !st.ok())
    return Refuse(reason::kChainUntrusted,
                  "quote is not signed by a platform of the trusted attestation root: " +
                      st.error().message());
  if (ak_cert->public_key().type() != crypto::KeyType::kEcdsaP256)
    return Refuse(reason::kQuoteMalformed, "attestation key is not ECDSA P-256");
  until = std::min(until, root.not_after());
  Chains().Put(id, {ak_cert->public_key(), until});
  return ak_cert->public_key();
}

}  // namespace

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

VerifyPolicy VerifyPolicy::FromTrust(const TrustConfig& trust, std::vector<std::string> roles) {
  VerifyPolicy p;
  p.attestation_root = &trust.attestation_root;
  p.manifest = &trust.manifest;
  p.allowed_roles = std::move(roles);
  p.min_security_level = trust.security_level;
  p.allow_debug = trust.allow_debug && trust.security_level < 5;
  p.max_age_ms = trust.quote_max_age_s * 1000;
  p.require_launch_log = trust.security_level >= 3;
  return p;
}

Bytes MakeReportData(ByteView spki_der, ByteView extra32) {
  Bytes rd(kReportDataSize, 0);
  auto h = crypto::Sha256(spki_der);
  std::copy(h.begin(), h.end(), rd.begin());
  for (size_t i = 0; i < extra32.size() && i < 32; ++i) rd[32 + i] = extra32[i];
  return rd;
}

Result<VerifiedPeer> VerifyQuote(const Quote& quote, ByteView expected_binding,
                                 const LaunchLog* log, const VerifyPolicy& policy,
                                 int64_t now_ms, std::string_view config_text) {
  if (policy.attestation_root == nullptr || policy.manifest == nullptr)
    return FailedPrecondition("verify policy lacks a root or manifest");

  // Check 1: the quote was signed by a platform key chaining to our root.
  if (quote.cert_chain_der_size() < 1 || quote.cert_chain_der_size() > 4)
    return Refuse(reason::kQuoteMalformed, "quote certificate chain has " +
                                               std::to_string(quote.cert_chain_der_size()) +
                                               " certificates (1..4 allowed)");
  CLOISTER_ASSIGN_OR_RETURN(crypto::PublicKey ak,
                            VerifiedAttestationKey(quote, *policy.attestation_root, now_ms));
  if (!ak.Verify(AsBytes(quote.body()), AsBytes(quote.signature())).ok())
    return Refuse(reason::kSignatureInvalid, "quote signature does not verify");

  QuoteBody body;
  if (quote.body().size() > kMaxQuoteBytes ||
      !body.ParseFromArray(quote.body().data(), static_cast<int>(quote.body().size())))
    return Refuse(reason::kQuoteMalformed, "quote body does not parse");
  if (body.version() != kQuoteVersion)
    return Refuse(reason::kQuoteVersion, "quote version " + std::to_string(body.version()) +
                                             " is not supported (expected 1)");
  if (!ConstantTimeEqual(crypto::Sha256(ak.SpkiDer()),
                         AsBytes(body.platform_id())))
    return Refuse(reason::kPlatformIdMismatch, "quote platform id does not match its signing key");
  if (body.report_data().size() != kReportDataSize || body.measurement().size() != 32)
    return Refuse(reason::kQuoteMalformed, "quote report data or measurement has a bad size");

  // Check 2: key binding. Without it any genuine quote could be replayed
  // with another key.
  if (expected_binding.size() != 32 ||
      !ConstantTimeEqual(AsBytes(body.report_data()).first(32), expected_binding))
    return Refuse(reason::kKeyBindingMismatch,
                  "quote report data does not bind the certificate's public key "
                  "(quote lifted from another certificate?)");

  // Check 3: measurement → role via the signed manifest; signer and svn.
  const ManifestEntry* entry = policy.manifest->FindByMeasurement(AsBytes(body.measurement()));
  if (entry == nullptr)
    return Refuse(reason::kMeasurementUnknown, "peer measurement " + Short(body.measurement()) +
                                                   " is not in the signed manifest");
  bool role_ok = false;
  for (const auto& r : policy.allowed_roles) role_ok |= (r == entry->name());
  if (!role_ok) {
    std::string allowed;
    for (const auto& r : policy.allowed_roles) allowed += (allowed.empty() ? "" : ",") + r;
    return Refuse(reason::kRoleNotAllowed, "peer is enclave '" + entry->name() +
                                               "' but this connection accepts only [" + allowed + "]");
  }
  if (!ConstantTimeEqual(AsBytes(body.signer()), policy.manifest->signer()))
    return Refuse(reason::kSignerMismatch, "quote signer differs from the manifest's auditor set");
  if (body.svn() != entry->svn() || body.product_id() != entry->product_id())
    return Refuse(reason::kSignerMismatch, "quote product/svn differ from the manifest entry");
  if (body.svn() < policy.min_svn)
    return Refuse(reason::kSvnTooLow, "peer svn " + std::to_string(body.svn()) + " < required " +
                                          std::to_string(policy.min_svn));
  if (const uint32_t role_min = policy.manifest->MinSvn(entry->name()); body.svn() < role_min)
    return Refuse(reason::kSvnTooLow, "peer svn " + std::to_string(body.svn()) +
                                          " is below the manifest minimum " +
                                          std::to_string(role_min) + " for '" + entry->name() + "'");

  // Check 3b: the configuration it runs with is one the auditors signed
  // for its role (a genuine binary with other flags, database, peers,
  // policy or cluster is not the enclave the manifest describes).
  CLOISTER_RETURN_IF_ERROR(
      policy.manifest->CheckConfig(*entry, AsBytes(body.config_id()), config_text));

  // Check 4: security level and debug.
  if (static_cast<int>(body.security_level()) < policy.min_security_level)
    return Refuse(reason::kLevelTooLow, "peer runs at security level " +
                                            std::to_string(body.security_level()) +
                                            ", cluster requires " +
                                            std::to_string(policy.min_security_level));
  if (body.debug() && !policy.allow_debug)
    return Refuse(reason::kDebugNotAllowed, "peer is a debug enclave (traced or debug platform)");

  // Check 5: freshness.
  int64_t age = now_ms - body.timestamp_unix_ms();
  if (age > policy.max_age_ms)
    return Refuse(reason::kQuoteStale, "quote is " + std::to_string(age / 1000) + " s old (limit " +
                                           std::to_string(policy.max_age_ms / 1000) + " s)");
  if (age < -kMaxClockSkewMs)
    return Refuse(reason::kQuoteFromFuture, "quote timestamp is in the future");
  if (policy.expected_nonce &&
      !ConstantTimeEqual(AsBytes(body.nonce()), *policy.expected_nonce))
    return Refuse(reason::kNonceMismatch, "quote does not answer this connection's nonce");

  // Check 6: measured launch (from level 3).
  if (policy.require_launch_log)
    CLOISTER_RETURN_IF_ERROR(CheckLaunchLog(body, log, *policy.manifest));

  VerifiedPeer peer;
  peer.role = entry->name();
  peer.measurement = ToBytes(body.measurement());
  peer.signer = ToBytes(body.signer());
  peer.product_id = body.product_id();
  peer.svn = body.svn();
  peer.security_level = body.security_level();
  peer.debug = body.debug();
  peer.quote_timestamp_ms = body.timestamp_unix_ms();
  peer.platform_id = ToBytes(body.platform_id());
  peer.config_id = ToBytes(body.config_id());
  return peer;
}

Result<Quote> ExtractQuote(const crypto::Certificate& cert) {
  auto ext = cert.FindExtension(kQuoteExtensionOid);
  if (!ext.ok()) return Refuse(reason::kCertMalformed, ext.error().message());
  if (!ext->has_value())
    return Refuse(reason::kQuoteMissing, "certificate carries no attestation quote");
  const Bytes& raw = **ext;
  Quote q;
  if (raw.size() > kMaxQuoteBytes || !q.ParseFromArray(raw.data(), static_cast<int>(raw.size())))
    return Refuse(reason::kQuoteMalformed, "quote extension does not parse");
  return q;
}

Result<std::optional<LaunchLog>> ExtractLaunchLog(const crypto::Certificate& cert) {
  auto ext = cert.FindExtension(kLaunchLogExtensionOid);
  if (!ext.ok()) return Refuse(reason::kCertMalformed, ext.error().message());
  if (!ext->has_value()) return std::optional<LaunchLog>();
  const Bytes& raw = **ext;
  LaunchLog log;
  if (raw.size() > kMaxLaunchLogBytes ||
      !log.ParseFromArray(raw.data(), static_cast<int>(raw.size())))
    return Refuse(reason::kLaunchLogMismatch, "launch log extension does not parse");
  return std::optional<LaunchLog>(std::move(log));
}

Result<std::string> ExtractConfigText(const crypto::Certificate& cert) {
  auto ext = cert.FindExtension(kConfigExtensionOid);
  if (!ext.ok()) return Refuse(reason::kCertMalformed, ext.error().message());
  if (!ext->has_value()) return std::string();
  const Bytes& raw = **ext;
  if (raw.size() > kMaxConfigTextBytes)
    return Refuse(reason::kCertMalformed, "configuration extension is larger than 16 KiB");
  return ToString(raw);
}

Result<VerifiedPeer> VerifyRaTlsCertificate(const crypto::Certificate& cert,
                                            const VerifyPolicy& policy, int64_t now_ms) {
  CLOISTER_ASSIGN_OR_RETURN(Quote quote, ExtractQuote(cert));
  CLOISTER_ASSIGN_OR_RETURN(std::optional<LaunchLog> log, ExtractLaunchLog(cert));
  CLOISTER_ASSIGN_OR_RETURN(std::string config_text, ExtractConfigText(cert));
  // The certificate must be self-signed by the key it carries; otherwise a
  // relay could wrap someone else's key.
  if (!cert.VerifySignedBy(cert.public_key()).ok())
    return Refuse(reason::kCertMalformed, "RA-TLS certificate is not self-signed by its key");
  const int64_t now_s = now_ms / 1000;
  if (now_s < cert.not_before() - kMaxClockSkewMs / 1000 || now_s > cert.not_after())
    return Refuse(reason::kQuoteStale, "RA-TLS certificate is outside its validity period");
  auto binding = crypto::Sha256(cert.public_key().SpkiDer());
  CLOISTER_ASSIGN_OR_RETURN(VerifiedPeer peer,
                            VerifyQuote(quote, binding, log ? &*log : nullptr, policy, now_ms,
                                        config_text));
  peer.public_key = cert.public_key();
  return peer;
}

}  // namespace cloister::attestation
