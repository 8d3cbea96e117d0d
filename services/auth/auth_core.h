// AuthCore: the logic of cloister-auth on plain typed inputs (no gRPC, no
// Authorized<>), so every rule is unit-testable. AuthService (the gRPC
// layer) turns an Authorized<Req> into a Caller and calls in here.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto core, AuthCore::Create(std::move(store), sealer, {}));
//   CLOISTER_ASSIGN_OR_RETURN(api::LoginResponse r, core->Login("alice", password));
//
// Error reasons (stable, in auth_reason): INVALID_CREDENTIALS (wrong password
// and unknown user alike), LOGIN_THROTTLED, USER_DISABLED, INVALID_REFRESH_TOKEN,
// REFRESH_TOKEN_REUSED, INVALID_API_KEY (also a revoked key), API_KEY_EXPIRED,
// API_KEY_EXPIRY_TOO_LONG, API_KEY_CANNOT_MINT, API_KEY_NOT_FOUND,
// API_KEY_SCOPE_INVALID, ADMIN_REQUIRED, LAST_ADMIN, USER_EXISTS,
// USER_NOT_FOUND, SIGNING_KEY_UNSEALABLE.
// All methods are thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "proto/auth.pb.h"
#include "proto/cloister.pb.h"
#include "proto/internal.pb.h"
#include "services/common/caller.h"
#include "services/auth/auth_store.h"
#include "services/auth/password.h"
#include "services/auth/token.h"

namespace cloister::auth {

namespace auth_reason {
inline constexpr const char* kInvalidCredentials = "INVALID_CREDENTIALS";
inline constexpr const char* kThrottled = "LOGIN_THROTTLED";
inline constexpr const char* kUserDisabled = "USER_DISABLED";
inline constexpr const char* kInvalidRefresh = "INVALID_REFRESH_TOKEN";
inline constexpr const char* kRefreshReused = "REFRESH_TOKEN_REUSED";
inline constexpr const char* kInvalidApiKey = "INVALID_API_KEY";
inline constexpr const char* kApiKeyExpired = "API_KEY_EXPIRED";
inline constexpr const char* kApiKeyExpiryTooLong = "API_KEY_EXPIRY_TOO_LONG";
inline constexpr const char* kApiKeyCannotMint = "API_KEY_CANNOT_MINT";
inline constexpr const char* kApiKeyNotFound = "API_KEY_NOT_FOUND";
inline constexpr const char* kAdminRequired = "ADMIN_REQUIRED";
inline constexpr const char* kLastAdmin = "LAST_ADMIN";
inline constexpr const char* kUserNotFound = "USER_NOT_FOUND";
inline constexpr const char* kLookupInvalid = "LOOKUP_INVALID";
inline constexpr const char* kKeyUnsealable = "SIGNING_KEY_UNSEALABLE";
}  // namespace auth_reason

// Seals the token signing key: attestation::PlatformSealer in the
// service, attestation::AeadSealer in tests (attestation/sealer.h).
using SecretSealer = attestation::Sealer;

// Lifetime of the auth proof VerifyApiKey returns for an API key.
inline constexpr int64_t kApiKeyProofLifetimeS = 300;
// An API key's last_used_unix is written at most this often (one write a
// minute per busy key, not one per verification).
inline constexpr int64_t kApiKeyLastUsedGranularityS = 60;

// Who is calling: the one caller type (services/common/caller.h), built by
// the grant verifier from auth's proof, never from the gateway's claim.
using Caller = services::Caller;

struct AuthOptions {
  PasswordPolicy password;
  int64_t token_lifetime_s = 15 * 60;
  int64_t refresh_lifetime_s = 24 * 3600;
  // Throttle, per (username, client source) pair: the first
  // `free_failures` failures cost nothing; each further one locks that
  // pair for base·2^(k) ms, capped at max. See Login for why per pair.
  int64_t throttle_free_failures = 5;
  int64_t throttle_base_ms = 1000;
  int64_t throttle_max_ms = 15 * 60 * 1000;
  // Failures older than this are forgotten.
  int64_t throttle_window_ms = 24 * 3600 * 1000;
  int64_t signing_key_max_age_s = 90 * 24 * 3600;
  // A retired key verifies tokens until every token it signed has expired.
  int64_t max_api_keys_per_user = 100;
  // Every API key expires: after the requested time, or this default; a
  // request beyond the maximum is refused, and a key older than the
  // maximum (e.g. made before it was lowered) no longer verifies.
  int64_t api_key_default_expiry_s = 90 * 24 * 3600;
  int64_t api_key_max_expiry_s = 365 * 24 * 3600;
  int concurrent_hashes = 4;  // bounds scrypt memory (32 MiB each)
  std::function<int64_t()> now_ms;  // default: system clock
};

// Pure throttle policy: the lock after `failures` consecutive failures.
int64_t ThrottleLockMs(const AuthOptions& o, int64_t failures);

// Validation shared with the gRPC layer. InvalidArgument naming `field`.
Status ValidateUsername(std::string_view name, std::string_view field = "username");
Status ValidateNewPassword(std::string_view password, std::string_view field = "password");

// Creates "admin" (roles admin+user) if no enabled admin exists; true if it
// created one, false if an admin already exists. FailedPrecondition if a
// user named "admin" exists but is not an enabled admin. Needs no enclave
// (no token keys involved), so `cloister cluster init` can run it first.
Result<bool> BootstrapAdmin(AuthStore& store, const PasswordHasher& hasher,
                            std::string_view password, int64_t now_unix);

class AuthCore {
 public:
  // Loads (or on first start generates and seals) the token signing key and
  // rotates it if older than signing_key_max_age_s.
  static Result<std::unique_ptr<AuthCore>> Create(std::unique_ptr<AuthStore> store,
                                                  std::shared_ptr<SecretSealer> sealer,
                                                  AuthOptions options);

  // ---- sessions ----
  // `source`: the client's source from the verified grant (Authorized::
  // source(): an IPv4 address or an IPv6 /64; "" for no public client).
  //
  // Login throttling and floods (issue 11; docs/threat-model.md): failures
  // count per (username, source) and back off exponentially per pair
  // (ThrottleLockMs); a success clears that pair. A stranger's wrong
  // passwords from source X therefore slow only (admin, X): the admin
  // signing in from any other source is never refused on the stranger's
  // account, which is how the admin cannot be locked out by strangers. (A
  // stranger sharing the admin's source — one NAT — shares its pair; the
  // admin then waits out at most throttle_max_ms per attempt.) There is no
  // username-wide counter across sources on purpose: any such counter is a
  // lock strangers can set. Guessing from many sources is bounded instead
  // by the gateway's per-source failure budget (refused before
  // authentication, SOURCE_THROTTLED), this per-pair backoff (about 110
  // guesses per source and user a day) and the password hash's cost under
  // the concurrent_hashes bound. Parallel attempts of one pair are refused
  // (LOGIN_THROTTLED) rather than racing the throttle check; those of other
  // pairs are not held up.
  Result<api::LoginResponse> Login(std::string_view username, std::string_view password,
                                   std::string_view source = "");
  Result<api::RefreshTokenResponse> Refresh(std::string_view refresh_token);
  Status Logout(const Caller& caller);
  Result<api::WhoAmIResponse> WhoAmI(const Caller& caller);

  // ---- users ----
  Result<api::CreateUserResponse> CreateUser(const Caller& caller,
                                             const api::CreateUserRequest& req);
  Result<api::ListUsersResponse> ListUsers(const Caller& caller);
  // Username → user id for any signed-in user (task slot owners are named
  // by id). NOT_FOUND USER_NOT_FOUND naming the first unknown username:
  // who has an account is not a secret among a cluster's users.
  Result<api::LookupUsersResponse> LookupUsers(const api::LookupUsersRequest& req);
  Result<api::DisableUserResponse> DisableUser(const Caller& caller,
                                               const api::DisableUserRequest& req);
  Status DeleteUser(const Caller& caller, std::string_view username);
  // A wrong old password counts against (the caller's name, `source`),
  // like a failed Login; a change clears every pair of the target user.
  Status ChangePassword(const Caller& caller, const api::ChangePasswordRequest& req,
                        std::string_view source = "");
  Result<bool> BootstrapAdmin(std::string_view password) {
    return auth::BootstrapAdmin(*store_, hasher_, password, NowS());
  }

  // ---- API keys ----
  // PermissionDenied [API_KEY_CANNOT_MINT] for a caller authenticated by an
  // API key (a stolen key must not extend itself); InvalidArgument
  // [API_KEY_EXPIRY_TOO_LONG] past api_key_max_expiry_s.
  Result<api::CreateApiKeyResponse> CreateApiKey(const Caller& caller,
                                                 const api::CreateApiKeyRequest& req);
  // The caller's keys, or (admin) those of req.username.
  Result<api::ListApiKeysResponse> ListApiKeys(const Caller& caller,
                                               const api::ListApiKeysRequest& req);
  // Deletes the key and revokes its proofs (token id "apikey:<id>"), which
  // every verifier learns within one revocation poll. The owner or an
  // admin; anyone else gets NotFound [API_KEY_NOT_FOUND], as for no key.
  Result<api::RevokeApiKeyResponse> RevokeApiKey(const Caller& caller,
                                                 const api::RevokeApiKeyRequest& req);
  // Unauthenticated [INVALID_API_KEY] (unknown, wrong secret, revoked) or
  // [API_KEY_EXPIRED]; the proof carries the key's scope.
  Result<internal::VerifyApiKeyResponse> VerifyApiKey(std::string_view api_key);

  // ---- for the gateway ----
  internal::TokenKeysResponse TokenKeys() const;
  Result<internal::RevocationsResponse> Revocations(int64_t since_unix_ms);
  // A verifier over the current and retired-but-valid keys.
  TokenVerifier MakeVerifier() const;

  // Generates a new current key; the old one keeps verifying.
  Status RotateSigningKey();
  // Drops expired tokens/revocations; called periodically.
  Status Prune();

  AuthStore& store() { return *store_; }
  const PasswordHasher& hasher() const { return hasher_; }
  int64_t NowMs() const { return options_.now_ms(); }

  struct Key {
    explicit Key() = default;
  };
  AuthCore(Key, std::unique_ptr<AuthStore> store, std::shared_ptr<SecretSealer> sealer,
           AuthOptions options);

 private:
  struct SigningKey {
    std::string key_id;
    crypto::PrivateKey key;
    int64_t created_unix;
    std::optional<int64_t> retired_unix;
  };
  Status LoadSigningKeys();
  Result<SigningKey> GenerateSigningKey(storage::Executor& ex, int64_t now);

  int64_t NowS() const { return NowMs() / 1000; }
  Result<api::LoginResponse> LoginLocked(std::string_view username, std::string_view password,
                                         std::string_view source);
  // One failure of (username, source): one small transaction, made only
  // for attempts that got past the pair's lock (a locked pair is refused
  // before the hash and writes nothing).
  Status RecordFailure(std::string_view username, std::string_view source);
  // Issues an access token in `session_id` (inside `tx`).
  Result<std::pair<std::string, int64_t>> IssueAccessToken(storage::Executor& ex,
                                                           const UserRecord& user,
                                                           std::string_view session_id);
  // A fresh refresh token (returned once, stored hashed).
  Result<std::string> IssueRefreshToken(storage::Executor& ex, std::string_view session_id);
  // All tokens of `user_id` issued before now become invalid.
  Status RevokeUserWide(storage::Executor& ex, std::string_view user_id);
  Result<UserRecord> RequireUser(storage::Executor& ex, std::string_view username);
  static api::User ToApiUser(const UserRecord& u);
  // When the key stops verifying: its own expiry, capped at creation + the
  // configured maximum.
  int64_t ApiKeyExpiry(const ApiKeyRecord& k) const;
  Result<api::ApiKeyInfo> ToApiKeyInfo(const ApiKeyRecord& k, std::string_view username) const;
  // Signs `body` with the current key.
  Result<std::string> SignToken(const internal::TokenBody& body) const;

  std::unique_ptr<AuthStore> store_;
  std::shared_ptr<SecretSealer> sealer_;
  AuthOptions options_;
  PasswordHasher hasher_;
  std::counting_semaphore<64> hash_slots_;

  mutable std::shared_mutex keys_mu_;
  std::vector<SigningKey> keys_;  // current first; guarded by keys_mu_

  std::mutex inflight_mu_;
  // "<username>\n<source>" of the logins being checked now.
  std::set<std::string, std::less<>> inflight_logins_;  // guarded by inflight_mu_
};

}  // namespace cloister::auth
