// The AES-256-GCM built-ins over crypto::AesGcm. A random 96-bit nonce per
// call: safe for up to 2^32 messages per key (NIST SP 800-38D §8.3), which
// callers rotating keys per dataset stay far below.
#include "functions/builtin/aes.h"

#include "common/crypto/aead.h"
#include "common/crypto/random.h"
#include "common/secret.h"
#include "functions/builtin/spec_util.h"

namespace cloister::functions::builtin {
namespace {

Result<crypto::AesGcm> KeyFrom(const Runtime& rt) {
  CLOISTER_ASSIGN_OR_RETURN(std::string_view key, rt.Input("key"));
  if (key.size() != crypto::kAesGcmKeySize)
    return InvalidArgument("input 'key' must be exactly 32 raw bytes, got " +
                               std::to_string(key.size()),
                           "AES_BAD_KEY");
  return crypto::AesGcm::Create(AsBytes(key));
}

Result<std::string_view> Aad(const Runtime& rt) {
  if (!rt.HasInput("aad")) return std::string_view();
  return rt.Input("aad");
}

std::vector<SlotSpec> Inputs(std::string data_help) {
  return {Slot("key", "32 raw key bytes"), Slot("data", std::move(data_help)),
          OptionalSlot("aad", "associated data: authenticated, not encrypted; must match")};
}

class AesEncrypt final : public Function {
 public:
  AesEncrypt() {
    spec_.name = "aes_encrypt";
    spec_.description = "AES-256-GCM encryption with a random nonce.";
    spec_.inputs = Inputs("plaintext bytes");
    spec_.outputs = {Slot("data", "nonce(12) ‖ ciphertext ‖ tag(16)")};
  }
  const FunctionSpec& spec() const override { return spec_; }
  Status Run(Runtime& rt) const override {
    CLOISTER_ASSIGN_OR_RETURN(crypto::AesGcm gcm, KeyFrom(rt));
    CLOISTER_ASSIGN_OR_RETURN(std::string_view aad, Aad(rt));
    CLOISTER_ASSIGN_OR_RETURN(std::string_view pt, rt.Input("data"));
    std::string out(crypto::kAesGcmNonceSize + pt.size() + crypto::kAesGcmTagSize, '\0');
    auto* bytes = reinterpret_cast<uint8_t*>(out.data());
    crypto::FillRandom({bytes, crypto::kAesGcmNonceSize});
    CLOISTER_RETURN_IF_ERROR(gcm.SealInto({bytes, crypto::kAesGcmNonceSize}, AsBytes(aad),
                                          AsBytes(pt),
                                          {bytes + crypto::kAesGcmNonceSize,
                                           pt.size() + crypto::kAesGcmTagSize}));
    return rt.Write("data", out);
  }

 private:
  FunctionSpec spec_;
};

class AesDecrypt final : public Function {
 public:
  AesDecrypt() {
    spec_.name = "aes_decrypt";
    spec_.description = "AES-256-GCM decryption and authentication.";
    spec_.inputs = Inputs("nonce(12) ‖ ciphertext ‖ tag(16), as aes_encrypt writes it");
    spec_.outputs = {Slot("data", "plaintext bytes (only if authentic)")};
  }
  const FunctionSpec& spec() const override { return spec_; }
  Status Run(Runtime& rt) const override {
    CLOISTER_ASSIGN_OR_RETURN(crypto::AesGcm gcm, KeyFrom(rt));
    CLOISTER_ASSIGN_OR_RETURN(std::string_view aad, Aad(rt));
    CLOISTER_ASSIGN_OR_RETURN(std::string_view blob, rt.Input("data"));
    if (blob.size() < crypto::kAesGcmNonceSize + crypto::kAesGcmTagSize)
      return InvalidArgument("input 'data' is " + std::to_string(blob.size()) +
                                 " bytes, shorter than nonce + tag (28): truncated",
                             "AES_TRUNCATED");
    auto pt = gcm.OpenWithNonce(AsBytes(aad), AsBytes(blob));
    if (!pt.ok())
      return InvalidArgument(
          "AES-GCM authentication failed: wrong key, wrong aad, or modified/truncated data",
          crypto::kAeadAuthFailed);
    Status s = rt.Write("data", AsChars(*pt));
    Cleanse(*pt);  // the runtime now holds the only copy
    return s;
  }

 private:
  FunctionSpec spec_;
};

}  // namespace

std::unique_ptr<Function> MakeAesEncrypt() { return std::make_unique<AesEncrypt>(); }
std::unique_ptr<Function> MakeAesDecrypt() { return std::make_unique<AesDecrypt>(); }

}  // namespace cloister::functions::builtin
