// The RSA signature built-ins: key parsing and type checks, padding choice,
// and the "valid" output convention of rsa_verify.
#include "functions/builtin/rsa.h"

#include "common/crypto/keys.h"
#include "functions/builtin/spec_util.h"

namespace cloister::functions::builtin {
namespace {

// A 4096-bit PKCS#8 PEM is ~3.3 KB; anything far larger is not a key, and
// OpenSSL's BIO takes an int length.
constexpr size_t kMaxPemBytes = 64 * 1024;

Result<crypto::SignOptions> Padding(const Args& args) {
  CLOISTER_ASSIGN_OR_RETURN(std::string p, args.GetString("padding"));
  crypto::SignOptions o;
  if (p == "pss") o.rsa_padding = crypto::RsaPadding::kPss;
  else if (p == "pkcs1") o.rsa_padding = crypto::RsaPadding::kPkcs1v15;
  else return InvalidArgument("argument 'padding' must be pss|pkcs1", "BAD_ARGUMENT");
  return o;
}

bool IsRsa(crypto::KeyType t) {
  return t == crypto::KeyType::kRsa2048 || t == crypto::KeyType::kRsa3072 ||
         t == crypto::KeyType::kRsa4096;
}

Result<std::string_view> KeyPem(const Runtime& rt) {
  CLOISTER_ASSIGN_OR_RETURN(std::string_view pem, rt.Input("key"));
  if (pem.size() > kMaxPemBytes)
    return InvalidArgument("input 'key' is larger than " + std::to_string(kMaxPemBytes) +
                               " bytes; expected one PEM key",
                           "RSA_BAD_KEY");
  return pem;
}

Error BadKey(const Error& e, std::string_view expected) {
  // OpenSSL's text says what failed to parse; the reason is ours and stable.
  return InvalidArgument("input 'key' is not " + std::string(expected) + " (" + e.message() + ")",
                         "RSA_BAD_KEY");
}

Error NotRsa(crypto::KeyType t) {
  return InvalidArgument("input 'key' is a " + std::string(crypto::KeyTypeName(t)) +
                             " key; rsa_* needs RSA 2048, 3072 or 4096",
                         "RSA_BAD_KEY");
}

ArgSpec PaddingArg() {
  return StringArg("padding", "pss",
                   "pss (RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32) | pkcs1 (PKCS#1 v1.5)");
}

class RsaSign final : public Function {
 public:
  RsaSign() {
    spec_.name = "rsa_sign";
    spec_.description = "Signs SHA-256(data) with an RSA private key.";
    spec_.args = {PaddingArg()};
    spec_.inputs = {Slot("key", "RSA private key, PEM (PKCS#8 'PRIVATE KEY', or PKCS#1)"),
                    Slot("data", "bytes to sign")};
    spec_.outputs = {Slot("signature", "raw signature bytes (key size / 8)")};
  }
  const FunctionSpec& spec() const override { return spec_; }
  Status Run(Runtime& rt) const override {
    CLOISTER_ASSIGN_OR_RETURN(crypto::SignOptions opts, Padding(rt.args()));
    CLOISTER_ASSIGN_OR_RETURN(std::string_view pem, KeyPem(rt));
    auto key = crypto::PrivateKey::FromPem(pem);
    if (!key.ok()) return BadKey(key.error(), "an RSA private key in PEM");
    if (!IsRsa(key->type())) return NotRsa(key->type());
    CLOISTER_ASSIGN_OR_RETURN(std::string_view data, rt.Input("data"));
    CLOISTER_ASSIGN_OR_RETURN(Bytes sig, key->Sign(AsBytes(data), opts));
    return rt.Write("signature", AsChars(sig));
  }

 private:
  FunctionSpec spec_;
};

class RsaVerify final : public Function {
 public:
  RsaVerify() {
    spec_.name = "rsa_verify";
    spec_.description = "Checks an RSA signature over SHA-256(data).";
    spec_.args = {PaddingArg(),
                  BoolArg("fail_on_invalid", false,
                          "an invalid signature is a PERMISSION_DENIED error instead of "
                          "valid=false")};
    spec_.inputs = {Slot("key", "RSA public key PEM ('PUBLIC KEY', SPKI) or private key PEM"),
                    Slot("data", "the signed bytes"),
                    Slot("signature", "raw signature bytes")};
    spec_.outputs = {Slot("valid", "\"true\" or \"false\"")};
  }
  const FunctionSpec& spec() const override { return spec_; }
  Status Run(Runtime& rt) const override {
    CLOISTER_ASSIGN_OR_RETURN(crypto::SignOptions opts, Padding(rt.args()));
    CLOISTER_ASSIGN_OR_RETURN(bool fail_on_invalid, rt.args().GetBool("fail_on_invalid"));
    CLOISTER_ASSIGN_OR_RETURN(std::string_view pem, KeyPem(rt));
    auto pub = crypto::PublicKey::FromPem(pem);
    if (!pub.ok()) {
      // Also accept the signer's own private key file; only its public half is used.
      auto priv = crypto::PrivateKey::FromPem(pem);
      if (!priv.ok()) return BadKey(pub.error(), "an RSA public or private key in PEM");
      pub = priv->public_key();
    }
    if (!IsRsa(pub->type())) return NotRsa(pub->type());
    CLOISTER_ASSIGN_OR_RETURN(std::string_view data, rt.Input("data"));
    CLOISTER_ASSIGN_OR_RETURN(std::string_view sig, rt.Input("signature"));
    Status s = pub->Verify(AsBytes(data), AsBytes(sig), opts);
    if (s.ok()) return rt.Write("valid", "true");
    if (s.error().reason() != crypto::kSignatureInvalid) return s;
    if (fail_on_invalid)
      return PermissionDenied("signature does not verify", crypto::kSignatureInvalid);
    return rt.Write("valid", "false");
  }

 private:
  FunctionSpec spec_;
};

}  // namespace

std::unique_ptr<Function> MakeRsaSign() { return std::make_unique<RsaSign>(); }
std::unique_ptr<Function> MakeRsaVerify() { return std::make_unique<RsaVerify>(); }

}  // namespace cloister::functions::builtin
