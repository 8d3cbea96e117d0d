// AuthStore: cloister-auth's persistent state over storage::Engine — users,
// sessions with their access/refresh tokens, revocations, API keys, login
// throttle counters and sealed signing keys. Row-level operations only; the
// policy (who may do what, when to revoke) lives in AuthCore.
//
// Every operation takes the storage::Executor to run on, so AuthCore can
// compose several in one transaction:
//   store.db().Transaction([&](storage::Tx& tx) -> Status {
//     CLOISTER_RETURN_IF_ERROR(store.SetDisabled(tx, uid, true, now));
//     return store.RevokeUser(tx, uid, before, now_ms, until); });
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/common/row_integrity.h"
#include "storage/engine.h"

namespace cloister::auth {

inline constexpr uint32_t kRoleUserBit = 1;
inline constexpr uint32_t kRoleAdminBit = 2;

struct UserRecord {
  std::string user_id;
  std::string username;
  std::string password_hash;
  uint32_t roles = 0;  // kRole*Bit
  bool disabled = false;
  int64_t created_unix = 0;
};

struct ThrottleRecord {
  int64_t failures = 0;
  int64_t locked_until_ms = 0;
  int64_t last_failure_ms = 0;
};

struct RefreshRecord {
  std::string session_id;
  std::string user_id;
  int64_t expires_unix = 0;
  bool used = false;
  bool session_revoked = false;
};

struct ApiKeyRecord {
  std::string key_id;
  std::string user_id;
  Bytes secret_hash;
  int64_t expires_unix = 0;
  std::string description;
  int64_t created_unix = 0;
  int64_t last_used_unix = 0;  // 0: never
  std::string scope;           // canonical text (api_key_scope.h); "": unrestricted
};

struct RevocationRecord {
  std::string token_id;
  std::string user_id;
  int64_t before_unix = 0;
  int64_t revoked_unix_ms = 0;
};

struct SigningKeyRecord {
  std::string key_id;
  Bytes sealed_pkcs8;
  Bytes spki;
  int64_t created_unix = 0;
  std::optional<int64_t> retired_unix;
};

class AuthStore {
 public:
  // Opens the engine at `url` and applies the auth migrations. With
  // `integrity` (the service always; unit tests may omit it) the rows of
  // ProtectedTables() are MACed and checked, and rollback is detected
  // (services/common/row_integrity.h). Writes name tables as main.<table>.
  static Result<std::unique_ptr<AuthStore>> Open(
      std::string_view url, const services::RowIntegrity::Config* integrity = nullptr);
  static const std::vector<services::ProtectedTable>& ProtectedTables();
  explicit AuthStore(std::unique_ptr<storage::Engine> db) : db_(std::move(db)) {}

  storage::Engine& db() { return *db_; }

  // ---- users ----
  // AlreadyExists [USER_EXISTS] when the username is taken.
  Status InsertUser(storage::Executor& ex, const UserRecord& u, int64_t now);
  Result<std::optional<UserRecord>> FindUserByName(storage::Executor& ex, std::string_view name);
  Result<std::optional<UserRecord>> FindUserById(storage::Executor& ex, std::string_view id);
  Result<std::vector<UserRecord>> ListUsers(storage::Executor& ex);
  Status SetDisabled(storage::Executor& ex, std::string_view user_id, bool disabled, int64_t now);
  Status SetPasswordHash(storage::Executor& ex, std::string_view user_id, std::string_view hash,
                         int64_t now);
  Status DeleteUser(storage::Executor& ex, std::string_view user_id);
  // Enabled users with the admin role, optionally excluding one.
  Result<int64_t> CountEnabledAdmins(storage::Executor& ex, std::string_view except_user_id = {});

  // ---- sessions and tokens ----
  Status InsertSession(storage::Executor& ex, std::string_view session_id,
                       std::string_view user_id, int64_t now);
  Status InsertAccessToken(storage::Executor& ex, std::string_view token_id,
                           std::string_view session_id, int64_t expires_unix);
  Status InsertRefreshToken(storage::Executor& ex, ByteView token_hash,
                            std::string_view session_id, int64_t expires_unix);
  Result<std::optional<RefreshRecord>> FindRefreshToken(storage::Executor& ex,
                                                        ByteView token_hash);
  // true if this call flipped it from unused to used (single-use guard).
  Result<bool> MarkRefreshUsed(storage::Executor& ex, ByteView token_hash);
  Result<std::optional<std::string>> SessionOfAccessToken(storage::Executor& ex,
                                                          std::string_view token_id);
  // Marks the session revoked, drops its refresh tokens, and returns the
  // ids of its access tokens still valid at `now` (to revoke them).
  Result<std::vector<std::pair<std::string, int64_t>>> RevokeSession(storage::Executor& ex,
                                                                     std::string_view session_id,
                                                                     int64_t now);
  // The same for every session of a user.
  Status RevokeAllSessions(storage::Executor& ex, std::string_view user_id);

  // ---- revocations ----
  Status InsertRevocation(storage::Executor& ex, const RevocationRecord& r,
                          int64_t relevant_until);
  // Revocations with revoked_unix_ms > since_ms still relevant at `now`.
  Result<std::vector<RevocationRecord>> RevocationsSince(storage::Executor& ex, int64_t since_ms,
                                                         int64_t now);
  // The latest user-wide `before_unix` for a user (0 if none relevant).
  Result<int64_t> LatestUserRevocation(storage::Executor& ex, std::string_view user_id,
                                       int64_t now);
  // Drops expired tokens, irrelevant revocations and API keys expired
  // more than `expired_key_keep_s` ago (kept a while so `apikey ls` shows
  // why a key stopped working).
  Status Prune(storage::Executor& ex, int64_t now, int64_t expired_key_keep_s = 30 * 86400);

  // ---- API keys ----
  Status InsertApiKey(storage::Executor& ex, const ApiKeyRecord& k);
  Result<std::optional<ApiKeyRecord>> FindApiKey(storage::Executor& ex, std::string_view key_id);
  // The user's keys, newest first (secret hashes included: never leave auth).
  Result<std::vector<ApiKeyRecord>> ListApiKeys(storage::Executor& ex, std::string_view user_id);
  // Keys of the user still valid at `now` (the per-user limit).
  Result<int64_t> CountApiKeys(storage::Executor& ex, std::string_view user_id, int64_t now);
  // Sets last_used_unix to `now` unless it is already within `granularity_s`
  // (so a busy key costs one write a minute, not one per verification).
  Status TouchApiKey(storage::Executor& ex, std::string_view key_id, int64_t now,
                     int64_t granularity_s);
  // true if the key existed.
  Result<bool> DeleteApiKey(storage::Executor& ex, std::string_view key_id);
  // Every API key of the user (password change, disable, delete).
  Status DeleteApiKeysOfUser(storage::Executor& ex, std::string_view user_id);

  // ---- login throttle ----
  // Per (username, client source) pair (issue 11; AccessGrant.client_source,
  // "" for no public client): one source's failures never throttle another.
  Result<ThrottleRecord> GetThrottle(storage::Executor& ex, std::string_view username,
                                     std::string_view source);
  Status PutThrottle(storage::Executor& ex, std::string_view username, std::string_view source,
                     const ThrottleRecord& t);
  Status ClearThrottle(storage::Executor& ex, std::string_view username, std::string_view source);
  // Every pair of the username (its password changed).
  Status ClearThrottles(storage::Executor& ex, std::string_view username);

  // ---- signing keys ----
  Status InsertSigningKey(storage::Executor& ex, const SigningKeyRecord& k);
  // Newest first.
  Result<std::vector<SigningKeyRecord>> ListSigningKeys(storage::Executor& ex);
  Status RetireSigningKey(storage::Executor& ex, std::string_view key_id, int64_t now);
  Status DeleteSigningKey(storage::Executor& ex, std::string_view key_id);

 private:
  std::unique_ptr<storage::Engine> db_;
};

}  // namespace cloister::auth
