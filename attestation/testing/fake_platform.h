// An in-process platform for verifier unit tests: its own attestation root,
// attestation key and manifest, and knobs to produce every kind of bad
// quote (forged signature, other root, stale, wrong measurement...).
// Integration tests use the real cloister-platform daemon instead.
#pragma once

#include <functional>

#include "attestation/launch_log.h"
#include "attestation/quote_provider.h"
#include "attestation/quote_verifier.h"
#include "attestation/trust.h"

namespace cloister::attestation::testing {

class FakePlatform : public QuoteProvider {
 public:
  // A platform whose manifest has entries `roles` (measurement = SHA-256 of
  // the role name), signed by `auditors` Ed25519 keys with `threshold`.
  explicit FakePlatform(std::vector<std::string> roles, int auditors = 3, int threshold = 2);

  // The identity quotes are made for (a manifest role, or anything).
  void set_role(const std::string& role);
  void set_measurement(Bytes m) { measurement_ = std::move(m); }
  // Mutates every QuoteBody before signing.
  std::function<void(QuoteBody&)> tweak_body;
  // Mutates the finished Quote (e.g. to break the signature).
  std::function<void(Quote&)> tweak_quote;

  Result<Quote> GetQuote(ByteView report_data, ByteView nonce) override;
  Result<LaunchLog> ReadLaunchLog() override { return log_; }
  void Extend(const std::string& type, const crypto::Digest& digest, Bytes extender);

  const crypto::Certificate& root() const { return *root_; }
  const Manifest& manifest() const { return *manifest_; }
  const AuditorSet& auditors() const { return auditors_; }
  const std::vector<crypto::PrivateKey>& auditor_keys() const { return auditor_keys_; }
  const ManifestBody& manifest_body() const { return body_; }
  std::shared_ptr<TrustConfig> MakeTrust(int level = 2) const;
  static Bytes MeasurementOf(const std::string& role);

 private:
  std::optional<crypto::PrivateKey> root_key_;
  std::optional<crypto::Certificate> root_;
  std::optional<crypto::PrivateKey> ak_;
  std::optional<crypto::Certificate> ak_cert_;
  std::vector<crypto::PrivateKey> auditor_keys_;
  AuditorSet auditors_;
  ManifestBody body_;
  std::optional<Manifest> manifest_;
  Bytes measurement_;
  std::string role_;
  LaunchLog log_;
  crypto::Digest log_digest_{};
};

}  // namespace cloister::attestation::testing
