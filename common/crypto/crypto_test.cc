// Known-answer and negative tests for the OpenSSL wrappers in common/crypto.
#include <gtest/gtest.h>

#include <ctime>

#include "common/crypto/aead.h"
#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/crypto/random.h"
#include "common/crypto/x509.h"

namespace cloister::crypto {
namespace {

Bytes Hex(std::string_view h) { return *HexDecode(h); }

TEST(HashTest, Sha256KnownAnswer) {
  EXPECT_EQ(HexEncode(Sha256(std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher h;
  h.Update(std::string_view("a"));
  h.Update(std::string_view("bc"));
  EXPECT_EQ(HexEncode(h.Finish()), HexEncode(Sha256(std::string_view("abc"))));
}

TEST(HashTest, HmacRfc4231Case2) {
  auto tag = HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"));
  EXPECT_EQ(HexEncode(tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(HmacSha256Verify(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"), tag));
  tag[0] ^= 1;
  EXPECT_FALSE(HmacSha256Verify(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"), tag));
}

TEST(HashTest, HkdfRfc5869Case1) {
  auto okm = HkdfSha256(Hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                        Hex("000102030405060708090a0b0c"), Hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(HexEncode(okm->view()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  EXPECT_EQ(HkdfSha256(Hex("00"), {}, {}, 0).code(), Code::kInvalidArgument);
}

TEST(HashTest, PasswordKdfsRejectWeakParameters) {
  Bytes salt(16, 7);
  EXPECT_TRUE(Pbkdf2Sha512("pw", salt, 1000, 32).ok());
  EXPECT_EQ(Pbkdf2Sha512("pw", salt, 10, 32).code(), Code::kInvalidArgument);
  EXPECT_EQ(Pbkdf2Sha512("pw", Bytes(4), 1000, 32).code(), Code::kInvalidArgument);
  auto a = Scrypt("pw", salt, 1024, 8, 1, 32);
  auto b = Scrypt("pw", salt, 1024, 8, 1, 32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(HexEncode(a->view()), HexEncode(b->view()));
  EXPECT_EQ(Scrypt("pw", salt, 1000, 8, 1, 32).code(), Code::kInvalidArgument);
}

TEST(AeadTest, RoundTripAndEveryTamperDetected) {
  Bytes key = RandomBytes(32);
  auto gcm = AesGcm::Create(key);
  ASSERT_TRUE(gcm.ok());
  Bytes pt = ToBytes("attack at dawn");
  Bytes blob = *gcm->SealWithRandomNonce(AsBytes("aad"), pt);
  EXPECT_EQ(blob.size(), pt.size() + 28);
  EXPECT_EQ(*gcm->OpenWithNonce(AsBytes("aad"), blob), pt);
  for (size_t i = 0; i < blob.size(); ++i) {
    Bytes t = blob;
    t[i] ^= 0x01;
    auto r = gcm->OpenWithNonce(AsBytes("aad"), t);
    ASSERT_FALSE(r.ok()) << "flip at " << i;
    EXPECT_EQ(r.error().reason(), kAeadAuthFailed);
  }
  EXPECT_EQ(gcm->OpenWithNonce(AsBytes("AAD"), blob).error().reason(), kAeadAuthFailed);
  for (size_t n = 0; n < blob.size(); ++n)
    EXPECT_FALSE(gcm->OpenWithNonce(AsBytes("aad"), ByteView(blob).first(n)).ok());
  auto other = AesGcm::Create(RandomBytes(32));
  EXPECT_FALSE(other->OpenWithNonce(AsBytes("aad"), blob).ok());
  EXPECT_EQ(AesGcm::Create(Bytes(16)).code(), Code::kInvalidArgument);
}

TEST(AeadTest, NistGcmVector) {
  // NIST GCM test case 14 (AES-256, zero key/IV, one zero block).
  auto gcm = AesGcm::Create(Bytes(32, 0));
  auto ct = gcm->Seal(Bytes(12, 0), {}, Bytes(16, 0));
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(HexEncode(*ct), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
}

class KeyTypeTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(KeyTypeTest, SignVerifySerialize) {
  auto key = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(key.ok()) << key.error().ToString();
  Bytes msg = ToBytes("message");
  for (RsaPadding pad : {RsaPadding::kPss, RsaPadding::kPkcs1v15}) {
    SignOptions o{pad};
    auto sig = key->Sign(msg, o);
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(key->public_key().Verify(msg, *sig, o).ok());
    Bytes bad = *sig;
    bad[bad.size() / 2] ^= 4;
    auto r = key->public_key().Verify(msg, bad, o);
    EXPECT_EQ(r.code(), Code::kPermissionDenied);
    EXPECT_EQ(r.error().reason(), kSignatureInvalid);
    EXPECT_FALSE(key->public_key().Verify(ToBytes("other"), *sig, o).ok());
  }
  // Serialisation round trips.
  auto pub = PublicKey::FromSpkiDer(key->public_key().SpkiDer());
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->type(), GetParam());
  auto pem = key->Pem();
  auto back = PrivateKey::FromPem(AsChars(pem.view()));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->public_key().SpkiDer(), key->public_key().SpkiDer());
  auto der = key->Pkcs8Der();
  EXPECT_TRUE(PrivateKey::FromPkcs8Der(der.view()).ok());
  if (GetParam() != KeyType::kEd25519) {
    auto d = Sha256(msg);
    auto sig = key->SignDigest(d);
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(pub->Verify(msg, *sig).ok());
    EXPECT_EQ(key->SignDigest(Bytes(31)).code(), Code::kInvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(All, KeyTypeTest,
                         ::testing::Values(KeyType::kEcdsaP256, KeyType::kEd25519,
                                           KeyType::kRsa2048));

TEST(KeysTest, RsaOaepRoundTrip) {
  auto key = PrivateKey::Generate(KeyType::kRsa2048);
  auto ct = key->public_key().Encrypt(AsBytes("secret"));
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(*key->Decrypt(*ct), ToBytes("secret"));
  (*ct)[5] ^= 1;
  EXPECT_EQ(key->Decrypt(*ct).error().reason(), "DECRYPTION_FAILED");
}

TEST(KeysTest, GarbageRejected) {
  EXPECT_EQ(PublicKey::FromSpkiDer(Bytes{0x30, 0x03, 0x01}).code(), Code::kInvalidArgument);
  EXPECT_EQ(PrivateKey::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n").code(),
            Code::kInvalidArgument);
  auto k = PrivateKey::Generate(KeyType::kEcdsaP256);
  Bytes spki = k->public_key().SpkiDer();
  spki.push_back(0);
  EXPECT_EQ(PublicKey::FromSpkiDer(spki).code(), Code::kInvalidArgument);
}

TEST(X509Test, ChainAndCustomExtension) {
  const int64_t now = time(nullptr);
  auto root_key = *PrivateKey::Generate(KeyType::kEcdsaP256);
  CertOptions ro;
  ro.common_name = "root";
  ro.is_ca = true;
  ro.not_after = now + 3600;
  auto root = Certificate::Create(ro, root_key.public_key(), root_key, nullptr);
  ASSERT_TRUE(root.ok()) << root.error().ToString();

  auto leaf_key = *PrivateKey::Generate(KeyType::kEcdsaP256);
  CertOptions lo;
  lo.common_name = "leaf";
  lo.not_after = now + 600;
  lo.extensions.push_back({"1.3.6.1.4.1.99999.1", false, ToBytes("payload")});
  auto leaf = Certificate::Create(lo, leaf_key.public_key(), root_key, &*root);
  ASSERT_TRUE(leaf.ok()) << leaf.error().ToString();

  auto parsed = Certificate::FromDer(leaf->Der());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->SubjectCommonName(), "leaf");
  EXPECT_EQ(**parsed->FindExtension("1.3.6.1.4.1.99999.1"), ToBytes("payload"));
  EXPECT_FALSE(parsed->FindExtension("1.3.6.1.4.1.99999.2")->has_value());
  EXPECT_EQ(parsed->public_key().SpkiDer(), leaf_key.public_key().SpkiDer());
  { auto st = VerifyChain(*parsed, {}, *root, now); EXPECT_TRUE(st.ok()) << st.ToString(); }
  EXPECT_TRUE(root->is_ca());
  EXPECT_FALSE(parsed->is_ca());

  // Another root, an expired time, and a tampered certificate are refused.
  auto other_key = *PrivateKey::Generate(KeyType::kEcdsaP256);
  auto other = Certificate::Create(ro, other_key.public_key(), other_key, nullptr);
  EXPECT_EQ(VerifyChain(*parsed, {}, *other, now).error().reason(), "CHAIN_UNTRUSTED");
  EXPECT_EQ(VerifyChain(*parsed, {}, *root, now + 7200).error().reason(), "CHAIN_UNTRUSTED");
  Bytes der = leaf->Der();
  der[der.size() - 5] ^= 1;
  auto tampered = Certificate::FromDer(der);
  if (tampered.ok()) {
    EXPECT_FALSE(VerifyChain(*tampered, {}, *root, now).ok());
  }

  auto pem = Certificate::FromPem(leaf->Pem());
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(pem->Der(), leaf->Der());
}

TEST(X509Test, TruncatedAndGarbageRejectedAtEveryLength) {
  auto k = *PrivateKey::Generate(KeyType::kEd25519);
  CertOptions o;
  o.common_name = "x";
  o.not_after = time(nullptr) + 60;
  auto c = Certificate::Create(o, k.public_key(), k, nullptr);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  Bytes der = c->Der();
  for (size_t n = 0; n < der.size(); ++n)
    EXPECT_FALSE(Certificate::FromDer(ByteView(der).first(n)).ok()) << n;
  Bytes extra = der;
  extra.push_back(0);
  EXPECT_FALSE(Certificate::FromDer(extra).ok());
}

TEST(BytesTest, Codecs) {
  EXPECT_EQ(HexEncode(*HexDecode("00ff10")), "00ff10");
  EXPECT_FALSE(HexDecode("0").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto e = Base64Encode(AsBytes(s));
    EXPECT_EQ(ToString(*Base64Decode(e)), s);
  }
  EXPECT_EQ(Base64Encode(AsBytes("foobar")), "Zm9vYmFy");
  EXPECT_FALSE(Base64Decode("Zm9").ok());
  EXPECT_FALSE(Base64Decode("Zm9*").ok());
}

TEST(SecretTest, ZeroizesAndDoesNotPrint) {
  SecretBytes s = SecretBytes::Random(32);
  EXPECT_EQ(s.DebugString(), "<secret 32 bytes>");
  SecretBytes moved = std::move(s);
  EXPECT_TRUE(s.empty());  // NOLINT: checking moved-from state on purpose
  Bytes raw(16, 0xAA);
  SecretBytes adopted = SecretBytes::Adopt(std::move(raw));
  EXPECT_EQ(adopted.size(), 16u);
}

}  // namespace
}  // namespace cloister::crypto
