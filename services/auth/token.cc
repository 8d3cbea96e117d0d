// Token encoding, signing and verification; strict base64url.
#include "services/auth/token.h"

#include <array>

namespace cloister::auth {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kPrefix = "v1.";

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

Error Malformed(std::string what) {
  return Unauthenticated("malformed token: " + what, token_reason::kMalformed);
}

}  // namespace

std::string Base64UrlEncode(ByteView data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<Bytes> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return InvalidArgument("bad base64url length");
  Bytes out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = DecodeChar(c);
    if (v < 0) return InvalidArgument("bad base64url character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero, so every byte string has exactly one encoding.
  if ((acc & ((1u << bits) - 1)) != 0) return InvalidArgument("non-canonical base64url");
  return out;
}

Result<TokenSigner> TokenSigner::Create(crypto::PrivateKey key) {
  if (key.type() != crypto::KeyType::kEd25519)
    return InvalidArgument("token signing key must be Ed25519");
  return TokenSigner(std::move(key));
}

Result<std::string> TokenSigner::Sign(const internal::TokenBody& body) const {
  std::string serialized;
  if (!body.SerializeToString(&serialized)) return Internal("cannot serialize token body");
  std::string signed_part = std::string(kPrefix) + Base64UrlEncode(AsBytes(serialized));
  CLOISTER_ASSIGN_OR_RETURN(Bytes sig, key_.Sign(AsBytes(signed_part)));
  return signed_part + "." + Base64UrlEncode(sig);
}

Result<internal::TokenBody> TokenVerifier::Verify(std::string_view token, int64_t now_unix,
                                                  std::string_view audience) const {
  if (token.size() > kMaxTokenLength) return Malformed("too long");
  if (!token.starts_with(kPrefix)) return Malformed("unknown version prefix");
  size_t dot = token.find('.', kPrefix.size());
  if (dot == std::string_view::npos) return Malformed("missing signature");
  std::string_view signed_part = token.substr(0, dot);
  auto body_bytes = Base64UrlDecode(token.substr(kPrefix.size(), dot - kPrefix.size()));
  auto sig = Base64UrlDecode(token.substr(dot + 1));
  if (!body_bytes.ok() || !sig.ok() || body_bytes->empty()) return Malformed("bad encoding");
  if (sig->size() != 64) return Malformed("bad signature length");

  // Signature first: nothing in the body is trusted before it verifies.
  bool verified = false;
  for (const crypto::PublicKey& key : keys_) {
    if (key.Verify(AsBytes(signed_part), *sig).ok()) {
      verified = true;
      break;
    }
  }
  if (!verified) return Unauthenticated("token signature invalid", token_reason::kSignature);

  internal::TokenBody body;
  if (!body.ParseFromArray(body_bytes->data(), static_cast<int>(body_bytes->size())))
    return Malformed("bad body");
  if (body.version() != kTokenVersion) return Malformed("unsupported version");
  if (body.token_id().empty() || body.user_id().empty()) return Malformed("missing ids");
  if (body.audience() != audience)
    return Unauthenticated("token is for another audience", token_reason::kAudience);
  if (body.issued_unix() > now_unix + kTokenClockSkewSeconds)
    return Unauthenticated("token issued in the future", token_reason::kNotYetValid);
  if (now_unix >= body.expires_unix())
    return Unauthenticated("token expired", token_reason::kExpired);
  return body;
}

}  // namespace cloister::auth
