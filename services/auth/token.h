// Cloister access tokens (proto/internal.proto TokenBody):
//   "v1." + base64url(TokenBody) + "." + base64url(Ed25519 signature)
// The signature covers the ASCII bytes "v1." + base64url(TokenBody), so the
// version prefix is authenticated too. base64url is unpadded (RFC 4648 §5)
// and decoding is strict (no padding, no whitespace, canonical trailing bits).
// Pure library (no gRPC): the gateway links it to verify tokens locally.
//
//   TokenSigner signer(key);  std::string t = *signer.Sign(body);
//   TokenVerifier v({key.public_key()});
//   CLOISTER_ASSIGN_OR_RETURN(internal::TokenBody b, v.Verify(t, now_unix));
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/crypto/keys.h"
#include "proto/internal.pb.h"

namespace cloister::auth {

inline constexpr const char* kTokenAudience = "cloister-gateway";
inline constexpr uint32_t kTokenVersion = 1;
// Generous for a TokenBody (a few hundred bytes) yet bounds parsing work.
inline constexpr size_t kMaxTokenLength = 4096;
// Clock skew tolerated between auth and the verifier.
inline constexpr int64_t kTokenClockSkewSeconds = 60;

// Every refusal is Unauthenticated with one of these reasons.
namespace token_reason {
inline constexpr const char* kMalformed = "TOKEN_MALFORMED";
inline constexpr const char* kSignature = "TOKEN_SIGNATURE_INVALID";
inline constexpr const char* kExpired = "TOKEN_EXPIRED";
inline constexpr const char* kNotYetValid = "TOKEN_NOT_YET_VALID";
inline constexpr const char* kAudience = "TOKEN_WRONG_AUDIENCE";
}  // namespace token_reason

std::string Base64UrlEncode(ByteView data);
// InvalidArgument on any non-canonical input.
Result<Bytes> Base64UrlDecode(std::string_view text);

// Thread-safe (keys are immutable).
class TokenSigner {
 public:
  // InvalidArgument unless `key` is Ed25519.
  static Result<TokenSigner> Create(crypto::PrivateKey key);
  Result<std::string> Sign(const internal::TokenBody& body) const;
  const crypto::PrivateKey& key() const { return key_; }

 private:
  explicit TokenSigner(crypto::PrivateKey key) : key_(std::move(key)) {}
  crypto::PrivateKey key_;
};

// Verifies against any of several keys (current first; older ones during
// rotation). Thread-safe.
class TokenVerifier {
 public:
  explicit TokenVerifier(std::vector<crypto::PublicKey> keys) : keys_(std::move(keys)) {}
  // Checks format, signature, version, audience, issued ≤ now + skew and
  // now < expires. Revocation is the caller's business (see Revocations).
  Result<internal::TokenBody> Verify(std::string_view token, int64_t now_unix,
                                     std::string_view audience = kTokenAudience) const;

 private:
  std::vector<crypto::PublicKey> keys_;
};

}  // namespace cloister::auth
