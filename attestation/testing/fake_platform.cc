// In-process fake platform for verifier unit tests; see fake_platform.h.
#include "attestation/testing/fake_platform.h"

#include <cstdlib>
#include <ctime>

namespace cloister::attestation::testing {
namespace {
template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) {
    fprintf(stderr, "FakePlatform setup failed: %s\n", r.error().ToString().c_str());
    std::abort();
  }
  return std::move(r).value();
}
}  // namespace

Bytes FakePlatform::MeasurementOf(const std::string& role) {
  return crypto::DigestBytes(crypto::Sha256(std::string_view(role)));
}

FakePlatform::FakePlatform(std::vector<std::string> roles, int auditors, int threshold) {
  const int64_t now = time(nullptr);
  root_key_ = Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256));
  crypto::CertOptions ro;
  ro.common_name = "fake attestation root";
  ro.is_ca = true;
  ro.not_after = now + 86400;
  root_ = Must(crypto::Certificate::Create(ro, root_key_->public_key(), *root_key_, nullptr));
  ak_ = Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256));
  crypto::CertOptions ao;
  ao.common_name = "fake platform";
  ao.not_after = now + 86400;
  ak_cert_ = Must(crypto::Certificate::Create(ao, ak_->public_key(), *root_key_, &*root_));

  for (int i = 0; i < auditors; ++i) {
    auditor_keys_.push_back(Must(crypto::PrivateKey::Generate(crypto::KeyType::kEd25519)));
    auditors_.keys.push_back(auditor_keys_.back().public_key());
  }
  auditors_.threshold = threshold;
  body_.set_version(kManifestVersion);
  body_.set_created_unix(now);
  uint32_t product = 1;
  for (const auto& r : roles) {
    auto* e = body_.add_entries();
    e->set_name(r);
    Bytes m = MeasurementOf(r);
    e->set_measurement(m.data(), m.size());
    e->set_product_id(product++);
    e->set_svn(2);
    e->set_any_config(true);  // verifier tests pin configs explicitly
  }
  auto* rv = body_.add_reference_values();
  rv->set_type("config");
  auto cfg = crypto::Sha256(std::string_view("good-config"));
  rv->set_data_digest(cfg.data(), cfg.size());
  Bytes signed_manifest =
      Must(SignManifest(body_, std::span(auditor_keys_).first(static_cast<size_t>(threshold))));
  manifest_ = Must(Manifest::Verify(signed_manifest, auditors_));
  if (!roles.empty()) set_role(roles.front());
  log_digest_ = kInitialLaunchDigest;
}

void FakePlatform::set_role(const std::string& role) {
  role_ = role;
  measurement_ = MeasurementOf(role);
}

void FakePlatform::Extend(const std::string& type, const crypto::Digest& digest, Bytes extender) {
  LaunchEvent* ev = log_.add_events();
  ev->set_index(static_cast<uint64_t>(log_.events_size() - 1));
  ev->set_type(type);
  ev->set_data_digest(digest.data(), digest.size());
  ev->set_extender(extender.data(), extender.size());
  log_digest_ = ExtendDigest(log_digest_, *ev);
}

Result<Quote> FakePlatform::GetQuote(ByteView report_data, ByteView nonce) {
  QuoteBody b;
  b.set_version(kQuoteVersion);
  auto pid = crypto::Sha256(ak_->public_key().SpkiDer());
  b.set_platform_id(pid.data(), pid.size());
  b.set_measurement(measurement_.data(), measurement_.size());
  const ManifestEntry* e = manifest_->FindByMeasurement(measurement_);
  if (e != nullptr) {
    b.set_signer(manifest_->signer().data(), manifest_->signer().size());
    b.set_product_id(e->product_id());
    b.set_svn(e->svn());
    b.set_enclave_name(e->name());
  }
  b.set_security_level(2);
  b.set_report_data(report_data.data(), report_data.size());
  b.set_nonce(nonce.data(), nonce.size());
  b.set_timestamp_unix_ms(NowUnixMs());
  b.set_launch_digest(log_digest_.data(), log_digest_.size());
  if (tweak_body) tweak_body(b);
  Quote q;
  q.set_body(b.SerializeAsString());
  CLOISTER_ASSIGN_OR_RETURN(Bytes sig, ak_->Sign(AsBytes(q.body())));
  q.set_signature(sig.data(), sig.size());
  Bytes der = ak_cert_->Der();
  q.add_cert_chain_der(der.data(), der.size());
  if (tweak_quote) tweak_quote(q);
  return q;
}

std::shared_ptr<TrustConfig> FakePlatform::MakeTrust(int level) const {
  return std::make_shared<TrustConfig>(TrustConfig{*root_, auditors_, *manifest_, level, false,
                                                   600, "", "fake"});
}

}  // namespace cloister::attestation::testing
