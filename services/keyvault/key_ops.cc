// Key operations on in-memory key material; see key_ops.h for the formats.
#include "services/keyvault/key_ops.h"

#include <array>
#include <charconv>

#include "common/crypto/hash.h"
#include "common/crypto/random.h"

namespace cloister::keyvault_ops {
namespace {

using keyvault::KeyType;
using keyvault::Operation;

constexpr std::string_view kCiphertextPrefix = "cloister:";
constexpr std::string_view kAadDomain = "cloister-kv/v1";
// nonce + tag: the smallest blob (an empty plaintext).
constexpr size_t kMinBlob = crypto::kAesGcmNonceSize + crypto::kAesGcmTagSize;
// A generous bound that keeps base64 decoding of hostile input cheap.
constexpr size_t kMaxCiphertextText = 4u << 20;

struct TypeName {
  KeyType type;
  std::string_view name;
};
constexpr std::array<TypeName, 7> kTypeNames = {{
    {keyvault::KEY_TYPE_AES256_GCM, "aes256-gcm"},
    {keyvault::KEY_TYPE_RSA_2048, "rsa-2048"},
    {keyvault::KEY_TYPE_RSA_3072, "rsa-3072"},
    {keyvault::KEY_TYPE_RSA_4096, "rsa-4096"},
    {keyvault::KEY_TYPE_ECDSA_P256, "ecdsa-p256"},
    {keyvault::KEY_TYPE_ED25519, "ed25519"},
    {keyvault::KEY_TYPE_HMAC_SHA256, "hmac-sha256"},
}};

struct OpName {
  Operation op;
  std::string_view name;
};
constexpr std::array<OpName, 9> kOpNames = {{
    {keyvault::OPERATION_ENCRYPT, "encrypt"},
    {keyvault::OPERATION_DECRYPT, "decrypt"},
    {keyvault::OPERATION_SIGN, "sign"},
    {keyvault::OPERATION_VERIFY, "verify"},
    {keyvault::OPERATION_HMAC, "hmac"},
    {keyvault::OPERATION_VERIFY_HMAC, "verify-hmac"},
    {keyvault::OPERATION_REWRAP, "rewrap"},
    {keyvault::OPERATION_DESCRIBE, "describe"},
    {keyvault::OPERATION_EXPORT, "export"},
}};

std::optional<crypto::KeyType> AsymmetricType(KeyType t) {
  switch (t) {
    case keyvault::KEY_TYPE_RSA_2048: return crypto::KeyType::kRsa2048;
    case keyvault::KEY_TYPE_RSA_3072: return crypto::KeyType::kRsa3072;
    case keyvault::KEY_TYPE_RSA_4096: return crypto::KeyType::kRsa4096;
    case keyvault::KEY_TYPE_ECDSA_P256: return crypto::KeyType::kEcdsaP256;
    case keyvault::KEY_TYPE_ED25519: return crypto::KeyType::kEd25519;
    default: return std::nullopt;
  }
}

bool IsRsa(KeyType t) {
  return t == keyvault::KEY_TYPE_RSA_2048 || t == keyvault::KEY_TYPE_RSA_3072 ||
         t == keyvault::KEY_TYPE_RSA_4096;
}

Error Unsupported(KeyType t, std::string_view what) {
  return InvalidArgument(std::string(what) + " is not supported by a " +
                             std::string(KeyTypeName(t)) + " key",
                         reason::kOperationUnsupported);
}

// Resolves the signature options for `type`, refusing combinations that
// would silently mean something else.
Result<crypto::SignOptions> SignOptionsFor(KeyType type, bool prehashed,
                                           keyvault::SignatureAlgorithm alg, ByteView input) {
  crypto::SignOptions o;
  if (IsRsa(type)) {
    o.rsa_padding = alg == keyvault::SIGNATURE_ALGORITHM_RSA_PKCS1V15_SHA256
                        ? crypto::RsaPadding::kPkcs1v15
                        : crypto::RsaPadding::kPss;
  } else if (alg != keyvault::SIGNATURE_ALGORITHM_DEFAULT) {
    return InvalidArgument("RSA padding requested for a " + std::string(KeyTypeName(type)) + " key",
                           reason::kAlgorithmUnsupported);
  }
  if (prehashed) {
    if (type == keyvault::KEY_TYPE_ED25519)
      return InvalidArgument("Ed25519 signs the message itself, not a digest",
                             reason::kPrehashUnsupported);
    if (input.size() != crypto::kSha256Size)
      return InvalidArgument("a prehashed input must be a 32-byte SHA-256 digest, got " +
                                 std::to_string(input.size()) + " bytes",
                             reason::kDigestLength);
  }
  return o;
}

}  // namespace

std::string_view KeyTypeName(KeyType t) {
  for (const auto& e : kTypeNames)
    if (e.type == t) return e.name;
  return "unknown";
}

Result<KeyType> ParseKeyType(std::string_view name) {
  for (const auto& e : kTypeNames)
    if (e.name == name) return e.type;
  return InvalidArgument("unknown key type (expected aes256-gcm, rsa-2048, rsa-3072, rsa-4096, "
                         "ecdsa-p256, ed25519 or hmac-sha256)",
                         reason::kKeyTypeUnknown);
}

bool IsSymmetric(KeyType t) {
  return t == keyvault::KEY_TYPE_AES256_GCM || t == keyvault::KEY_TYPE_HMAC_SHA256;
}

std::string_view OperationName(Operation op) {
  for (const auto& e : kOpNames)
    if (e.op == op) return e.name;
  return "unknown";
}

OpMask SupportedOps(KeyType t) {
  OpMask common = Bit(keyvault::OPERATION_DESCRIBE) | Bit(keyvault::OPERATION_EXPORT);
  switch (t) {
    case keyvault::KEY_TYPE_AES256_GCM:
      return common | Bit(keyvault::OPERATION_ENCRYPT) | Bit(keyvault::OPERATION_DECRYPT) |
             Bit(keyvault::OPERATION_REWRAP);
    case keyvault::KEY_TYPE_HMAC_SHA256:
      return common | Bit(keyvault::OPERATION_HMAC) | Bit(keyvault::OPERATION_VERIFY_HMAC);
    case keyvault::KEY_TYPE_RSA_2048:
    case keyvault::KEY_TYPE_RSA_3072:
    case keyvault::KEY_TYPE_RSA_4096:
    case keyvault::KEY_TYPE_ECDSA_P256:
    case keyvault::KEY_TYPE_ED25519:
      return common | Bit(keyvault::OPERATION_SIGN) | Bit(keyvault::OPERATION_VERIFY);
    default: return 0;
  }
}

namespace {

Status ValidateNamePart(std::string_view part, std::string_view what) {
  if (part.empty() || part.size() > kMaxKeyNameLength)
    return InvalidArgument(std::string(what) + " must be 1..64 characters", reason::kKeyNameInvalid);
  for (char c : part) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok)
      return InvalidArgument(std::string(what) + " may hold only A-Z a-z 0-9 . _ -" +
                                 (c == '/' ? " (one '/' separates owner/name)" : ""),
                             reason::kKeyNameInvalid);
  }
  return OkStatus();
}

}  // namespace

Status ValidateKeyName(std::string_view name) { return ValidateNamePart(name, "key name"); }

Status ValidateOwnerName(std::string_view owner) {
  return ValidateNamePart(owner, "key owner");
}

Result<KeyRef> ParseKeyRef(std::string_view text) {
  KeyRef ref;
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    CLOISTER_RETURN_IF_ERROR(ValidateKeyName(text));
    ref.name = std::string(text);
    return ref;
  }
  CLOISTER_RETURN_IF_ERROR(ValidateOwnerName(text.substr(0, slash)));
  CLOISTER_RETURN_IF_ERROR(ValidateKeyName(text.substr(slash + 1)));
  ref.owner = std::string(text.substr(0, slash));
  ref.name = std::string(text.substr(slash + 1));
  return ref;
}

std::string FullKeyName(std::string_view owner, std::string_view name) {
  if (owner.empty()) return std::string(name);
  std::string out;
  out.reserve(owner.size() + 1 + name.size());
  out.append(owner).append("/").append(name);
  return out;
}

Result<ParsedCiphertext> ParseCiphertext(std::string_view text) {
  auto malformed = [] {
    return InvalidArgument("ciphertext is not of the form cloister:<key>:v<version>:<base64>",
                           reason::kCiphertextMalformed);
  };
  if (text.size() > kMaxCiphertextText || text.substr(0, kCiphertextPrefix.size()) != kCiphertextPrefix)
    return malformed();
  std::string_view rest = text.substr(kCiphertextPrefix.size());
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return malformed();
  ParsedCiphertext out;
  out.name = std::string(rest.substr(0, colon));
  if (!ParseKeyRef(out.name).ok()) return malformed();
  rest = rest.substr(colon + 1);
  if (rest.size() < 2 || rest[0] != 'v') return malformed();
  rest = rest.substr(1);
  colon = rest.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 10) return malformed();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + colon, v);
  if (ec != std::errc() || end != rest.data() + colon || v == 0 || v > UINT32_MAX)
    return malformed();
  out.version = static_cast<uint32_t>(v);
  auto blob = Base64Decode(rest.substr(colon + 1));
  if (!blob.ok() || blob->size() < kMinBlob) return malformed();
  out.blob = *std::move(blob);
  return out;
}

Bytes CiphertextAad(std::string_view name, uint32_t version, ByteView aad) {
  // Sized once and filled by index: simpler for the optimiser than chained
  // inserts (GCC 12 reports a false -Wstringop-overflow on those).
  Bytes out(kAadDomain.size() + 1 + name.size() + 1 + 4 + aad.size());
  size_t pos = 0;
  for (char ch : kAadDomain) out[pos++] = static_cast<uint8_t>(ch);
  out[pos++] = 0;
  for (char ch : name) out[pos++] = static_cast<uint8_t>(ch);
  out[pos++] = 0;
  for (int shift = 24; shift >= 0; shift -= 8) out[pos++] = static_cast<uint8_t>(version >> shift);
  for (uint8_t b : aad) out[pos++] = b;
  return out;
}

Encryptor::Encryptor(crypto::AesGcm* gcm, std::string_view name, uint32_t version)
    : gcm_(gcm), aad_(CiphertextAad(name, version, {})), aad_prefix_len_(aad_.size()) {
  prefix_.append(kCiphertextPrefix).append(name).append(":v").append(std::to_string(version));
  prefix_.push_back(':');
}

Result<std::string> Encryptor::Encrypt(ByteView nonce, ByteView plaintext, ByteView aad) {
  if (nonce.size() != crypto::kAesGcmNonceSize) return InvalidArgument("nonce must be 12 bytes");
  blob_.resize(crypto::kAesGcmNonceSize + plaintext.size() + crypto::kAesGcmTagSize);
  std::copy(nonce.begin(), nonce.end(), blob_.begin());
  aad_.resize(aad_prefix_len_);
  aad_.insert(aad_.end(), aad.begin(), aad.end());
  CLOISTER_RETURN_IF_ERROR(gcm_->SealInto(
      nonce, aad_, plaintext, std::span<uint8_t>(blob_).subspan(crypto::kAesGcmNonceSize)));
  std::string out;
  out.reserve(prefix_.size() + (blob_.size() + 2) / 3 * 4);
  out.append(prefix_).append(Base64Encode(blob_));
  return out;
}

Result<std::string> EncryptWith(crypto::AesGcm& gcm, std::string_view name, uint32_t version,
                                ByteView plaintext, ByteView aad) {
  std::array<uint8_t, crypto::kAesGcmNonceSize> nonce;
  crypto::FillRandom(nonce);
  Encryptor e(&gcm, name, version);
  return e.Encrypt(nonce, plaintext, aad);
}

Result<Bytes> DecryptWith(crypto::AesGcm& gcm, const ParsedCiphertext& ct, ByteView aad) {
  ByteView blob(ct.blob);
  Bytes full_aad = CiphertextAad(ct.name, ct.version, aad);
  return gcm.Open(blob.first(crypto::kAesGcmNonceSize), full_aad,
                  blob.subspan(crypto::kAesGcmNonceSize));
}

Result<KeyMaterial> KeyMaterial::Generate(KeyType type) {
  if (IsSymmetric(type)) return KeyMaterial(type, SecretBytes::Random(kSymmetricKeySize));
  auto at = AsymmetricType(type);
  if (!at) return InvalidArgument("unknown key type", reason::kKeyTypeUnknown);
  CLOISTER_ASSIGN_OR_RETURN(crypto::PrivateKey k, crypto::PrivateKey::Generate(*at));
  return KeyMaterial(type, std::move(k));
}

Result<KeyMaterial> KeyMaterial::FromBytes(KeyType type, ByteView material) {
  if (IsSymmetric(type)) {
    if (material.size() != kSymmetricKeySize)
      return InvalidArgument("a " + std::string(KeyTypeName(type)) + " key is 32 raw bytes",
                             reason::kKeyMaterialInvalid);
    return KeyMaterial(type, SecretBytes(material));
  }
  auto at = AsymmetricType(type);
  if (!at) return InvalidArgument("unknown key type", reason::kKeyTypeUnknown);
  auto k = crypto::PrivateKey::FromPkcs8Der(material);
  if (!k.ok() || k->type() != *at)
    return InvalidArgument("key material is not a PKCS#8 " + std::string(KeyTypeName(type)) +
                               " private key",
                           reason::kKeyMaterialInvalid);
  return KeyMaterial(type, *std::move(k));
}

SecretBytes KeyMaterial::Serialize() const {
  return private_ ? private_->Pkcs8Der() : symmetric_;
}

SecretBytes KeyMaterial::ExportForm() const { return private_ ? private_->Pem() : symmetric_; }

Result<crypto::AesGcm> KeyMaterial::Cipher() const {
  if (type_ != keyvault::KEY_TYPE_AES256_GCM) return Unsupported(type_, "encryption");
  return crypto::AesGcm::Create(symmetric_.view());
}

Result<Bytes> KeyMaterial::Sign(ByteView input, bool prehashed,
                                keyvault::SignatureAlgorithm alg) const {
  if (!private_) return Unsupported(type_, "signing");
  CLOISTER_ASSIGN_OR_RETURN(auto opts, SignOptionsFor(type_, prehashed, alg, input));
  return prehashed ? private_->SignDigest(input, opts) : private_->Sign(input, opts);
}

Result<bool> VerifyWithPublicKey(const crypto::PublicKey& key, ByteView input, bool prehashed,
                                 keyvault::SignatureAlgorithm alg, ByteView signature) {
  KeyType t = keyvault::KEY_TYPE_UNSPECIFIED;
  switch (key.type()) {
    case crypto::KeyType::kRsa2048: t = keyvault::KEY_TYPE_RSA_2048; break;
    case crypto::KeyType::kRsa3072: t = keyvault::KEY_TYPE_RSA_3072; break;
    case crypto::KeyType::kRsa4096: t = keyvault::KEY_TYPE_RSA_4096; break;
    case crypto::KeyType::kEcdsaP256: t = keyvault::KEY_TYPE_ECDSA_P256; break;
    case crypto::KeyType::kEd25519: t = keyvault::KEY_TYPE_ED25519; break;
  }
  CLOISTER_ASSIGN_OR_RETURN(auto opts, SignOptionsFor(t, prehashed, alg, input));
  Status st = prehashed ? key.VerifyDigest(input, signature, opts) : key.Verify(input, signature, opts);
  if (st.ok()) return true;
  if (st.error().reason() == crypto::kSignatureInvalid) return false;
  return st.error();
}

Result<bool> KeyMaterial::Verify(ByteView input, bool prehashed, keyvault::SignatureAlgorithm alg,
                                 ByteView signature) const {
  if (!public_) return Unsupported(type_, "signature verification");
  return VerifyWithPublicKey(*public_, input, prehashed, alg, signature);
}

Result<Bytes> KeyMaterial::Hmac(ByteView input) const {
  if (type_ != keyvault::KEY_TYPE_HMAC_SHA256) return Unsupported(type_, "HMAC");
  return crypto::DigestBytes(crypto::HmacSha256(symmetric_.view(), input));
}

Result<bool> KeyMaterial::VerifyHmac(ByteView input, ByteView mac) const {
  if (type_ != keyvault::KEY_TYPE_HMAC_SHA256) return Unsupported(type_, "HMAC");
  return crypto::HmacSha256Verify(symmetric_.view(), input, mac);
}

Result<Bytes> WrapForImport(const crypto::PublicKey& wrapping_key, ByteView material,
                            std::string_view key_name) {
  SecretBytes k = SecretBytes::Random(crypto::kAesGcmKeySize);
  CLOISTER_ASSIGN_OR_RETURN(Bytes e, wrapping_key.Encrypt(k.view()));
  if (e.size() > 0xffff) return Internal("wrapped key too large");
  CLOISTER_ASSIGN_OR_RETURN(auto gcm, crypto::AesGcm::Create(k.view()));
  Bytes nonce = crypto::RandomBytes(crypto::kAesGcmNonceSize);
  CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, gcm.Seal(nonce, AsBytes(key_name), material));
  Bytes out;
  out.reserve(2 + e.size() + nonce.size() + sealed.size());
  out.push_back(static_cast<uint8_t>(e.size() >> 8));
  out.push_back(static_cast<uint8_t>(e.size() & 0xff));
  out.insert(out.end(), e.begin(), e.end());
  out.insert(out.end(), nonce.begin(), nonce.end());
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Result<SecretBytes> UnwrapImport(const crypto::PrivateKey& wrapping_key, ByteView wrapped,
                                 std::string_view key_name) {
  auto malformed = [] {
    return InvalidArgument("wrapped key does not have the import layout",
                           reason::kWrappedKeyMalformed);
  };
  if (wrapped.size() < 2) return malformed();
  size_t elen = (size_t{wrapped[0]} << 8) | wrapped[1];
  if (elen == 0 || wrapped.size() < 2 + elen + crypto::kAesGcmNonceSize + crypto::kAesGcmTagSize)
    return malformed();
  ByteView e = wrapped.subspan(2, elen);
  ByteView nonce = wrapped.subspan(2 + elen, crypto::kAesGcmNonceSize);
  ByteView sealed = wrapped.subspan(2 + elen + crypto::kAesGcmNonceSize);
  auto k = wrapping_key.Decrypt(e);
  if (!k.ok())
    return InvalidArgument("wrapped key was not made for this vault's wrapping key",
                           reason::kWrappedKeyAuth);
  SecretBytes kek = SecretBytes::Adopt(*std::move(k));
  if (kek.size() != crypto::kAesGcmKeySize) return malformed();
  CLOISTER_ASSIGN_OR_RETURN(auto gcm, crypto::AesGcm::Create(kek.view()));
  auto material = gcm.Open(nonce, AsBytes(key_name), sealed);
  if (!material.ok())
    return InvalidArgument("wrapped key does not open for this key name",
                           reason::kWrappedKeyAuth);
  return SecretBytes::Adopt(*std::move(material));
}

}  // namespace cloister::keyvault_ops
