// Helpers AuthCore's two source files share (auth_core.cc: sessions and
// users; auth_api_keys.cc: API keys). Not for use outside services/auth.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/bytes.h"

namespace cloister::auth::detail {

// SHA-256 of a 256-bit random secret (refresh tokens, API keys): a fast
// hash suffices for secrets that cannot be guessed.
Bytes HashSecret(std::string_view secret);

// The issue time of a token made at `now` for a user whose latest
// user-wide revocation covers tokens issued up to `before` (inclusive, as
// IdentityVerifier checks it; 0: none): strictly after it, so a token
// issued in the second after a password change is not born revoked.
int64_t IssuedAfter(int64_t now, int64_t before);

}  // namespace cloister::auth::detail
