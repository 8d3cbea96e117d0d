// Every check of the quote verifier, positive and negative, each asserting
// the exact named failure (docs/design.md §2 checks 1–6).
#include "attestation/quote_verifier.h"

#include <gtest/gtest.h>

#include "attestation/enclave_config.h"
#include "attestation/ratls.h"
#include "attestation/testing/fake_platform.h"

namespace cloister::attestation {
namespace {

using testing::FakePlatform;

class QuoteVerifierTest : public ::testing::Test {
 protected:
  QuoteVerifierTest() : platform_({"gateway", "auth", "exec"}) {
    key_ = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
    trust_ = platform_.MakeTrust(2);
  }

  VerifyPolicy Policy(std::vector<std::string> roles = {"gateway"}) {
    return VerifyPolicy::FromTrust(*trust_, std::move(roles));
  }

  Result<VerifiedPeer> VerifyCert(const VerifyPolicy& p) {
    auto cert = IssueRaTlsCertificate(platform_, key_, "peer", 600, {});
    if (!cert.ok()) return cert.error();
    return VerifyRaTlsCertificate(*cert, p, NowUnixMs());
  }

  void ExpectRefused(const Result<VerifiedPeer>& r, const char* reason) {
    ASSERT_FALSE(r.ok()) << "expected refusal " << reason;
    EXPECT_EQ(r.error().code(), Code::kPermissionDenied);
    EXPECT_EQ(r.error().reason(), reason) << r.error().ToString();
  }

  FakePlatform platform_;
  crypto::PrivateKey key_ = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  std::shared_ptr<TrustConfig> trust_;
};

TEST_F(QuoteVerifierTest, AcceptsGenuinePeerOfExpectedRole) {
  auto r = VerifyCert(Policy());
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->role, "gateway");
  EXPECT_EQ(r->svn, 2u);
  EXPECT_EQ(r->measurement, FakePlatform::MeasurementOf("gateway"));
}

TEST_F(QuoteVerifierTest, RejectsForgedQuoteSignature) {
  platform_.tweak_quote = [](Quote& q) { q.mutable_signature()->back() ^= 1; };
  ExpectRefused(VerifyCert(Policy()), reason::kSignatureInvalid);
}

TEST_F(QuoteVerifierTest, RejectsBodyChangedAfterSigning) {
  platform_.tweak_quote = [](Quote& q) {
    QuoteBody b;
    b.ParseFromString(q.body());
    b.set_security_level(5);
    q.set_body(b.SerializeAsString());
  };
  ExpectRefused(VerifyCert(Policy()), reason::kSignatureInvalid);
}

TEST_F(QuoteVerifierTest, RejectsChainToAnotherRoot) {
  FakePlatform other({"gateway"});
  auto cert = IssueRaTlsCertificate(other, key_, "peer", 600, {});
  ASSERT_TRUE(cert.ok());
  ExpectRefused(VerifyRaTlsCertificate(*cert, Policy(), NowUnixMs()), reason::kChainUntrusted);
}

TEST_F(QuoteVerifierTest, RejectsKeyNotBoundToReportData) {
  platform_.tweak_body = [](QuoteBody& b) { (*b.mutable_report_data())[0] ^= 1; };
  ExpectRefused(VerifyCert(Policy()), reason::kKeyBindingMismatch);
}

TEST_F(QuoteVerifierTest, RejectsQuoteLiftedIntoAnotherCertificate) {
  auto genuine = IssueRaTlsCertificate(platform_, key_, "peer", 600, {});
  ASSERT_TRUE(genuine.ok());
  auto quote_bytes = genuine->FindExtension(kQuoteExtensionOid);
  auto log_bytes = genuine->FindExtension(kLaunchLogExtensionOid);
  // The attacker makes its own key and certificate but reuses the quote.
  auto attacker = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  crypto::CertOptions o;
  o.common_name = "peer";
  o.not_after = time(nullptr) + 600;
  o.extensions.push_back({kQuoteExtensionOid, false, **quote_bytes});
  o.extensions.push_back({kLaunchLogExtensionOid, false, **log_bytes});
  auto forged = crypto::Certificate::Create(o, attacker.public_key(), attacker, nullptr);
  ASSERT_TRUE(forged.ok());
  ExpectRefused(VerifyRaTlsCertificate(*forged, Policy(), NowUnixMs()), reason::kKeyBindingMismatch);
}

TEST_F(QuoteVerifierTest, RejectsMeasurementNotInManifest) {
  platform_.set_measurement(FakePlatform::MeasurementOf("gateway-with-one-byte-changed"));
  ExpectRefused(VerifyCert(Policy()), reason::kMeasurementUnknown);
}

TEST_F(QuoteVerifierTest, RejectsValidEnclaveOfWrongRole) {
  platform_.set_role("exec");
  ExpectRefused(VerifyCert(Policy({"gateway", "auth"})), reason::kRoleNotAllowed);
  EXPECT_TRUE(VerifyCert(Policy({"exec"})).ok());
}

TEST_F(QuoteVerifierTest, RejectsWrongSignerAndLowSvn) {
  platform_.tweak_body = [](QuoteBody& b) { (*b.mutable_signer())[0] ^= 1; };
  ExpectRefused(VerifyCert(Policy()), reason::kSignerMismatch);
  platform_.tweak_body = nullptr;
  auto p = Policy();
  p.min_svn = 3;
  ExpectRefused(VerifyCert(p), reason::kSvnTooLow);
}

TEST_F(QuoteVerifierTest, RejectsLowSecurityLevelAndDebug) {
  platform_.tweak_body = [](QuoteBody& b) { b.set_security_level(1); };
  ExpectRefused(VerifyCert(Policy()), reason::kLevelTooLow);
  platform_.tweak_body = [](QuoteBody& b) { b.set_debug(true); };
  ExpectRefused(VerifyCert(Policy()), reason::kDebugNotAllowed);
  auto p = Policy();
  p.allow_debug = true;
  EXPECT_TRUE(VerifyCert(p).ok());
}

TEST_F(QuoteVerifierTest, RejectsStaleAndFutureQuotes) {
  platform_.tweak_body = [](QuoteBody& b) { b.set_timestamp_unix_ms(NowUnixMs() - 601'000); };
  ExpectRefused(VerifyCert(Policy()), reason::kQuoteStale);
  platform_.tweak_body = [](QuoteBody& b) { b.set_timestamp_unix_ms(NowUnixMs() + 3'600'000); };
  ExpectRefused(VerifyCert(Policy()), reason::kQuoteFromFuture);
}

TEST_F(QuoteVerifierTest, RejectsWrongNonce) {
  auto p = Policy();
  p.expected_nonce = Bytes(32, 7);
  ExpectRefused(VerifyCert(p), reason::kNonceMismatch);
}

TEST_F(QuoteVerifierTest, RejectsUnsupportedVersion) {
  platform_.tweak_body = [](QuoteBody& b) { b.set_version(2); };
  ExpectRefused(VerifyCert(Policy()), reason::kQuoteVersion);
}

TEST_F(QuoteVerifierTest, LaunchLogRequiredAndReplayedFromLevel3) {
  trust_ = platform_.MakeTrust(3);
  platform_.tweak_body = [](QuoteBody& b) { b.set_security_level(3); };
  Bytes gw = FakePlatform::MeasurementOf("gateway");
  crypto::Digest gw_digest;
  std::copy(gw.begin(), gw.end(), gw_digest.begin());
  platform_.Extend("enclave.start", gw_digest, gw);
  platform_.Extend("config", crypto::Sha256(std::string_view("good-config")), gw);
  auto ok = VerifyCert(Policy());
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();

  // An event that is not a reference value is refused even though it replays.
  platform_.Extend("config", crypto::Sha256(std::string_view("evil-config")), gw);
  ExpectRefused(VerifyCert(Policy()), reason::kLaunchEventUnknown);
}

TEST_F(QuoteVerifierTest, LaunchLogTamperingDetected) {
  trust_ = platform_.MakeTrust(3);
  platform_.tweak_body = [](QuoteBody& b) { b.set_security_level(3); };
  Bytes gw = FakePlatform::MeasurementOf("gateway");
  platform_.Extend("config", crypto::Sha256(std::string_view("good-config")), gw);
  auto cert = IssueRaTlsCertificate(platform_, key_, "peer", 600, {});
  ASSERT_TRUE(cert.ok());
  // Re-issue the certificate with an edited log: the quoted digest no
  // longer matches.
  auto quote_bytes = **cert->FindExtension(kQuoteExtensionOid);
  LaunchLog log;
  log.add_events()->set_type("config");
  crypto::CertOptions o;
  o.common_name = "peer";
  o.not_after = time(nullptr) + 600;
  o.extensions.push_back({kQuoteExtensionOid, false, quote_bytes});
  o.extensions.push_back({kLaunchLogExtensionOid, false, ToBytes(log.SerializeAsString())});
  auto edited = crypto::Certificate::Create(o, key_.public_key(), key_, nullptr);
  ASSERT_TRUE(edited.ok());
  ExpectRefused(VerifyRaTlsCertificate(*edited, Policy(), NowUnixMs()), reason::kLaunchLogMismatch);

  // And a missing log is refused at level 3.
  o.extensions.pop_back();
  auto missing = crypto::Certificate::Create(o, key_.public_key(), key_, nullptr);
  ExpectRefused(VerifyRaTlsCertificate(*missing, Policy(), NowUnixMs()), reason::kLaunchLogMissing);
}

TEST_F(QuoteVerifierTest, CertificateWithoutQuoteOrGarbageQuote) {
  crypto::CertOptions o;
  o.common_name = "plain";
  o.not_after = time(nullptr) + 600;
  auto plain = crypto::Certificate::Create(o, key_.public_key(), key_, nullptr);
  ExpectRefused(VerifyRaTlsCertificate(*plain, Policy(), NowUnixMs()), reason::kQuoteMissing);
  o.extensions.push_back({kQuoteExtensionOid, false, ToBytes("\xff\xff\xff garbage")});
  auto garbage = crypto::Certificate::Create(o, key_.public_key(), key_, nullptr);
  ExpectRefused(VerifyRaTlsCertificate(*garbage, Policy(), NowUnixMs()), reason::kQuoteMalformed);
}

TEST_F(QuoteVerifierTest, TruncatedQuotesRejectedAtEveryLength) {
  Bytes rd = MakeReportData(key_.public_key().SpkiDer(), {});
  auto q = *platform_.GetQuote(rd, {});
  std::string bytes = q.SerializeAsString();
  auto binding = crypto::Sha256(key_.public_key().SpkiDer());
  for (size_t n = 0; n < bytes.size(); n += 7) {
    Quote t;
    if (!t.ParseFromArray(bytes.data(), static_cast<int>(n))) continue;
    EXPECT_FALSE(VerifyQuote(t, binding, nullptr, Policy(), NowUnixMs()).ok()) << n;
  }
}

// ---- Manifest ----

class ManifestTest : public ::testing::Test {
 protected:
  FakePlatform platform_{{"gateway", "auth"}, 3, 2};
};

TEST_F(ManifestTest, TamperedManifestRefused) {
  auto& keys = platform_.auditor_keys();
  Bytes good = *SignManifest(platform_.manifest_body(), std::span(keys).first(2));
  ASSERT_TRUE(Manifest::Verify(good, platform_.auditors()).ok());
  SignedManifest sm;
  sm.ParseFromArray(good.data(), static_cast<int>(good.size()));
  ManifestBody body;
  body.ParseFromString(sm.body());
  body.mutable_entries(0)->set_name("exec");  // re-role a binary
  sm.set_body(body.SerializeAsString());
  std::string tampered = sm.SerializeAsString();
  auto r = Manifest::Verify(AsBytes(tampered), platform_.auditors());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), kManifestSignatureInvalid);
}

TEST_F(ManifestTest, UnderSignedManifestRefused) {
  auto& keys = platform_.auditor_keys();
  Bytes one = *SignManifest(platform_.manifest_body(), std::span(keys).first(1));
  auto r = Manifest::Verify(one, platform_.auditors());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), kManifestUnderSigned);
  // The same key twice does not count twice.
  std::vector<crypto::PrivateKey> dup{keys[0], keys[0]};
  EXPECT_EQ(Manifest::Verify(*SignManifest(platform_.manifest_body(), dup), platform_.auditors())
                .error()
                .reason(),
            kManifestUnderSigned);
  // Signatures by unknown auditors do not count.
  std::vector<crypto::PrivateKey> strangers{
      *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519),
      *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519), keys[1]};
  EXPECT_EQ(Manifest::Verify(*SignManifest(platform_.manifest_body(), strangers),
                             platform_.auditors())
                .error()
                .reason(),
            kManifestUnderSigned);
  Bytes unsigned_manifest = *SignManifest(platform_.manifest_body(), {});
  EXPECT_EQ(Manifest::Verify(unsigned_manifest, platform_.auditors()).error().reason(),
            kManifestUnderSigned);
}

TEST_F(ManifestTest, GarbageAndTruncationRejected) {
  auto& keys = platform_.auditor_keys();
  Bytes good = *SignManifest(platform_.manifest_body(), std::span(keys).first(2));
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(Manifest::Verify(ByteView(good).first(n), platform_.auditors()).ok()) << n;
  EXPECT_EQ(Manifest::Verify(AsBytes("not a manifest at all"), platform_.auditors()).error().reason(),
            kManifestMalformed);
}

TEST_F(ManifestTest, SignerIdDependsOnAuditorSetAndThreshold) {
  AuditorSet a = platform_.auditors();
  AuditorSet b = a;
  b.threshold = 3;
  EXPECT_NE(a.SignerId(), b.SignerId());
  AuditorSet c = a;
  std::reverse(c.keys.begin(), c.keys.end());
  EXPECT_EQ(a.SignerId(), c.SignerId());
}


// Check 3b (issue 9): the quoted config id must be one the manifest signs
// for the peer's role; an entry marked any_config accepts any.
class ConfigPinningTest : public QuoteVerifierTest {
 protected:
  // A manifest like the platform's whose "gateway" entry pins `pinned`.
  Manifest PinnedManifest(const EnclaveConfig& pinned) {
    ManifestBody body = platform_.manifest_body();
    for (auto& e : *body.mutable_entries())
      if (e.name() == "gateway") e.set_any_config(false);
    auto* ref = body.add_configs();
    ref->set_role("gateway");
    const auto id = pinned.Id();
    ref->set_config_id(id.data(), id.size());
    ref->set_text(pinned.Text());
    auto signed_body = SignManifest(body, platform_.auditor_keys());
    EXPECT_TRUE(signed_body.ok());
    auto m = Manifest::Verify(*signed_body, platform_.auditors());
    EXPECT_TRUE(m.ok()) << m.error().ToString();
    return *m;
  }
  static EnclaveConfig Config(const std::string& db) {
    EnclaveConfig c;
    EXPECT_TRUE(c.Set("role", "gateway").ok());
    EXPECT_TRUE(c.Set("db", db).ok());
    return c;
  }
  void QuoteConfig(const EnclaveConfig& c) {
    const auto id = c.Id();
    platform_.tweak_body = [id](QuoteBody& b) { b.set_config_id(id.data(), id.size()); };
  }
};

TEST_F(ConfigPinningTest, SignedConfigAcceptedOtherRefusedByName) {
  Manifest m = PinnedManifest(Config("sqlite:///good.db"));
  VerifyPolicy p = Policy();
  p.manifest = &m;
  QuoteConfig(Config("sqlite:///good.db"));
  auto ok = VerifyCert(p);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->config_id, crypto::DigestBytes(Config("sqlite:///good.db").Id()));

  QuoteConfig(Config("sqlite:///attacker.db"));
  ExpectRefused(VerifyCert(p), reason::kConfigNotInManifest);
  // No config declared at all is refused too (a pinned role never
  // accepts "unknown").
  platform_.tweak_body = nullptr;
  ExpectRefused(VerifyCert(p), reason::kConfigNotInManifest);
}

TEST_F(ConfigPinningTest, RefusalNamesTheDifferingSettingWhenTheTextIsKnown) {
  Manifest m = PinnedManifest(Config("sqlite:///good.db"));
  const EnclaveConfig rogue = Config("sqlite:///attacker.db");
  auto id = rogue.Id();
  auto st = m.CheckConfig(*m.FindByMeasurement(FakePlatform::MeasurementOf("gateway")),
                          crypto::DigestBytes(id), rogue.Text());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("differs in: db"), std::string::npos) << st.error().message();
  // A text that is not the one the id covers is not believed.
  auto lie = m.CheckConfig(*m.FindByMeasurement(FakePlatform::MeasurementOf("gateway")),
                           crypto::DigestBytes(id), Config("sqlite:///good.db").Text());
  ASSERT_FALSE(lie.ok());
  EXPECT_EQ(lie.error().message().find("differs in"), std::string::npos);
}

TEST_F(ConfigPinningTest, AnyConfigEntryAcceptsEveryConfig) {
  // The fake platform's own manifest marks its entries any_config.
  QuoteConfig(Config("sqlite:///whatever.db"));
  EXPECT_TRUE(VerifyCert(Policy()).ok());
}

TEST_F(ConfigPinningTest, ManifestWhoseConfigTextDoesNotMatchItsIdIsMalformed) {
  ManifestBody body = platform_.manifest_body();
  auto* ref = body.add_configs();
  ref->set_role("gateway");
  const auto id = Config("a").Id();
  ref->set_config_id(id.data(), id.size());
  ref->set_text(Config("b").Text());  // auditors would read something else
  auto signed_body = SignManifest(body, platform_.auditor_keys());
  ASSERT_TRUE(signed_body.ok());
  auto m = Manifest::Verify(*signed_body, platform_.auditors());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().reason(), kManifestMalformed);
}

}  // namespace
}  // namespace cloister::attestation
