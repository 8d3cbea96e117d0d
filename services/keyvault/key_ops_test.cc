// Unit tests of key_ops: every key type round-trips, the ciphertext format
// is parsed strictly, tampering fails with named reasons, signatures verify
// with the openssl command line, and the import envelope opens only for its name.
#include "services/keyvault/key_ops.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/crypto/hash.h"
#include "common/crypto/random.h"

namespace cloister::keyvault_ops {
namespace {

using keyvault::KeyType;

std::string Reason(const Error& e) { return e.reason(); }

TEST(KeyOpsTest, TypeNamesRoundTrip) {
  for (auto name : {"aes256-gcm", "rsa-2048", "rsa-3072", "rsa-4096", "ecdsa-p256", "ed25519",
                    "hmac-sha256"}) {
    auto t = ParseKeyType(name);
    ASSERT_TRUE(t.ok()) << name;
    EXPECT_EQ(KeyTypeName(*t), name);
  }
  auto bad = ParseKeyType("des");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(Reason(bad.error()), reason::kKeyTypeUnknown);
}

TEST(KeyOpsTest, KeyNamesAreRestricted) {
  EXPECT_TRUE(ValidateKeyName("db-key_1.prod").ok());
  for (std::string bad : {std::string(), std::string("a:b"), std::string("has space"), std::string("nul\0x", 5), std::string(65, 'a')})
    EXPECT_EQ(ValidateKeyName(bad).error().reason(), reason::kKeyNameInvalid) << bad;
}

TEST(KeyOpsTest, AesRoundTripAndFormat) {
  auto k = *KeyMaterial::Generate(keyvault::KEY_TYPE_AES256_GCM);
  auto gcm = *k.Cipher();
  auto ct = EncryptWith(gcm, "db", 3, AsBytes("hello"), AsBytes("file-1"));
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(ct->rfind("cloister:db:v3:", 0), 0u) << *ct;
  auto parsed = ParseCiphertext(*ct);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->name, "db");
  EXPECT_EQ(parsed->version, 3u);
  auto pt = DecryptWith(gcm, *parsed, AsBytes("file-1"));
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(ToString(*pt), "hello");
}

TEST(KeyOpsTest, WrongAadTamperingAndWrongKeyFailAuthentication) {
  auto k = *KeyMaterial::Generate(keyvault::KEY_TYPE_AES256_GCM);
  auto other = *KeyMaterial::Generate(keyvault::KEY_TYPE_AES256_GCM);
  auto gcm = *k.Cipher();
  auto gcm2 = *other.Cipher();
  auto parsed = *ParseCiphertext(*EncryptWith(gcm, "db", 1, AsBytes("secret"), AsBytes("a")));
  EXPECT_EQ(DecryptWith(gcm, parsed, AsBytes("b")).error().reason(), crypto::kAeadAuthFailed);
  EXPECT_EQ(DecryptWith(gcm2, parsed, AsBytes("a")).error().reason(), crypto::kAeadAuthFailed);
  auto tampered = parsed;
  tampered.blob[crypto::kAesGcmNonceSize] ^= 1;
  EXPECT_EQ(DecryptWith(gcm, tampered, AsBytes("a")).error().reason(), crypto::kAeadAuthFailed);
  // The header is authenticated too: claiming another version or key fails.
  auto relabeled = parsed;
  relabeled.version = 2;
  EXPECT_EQ(DecryptWith(gcm, relabeled, AsBytes("a")).error().reason(), crypto::kAeadAuthFailed);
  relabeled = parsed;
  relabeled.name = "other";
  EXPECT_EQ(DecryptWith(gcm, relabeled, AsBytes("a")).error().reason(), crypto::kAeadAuthFailed);
}

TEST(KeyOpsTest, MalformedCiphertextsAreRefused) {
  std::string good_blob = Base64Encode(Bytes(40, 7));
  for (std::string bad : {std::string(""), std::string("vault:v1:abc"), std::string("cloister:"),
                          "cloister:db:" + good_blob, "cloister:db:v:" + good_blob,
                          "cloister:db:v0:" + good_blob, "cloister:db:vx1:" + good_blob,
                          "cloister:db:v99999999999:" + good_blob, std::string("cloister:db:v1:!!!"),
                          "cloister:db:v1:" + Base64Encode(Bytes(27, 1)),
                          "cloister:d b:v1:" + good_blob, std::string("cloister:db:v1")}) {
    auto r = ParseCiphertext(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().reason(), reason::kCiphertextMalformed) << bad;
    // Never echoes the input (it may be a secret pasted by mistake).
    if (bad.size() > 20) {
      EXPECT_EQ(r.error().message().find(bad), std::string::npos);
    }
  }
}

class SignTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(SignTest, SignVerifyRoundTrip) {
  auto k = KeyMaterial::Generate(GetParam());
  ASSERT_TRUE(k.ok());
  ASSERT_NE(k->public_key(), nullptr);
  auto sig = k->Sign(AsBytes("message"), false, keyvault::SIGNATURE_ALGORITHM_DEFAULT);
  ASSERT_TRUE(sig.ok()) << sig.error().ToString();
  EXPECT_TRUE(*k->Verify(AsBytes("message"), false, keyvault::SIGNATURE_ALGORITHM_DEFAULT, *sig));
  EXPECT_FALSE(*k->Verify(AsBytes("messagE"), false, keyvault::SIGNATURE_ALGORITHM_DEFAULT, *sig));
  // Serialization round trip keeps the same key.
  SecretBytes der = k->Serialize();
  auto back = KeyMaterial::FromBytes(GetParam(), der.view());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back->Verify(AsBytes("message"), false, keyvault::SIGNATURE_ALGORITHM_DEFAULT, *sig));
  if (GetParam() == keyvault::KEY_TYPE_ED25519) {
    auto d = crypto::Sha256(std::string_view("message"));
    EXPECT_EQ(k->Sign(d, true, keyvault::SIGNATURE_ALGORITHM_DEFAULT).error().reason(),
              reason::kPrehashUnsupported);
  } else {
    auto d = crypto::Sha256(std::string_view("message"));
    auto dsig = k->Sign(d, true, keyvault::SIGNATURE_ALGORITHM_DEFAULT);
    ASSERT_TRUE(dsig.ok());
    // A digest signature is a signature over the message.
    EXPECT_TRUE(*k->Verify(AsBytes("message"), false, keyvault::SIGNATURE_ALGORITHM_DEFAULT, *dsig));
    EXPECT_EQ(k->Sign(Bytes(31, 0), true, keyvault::SIGNATURE_ALGORITHM_DEFAULT).error().reason(),
              reason::kDigestLength);
  }
}

INSTANTIATE_TEST_SUITE_P(AllAsymmetric, SignTest,
                         ::testing::Values(keyvault::KEY_TYPE_RSA_2048, keyvault::KEY_TYPE_RSA_3072,
                                           keyvault::KEY_TYPE_RSA_4096, keyvault::KEY_TYPE_ECDSA_P256,
                                           keyvault::KEY_TYPE_ED25519));

TEST(KeyOpsTest, RsaPkcs1AndPssAreDistinct) {
  auto k = *KeyMaterial::Generate(keyvault::KEY_TYPE_RSA_2048);
  auto pss = *k.Sign(AsBytes("m"), false, keyvault::SIGNATURE_ALGORITHM_RSA_PSS_SHA256);
  auto v15 = *k.Sign(AsBytes("m"), false, keyvault::SIGNATURE_ALGORITHM_RSA_PKCS1V15_SHA256);
  EXPECT_TRUE(*k.Verify(AsBytes("m"), false, keyvault::SIGNATURE_ALGORITHM_RSA_PKCS1V15_SHA256, v15));
  EXPECT_FALSE(*k.Verify(AsBytes("m"), false, keyvault::SIGNATURE_ALGORITHM_RSA_PKCS1V15_SHA256, pss));
  auto ec = *KeyMaterial::Generate(keyvault::KEY_TYPE_ECDSA_P256);
  EXPECT_EQ(ec.Sign(AsBytes("m"), false, keyvault::SIGNATURE_ALGORITHM_RSA_PSS_SHA256).error().reason(),
            reason::kAlgorithmUnsupported);
}

TEST(KeyOpsTest, HmacRoundTrip) {
  auto k = *KeyMaterial::Generate(keyvault::KEY_TYPE_HMAC_SHA256);
  auto mac = *k.Hmac(AsBytes("data"));
  EXPECT_EQ(mac.size(), 32u);
  EXPECT_TRUE(*k.VerifyHmac(AsBytes("data"), mac));
  EXPECT_FALSE(*k.VerifyHmac(AsBytes("datA"), mac));
  EXPECT_EQ(k.Cipher().error().reason(), reason::kOperationUnsupported);
  EXPECT_EQ(k.Sign(AsBytes("x"), false, {}).error().reason(), reason::kOperationUnsupported);
}

TEST(KeyOpsTest, MaterialOfAnotherTypeIsRefused) {
  auto ec = *KeyMaterial::Generate(keyvault::KEY_TYPE_ECDSA_P256);
  SecretBytes der = ec.Serialize();
  EXPECT_EQ(KeyMaterial::FromBytes(keyvault::KEY_TYPE_RSA_2048, der.view()).error().reason(),
            reason::kKeyMaterialInvalid);
  EXPECT_EQ(KeyMaterial::FromBytes(keyvault::KEY_TYPE_AES256_GCM, Bytes(16, 1)).error().reason(),
            reason::kKeyMaterialInvalid);
}

TEST(KeyOpsTest, ImportEnvelopeOpensOnlyForItsName) {
  auto wrapping = *crypto::PrivateKey::Generate(crypto::KeyType::kRsa3072);
  Bytes material = crypto::RandomBytes(32);
  auto wrapped = WrapForImport(wrapping.public_key(), material, "imported");
  ASSERT_TRUE(wrapped.ok());
  auto back = UnwrapImport(wrapping, *wrapped, "imported");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(ConstantTimeEqual(back->view(), material));
  EXPECT_EQ(UnwrapImport(wrapping, *wrapped, "other").error().reason(), reason::kWrappedKeyAuth);
  EXPECT_EQ(UnwrapImport(wrapping, Bytes(3, 0), "imported").error().reason(),
            reason::kWrappedKeyMalformed);
  Bytes truncated(wrapped->begin(), wrapped->begin() + 100);
  EXPECT_EQ(UnwrapImport(wrapping, truncated, "imported").error().reason(),
            reason::kWrappedKeyMalformed);
}

// Hostile bytes: random mutations and truncations of valid inputs never
// crash the parsers and never yield plaintext under the wrong identity.
TEST(KeyOpsTest, MutatedInputsAreRefusedWithoutCrashing) {
  auto k = *KeyMaterial::Generate(keyvault::KEY_TYPE_AES256_GCM);
  auto gcm = *k.Cipher();
  const std::string good = *EncryptWith(gcm, "db", 1, AsBytes("payload"), AsBytes("aad"));
  auto wrapping = *crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048);
  const Bytes wrapped = *WrapForImport(wrapping.public_key(), Bytes(32, 9), "db");
  for (int i = 0; i < 2000; ++i) {
    std::string text = good;
    Bytes blob = wrapped;
    const uint64_t r = crypto::RandomU64();
    switch (r % 3) {
      case 0:  // flip a byte
        text[r / 3 % text.size()] ^= static_cast<char>(1 + r % 255);
        blob[r / 3 % blob.size()] ^= static_cast<uint8_t>(1 + r % 255);
        break;
      case 1:  // truncate
        text.resize(r / 3 % text.size());
        blob.resize(r / 3 % blob.size());
        break;
      default:  // random garbage of random length
        text = ToString(crypto::RandomBytes(r / 3 % 200));
        blob = crypto::RandomBytes(r / 3 % 600);
    }
    auto parsed = ParseCiphertext(text);
    if (parsed.ok()) {
      auto pt = DecryptWith(gcm, *parsed, AsBytes("aad"));
      // Only an untouched identity and body may decrypt (base64 padding
      // variants can parse to the same bytes).
      if (pt.ok()) {
        EXPECT_EQ(ToString(*pt), "payload");
        EXPECT_EQ(parsed->name, "db");
        EXPECT_EQ(parsed->version, 1u);
      }
    } else {
      EXPECT_EQ(parsed.error().reason(), reason::kCiphertextMalformed);
    }
    auto unwrapped = UnwrapImport(wrapping, blob, "db");
    if (!unwrapped.ok()) {
      EXPECT_TRUE(unwrapped.error().reason() == reason::kWrappedKeyMalformed ||
                  unwrapped.error().reason() == reason::kWrappedKeyAuth)
          << unwrapped.error().ToString();
    }
  }
}

// ---- the openssl command line verifies what the vault signs ----

class OpensslVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kv-openssl-" + crypto::RandomId());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, ByteView data) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                             static_cast<std::streamsize>(data.size()));
    return p;
  }
  int Run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }
  std::filesystem::path dir_;
};

TEST_F(OpensslVerifyTest, EverySignatureKindVerifies) {
  const std::string msg = "the quick brown fox";
  std::string msg_path = Write("msg", AsBytes(msg));
  auto digest = crypto::Sha256(std::string_view(msg));
  std::string digest_path = Write("digest", digest);
  struct Case {
    KeyType type;
    keyvault::SignatureAlgorithm alg;
    std::string opts;
  };
  const std::string pss = " -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest";
  for (const Case& c : {Case{keyvault::KEY_TYPE_RSA_2048, keyvault::SIGNATURE_ALGORITHM_RSA_PSS_SHA256, pss},
                        Case{keyvault::KEY_TYPE_RSA_3072, keyvault::SIGNATURE_ALGORITHM_RSA_PKCS1V15_SHA256, ""},
                        Case{keyvault::KEY_TYPE_ECDSA_P256, keyvault::SIGNATURE_ALGORITHM_DEFAULT, ""},
                        Case{keyvault::KEY_TYPE_ED25519, keyvault::SIGNATURE_ALGORITHM_DEFAULT, ""}}) {
    auto k = *KeyMaterial::Generate(c.type);
    std::string pub = Write("pub.pem", AsBytes(k.public_key()->Pem()));
    std::string sig = Write("sig", *k.Sign(AsBytes(msg), false, c.alg));
    std::string name(KeyTypeName(c.type));
    if (c.type == keyvault::KEY_TYPE_ED25519) {
      EXPECT_EQ(Run("openssl pkeyutl -verify -pubin -inkey " + pub + " -rawin -in " + msg_path +
                    " -sigfile " + sig), 0) << name;
      continue;
    }
    std::string dgst_opts = c.opts;
    for (size_t p; (p = dgst_opts.find("-pkeyopt")) != std::string::npos;) dgst_opts.replace(p, 8, "-sigopt");
    EXPECT_EQ(Run("openssl dgst -sha256 -verify " + pub + dgst_opts + " -signature " + sig + " " +
                  msg_path), 0) << name;
    // Over a precomputed digest.
    std::string dsig = Write("dsig", *k.Sign(digest, true, c.alg));
    EXPECT_EQ(Run("openssl pkeyutl -verify -pubin -inkey " + pub + " -pkeyopt digest:sha256" + c.opts +
                  " -in " + digest_path + " -sigfile " + dsig), 0) << name;
    // And a wrong message does not verify.
    std::string other = Write("other", AsBytes(msg + "!"));
    EXPECT_NE(Run("openssl dgst -sha256 -verify " + pub + dgst_opts + " -signature " + sig + " " +
                  other), 0) << name;
  }
}

}  // namespace
}  // namespace cloister::keyvault_ops
