// AuthStore: the SQL of cloister-auth. Every value is a bound parameter.
#include "services/auth/auth_store.h"

#include "services/auth/migrations/auth_migrations.h"

namespace cloister::auth {
namespace {

using storage::Row;
using storage::Value;

std::string S(std::string_view v) { return std::string(v); }
Bytes B(ByteView v) { return Bytes(v.begin(), v.end()); }

constexpr const char* kUserColumns =
    "user_id, username, password_hash, roles, disabled, created_unix";

Result<UserRecord> ToUser(const Row& r) {
  UserRecord u;
  CLOISTER_ASSIGN_OR_RETURN(u.user_id, r.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(u.username, r.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(u.password_hash, r.GetText(2));
  CLOISTER_ASSIGN_OR_RETURN(int64_t roles, r.GetInt(3));
  CLOISTER_ASSIGN_OR_RETURN(int64_t disabled, r.GetInt(4));
  CLOISTER_ASSIGN_OR_RETURN(u.created_unix, r.GetInt(5));
  u.roles = static_cast<uint32_t>(roles);
  u.disabled = disabled != 0;
  return u;
}

Result<std::optional<UserRecord>> OneUser(Result<std::optional<Row>> row) {
  if (!row.ok()) return row.error();
  if (!row->has_value()) return std::optional<UserRecord>();
  CLOISTER_ASSIGN_OR_RETURN(UserRecord u, ToUser(**row));
  return std::optional<UserRecord>(std::move(u));
}

constexpr const char* kApiKeyColumns =
    "key_id, user_id, secret_hash, expires_unix, description, created_unix, last_used_unix, "
    "scope";

Result<ApiKeyRecord> ToApiKey(const Row& r) {
  ApiKeyRecord k;
  CLOISTER_ASSIGN_OR_RETURN(k.key_id, r.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(k.user_id, r.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(k.secret_hash, r.GetBlob(2));
  CLOISTER_ASSIGN_OR_RETURN(k.expires_unix, r.GetInt(3));
  CLOISTER_ASSIGN_OR_RETURN(k.description, r.GetText(4));
  CLOISTER_ASSIGN_OR_RETURN(k.created_unix, r.GetInt(5));
  CLOISTER_ASSIGN_OR_RETURN(k.last_used_unix, r.GetInt(6));
  CLOISTER_ASSIGN_OR_RETURN(k.scope, r.GetText(7));
  return k;
}

}  // namespace

const std::vector<services::ProtectedTable>& AuthStore::ProtectedTables() {
  // Every column that decides who someone is or what a credential allows;
  // not timestamps of record, descriptions, last use or the login throttle.
  static const std::vector<services::ProtectedTable> kTables = {
      {"users", {"user_id"}, {"user_id", "username", "password_hash", "roles", "disabled"}},
      {"sessions", {"session_id"}, {"session_id", "user_id", "revoked"}},
      {"access_tokens", {"token_id"}, {"token_id", "session_id", "expires_unix"}},
      {"refresh_tokens", {"token_hash"}, {"token_hash", "session_id", "expires_unix", "used"}},
      {"revocations", {"id"},
       {"id", "token_id", "user_id", "before_unix", "revoked_unix_ms", "relevant_until"}},
      {"api_keys", {"key_id"},
       {"key_id", "user_id", "secret_hash", "created_unix", "expires_unix", "scope"}},
      {"signing_keys", {"key_id"}, {"key_id", "sealed_pkcs8", "spki", "created_unix", "retired_unix"}},
  };
  return kTables;
}

Result<std::unique_ptr<AuthStore>> AuthStore::Open(std::string_view url,
                                                   const services::RowIntegrity::Config* integrity) {
  CLOISTER_ASSIGN_OR_RETURN(auto db, storage::Engine::Open(url));
  CLOISTER_RETURN_IF_ERROR(db->Migrate(AuthMigrations()));
  if (integrity != nullptr) {
    CLOISTER_ASSIGN_OR_RETURN(db, services::RowIntegrity::Protect(std::move(db), ProtectedTables(),
                                                                  *integrity));
  } else {
    CLOISTER_ASSIGN_OR_RETURN(db, services::RowIntegrity::Unprotected(std::move(db), ProtectedTables()));
  }
  return std::make_unique<AuthStore>(std::move(db));
}

// ---- users ----

Status AuthStore::InsertUser(storage::Executor& ex, const UserRecord& u, int64_t now) {
  Status st = ex.Execute(
      "INSERT INTO main.users(user_id, username, password_hash, roles, disabled, created_unix, "
      "updated_unix) VALUES (?, ?, ?, ?, ?, ?, ?)",
      {u.user_id, u.username, u.password_hash, int64_t{u.roles}, int64_t{u.disabled ? 1 : 0},
       now, now});
  if (st.code() == Code::kAlreadyExists)
    return AlreadyExists("username '" + u.username + "' is taken", "USER_EXISTS");
  return st;
}

Result<std::optional<UserRecord>> AuthStore::FindUserByName(storage::Executor& ex,
                                                           std::string_view name) {
  return OneUser(ex.QueryRow(std::string("SELECT ") + kUserColumns +
                                 " FROM users_checked WHERE username = ?",
                             {S(name)}));
}

Result<std::optional<UserRecord>> AuthStore::FindUserById(storage::Executor& ex,
                                                         std::string_view id) {
  return OneUser(ex.QueryRow(std::string("SELECT ") + kUserColumns +
                                 " FROM users_checked WHERE user_id = ?",
                             {S(id)}));
}

Result<std::vector<UserRecord>> AuthStore::ListUsers(storage::Executor& ex) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, ex.Query(std::string("SELECT ") + kUserColumns + " FROM users_checked ORDER BY username"));
  std::vector<UserRecord> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(UserRecord u, ToUser(r));
    out.push_back(std::move(u));
  }
  return out;
}

Status AuthStore::SetDisabled(storage::Executor& ex, std::string_view user_id, bool disabled,
                              int64_t now) {
  return ex.Execute("UPDATE main.users SET disabled = ?, updated_unix = ? WHERE user_id = ?",
                    {int64_t{disabled ? 1 : 0}, now, S(user_id)});
}

Status AuthStore::SetPasswordHash(storage::Executor& ex, std::string_view user_id,
                                  std::string_view hash, int64_t now) {
  return ex.Execute("UPDATE main.users SET password_hash = ?, updated_unix = ? WHERE user_id = ?",
                    {S(hash), now, S(user_id)});
}

Status AuthStore::DeleteUser(storage::Executor& ex, std::string_view user_id) {
  return ex.Execute("DELETE FROM main.users WHERE user_id = ?", {S(user_id)});
}

Result<int64_t> AuthStore::CountEnabledAdmins(storage::Executor& ex,
                                              std::string_view except_user_id) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow("SELECT count(*) FROM users_checked WHERE disabled = 0 AND (roles & ?) != 0 "
                            "AND user_id != ?",
                            {int64_t{kRoleAdminBit}, S(except_user_id)}));
  return (*row).GetInt(0);
}

// ---- sessions and tokens ----

Status AuthStore::InsertSession(storage::Executor& ex, std::string_view session_id,
                                std::string_view user_id, int64_t now) {
  return ex.Execute("INSERT INTO main.sessions(session_id, user_id, created_unix) VALUES (?, ?, ?)",
                    {S(session_id), S(user_id), now});
}

Status AuthStore::InsertAccessToken(storage::Executor& ex, std::string_view token_id,
                                    std::string_view session_id, int64_t expires_unix) {
  return ex.Execute(
      "INSERT INTO main.access_tokens(token_id, session_id, expires_unix) VALUES (?, ?, ?)",
      {S(token_id), S(session_id), expires_unix});
}

Status AuthStore::InsertRefreshToken(storage::Executor& ex, ByteView token_hash,
                                     std::string_view session_id, int64_t expires_unix) {
  return ex.Execute(
      "INSERT INTO main.refresh_tokens(token_hash, session_id, expires_unix) VALUES (?, ?, ?)",
      {B(token_hash), S(session_id), expires_unix});
}

Result<std::optional<RefreshRecord>> AuthStore::FindRefreshToken(storage::Executor& ex,
                                                                 ByteView token_hash) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow("SELECT r.session_id, s.user_id, r.expires_unix, r.used, s.revoked "
                            "FROM refresh_tokens_checked r JOIN sessions_checked s USING (session_id) "
                            "WHERE r.token_hash = ?",
                            {B(token_hash)}));
  if (!row) return std::optional<RefreshRecord>();
  RefreshRecord r;
  CLOISTER_ASSIGN_OR_RETURN(r.session_id, row->GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(r.user_id, row->GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(r.expires_unix, row->GetInt(2));
  CLOISTER_ASSIGN_OR_RETURN(int64_t used, row->GetInt(3));
  CLOISTER_ASSIGN_OR_RETURN(int64_t revoked, row->GetInt(4));
  r.used = used != 0;
  r.session_revoked = revoked != 0;
  return std::optional<RefreshRecord>(std::move(r));
}

Result<bool> AuthStore::MarkRefreshUsed(storage::Executor& ex, ByteView token_hash) {
  CLOISTER_ASSIGN_OR_RETURN(
      int64_t n, ex.ExecuteChanges("UPDATE main.refresh_tokens SET used = 1 WHERE token_hash = ? AND "
                                   "used = 0",
                                   {B(token_hash)}));
  return n == 1;
}

Result<std::optional<std::string>> AuthStore::SessionOfAccessToken(storage::Executor& ex,
                                                                   std::string_view token_id) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row,
      ex.QueryRow("SELECT session_id FROM access_tokens_checked WHERE token_id = ?", {S(token_id)}));
  if (!row) return std::optional<std::string>();
  CLOISTER_ASSIGN_OR_RETURN(std::string s, row->GetText(0));
  return std::optional<std::string>(std::move(s));
}

Result<std::vector<std::pair<std::string, int64_t>>> AuthStore::RevokeSession(
    storage::Executor& ex, std::string_view session_id, int64_t now) {
  CLOISTER_RETURN_IF_ERROR(
      ex.Execute("UPDATE main.sessions SET revoked = 1 WHERE session_id = ?", {S(session_id)}));
  CLOISTER_RETURN_IF_ERROR(
      ex.Execute("DELETE FROM main.refresh_tokens WHERE session_id = ?", {S(session_id)}));
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, ex.Query("SELECT token_id, expires_unix FROM access_tokens_checked "
                          "WHERE session_id = ? AND expires_unix > ?",
                          {S(session_id), now}));
  std::vector<std::pair<std::string, int64_t>> out;
  for (const Row& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(std::string id, r.GetText(0));
    CLOISTER_ASSIGN_OR_RETURN(int64_t exp, r.GetInt(1));
    out.emplace_back(std::move(id), exp);
  }
  return out;
}

Status AuthStore::RevokeAllSessions(storage::Executor& ex, std::string_view user_id) {
  CLOISTER_RETURN_IF_ERROR(
      ex.Execute("UPDATE main.sessions SET revoked = 1 WHERE user_id = ?", {S(user_id)}));
  return ex.Execute(
      "DELETE FROM main.refresh_tokens WHERE session_id IN "
      "(SELECT session_id FROM sessions_checked WHERE user_id = ?)",
      {S(user_id)});
}

// ---- revocations ----

Status AuthStore::InsertRevocation(storage::Executor& ex, const RevocationRecord& r,
                                   int64_t relevant_until) {
  return ex.Execute(
      "INSERT INTO main.revocations(token_id, user_id, before_unix, revoked_unix_ms, relevant_until) "
      "VALUES (?, ?, ?, ?, ?)",
      {r.token_id, r.user_id, r.before_unix, r.revoked_unix_ms, relevant_until});
}

Result<std::vector<RevocationRecord>> AuthStore::RevocationsSince(storage::Executor& ex,
                                                                  int64_t since_ms, int64_t now) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, ex.Query("SELECT token_id, user_id, before_unix, revoked_unix_ms FROM revocations_checked "
                          "WHERE revoked_unix_ms > ? AND relevant_until > ? ORDER BY id",
                          {since_ms, now}));
  std::vector<RevocationRecord> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    RevocationRecord rec;
    CLOISTER_ASSIGN_OR_RETURN(rec.token_id, r.GetText(0));
    CLOISTER_ASSIGN_OR_RETURN(rec.user_id, r.GetText(1));
    CLOISTER_ASSIGN_OR_RETURN(rec.before_unix, r.GetInt(2));
    CLOISTER_ASSIGN_OR_RETURN(rec.revoked_unix_ms, r.GetInt(3));
    out.push_back(std::move(rec));
  }
  return out;
}

Result<int64_t> AuthStore::LatestUserRevocation(storage::Executor& ex, std::string_view user_id,
                                                int64_t now) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow("SELECT COALESCE(MAX(before_unix), 0) FROM revocations_checked "
                            "WHERE user_id = ? AND relevant_until > ?",
                            {S(user_id), now}));
  return (*row).GetInt(0);
}

Status AuthStore::Prune(storage::Executor& ex, int64_t now, int64_t expired_key_keep_s) {
  CLOISTER_RETURN_IF_ERROR(ex.Execute("DELETE FROM main.access_tokens WHERE expires_unix <= ?", {now}));
  CLOISTER_RETURN_IF_ERROR(
      ex.Execute("DELETE FROM main.refresh_tokens WHERE expires_unix <= ?", {now}));
  CLOISTER_RETURN_IF_ERROR(
      ex.Execute("DELETE FROM main.sessions WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens_checked r WHERE "
                 "r.session_id = sessions.session_id) AND NOT EXISTS (SELECT 1 FROM "
                 "access_tokens_checked a WHERE a.session_id = sessions.session_id)"));
  // Failure counters older than a day are forgotten anyway (AuthCore resets
  // them); dropping them bounds the table under a flood of made-up names
  // (which the gateway's per-source failure budget already slows).
  int64_t day_ago_ms = (now - 24 * 3600) * 1000;
  CLOISTER_RETURN_IF_ERROR(ex.Execute(
      "DELETE FROM login_throttle_by_source WHERE last_failure_ms < ? AND locked_until_ms < ?",
      {day_ago_ms, now * 1000}));
  CLOISTER_RETURN_IF_ERROR(ex.Execute("DELETE FROM main.api_keys WHERE expires_unix != 0 AND expires_unix <= ?",
                                      {now - expired_key_keep_s}));
  return ex.Execute("DELETE FROM main.revocations WHERE relevant_until <= ?", {now});
}

// ---- API keys ----

Status AuthStore::InsertApiKey(storage::Executor& ex, const ApiKeyRecord& k) {
  return ex.Execute(
      "INSERT INTO main.api_keys(key_id, user_id, secret_hash, description, created_unix, "
      "expires_unix, last_used_unix, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {k.key_id, k.user_id, k.secret_hash, k.description, k.created_unix, k.expires_unix,
       k.last_used_unix, k.scope});
}

Result<std::optional<ApiKeyRecord>> AuthStore::FindApiKey(storage::Executor& ex,
                                                          std::string_view key_id) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow(std::string("SELECT ") + kApiKeyColumns +
                                " FROM api_keys_checked WHERE key_id = ?",
                            {S(key_id)}));
  if (!row) return std::optional<ApiKeyRecord>();
  CLOISTER_ASSIGN_OR_RETURN(ApiKeyRecord k, ToApiKey(*row));
  return std::optional<ApiKeyRecord>(std::move(k));
}

Result<std::vector<ApiKeyRecord>> AuthStore::ListApiKeys(storage::Executor& ex,
                                                         std::string_view user_id) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, ex.Query(std::string("SELECT ") + kApiKeyColumns +
                              " FROM api_keys_checked WHERE user_id = ? ORDER BY created_unix DESC, "
                              "key_id",
                          {S(user_id)}));
  std::vector<ApiKeyRecord> out;
  out.reserve(rows.size());
  for (const Row& r : rows) {
    CLOISTER_ASSIGN_OR_RETURN(ApiKeyRecord k, ToApiKey(r));
    out.push_back(std::move(k));
  }
  return out;
}

Result<int64_t> AuthStore::CountApiKeys(storage::Executor& ex, std::string_view user_id,
                                        int64_t now) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow("SELECT count(*) FROM api_keys_checked WHERE user_id = ? AND "
                            "(expires_unix = 0 OR expires_unix > ?)",
                            {S(user_id), now}));
  return (*row).GetInt(0);
}

Status AuthStore::TouchApiKey(storage::Executor& ex, std::string_view key_id, int64_t now,
                              int64_t granularity_s) {
  return ex.Execute(
      "UPDATE main.api_keys SET last_used_unix = ? WHERE key_id = ? AND last_used_unix <= ?",
      {now, S(key_id), now - granularity_s});
}

Result<bool> AuthStore::DeleteApiKey(storage::Executor& ex, std::string_view key_id) {
  CLOISTER_ASSIGN_OR_RETURN(int64_t n,
                            ex.ExecuteChanges("DELETE FROM main.api_keys WHERE key_id = ?", {S(key_id)}));
  return n == 1;
}

Status AuthStore::DeleteApiKeysOfUser(storage::Executor& ex, std::string_view user_id) {
  return ex.Execute("DELETE FROM main.api_keys WHERE user_id = ?", {S(user_id)});
}

// ---- login throttle ----

Result<ThrottleRecord> AuthStore::GetThrottle(storage::Executor& ex, std::string_view username,
                                              std::string_view source) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow("SELECT failures, locked_until_ms, last_failure_ms FROM "
                            "login_throttle_by_source WHERE username = ? AND source = ?",
                            {S(username), S(source)}));
  ThrottleRecord t;
  if (!row) return t;
  CLOISTER_ASSIGN_OR_RETURN(t.failures, row->GetInt(0));
  CLOISTER_ASSIGN_OR_RETURN(t.locked_until_ms, row->GetInt(1));
  CLOISTER_ASSIGN_OR_RETURN(t.last_failure_ms, row->GetInt(2));
  return t;
}

Status AuthStore::PutThrottle(storage::Executor& ex, std::string_view username,
                              std::string_view source, const ThrottleRecord& t) {
  return ex.Execute(
      "INSERT INTO login_throttle_by_source(username, source, failures, locked_until_ms, "
      "last_failure_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT(username, source) DO UPDATE SET "
      "failures = excluded.failures, locked_until_ms = excluded.locked_until_ms, "
      "last_failure_ms = excluded.last_failure_ms",
      {S(username), S(source), t.failures, t.locked_until_ms, t.last_failure_ms});
}

Status AuthStore::ClearThrottle(storage::Executor& ex, std::string_view username,
                                std::string_view source) {
  return ex.Execute("DELETE FROM login_throttle_by_source WHERE username = ? AND source = ?",
                    {S(username), S(source)});
}

Status AuthStore::ClearThrottles(storage::Executor& ex, std::string_view username) {
  return ex.Execute("DELETE FROM login_throttle_by_source WHERE username = ?", {S(username)});
}

// ---- signing keys ----

Status AuthStore::InsertSigningKey(storage::Executor& ex, const SigningKeyRecord& k) {
  return ex.Execute(
      "INSERT INTO main.signing_keys(key_id, sealed_pkcs8, spki, created_unix, retired_unix) "
      "VALUES (?, ?, ?, ?, ?)",
      {k.key_id, k.sealed_pkcs8, k.spki, k.created_unix,
       k.retired_unix ? Value(*k.retired_unix) : storage::Null()});
}

Result<std::vector<SigningKeyRecord>> AuthStore::ListSigningKeys(storage::Executor& ex) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, ex.Query("SELECT key_id, sealed_pkcs8, spki, created_unix, retired_unix FROM "
                          "signing_keys_checked ORDER BY created_unix DESC, rowid DESC"));
  std::vector<SigningKeyRecord> out;
  for (const Row& r : rows) {
    SigningKeyRecord k;
    CLOISTER_ASSIGN_OR_RETURN(k.key_id, r.GetText(0));
    CLOISTER_ASSIGN_OR_RETURN(k.sealed_pkcs8, r.GetBlob(1));
    CLOISTER_ASSIGN_OR_RETURN(k.spki, r.GetBlob(2));
    CLOISTER_ASSIGN_OR_RETURN(k.created_unix, r.GetInt(3));
    CLOISTER_ASSIGN_OR_RETURN(k.retired_unix, r.GetOptionalInt(4));
    out.push_back(std::move(k));
  }
  return out;
}

Status AuthStore::RetireSigningKey(storage::Executor& ex, std::string_view key_id, int64_t now) {
  return ex.Execute("UPDATE main.signing_keys SET retired_unix = ? WHERE key_id = ?",
                    {now, S(key_id)});
}

Status AuthStore::DeleteSigningKey(storage::Executor& ex, std::string_view key_id) {
  return ex.Execute("DELETE FROM main.signing_keys WHERE key_id = ?", {S(key_id)});
}

}  // namespace cloister::auth
