// Key operations of cloister-keyvault on key material already in enclave
// memory: generation, serialization, the ciphertext format, AEAD, signatures,
// HMAC and the import-wrapping envelope. Pure functions, no storage, no I/O.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto k, KeyMaterial::Generate(keyvault::KEY_TYPE_AES256_GCM));
//   CLOISTER_ASSIGN_OR_RETURN(std::string ct, k.Encrypt("db", 1, plaintext, aad));
//   CLOISTER_ASSIGN_OR_RETURN(auto parsed, ParseCiphertext(ct));
//
// Ciphertext format (text, so it fits JSON, TOML and environment variables):
//   "cloister:" <key name> ":v" <decimal version> ":" base64(nonce(12) ‖ ct ‖ tag(16))
// where the key name is the key's full name "<owner>/<name>" (a bare name in
// ciphertexts made before key names were per owner).
// The AES-GCM associated data is
//   "cloister-kv/v1" 0x00 <key name> 0x00 u32be(version) ‖ caller's aad
// so a ciphertext whose header was edited (another key or version) fails
// authentication instead of decrypting under the wrong identity. Key names
// never contain ':' or NUL, which keeps both encodings unambiguous.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/bytes.h"
#include "common/crypto/aead.h"
#include "common/crypto/keys.h"
#include "common/secret.h"
#include "proto/keyvault.pb.h"

namespace cloister::keyvault_ops {

// Stable reasons (docs/keyvault.md lists them all).
namespace reason {
inline constexpr const char* kKeyTypeUnknown = "KEY_TYPE_UNKNOWN";
inline constexpr const char* kKeyNameInvalid = "KEY_NAME_INVALID";
inline constexpr const char* kOperationUnknown = "OPERATION_UNKNOWN";
inline constexpr const char* kOperationUnsupported = "OPERATION_UNSUPPORTED_FOR_TYPE";
inline constexpr const char* kCiphertextMalformed = "CIPHERTEXT_MALFORMED";
inline constexpr const char* kDigestLength = "DIGEST_LENGTH_INVALID";
inline constexpr const char* kPrehashUnsupported = "PREHASH_UNSUPPORTED";
inline constexpr const char* kAlgorithmUnsupported = "ALGORITHM_UNSUPPORTED";
inline constexpr const char* kKeyMaterialInvalid = "KEY_MATERIAL_INVALID";
inline constexpr const char* kWrappedKeyMalformed = "WRAPPED_KEY_MALFORMED";
inline constexpr const char* kWrappedKeyAuth = "WRAPPED_KEY_AUTH_FAILED";
}  // namespace reason

inline constexpr size_t kSymmetricKeySize = 32;
inline constexpr size_t kMaxKeyNameLength = 64;

// "aes256-gcm", "rsa-2048", "rsa-3072", "rsa-4096", "ecdsa-p256", "ed25519",
// "hmac-sha256". Parse: InvalidArgument [KEY_TYPE_UNKNOWN].
std::string_view KeyTypeName(keyvault::KeyType t);
Result<keyvault::KeyType> ParseKeyType(std::string_view name);
bool IsSymmetric(keyvault::KeyType t);

// "encrypt", "decrypt", "sign", "verify", "hmac", "verify-hmac", "rewrap",
// "describe", "export".
std::string_view OperationName(keyvault::Operation op);

// Operations as a bitmask (bit = enum value), for storage and checks.
using OpMask = uint32_t;
inline OpMask Bit(keyvault::Operation op) { return OpMask{1} << static_cast<int>(op); }
// Every operation a key of this type can do (describe/export included).
OpMask SupportedOps(keyvault::KeyType t);

// [A-Za-z0-9._-]{1,64}. InvalidArgument [KEY_NAME_INVALID]. A key's own
// name inside its owner's namespace (never holds '/').
Status ValidateKeyName(std::string_view name);
// An owner's username as the namespace part of a key name: the same
// alphabet and length (auth's usernames are [a-z0-9._-]{1,64}).
// InvalidArgument [KEY_NAME_INVALID].
Status ValidateOwnerName(std::string_view owner);

// How a request names a key (docs/keyvault.md, "Names and namespaces"):
// "name" is always the CALLER's own key; "owner/name" is the key `name` of
// the user whose username is `owner`, usable only through a grant (or the
// caller's own key when `owner` is the caller's username). One '/' at most.
struct KeyRef {
  std::string owner;  // "" for a bare name
  std::string name;
  bool qualified() const { return !owner.empty(); }
};
// InvalidArgument [KEY_NAME_INVALID] unless `text` is name or owner/name
// with both parts valid.
Result<KeyRef> ParseKeyRef(std::string_view text);
// "owner/name" ("name" when the owner's username is not known yet: keys
// made before namespaces, until their owner's next call).
std::string FullKeyName(std::string_view owner, std::string_view name);

struct ParsedCiphertext {
  std::string name;
  uint32_t version = 0;
  Bytes blob;  // nonce ‖ ct ‖ tag
};
// Bounds-checked parse of the text format above. InvalidArgument
// [CIPHERTEXT_MALFORMED] on anything else (never echoes the input).
Result<ParsedCiphertext> ParseCiphertext(std::string_view text);
Bytes CiphertextAad(std::string_view name, uint32_t version, ByteView aad);

// Encrypts many messages under one key version with one keyed context: the
// text prefix and the aad prefix are built once (the batch path). Not
// thread-safe; `gcm` must outlive it.
class Encryptor {
 public:
  Encryptor(crypto::AesGcm* gcm, std::string_view name, uint32_t version);
  // `nonce`: 12 fresh random bytes (never reused under this key).
  Result<std::string> Encrypt(ByteView nonce, ByteView plaintext, ByteView aad);

 private:
  crypto::AesGcm* gcm_;
  std::string prefix_;  // "cloister:<name>:v<version>:"
  Bytes aad_;           // aad prefix, then the caller's aad appended per call
  size_t aad_prefix_len_;
  Bytes blob_;
};

// Encrypt/decrypt with a keyed context (re-used across a batch).
Result<std::string> EncryptWith(crypto::AesGcm& gcm, std::string_view name, uint32_t version,
                                ByteView plaintext, ByteView aad);
// InvalidArgument [AEAD_AUTHENTICATION_FAILED] on a wrong key/aad/tampering.
Result<Bytes> DecryptWith(crypto::AesGcm& gcm, const ParsedCiphertext& ct, ByteView aad);

// Key material of one key version, in enclave memory only. Immutable and
// thread-safe after construction; symmetric bytes are zeroized on destruction.
class KeyMaterial {
 public:
  // InvalidArgument [KEY_TYPE_UNKNOWN] on an unknown type.
  static Result<KeyMaterial> Generate(keyvault::KeyType type);
  // Raw 32 bytes (aes256-gcm, hmac-sha256) or PKCS#8 DER (asymmetric).
  // InvalidArgument [KEY_MATERIAL_INVALID] if it is not a key of `type`.
  static Result<KeyMaterial> FromBytes(keyvault::KeyType type, ByteView material);

  keyvault::KeyType type() const { return type_; }
  // The storage form (raw bytes or PKCS#8 DER). Secret.
  SecretBytes Serialize() const;
  // The export form (raw bytes or PKCS#8 PEM). Secret.
  SecretBytes ExportForm() const;
  // Null for symmetric keys.
  const crypto::PublicKey* public_key() const { return public_ ? &*public_ : nullptr; }

  // aes256-gcm only (else InvalidArgument [OPERATION_UNSUPPORTED_FOR_TYPE]).
  Result<crypto::AesGcm> Cipher() const;
  // Asymmetric only. `prehashed`: `input` is a SHA-256 digest (32 bytes, else
  // InvalidArgument [DIGEST_LENGTH_INVALID]; Ed25519: [PREHASH_UNSUPPORTED]).
  Result<Bytes> Sign(ByteView input, bool prehashed, keyvault::SignatureAlgorithm alg) const;
  // false when the signature does not verify; errors only for bad requests.
  Result<bool> Verify(ByteView input, bool prehashed, keyvault::SignatureAlgorithm alg,
                      ByteView signature) const;
  // hmac-sha256 only.
  Result<Bytes> Hmac(ByteView input) const;
  Result<bool> VerifyHmac(ByteView input, ByteView mac) const;

 private:
  KeyMaterial(keyvault::KeyType t, SecretBytes sym) : type_(t), symmetric_(std::move(sym)) {}
  KeyMaterial(keyvault::KeyType t, crypto::PrivateKey k)
      : type_(t), private_(std::move(k)), public_(private_->public_key()) {}

  keyvault::KeyType type_;
  SecretBytes symmetric_;
  std::optional<crypto::PrivateKey> private_;
  std::optional<crypto::PublicKey> public_;
};

// Signature-verification helper for callers holding only a public key
// (verify against an older version's SPKI).
Result<bool> VerifyWithPublicKey(const crypto::PublicKey& key, ByteView input, bool prehashed,
                                 keyvault::SignatureAlgorithm alg, ByteView signature);

// The import envelope (see ImportKeyRequest in proto/keyvault.proto):
//   u16be(len(E)) ‖ E ‖ nonce(12) ‖ AES-256-GCM(K, material, aad = key name)
// E = RSA-OAEP-SHA256(wrapping public key, K).
Result<Bytes> WrapForImport(const crypto::PublicKey& wrapping_key, ByteView material,
                            std::string_view key_name);
// InvalidArgument [WRAPPED_KEY_MALFORMED] on a bad layout; [WRAPPED_KEY_AUTH_FAILED]
// when it was not made for this vault's wrapping key and this name.
Result<SecretBytes> UnwrapImport(const crypto::PrivateKey& wrapping_key, ByteView wrapped,
                                 std::string_view key_name);

}  // namespace cloister::keyvault_ops
