// PlatformService without sockets: quote contents and signature, the
// sealing-key derivation and its policy checks, launch-log extension, and
// the platform state's init/load refusals.
#include "attestation/platform/platform_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>

#include "attestation/launch_log.h"
#include "attestation/platform/protocol.h"
#include "common/fs.h"

namespace cloister::attestation {
namespace {

crypto::Digest M(std::string_view name) { return crypto::Sha256(name); }

class PlatformServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cloister-svc-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(InitPlatform(dir_, {}).ok());
    auto auditor = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
    AuditorSet auditors{{auditor.public_key()}, 1};
    ManifestBody body;
    body.set_version(kManifestVersion);
    body.set_created_unix(static_cast<int64_t>(std::time(nullptr)));
    auto add = [&](std::string name, uint32_t product, uint32_t svn) {
      ManifestEntry* e = body.add_entries();
      e->set_name(name);
      auto m = M(name);
      e->set_measurement(m.data(), m.size());
      e->set_product_id(product);
      e->set_svn(svn);
    };
    add("platform", 1, 1);
    add("app-v1", 7, 1);
    add("app-v2", 7, 2);
    add("other-product", 8, 2);
    auto signed_manifest = SignManifest(body, std::span(&auditor, 1));
    ASSERT_TRUE(signed_manifest.ok());
    auto manifest = Manifest::Verify(*signed_manifest, auditors);
    ASSERT_TRUE(manifest.ok()) << manifest.error().ToString();
    auto state = LoadPlatformState(dir_);
    ASSERT_TRUE(state.ok()) << state.error().ToString();
    service_ = std::make_unique<PlatformService>(*std::move(state), *manifest,
                                                 PlatformService::Options{3, false}, M("platform"));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  CallerIdentity Who(std::string_view name, int tracer = 0) {
    return service_->Identify(1234, 1000, ProcessMeasurement{M(name), tracer});
  }

  std::string dir_;
  std::unique_ptr<PlatformService> service_;
};

TEST_F(PlatformServiceTest, IdentifiesFromManifestOnly) {
  CallerIdentity v2 = Who("app-v2");
  EXPECT_TRUE(v2.in_manifest);
  EXPECT_EQ(v2.name, "app-v2");
  EXPECT_EQ(v2.product_id, 7u);
  EXPECT_EQ(v2.svn, 2u);
  EXPECT_EQ(v2.signer.size(), 32u);
  EXPECT_FALSE(v2.debug);
  CallerIdentity unknown = Who("unknown", /*tracer=*/55);
  EXPECT_FALSE(unknown.in_manifest);
  EXPECT_TRUE(unknown.name.empty());
  EXPECT_TRUE(unknown.signer.empty());
  EXPECT_EQ(unknown.svn, 0u);
  EXPECT_TRUE(unknown.debug);  // traced at connect
}

TEST_F(PlatformServiceTest, QuoteIsSignedAndCarriesTheCallersIdentity) {
  Bytes rd(kReportDataSize, 0xab);
  Bytes nonce(kMaxNonceSize, 0x01);
  SessionLaunchLog session;
  auto q = service_->MakeQuote(Who("app-v1"), session, rd, nonce);
  ASSERT_TRUE(q.ok()) << q.error().ToString();
  ASSERT_EQ(q->cert_chain_der_size(), 1);
  auto cert = crypto::Certificate::FromDer(AsBytes(q->cert_chain_der(0)));
  ASSERT_TRUE(cert.ok());
  EXPECT_TRUE(cert->public_key().Verify(AsBytes(q->body()), AsBytes(q->signature())).ok());
  QuoteBody body;
  ASSERT_TRUE(body.ParseFromString(q->body()));
  EXPECT_EQ(body.version(), kQuoteVersion);
  EXPECT_EQ(ToBytes(body.platform_id()), crypto::DigestBytes(crypto::Sha256(cert->public_key().SpkiDer())));
  EXPECT_EQ(ToBytes(body.measurement()), crypto::DigestBytes(M("app-v1")));
  EXPECT_EQ(body.enclave_name(), "app-v1");
  EXPECT_EQ(body.svn(), 1u);
  EXPECT_EQ(body.product_id(), 7u);
  EXPECT_EQ(body.security_level(), 3u);
  EXPECT_EQ(ToBytes(body.report_data()), rd);
  EXPECT_EQ(ToBytes(body.nonce()), nonce);
  EXPECT_EQ(body.pid(), 1234u);
  EXPECT_EQ(ToBytes(body.launch_digest()), crypto::DigestBytes(*Replay(service_->ReadLog(session))));
  // Tampering with the body breaks the signature.
  std::string tampered = q->body();
  tampered[tampered.size() / 2] ^= 1;
  EXPECT_FALSE(cert->public_key().Verify(AsBytes(tampered), AsBytes(q->signature())).ok());
}

TEST_F(PlatformServiceTest, QuoteRequestBounds) {
  auto who = Who("app-v1");
  SessionLaunchLog s;
  EXPECT_EQ(service_->MakeQuote(who, s, Bytes(63), {}).error().reason(), kPlatformBadRequest);
  EXPECT_EQ(service_->MakeQuote(who, s, Bytes(65), {}).error().reason(), kPlatformBadRequest);
  EXPECT_EQ(service_->MakeQuote(who, s, Bytes(64), Bytes(65)).error().reason(), kPlatformBadRequest);
  EXPECT_FALSE(s.sealed);  // a refused request does not end the start phase
  EXPECT_TRUE(service_->MakeQuote(who, s, Bytes(64), {}).ok());
  // Unknown binaries still get quotes (the verifier refuses them).
  SessionLaunchLog other;
  EXPECT_TRUE(service_->MakeQuote(Who("unknown"), other, Bytes(64), {}).ok());
}

TEST_F(PlatformServiceTest, DerivationMatchesDocumentedEncoding) {
  SecretBytes secret(Bytes(32, 9));
  Bytes key_id(16, 3);
  auto m = M("x");
  auto key = DeriveSealingKey(secret.view(), SEAL_POLICY_MRENCLAVE, m, 5, key_id);
  ASSERT_TRUE(key.ok());
  // u32be(policy=1) ‖ measurement ‖ u32be(svn=5) ‖ key_id
  const std::string info_hex = "00000001" + HexEncode(m) + "00000005" + HexEncode(key_id);
  const Bytes info = *HexDecode(info_hex);
  auto expected = crypto::HkdfSha256(secret.view(), AsBytes("cloister-seal-v1"), info, 32);
  EXPECT_EQ(HexEncode(key->view()), HexEncode(expected->view()));
}

TEST_F(PlatformServiceTest, MrenclaveKeysAreBoundToTheBinary) {
  Bytes key_id(16, 1);
  auto a = service_->SealingKey(Who("app-v1"), SEAL_POLICY_MRENCLAVE, key_id, 0);
  auto a_again = service_->SealingKey(Who("app-v1"), SEAL_POLICY_MRENCLAVE, key_id, 99);
  auto b = service_->SealingKey(Who("app-v2"), SEAL_POLICY_MRENCLAVE, key_id, 0);
  auto unknown = service_->SealingKey(Who("unknown"), SEAL_POLICY_MRENCLAVE, key_id, 0);
  ASSERT_TRUE(a.ok() && a_again.ok() && b.ok() && unknown.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(HexEncode(a->view()), HexEncode(a_again->view()));  // svn ignored
  EXPECT_NE(HexEncode(a->view()), HexEncode(b->view()));
  EXPECT_NE(HexEncode(a->view()), HexEncode(unknown->view()));
  auto other_id = service_->SealingKey(Who("app-v1"), SEAL_POLICY_MRENCLAVE, Bytes(16, 2), 0);
  EXPECT_NE(HexEncode(a->view()), HexEncode(other_id->view()));
}

TEST_F(PlatformServiceTest, MrsignerAllowsOwnAndOlderSvnOnly) {
  Bytes key_id(32, 4);
  auto v1_at_1 = service_->SealingKey(Who("app-v1"), SEAL_POLICY_MRSIGNER, key_id, 1);
  auto v2_at_1 = service_->SealingKey(Who("app-v2"), SEAL_POLICY_MRSIGNER, key_id, 1);
  auto v2_at_2 = service_->SealingKey(Who("app-v2"), SEAL_POLICY_MRSIGNER, key_id, 2);
  ASSERT_TRUE(v1_at_1.ok() && v2_at_1.ok() && v2_at_2.ok());
  EXPECT_EQ(HexEncode(v1_at_1->view()), HexEncode(v2_at_1->view()));  // the upgrade path
  EXPECT_NE(HexEncode(v2_at_1->view()), HexEncode(v2_at_2->view()));
  auto downgrade = service_->SealingKey(Who("app-v1"), SEAL_POLICY_MRSIGNER, key_id, 2);
  EXPECT_EQ(downgrade.code(), Code::kPermissionDenied);
  EXPECT_EQ(downgrade.error().reason(), kSealSvnTooHigh);
  auto other_product = service_->SealingKey(Who("other-product"), SEAL_POLICY_MRSIGNER, key_id, 1);
  ASSERT_TRUE(other_product.ok());
  EXPECT_NE(HexEncode(other_product->view()), HexEncode(v1_at_1->view()));
  auto unknown = service_->SealingKey(Who("unknown"), SEAL_POLICY_MRSIGNER, key_id, 0);
  EXPECT_EQ(unknown.code(), Code::kPermissionDenied);
  EXPECT_EQ(unknown.error().reason(), kPlatformUnknownEnclave);
}

TEST_F(PlatformServiceTest, SealingKeyRequestBounds) {
  auto who = Who("app-v1");
  EXPECT_EQ(service_->SealingKey(who, SEAL_POLICY_MRENCLAVE, Bytes(15), 0).error().reason(),
            kPlatformBadRequest);
  EXPECT_EQ(service_->SealingKey(who, SEAL_POLICY_MRENCLAVE, Bytes(65), 0).error().reason(),
            kPlatformBadRequest);
  EXPECT_TRUE(service_->SealingKey(who, SEAL_POLICY_MRENCLAVE, Bytes(64), 0).ok());
  EXPECT_EQ(service_->SealingKey(who, SEAL_POLICY_UNSPECIFIED, Bytes(16), 0).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(service_->SealingKey(who, static_cast<SealPolicy>(77), Bytes(16), 0).code(),
            Code::kInvalidArgument);
}

TEST_F(PlatformServiceTest, LaunchLogStartsWithPlatformAndOnlyGrows) {
  SessionLaunchLog session;
  LaunchLog log = service_->ReadLog(session);
  ASSERT_EQ(log.events_size(), 1);
  EXPECT_EQ(log.events(0).type(), "platform.start");
  EXPECT_EQ(ToBytes(log.events(0).data_digest()), crypto::DigestBytes(M("platform")));
  EXPECT_EQ(ToBytes(log.events(0).extender()), crypto::DigestBytes(M("platform")));

  auto d = M("config file");
  auto after = service_->Extend(Who("app-v1"), session, "config", d, "cluster.toml");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->events_size(), 2);
  EXPECT_EQ(after->events(1).index(), 1u);
  EXPECT_EQ(ToBytes(after->events(1).extender()), crypto::DigestBytes(M("app-v1")));

  EXPECT_EQ(service_->Extend(Who("unknown"), session, "config", d, "").error().reason(),
            kPlatformUnknownEnclave);
  EXPECT_EQ(service_->Extend(Who("app-v1"), session, "config", Bytes(31), "").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(service_->Extend(Who("app-v1"), session, "", d, "").code(), Code::kInvalidArgument);
  EXPECT_EQ(service_->ReadLog(session).events_size(), 2);
  // Another session does not see this one's events.
  EXPECT_EQ(service_->ReadNodeLog().events_size(), 1);

  auto q = service_->MakeQuote(Who("app-v1"), session, Bytes(64), {});
  QuoteBody body;
  ASSERT_TRUE(body.ParseFromString(q->body()));
  EXPECT_EQ(ToBytes(body.launch_digest()), crypto::DigestBytes(*Replay(service_->ReadLog(session))));
  // The first quote sealed it.
  EXPECT_EQ(service_->Extend(Who("app-v1"), session, "config", d, "").error().reason(),
            kLaunchLogSealed);
}

TEST_F(PlatformServiceTest, SessionLaunchLogIsBoundedInNumberAndSize) {
  SessionLaunchLog flood;
  auto d = M("x");
  for (size_t i = 0; i < kMaxSessionLaunchEvents; ++i)
    ASSERT_TRUE(service_->Extend(Who("app-v1"), flood, "config", d, std::string(200, 'x')).ok()) << i;
  EXPECT_EQ(service_->Extend(Who("app-v1"), flood, "config", d, "").error().reason(), kLaunchLogFull);
  SessionLaunchLog big;
  EXPECT_EQ(service_->Extend(Who("app-v1"), big, "config", d, std::string(257, 'x')).error().reason(),
            kLaunchEventTooLarge);
  EXPECT_EQ(service_->Extend(Who("app-v1"), big, std::string(65, 't'), d, "").error().reason(),
            kLaunchEventTooLarge);
  // A full session's log is a valid, small log; a fresh session is unaffected.
  auto full = service_->ReadLog(flood);
  EXPECT_EQ(static_cast<size_t>(full.events_size()), 1 + kMaxSessionLaunchEvents);
  EXPECT_TRUE(Replay(full).ok());
  EXPECT_LE(full.ByteSizeLong(), kMaxLaunchEvents * kMaxLaunchEventBytes);
  SessionLaunchLog fresh;
  auto q = service_->MakeQuote(Who("app-v2"), fresh, Bytes(64), {});
  ASSERT_TRUE(q.ok());
  QuoteBody body;
  ASSERT_TRUE(body.ParseFromString(q->body()));
  EXPECT_EQ(ToBytes(body.launch_digest()), crypto::DigestBytes(*Replay(service_->ReadNodeLog())));
}

TEST_F(PlatformServiceTest, HandleAnswersEveryKindAndRefusesEmpty) {
  PlatformRequest req;
  SessionLaunchLog session;
  PlatformResponse resp = service_->Handle(Who("app-v1"), session, req);
  ASSERT_TRUE(resp.has_error());
  EXPECT_EQ(resp.error().reason(), kPlatformBadRequest);
  req.mutable_identity();
  resp = service_->Handle(Who("app-v1"), session, req);
  ASSERT_TRUE(resp.has_identity());
  EXPECT_EQ(resp.identity().enclave_name(), "app-v1");
  EXPECT_FALSE(resp.identity().attestation_root_der().empty());
}

TEST_F(PlatformServiceTest, StateRefusesLoosePermissionsAndOverwrite) {
  const PlatformPaths p = PlatformPaths::For(dir_);
  EXPECT_EQ(InitPlatform(dir_, {}).error().reason(), kPlatformAlreadyInitialized);
  ASSERT_EQ(::chmod(p.device_secret.c_str(), 0644), 0);
  EXPECT_EQ(LoadPlatformState(dir_).error().reason(), "INSECURE_PERMISSIONS");
  ASSERT_EQ(::chmod(p.device_secret.c_str(), 0600), 0);
  ASSERT_EQ(::chmod(p.attestation_key.c_str(), 0640), 0);
  EXPECT_EQ(LoadPlatformState(dir_).error().reason(), "INSECURE_PERMISSIONS");
  ASSERT_EQ(::chmod(p.attestation_key.c_str(), 0600), 0);
  ASSERT_TRUE(WriteFileAtomic(p.device_secret, std::string_view("short"), 0600).ok());
  EXPECT_EQ(LoadPlatformState(dir_).error().reason(), kPlatformStateInvalid);
  PlatformInitOptions force;
  force.force = true;
  ASSERT_TRUE(InitPlatform(dir_, force).ok());
  EXPECT_TRUE(LoadPlatformState(dir_).ok());
  struct stat st {};
  ASSERT_EQ(::stat(p.platform_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(p.root_key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace cloister::attestation
