// Wraps OpenSSL 3's C API (EVP_PKEY) for asymmetric keys; see keys.h.
#include "common/crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "common/crypto/hash.h"
#include "common/crypto/key_handle.h"
#include "common/crypto/sys/openssl.h"

namespace cloister::crypto {
using namespace sys;

std::string_view KeyTypeName(KeyType t) {
  switch (t) {
    case KeyType::kEcdsaP256: return "ecdsa-p256";
    case KeyType::kEd25519: return "ed25519";
    case KeyType::kRsa2048: return "rsa-2048";
    case KeyType::kRsa3072: return "rsa-3072";
    case KeyType::kRsa4096: return "rsa-4096";
  }
  return "?";
}

namespace {

bool IsRsa(KeyType t) {
  return t == KeyType::kRsa2048 || t == KeyType::kRsa3072 || t == KeyType::kRsa4096;
}

// Classifies an EVP_PKEY; only the key types Cloister supports are accepted.
Result<KeyType> Classify(EVP_PKEY* k) {
  if (EVP_PKEY_is_a(k, "ED25519")) return KeyType::kEd25519;
  if (EVP_PKEY_is_a(k, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1 ||
        std::string_view(group) != "prime256v1")
      return InvalidArgument("unsupported EC curve (only P-256)");
    return KeyType::kEcdsaP256;
  }
  if (EVP_PKEY_is_a(k, "RSA")) {
    switch (EVP_PKEY_get_bits(k)) {
      case 2048: return KeyType::kRsa2048;
      case 3072: return KeyType::kRsa3072;
      case 4096: return KeyType::kRsa4096;
      default: return InvalidArgument("unsupported RSA size (2048, 3072 or 4096 bits)");
    }
  }
  return InvalidArgument("unsupported key algorithm");
}

Status ConfigureSign(EVP_PKEY_CTX* pctx, KeyType t, SignOptions opts) {
  if (!IsRsa(t)) return OkStatus();
  if (opts.rsa_padding == RsaPadding::kPss) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)
      return OpenSslError("RSA-PSS setup");
  } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return OpenSslError("RSA PKCS#1 setup");
  }
  return OkStatus();
}

Result<std::shared_ptr<const KeyHandle>> Wrap(EVP_PKEY* raw) {
  auto h = std::make_shared<KeyHandle>();
  h->pkey.reset(raw);
  return std::shared_ptr<const KeyHandle>(std::move(h));
}

// Takes ownership of a freshly parsed key (null = the parse failed, with
// `what` naming the input) and accepts it only if it is a supported type.
struct Adopted {
  std::shared_ptr<const KeyHandle> handle;
  KeyType type;
};
Result<Adopted> Adopt(EVP_PKEY* raw, std::string_view what) {
  if (raw == nullptr) return OpenSslError(what, Code::kInvalidArgument);
  EvpPkeyPtr owned(raw);
  CLOISTER_ASSIGN_OR_RETURN(KeyType t, Classify(raw));
  CLOISTER_ASSIGN_OR_RETURN(auto h, Wrap(owned.release()));
  return Adopted{std::move(h), t};
}

// ECDSA/RSA sign SHA-256(message); a precomputed digest must be exactly
// that size. `storage` holds the digest computed here.
Result<ByteView> SignatureInput(ByteView msg, bool prehashed, Digest& storage) {
  if (!prehashed) {
    storage = Sha256(msg);
    return ByteView(storage);
  }
  if (msg.size() != kSha256Size)
    return InvalidArgument("digest must be 32 bytes (SHA-256), got " + std::to_string(msg.size()));
  return msg;
}

}  // namespace

// ---- PublicKey ----

Result<PublicKey> PublicKey::FromSpkiDer(ByteView der) {
  const unsigned char* p = der.data();
  CLOISTER_ASSIGN_OR_RETURN(
      Adopted k, Adopt(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())), "public key DER"));
  if (p != der.data() + der.size()) return InvalidArgument("trailing bytes after public key");
  return PublicKey(std::move(k.handle), k.type);
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CLOISTER_ASSIGN_OR_RETURN(
      Adopted k, Adopt(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), "public key PEM"));
  return PublicKey(std::move(k.handle), k.type);
}

Bytes PublicKey::SpkiDer() const {
  unsigned char* buf = nullptr;
  int n = i2d_PUBKEY(h_->pkey.get(), &buf);
  if (n <= 0) std::abort();
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

std::string PublicKey::Pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), h_->pkey.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

namespace {
Status DoVerify(EVP_PKEY* pkey, KeyType t, ByteView msg, ByteView sig, SignOptions opts,
                bool prehashed) {
  if (t == KeyType::kEd25519) {
    if (prehashed) return FailedPrecondition("Ed25519 cannot verify a precomputed digest");
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, pkey, nullptr) != 1)
      return OpenSslError("Ed25519 verify init");
    if (EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg.data(), msg.size()) != 1) {
      ClearErrors();
      return PermissionDenied("signature does not verify", kSignatureInvalid);
    }
    return OkStatus();
  }
  Digest storage;
  CLOISTER_ASSIGN_OR_RETURN(ByteView d, SignatureInput(msg, prehashed, storage));
  EvpPkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!pctx || EVP_PKEY_verify_init(pctx.get()) != 1) return OpenSslError("verify init");
  CLOISTER_RETURN_IF_ERROR(ConfigureSign(pctx.get(), t, opts));
  if (EVP_PKEY_CTX_set_signature_md(pctx.get(), EVP_sha256()) != 1)
    return OpenSslError("verify digest");
  if (EVP_PKEY_verify(pctx.get(), sig.data(), sig.size(), d.data(), d.size()) != 1) {
    ClearErrors();
    return PermissionDenied("signature does not verify", kSignatureInvalid);
  }
  return OkStatus();
}

Result<Bytes> DoSign(EVP_PKEY* pkey, KeyType t, ByteView msg, SignOptions opts, bool prehashed) {
  if (t == KeyType::kEd25519) {
    if (prehashed) return FailedPrecondition("Ed25519 cannot sign a precomputed digest");
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, pkey, nullptr) != 1)
      return OpenSslError("Ed25519 sign init");
    Bytes sig(64);
    size_t len = sig.size();
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) != 1)
      return OpenSslError("Ed25519 sign");
    sig.resize(len);
    return sig;
  }
  Digest storage;
  CLOISTER_ASSIGN_OR_RETURN(ByteView d, SignatureInput(msg, prehashed, storage));
  EvpPkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!pctx || EVP_PKEY_sign_init(pctx.get()) != 1) return OpenSslError("sign init");
  CLOISTER_RETURN_IF_ERROR(ConfigureSign(pctx.get(), t, opts));
  if (EVP_PKEY_CTX_set_signature_md(pctx.get(), EVP_sha256()) != 1)
    return OpenSslError("sign digest");
  size_t len = 0;
  if (EVP_PKEY_sign(pctx.get(), nullptr, &len, d.data(), d.size()) != 1)
    return OpenSslError("sign size");
  Bytes sig(len);
  if (EVP_PKEY_sign(pctx.get(), sig.data(), &len, d.data(), d.size()) != 1)
    return OpenSslError("sign");
  sig.resize(len);
  return sig;
}
}  // namespace

Status PublicKey::Verify(ByteView message, ByteView signature, SignOptions opts) const {
  return DoVerify(h_->pkey.get(), type_, message, signature, opts, false);
}

Status PublicKey::VerifyDigest(ByteView digest, ByteView signature, SignOptions opts) const {
  return DoVerify(h_->pkey.get(), type_, digest, signature, opts, true);
}

Result<Bytes> PublicKey::Encrypt(ByteView plaintext) const {
  if (!IsRsa(type_)) return FailedPrecondition("encryption needs an RSA key");
  EvpPkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_pkey(nullptr, h_->pkey.get(), nullptr));
  if (!pctx || EVP_PKEY_encrypt_init(pctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(pctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx.get(), EVP_sha256()) != 1)
    return OpenSslError("OAEP setup");
  size_t len = 0;
  if (EVP_PKEY_encrypt(pctx.get(), nullptr, &len, plaintext.data(), plaintext.size()) != 1)
    return OpenSslError("OAEP size");
  Bytes out(len);
  if (EVP_PKEY_encrypt(pctx.get(), out.data(), &len, plaintext.data(), plaintext.size()) != 1)
    return OpenSslError("OAEP encrypt (plaintext too long?)", Code::kInvalidArgument);
  out.resize(len);
  return out;
}

// ---- PrivateKey ----

Result<PrivateKey> PrivateKey::Generate(KeyType type) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    case KeyType::kEcdsaP256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyType::kEd25519: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case KeyType::kRsa2048: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}); break;
    case KeyType::kRsa3072: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072}); break;
    case KeyType::kRsa4096: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{4096}); break;
  }
  if (raw == nullptr) return OpenSslError("key generation");
  CLOISTER_ASSIGN_OR_RETURN(auto h, Wrap(raw));
  return PrivateKey(std::move(h), type);
}

Result<PrivateKey> PrivateKey::FromPkcs8Der(ByteView der) {
  const unsigned char* p = der.data();
  CLOISTER_ASSIGN_OR_RETURN(
      Adopted k, Adopt(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())),
                       "private key DER"));
  return PrivateKey(std::move(k.handle), k.type);
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CLOISTER_ASSIGN_OR_RETURN(Adopted k,
                            Adopt(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                  "private key PEM"));
  return PrivateKey(std::move(k.handle), k.type);
}

PublicKey PrivateKey::public_key() const {
  // The EVP_PKEY holds both halves; exporting SPKI would drop the private
  // part, so share the handle: PublicKey only ever uses public operations.
  return PublicKey(h_, type_);
}

namespace {
// Moves what an encoder wrote into a memory BIO into SecretBytes and wipes
// the BIO's copy. The encoders cannot fail on a valid key and a memory BIO,
// so a failure is a broken invariant.
template <typename Encode>
SecretBytes EncodeSecret(Encode encode) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (encode(bio.get()) != 1) std::abort();
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  SecretBytes out(ByteView(reinterpret_cast<uint8_t*>(data), static_cast<size_t>(len)));
  Cleanse(data, static_cast<size_t>(len));
  return out;
}
}  // namespace

SecretBytes PrivateKey::Pkcs8Der() const {
  return EncodeSecret([this](BIO* bio) {
    return i2d_PKCS8PrivateKey_bio(bio, h_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
}

SecretBytes PrivateKey::Pem() const {
  return EncodeSecret([this](BIO* bio) {
    return PEM_write_bio_PKCS8PrivateKey(bio, h_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr);
  });
}

Result<Bytes> PrivateKey::Sign(ByteView message, SignOptions opts) const {
  return DoSign(h_->pkey.get(), type_, message, opts, false);
}

Result<Bytes> PrivateKey::SignDigest(ByteView digest, SignOptions opts) const {
  return DoSign(h_->pkey.get(), type_, digest, opts, true);
}

Result<Bytes> PrivateKey::Decrypt(ByteView ciphertext) const {
  if (!IsRsa(type_)) return FailedPrecondition("decryption needs an RSA key");
  EvpPkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_pkey(nullptr, h_->pkey.get(), nullptr));
  if (!pctx || EVP_PKEY_decrypt_init(pctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(pctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx.get(), EVP_sha256()) != 1)
    return OpenSslError("OAEP setup");
  size_t len = 0;
  if (EVP_PKEY_decrypt(pctx.get(), nullptr, &len, ciphertext.data(), ciphertext.size()) != 1) {
    ClearErrors();
    return InvalidArgument("RSA-OAEP decryption failed", "DECRYPTION_FAILED");
  }
  Bytes out(len);
  if (EVP_PKEY_decrypt(pctx.get(), out.data(), &len, ciphertext.data(), ciphertext.size()) != 1) {
    ClearErrors();
    return InvalidArgument("RSA-OAEP decryption failed", "DECRYPTION_FAILED");
  }
  out.resize(len);
  return out;
}

}  // namespace cloister::crypto
