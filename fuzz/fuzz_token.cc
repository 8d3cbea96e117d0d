// Fuzzes the access-token format (services/auth/token.h) and the auth-proof
// check every service runs on it (services/common/identity_verifier.h), at
// a fixed "now" so every input has one verdict. Input: selector byte, then
//   0: token text → TokenVerifier::Verify and IdentityVerifier::Verify, which
//      must agree (revocations aside); an accepted body signs again into a
//      token that verifies back to the same body;
//   1: text → Base64UrlDecode, which must accept only the one canonical
//      encoding of the bytes it returns; and the payload's bytes must encode
//      and decode back unchanged;
//   2: a serialized TokenBody → TokenSigner::Sign → Verify, which must accept
//      exactly the bodies the format's rules allow, and return that body.
#include <google/protobuf/stubs/logging.h>
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_seed.h"
#include "services/auth/token.h"
#include "services/common/identity_verifier.h"

using namespace cloister;

namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kUserRevokedBefore = kNow - 100;

struct Keys {
  crypto::PrivateKey key = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  crypto::PrivateKey rotated = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
  auth::TokenSigner signer = *auth::TokenSigner::Create(key);
  auth::TokenVerifier verifier{{key.public_key(), rotated.public_key()}};
  services::IdentityVerifier identity;
  Keys() {
    identity.SetKeys({key.public_key(), rotated.public_key()});
    identity.RevokeToken("t-revoked");
    identity.RevokeUser("u-revoked", kUserRevokedBefore);
  }
};
Keys& K() {
  static Keys k;
  return k;
}

// The format's rules for a body at kNow (token.h).
bool BodyValid(const internal::TokenBody& b) {
  return b.version() == auth::kTokenVersion && !b.token_id().empty() && !b.user_id().empty() &&
         b.audience() == auth::kTokenAudience &&
         b.issued_unix() <= kNow + auth::kTokenClockSkewSeconds && kNow < b.expires_unix();
}

internal::TokenBody Body(const std::string& token_id, const std::string& user_id) {
  internal::TokenBody b;
  b.set_version(auth::kTokenVersion);
  b.set_token_id(token_id);
  b.set_user_id(user_id);
  b.set_username("alice");
  b.add_roles(api::ROLE_USER);
  b.set_audience(auth::kTokenAudience);
  b.set_issued_unix(kNow - 60);
  b.set_expires_unix(kNow + 900);
  return b;
}

void VerifyToken(std::string_view text) {
  auto body = K().verifier.Verify(text, kNow);
  auto caller = K().identity.Verify(text, kNow);
  if (!body.ok()) {
    if (caller.ok()) __builtin_trap();  // the proof check accepted a bad token
    return;
  }
  if (!BodyValid(*body)) __builtin_trap();
  const bool revoked = body->token_id() == "t-revoked" ||
                       (body->user_id() == "u-revoked" && body->issued_unix() <= kUserRevokedBefore);
  if (caller.ok() == revoked) __builtin_trap();
  if (caller.ok() && (caller->user_id() != body->user_id() ||
                      caller->token_id() != body->token_id() || caller->anonymous()))
    __builtin_trap();
  // Re-signing the accepted body gives a token of that same body (unless
  // re-encoding grew it past the length bound).
  auto again = K().signer.Sign(*body);
  if (!again.ok()) __builtin_trap();
  if (again->size() > auth::kMaxTokenLength) return;
  auto back = K().verifier.Verify(*again, kNow);
  if (!back.ok() || back->SerializeAsString() != body->SerializeAsString()) __builtin_trap();
}

void Base64Url(std::string_view text) {
  auto decoded = auth::Base64UrlDecode(text);
  if (decoded.ok() && auth::Base64UrlEncode(*decoded) != text) __builtin_trap();
  const ByteView raw = AsBytes(text);
  auto back = auth::Base64UrlDecode(auth::Base64UrlEncode(raw));
  if (!back.ok() || *back != Bytes(raw.begin(), raw.end())) __builtin_trap();
}

void SignAndVerify(std::string_view bytes) {
  internal::TokenBody b;
  if (!b.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  auto token = K().signer.Sign(b);
  if (!token.ok()) __builtin_trap();
  auto got = K().verifier.Verify(*token, kNow);
  const bool expect = BodyValid(b) && token->size() <= auth::kMaxTokenLength;
  if (got.ok() != expect) __builtin_trap();
  if (got.ok() && got->SerializeAsString() != b.SerializeAsString()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::QuietLogs();
  google::protobuf::SetLogHandler(nullptr);
  auto sign = [](const internal::TokenBody& b) { return *K().signer.Sign(b); };
  fuzz::WriteSeed("token", fuzz::Seed(0, sign(Body("t-1", "u-alice"))));
  internal::TokenBody scoped = Body("apikey:ak0123456789abcdef", "u-bot");
  scoped.mutable_scope()->set_read_only(true);
  scoped.mutable_scope()->add_methods("Call");
  scoped.add_roles(api::ROLE_ADMIN);
  fuzz::WriteSeed("api-key-proof", fuzz::Seed(0, sign(scoped)));
  fuzz::WriteSeed("revoked-token", fuzz::Seed(0, sign(Body("t-revoked", "u-alice"))));
  fuzz::WriteSeed("revoked-user", fuzz::Seed(0, sign(Body("t-2", "u-revoked"))));
  internal::TokenBody expired = Body("t-3", "u-alice");
  expired.set_expires_unix(kNow - 1);
  fuzz::WriteSeed("expired-token", fuzz::Seed(0, sign(expired)));
  fuzz::WriteSeed("base64url", fuzz::Seed(1, auth::Base64UrlEncode(AsBytes("\xff\x01token"))));
  fuzz::WriteSeed("body", fuzz::Seed(2, scoped.SerializeAsString()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  const fuzz::Input in(data, size);
  switch (in.selector % 3) {
    case 0: VerifyToken(in.payload); break;
    case 1: Base64Url(in.payload); break;
    default: SignAndVerify(in.payload); break;
  }
  return 0;
}
