// Tests for rsa_sign/rsa_verify against the `openssl` command line and for
// aes_encrypt/aes_decrypt against OpenSSL EVP, plus tamper detection.
#include <openssl/evp.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/crypto/aead.h"
#include "common/crypto/keys.h"
#include "functions/builtin/aes.h"
#include "functions/builtin/rsa.h"

namespace cloister::functions::builtin {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void WriteFile(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

#ifdef CLOISTER_OPENSSL_CLI
// One CLI-generated RSA-2048 key (PKCS#8) shared by the suite: key
// generation is the slow part, especially under ASan.
class RsaCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/cloister_rsa_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(Cli("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + P("key.pem")),
              0);
    ASSERT_EQ(Cli("pkey -in " + P("key.pem") + " -pubout -out " + P("pub.pem")), 0);
  }
  static void TearDownTestSuite() {
    fs::remove_all(dir_);
  }
  static std::string P(const std::string& name) { return (dir_ / name).string(); }
  static int Cli(const std::string& args) {
    const std::string cmd = std::string(CLOISTER_OPENSSL_CLI) + " " + args + " >/dev/null 2>&1";
    return std::system(cmd.c_str());
  }
  static inline fs::path dir_;
};

std::string PaddingOpts(const std::string& padding) {
  return padding == "pss" ? " -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32"
                          : " -sigopt rsa_padding_mode:pkcs1";
}

TEST_F(RsaCliTest, SignaturesVerifyWithOpensslCli) {
  const std::string data = "pay alice 10\n\x00\xff binary too";
  WriteFile(P("data"), data);
  for (const std::string padding : {"pss", "pkcs1"}) {
    auto out = Invoke(*MakeRsaSign(), {{"padding", padding}},
                      {{"key", ReadFile(P("key.pem"))}, {"data", data}});
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    EXPECT_EQ(out->at("signature").size(), 256u);
    WriteFile(P("sig"), out->at("signature"));
    EXPECT_EQ(Cli("dgst -sha256 -verify " + P("pub.pem") + PaddingOpts(padding) +
                  " -signature " + P("sig") + " " + P("data")),
              0)
        << padding;
    std::string pkeyutl_opts = padding == "pss"
                                   ? " -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32"
                                   : " -pkeyopt rsa_padding_mode:pkcs1";
    EXPECT_EQ(Cli("pkeyutl -verify -pubin -inkey " + P("pub.pem") + " -rawin -digest sha256" +
                  pkeyutl_opts + " -sigfile " + P("sig") + " -in " + P("data")),
              0)
        << padding;
    // The other padding must not accept it.
    const std::string other = padding == "pss" ? "pkcs1" : "pss";
    EXPECT_NE(Cli("dgst -sha256 -verify " + P("pub.pem") + PaddingOpts(other) +
                  " -signature " + P("sig") + " " + P("data")),
              0);
  }
}

TEST_F(RsaCliTest, OpensslCliSignaturesVerifyHere) {
  const std::string data = "ledger entry 42";
  WriteFile(P("data2"), data);
  for (const std::string padding : {"pss", "pkcs1"}) {
    ASSERT_EQ(Cli("dgst -sha256 -sign " + P("key.pem") + PaddingOpts(padding) + " -out " +
                  P("sig2") + " " + P("data2")),
              0);
    const std::string sig = ReadFile(P("sig2"));
    for (const char* key : {"pub.pem", "key.pem"}) {
      auto out = Invoke(*MakeRsaVerify(), {{"padding", padding}},
                        {{"key", ReadFile(P(key))}, {"data", data}, {"signature", sig}});
      ASSERT_TRUE(out.ok()) << out.error().ToString();
      EXPECT_EQ(out->at("valid"), "true") << padding << " " << key;
    }
    auto tampered = Invoke(*MakeRsaVerify(), {{"padding", padding}},
                           {{"key", ReadFile(P("pub.pem"))}, {"data", data + "!"},
                            {"signature", sig}});
    ASSERT_TRUE(tampered.ok());
    EXPECT_EQ(tampered->at("valid"), "false");
    auto strict = Invoke(*MakeRsaVerify(), {{"padding", padding}, {"fail_on_invalid", "true"}},
                         {{"key", ReadFile(P("pub.pem"))}, {"data", data + "!"},
                          {"signature", sig}});
    ASSERT_FALSE(strict.ok());
    EXPECT_EQ(strict.error().code(), Code::kPermissionDenied);
    EXPECT_EQ(strict.error().reason(), crypto::kSignatureInvalid);
  }
  // A truncated or empty signature is simply invalid.
  auto empty = Invoke(*MakeRsaVerify(), {},
                      {{"key", ReadFile(P("pub.pem"))}, {"data", data}, {"signature", ""}});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->at("valid"), "false");
}

TEST_F(RsaCliTest, AcceptsTraditionalPkcs1PrivateKeyPem) {
  ASSERT_EQ(Cli("pkey -in " + P("key.pem") + " -traditional -out " + P("rsa.pem")), 0);
  ASSERT_THAT(ReadFile(P("rsa.pem")), HasSubstr("BEGIN RSA PRIVATE KEY"));
  auto out = Invoke(*MakeRsaSign(), {}, {{"key", ReadFile(P("rsa.pem"))}, {"data", "x"}});
  ASSERT_TRUE(out.ok()) << out.error().ToString();
}
#endif  // CLOISTER_OPENSSL_CLI

TEST(RsaFunctionTest, RejectsBadKeysAndArguments) {
  auto ec = crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  ASSERT_TRUE(ec.ok());
  const SecretBytes ec_pem = ec->Pem();
  const std::string ec_text(AsChars(ec_pem.view()));
  auto r = Invoke(*MakeRsaSign(), {}, {{"key", ec_text}, {"data", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), "RSA_BAD_KEY");
  EXPECT_THAT(r.error().message(), HasSubstr("needs RSA"));
  r = Invoke(*MakeRsaSign(), {}, {{"key", "-----BEGIN PRIVATE KEY-----\nAAAA\n"}, {"data", "x"}});
  EXPECT_EQ(r.error().reason(), "RSA_BAD_KEY");
  r = Invoke(*MakeRsaSign(), {}, {{"key", std::string(100000, 'A')}, {"data", "x"}});
  EXPECT_EQ(r.error().reason(), "RSA_BAD_KEY");
  r = Invoke(*MakeRsaSign(), {{"padding", "oaep"}}, {{"key", ec_text}, {"data", "x"}});
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  r = Invoke(*MakeRsaVerify(), {}, {{"key", ec->public_key().Pem()}, {"data", "x"},
                                    {"signature", "y"}});
  EXPECT_EQ(r.error().reason(), "RSA_BAD_KEY");
}

// ---- AES-256-GCM ----

const std::string kKey(32, '\x42');

// Decrypts nonce ‖ ct ‖ tag with OpenSSL EVP directly.
std::optional<std::string> EvpOpen(const std::string& key, const std::string& aad,
                                   const std::string& blob) {
  if (blob.size() < 28) return std::nullopt;
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  const size_t ct_len = blob.size() - 28;
  std::string pt(ct_len, '\0');
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key), u(blob)) != 1)
    return std::nullopt;
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, u(aad), static_cast<int>(aad.size())) != 1)
    return std::nullopt;
  if (EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(pt.data()), &len,
                        u(blob) + 12, static_cast<int>(ct_len)) != 1)
    return std::nullopt;
  std::string tag = blob.substr(12 + ct_len);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) != 1) return std::nullopt;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(pt.data()) + len, &len) != 1)
    return std::nullopt;
  return pt;
}

std::string EvpSeal(const std::string& key, const std::string& nonce, const std::string& aad,
                    const std::string& pt) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  std::string out = nonce + std::string(pt.size() + 16, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data()) + 12;
  int len = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u(key), u(nonce)), 1);
  if (!aad.empty()) EVP_EncryptUpdate(ctx.get(), nullptr, &len, u(aad), static_cast<int>(aad.size()));
  EXPECT_EQ(EVP_EncryptUpdate(ctx.get(), o, &len, u(pt), static_cast<int>(pt.size())), 1);
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx.get(), o + len, &len), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, o + pt.size()), 1);
  return out;
}

Result<Outputs> Encrypt(const std::string& key, const std::string& data,
                        std::optional<std::string> aad = std::nullopt) {
  Inputs in = {{"key", key}, {"data", data}};
  if (aad) in["aad"] = *aad;
  return Invoke(*MakeAesEncrypt(), {}, std::move(in));
}
Result<Outputs> Decrypt(const std::string& key, const std::string& data,
                        std::optional<std::string> aad = std::nullopt) {
  Inputs in = {{"key", key}, {"data", data}};
  if (aad) in["aad"] = *aad;
  return Invoke(*MakeAesDecrypt(), {}, std::move(in));
}

TEST(AesFunctionTest, OutputDecryptsWithEvpAndEvpOutputDecryptsHere) {
  for (const std::string& pt : {std::string(), std::string("hello"), std::string(5000, 'z')}) {
    for (const std::string& aad : {std::string(), std::string("task-17")}) {
      auto enc = Encrypt(kKey, pt, aad);
      ASSERT_TRUE(enc.ok()) << enc.error().ToString();
      const std::string& blob = enc->at("data");
      ASSERT_EQ(blob.size(), 12 + pt.size() + 16);
      EXPECT_EQ(EvpOpen(kKey, aad, blob), pt);
      const std::string theirs = EvpSeal(kKey, std::string(12, '\x07'), aad, pt);
      auto dec = Decrypt(kKey, theirs, aad);
      ASSERT_TRUE(dec.ok()) << dec.error().ToString();
      EXPECT_EQ(dec->at("data"), pt);
    }
  }
}

TEST(AesFunctionTest, NoncesAreFresh) {
  auto a = Encrypt(kKey, "same"), b = Encrypt(kKey, "same");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->at("data").substr(0, 12), b->at("data").substr(0, 12));
}

TEST(AesFunctionTest, DetectsEveryFlippedByteWrongKeyWrongAadAndTruncation) {
  auto enc = Encrypt(kKey, "attack at dawn, bring snacks", std::string("hdr"));
  ASSERT_TRUE(enc.ok());
  const std::string blob = enc->at("data");
  for (size_t i = 0; i < blob.size(); ++i) {
    std::string bad = blob;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    auto dec = Decrypt(kKey, bad, std::string("hdr"));
    ASSERT_FALSE(dec.ok()) << "byte " << i;
    EXPECT_EQ(dec.error().code(), Code::kInvalidArgument);
    EXPECT_EQ(dec.error().reason(), crypto::kAeadAuthFailed) << "byte " << i;
  }
  std::string other_key = kKey;
  other_key[31] ^= 1;
  EXPECT_EQ(Decrypt(other_key, blob, std::string("hdr")).error().reason(),
            crypto::kAeadAuthFailed);
  EXPECT_EQ(Decrypt(kKey, blob, std::string("hdR")).error().reason(), crypto::kAeadAuthFailed);
  EXPECT_EQ(Decrypt(kKey, blob).error().reason(), crypto::kAeadAuthFailed);
  for (size_t n = 0; n < blob.size(); ++n) {
    auto dec = Decrypt(kKey, blob.substr(0, n), std::string("hdr"));
    ASSERT_FALSE(dec.ok()) << "length " << n;
    EXPECT_EQ(dec.error().reason(), n < 28 ? "AES_TRUNCATED" : crypto::kAeadAuthFailed);
  }
  EXPECT_TRUE(Decrypt(kKey, blob, std::string("hdr")).ok());
}

TEST(AesFunctionTest, RejectsKeysThatAreNot32Bytes) {
  for (size_t n : {0, 16, 31, 33, 64}) {
    auto enc = Encrypt(std::string(n, 'k'), "x");
    ASSERT_FALSE(enc.ok());
    EXPECT_EQ(enc.error().reason(), "AES_BAD_KEY");
    EXPECT_EQ(Decrypt(std::string(n, 'k'), std::string(40, 'x')).error().reason(),
              "AES_BAD_KEY");
  }
}

}  // namespace
}  // namespace cloister::functions::builtin
