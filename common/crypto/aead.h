// AES-256-GCM with associated data over OpenSSL 3 EVP.
//
// Layout used by Seal()/Open(): ciphertext ‖ 16-byte tag; the 12-byte nonce
// is passed separately (callers that need a self-contained blob use
// SealWithRandomNonce: nonce ‖ ciphertext ‖ tag).
//
//   CLOISTER_ASSIGN_OR_RETURN(auto gcm, crypto::AesGcm::Create(key.view()));
//   Bytes blob = *gcm.SealWithRandomNonce(aad, plaintext);
#pragma once

#include <memory>

#include "common/bytes.h"
#include "common/secret.h"

namespace cloister::crypto {

inline constexpr size_t kAesGcmKeySize = 32;
inline constexpr size_t kAesGcmNonceSize = 12;
inline constexpr size_t kAesGcmTagSize = 16;
// Reason on every authentication failure (wrong key, AAD, nonce, tampering).
inline constexpr const char* kAeadAuthFailed = "AEAD_AUTHENTICATION_FAILED";

// A keyed AES-256-GCM context. Re-uses the expanded key across calls, so it
// is much faster than keying per message. Not thread-safe: use one per thread.
class AesGcm {
 public:
  // InvalidArgument unless the key is 32 bytes.
  static Result<AesGcm> Create(ByteView key);
  AesGcm(AesGcm&&) noexcept;
  AesGcm& operator=(AesGcm&&) noexcept;
  ~AesGcm();

  // Returns ciphertext ‖ tag. InvalidArgument on a nonce that is not 12 bytes.
  Result<Bytes> Seal(ByteView nonce, ByteView aad, ByteView plaintext);
  // Writes into `out` (size plaintext.size() + 16) without allocating.
  Status SealInto(ByteView nonce, ByteView aad, ByteView plaintext, std::span<uint8_t> out);
  // InvalidArgument [AEAD_AUTHENTICATION_FAILED] on any mismatch; never
  // returns unauthenticated plaintext.
  Result<Bytes> Open(ByteView nonce, ByteView aad, ByteView ciphertext_and_tag);

  // nonce(12, random) ‖ ciphertext ‖ tag(16)
  Result<Bytes> SealWithRandomNonce(ByteView aad, ByteView plaintext);
  Result<Bytes> OpenWithNonce(ByteView aad, ByteView blob);

 private:
  struct Impl;
  explicit AesGcm(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloister::crypto
