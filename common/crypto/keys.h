// Asymmetric keys over OpenSSL 3 EVP_PKEY: ECDSA P-256, Ed25519, RSA
// 2048–4096 (PSS and PKCS#1 v1.5 signatures with SHA-256; OAEP-SHA256).
// Keys are immutable and cheap to copy (shared reference-counted handle);
// all methods are thread-safe.
//
//   auto key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
//   Bytes sig = *key.Sign(msg);
//   CLOISTER_RETURN_IF_ERROR(key.public_key().Verify(msg, sig));
#pragma once

#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/secret.h"

namespace cloister::crypto {

enum class KeyType { kEcdsaP256, kEd25519, kRsa2048, kRsa3072, kRsa4096 };
std::string_view KeyTypeName(KeyType t);
enum class RsaPadding { kPss, kPkcs1v15 };

struct SignOptions {
  RsaPadding rsa_padding = RsaPadding::kPss;  // ignored for EC keys
};

// Reason on every failed signature check.
inline constexpr const char* kSignatureInvalid = "SIGNATURE_INVALID";

struct KeyHandle;  // opaque; holds the EVP_PKEY

class PublicKey {
 public:
  // SubjectPublicKeyInfo DER / PEM. InvalidArgument on garbage or an
  // unsupported algorithm (only the types of KeyType are accepted).
  static Result<PublicKey> FromSpkiDer(ByteView der);
  static Result<PublicKey> FromPem(std::string_view pem);

  KeyType type() const { return type_; }
  Bytes SpkiDer() const;
  std::string Pem() const;

  // Ed25519 signs the message itself; ECDSA/RSA sign SHA-256(message).
  // PermissionDenied [SIGNATURE_INVALID] when the signature does not verify.
  Status Verify(ByteView message, ByteView signature, SignOptions opts = {}) const;
  // ECDSA/RSA over a precomputed SHA-256 digest (32 bytes).
  Status VerifyDigest(ByteView sha256_digest, ByteView signature, SignOptions opts = {}) const;
  // RSA-OAEP (SHA-256). FailedPrecondition for non-RSA keys.
  Result<Bytes> Encrypt(ByteView plaintext) const;

  const KeyHandle& handle() const { return *h_; }

 private:
  friend class PrivateKey;
  PublicKey(std::shared_ptr<const KeyHandle> h, KeyType t) : h_(std::move(h)), type_(t) {}
  std::shared_ptr<const KeyHandle> h_;
  KeyType type_;
};

class PrivateKey {
 public:
  static Result<PrivateKey> Generate(KeyType type);
  // PKCS#8 (unencrypted) DER or PEM. InvalidArgument on garbage.
  static Result<PrivateKey> FromPkcs8Der(ByteView der);
  static Result<PrivateKey> FromPem(std::string_view pem);

  KeyType type() const { return type_; }
  PublicKey public_key() const;
  // Key material: handle as a secret, never log.
  SecretBytes Pkcs8Der() const;
  SecretBytes Pem() const;

  Result<Bytes> Sign(ByteView message, SignOptions opts = {}) const;
  Result<Bytes> SignDigest(ByteView sha256_digest, SignOptions opts = {}) const;
  // RSA-OAEP (SHA-256). InvalidArgument [DECRYPTION_FAILED] on bad input.
  Result<Bytes> Decrypt(ByteView ciphertext) const;

  const KeyHandle& handle() const { return *h_; }

 private:
  PrivateKey(std::shared_ptr<const KeyHandle> h, KeyType t) : h_(std::move(h)), type_(t) {}
  std::shared_ptr<const KeyHandle> h_;
  KeyType type_;
};

}  // namespace cloister::crypto
