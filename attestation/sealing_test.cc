// Sealing through the real daemon: format round trip, tamper and aad
// checks, another binary cannot open MRENCLAVE data, MRSIGNER follows svn,
// and sealed data survives a daemon restart (the device secret persists).
#include "attestation/sealing.h"

#include <gtest/gtest.h>

#include "attestation/platform/testing/platform_fixture.h"
#include "common/fs.h"

namespace cloister::attestation {
namespace {

using testing::PlatformHarness;
using testing::RunOutput;

constexpr const char* kClientA = CLOISTER_TEST_CLIENT_A;  // svn 2
constexpr const char* kClientB = CLOISTER_TEST_CLIENT_B;  // svn 1

class SealingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // This test binary is in the manifest too (svn 2, same product).
    auto h = PlatformHarness::Create({{"test-client-a", kClientA, 7, 2},
                                      {"test-client-b", kClientB, 7, 1},
                                      {"sealing-test", *SelfExePath(), 7, 2}});
    ASSERT_TRUE(h.ok()) << h.error().ToString();
    h_ = *std::move(h);
    Status s = h_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto c = PlatformClient::Connect(h_->socket_path());
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    client_ = std::make_unique<PlatformClient>(*std::move(c));
  }
  RunOutput Client(const std::string& bin, const std::vector<std::string>& args) {
    auto r = h_->RunClient(bin, args);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : RunOutput{};
  }

  std::unique_ptr<PlatformHarness> h_;
  std::unique_ptr<PlatformClient> client_;
};

TEST_F(SealingTest, RoundTripAndHeaderLayout) {
  const Bytes secret = ToBytes("the database key");
  for (SealPolicy policy : {SEAL_POLICY_MRENCLAVE, SEAL_POLICY_MRSIGNER}) {
    auto blob = Seal(*client_, policy, secret, AsBytes("ctx"));
    ASSERT_TRUE(blob.ok()) << blob.error().ToString();
    ASSERT_EQ(blob->size(), 11 + 32 + 12 + secret.size() + 16);
    EXPECT_EQ(ToString(ByteView(*blob).first(4)), "CLSL");
    EXPECT_EQ((*blob)[4], kSealVersion);
    EXPECT_EQ((*blob)[5], static_cast<uint8_t>(policy));
    EXPECT_EQ((*blob)[9], 2);  // our svn
    EXPECT_EQ((*blob)[10], 32);
    auto back = Unseal(*client_, *blob, AsBytes("ctx"));
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(*back, secret);
    // Same plaintext twice: fresh key id and nonce each time.
    EXPECT_NE(*Seal(*client_, policy, secret, AsBytes("ctx")), *blob);
  }
}

TEST_F(SealingTest, TamperingAndWrongAadFail) {
  auto blob = Seal(*client_, SEAL_POLICY_MRENCLAVE, AsBytes("payload"), AsBytes("ctx"));
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(Unseal(*client_, *blob, AsBytes("other")).error().reason(), kSealAuthFailed);
  EXPECT_EQ(Unseal(*client_, *blob, AsBytes("other")).code(), Code::kDataLoss);
  // Every byte after the fixed fields is authenticated (key id, nonce, ct, tag).
  for (size_t i = 11; i < blob->size(); ++i) {
    Bytes t = *blob;
    t[i] ^= 0x01;
    EXPECT_EQ(Unseal(*client_, t, AsBytes("ctx")).error().reason(), kSealAuthFailed) << i;
  }
  // The svn is in the AAD: lowering it changes the derived key anyway.
  Bytes svn_changed = *blob;
  svn_changed[9] = 1;
  EXPECT_FALSE(Unseal(*client_, svn_changed, AsBytes("ctx")).ok());
}

TEST_F(SealingTest, MalformedBlobsAreRejectedBeforeAnyKeyRequest) {
  auto blob = *Seal(*client_, SEAL_POLICY_MRENCLAVE, AsBytes("x"), {});
  auto reason = [&](Bytes b) { return Unseal(*client_, b, {}).error().reason(); };
  EXPECT_EQ(reason({}), kSealBlobMalformed);
  EXPECT_EQ(reason(Bytes(blob.begin(), blob.begin() + 40)), kSealBlobMalformed);
  Bytes m = blob;
  m[0] = 'X';
  EXPECT_EQ(reason(m), kSealBlobMalformed);
  m = blob;
  m[4] = 2;
  EXPECT_EQ(reason(m), kSealBlobMalformed);
  m = blob;
  m[5] = 9;
  EXPECT_EQ(reason(m), kSealBlobMalformed);
  m = blob;
  m[10] = 200;  // key id longer than the blob
  EXPECT_EQ(reason(m), kSealBlobMalformed);
  m = blob;
  m[10] = 8;
  EXPECT_EQ(reason(m), kSealBlobMalformed);
}

TEST_F(SealingTest, AnotherBinaryCannotUnsealEnclaveData) {
  RunOutput sealed = Client(kClientA, {"seal", "enclave", HexEncode(AsBytes("a's secret")), "ctx"});
  ASSERT_EQ(sealed.exit_code, 0) << sealed.out;
  RunOutput by_a = Client(kClientA, {"unseal", sealed.kv["blob"], "ctx"});
  ASSERT_EQ(by_a.exit_code, 0) << by_a.out;
  EXPECT_EQ(by_a.kv["plaintext"], HexEncode(AsBytes("a's secret")));
  RunOutput by_b = Client(kClientB, {"unseal", sealed.kv["blob"], "ctx"});
  EXPECT_EQ(by_b.exit_code, 3);
  EXPECT_EQ(by_b.kv["error"], "DATA_LOSS reason=SEAL_AUTH_FAILED");
  // Nor this test binary, which shares a's signer, product and svn.
  EXPECT_EQ(Unseal(*client_, *HexDecode(sealed.kv["blob"]), AsBytes("ctx")).error().reason(),
            kSealAuthFailed);
  // Nor a one-byte-different copy of a.
  auto copy = h_->CopyBinary(kClientA, "client-a-modified", "\n");
  ASSERT_TRUE(copy.ok());
  RunOutput by_copy = Client(*copy, {"unseal", sealed.kv["blob"], "ctx"});
  EXPECT_EQ(by_copy.kv["error"], "DATA_LOSS reason=SEAL_AUTH_FAILED");
  RunOutput copy_signer = Client(*copy, {"seal", "signer", "00", "ctx"});
  EXPECT_EQ(copy_signer.kv["error"], "PERMISSION_DENIED reason=PLATFORM_UNKNOWN_ENCLAVE");
}

TEST_F(SealingTest, SignerDataOpensAtEqualOrHigherSvnOnly) {
  // Sealed by b (svn 1): a (svn 2) and this test (svn 2) open it.
  RunOutput by_b = Client(kClientB, {"seal", "signer", HexEncode(AsBytes("v1 data")), "ctx"});
  ASSERT_EQ(by_b.exit_code, 0) << by_b.out;
  RunOutput a_opens = Client(kClientA, {"unseal", by_b.kv["blob"], "ctx"});
  ASSERT_EQ(a_opens.exit_code, 0) << a_opens.out;
  EXPECT_EQ(a_opens.kv["plaintext"], HexEncode(AsBytes("v1 data")));
  auto here = Unseal(*client_, *HexDecode(by_b.kv["blob"]), AsBytes("ctx"));
  ASSERT_TRUE(here.ok()) << here.error().ToString();

  // Sealed by a (svn 2): this test (equal svn) opens it, b (lower) cannot.
  RunOutput by_a = Client(kClientA, {"seal", "signer", HexEncode(AsBytes("v2 data")), "ctx"});
  ASSERT_EQ(by_a.exit_code, 0);
  auto equal = Unseal(*client_, *HexDecode(by_a.kv["blob"]), AsBytes("ctx"));
  ASSERT_TRUE(equal.ok()) << equal.error().ToString();
  EXPECT_EQ(*equal, ToBytes("v2 data"));
  RunOutput b_denied = Client(kClientB, {"unseal", by_a.kv["blob"], "ctx"});
  EXPECT_EQ(b_denied.exit_code, 3);
  EXPECT_EQ(b_denied.kv["error"], "PERMISSION_DENIED reason=SEAL_SVN_TOO_HIGH");
  // Forging the svn byte down to 1 does not help: the key differs.
  Bytes forged = *HexDecode(by_a.kv["blob"]);
  forged[9] = 1;
  RunOutput b_forged = Client(kClientB, {"unseal", HexEncode(forged), "ctx"});
  EXPECT_EQ(b_forged.kv["error"], "DATA_LOSS reason=SEAL_AUTH_FAILED");
}

TEST_F(SealingTest, SealedDataSurvivesDaemonRestart) {
  auto enclave_blob = Seal(*client_, SEAL_POLICY_MRENCLAVE, AsBytes("persist"), {});
  auto signer_blob = Seal(*client_, SEAL_POLICY_MRSIGNER, AsBytes("persist too"), {});
  ASSERT_TRUE(enclave_blob.ok() && signer_blob.ok());
  client_.reset();
  auto rc = h_->Stop();
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0);
  Status s = h_->Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto c = PlatformClient::Connect(h_->socket_path());
  ASSERT_TRUE(c.ok());
  auto a = Unseal(*c, *enclave_blob, {});
  auto b = Unseal(*c, *signer_blob, {});
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_EQ(*a, ToBytes("persist"));
  EXPECT_EQ(*b, ToBytes("persist too"));
  // The launch log, unlike the device secret, is per daemon lifetime.
  EXPECT_EQ(c->ReadLog()->events_size(), 1);
}

}  // namespace
}  // namespace cloister::attestation
