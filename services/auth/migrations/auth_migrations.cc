// Schema of cloister-auth. Secrets are never stored in the clear:
// password hashes (scrypt/PBKDF2 with parameters), SHA-256 of refresh tokens
// and API key secrets (both 256-bit random, so a fast hash suffices), and the
// token signing key sealed to the auth enclave's signer (MRSIGNER).
#include "services/auth/migrations/auth_migrations.h"

namespace cloister::auth {
namespace {

constexpr storage::Migration kMigrations[] = {
    {1, "users, sessions, revocations, api keys, throttle, signing keys", R"sql(
CREATE TABLE users (
  user_id       TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  roles         INTEGER NOT NULL,           -- bit 0: user, bit 1: admin
  disabled      INTEGER NOT NULL DEFAULT 0,
  created_unix  INTEGER NOT NULL,
  updated_unix  INTEGER NOT NULL
);

-- One login = one session; access and refresh tokens hang off it so Logout
-- and refresh-token reuse can revoke the whole family.
CREATE TABLE sessions (
  session_id    TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  created_unix  INTEGER NOT NULL,
  revoked       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE access_tokens (
  token_id      TEXT PRIMARY KEY,
  session_id    TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
  expires_unix  INTEGER NOT NULL
);
CREATE INDEX access_tokens_session ON access_tokens(session_id);

CREATE TABLE refresh_tokens (
  token_hash    BLOB PRIMARY KEY,           -- SHA-256 of the token
  session_id    TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
  expires_unix  INTEGER NOT NULL,
  used          INTEGER NOT NULL DEFAULT 0  -- single use; reuse revokes the session
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

-- Served to the gateway's cache. Deliberately no foreign key: a deleted
-- user's revocation must outlive the user row.
CREATE TABLE revocations (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  token_id        TEXT NOT NULL DEFAULT '',
  user_id         TEXT NOT NULL DEFAULT '',
  before_unix     INTEGER NOT NULL DEFAULT 0,
  revoked_unix_ms INTEGER NOT NULL,
  relevant_until  INTEGER NOT NULL          -- no token it covers is valid after this
);
CREATE INDEX revocations_time ON revocations(revoked_unix_ms);

CREATE TABLE api_keys (
  key_id        TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  secret_hash   BLOB NOT NULL,
  description   TEXT NOT NULL,
  created_unix  INTEGER NOT NULL,
  expires_unix  INTEGER NOT NULL            -- 0: never
);

-- Per-username failure counter, persisted so a restart does not reset it.
-- Keyed by name (not id) so unknown usernames are throttled identically.
CREATE TABLE login_throttle (
  username        TEXT PRIMARY KEY,
  failures        INTEGER NOT NULL,
  locked_until_ms INTEGER NOT NULL,
  last_failure_ms INTEGER NOT NULL
);

CREATE TABLE signing_keys (
  key_id        TEXT PRIMARY KEY,
  sealed_pkcs8  BLOB NOT NULL,
  spki          BLOB NOT NULL,
  created_unix  INTEGER NOT NULL,
  retired_unix  INTEGER                     -- NULL: current
);
)sql"},
    // Issue 11: API keys are listed (last use, scope) and always expire.
    // A key created "forever" before this expires one maximum expiry
    // (365 days, the default of --api-key-max-expiry-s) after its creation;
    // AuthCore also caps every key at created + the configured maximum.
    {2, "api keys: last use, scope, no key without expiry", R"sql(
ALTER TABLE api_keys ADD COLUMN last_used_unix INTEGER NOT NULL DEFAULT 0;
-- '' (unrestricted) or the canonical list "read-only,Call,..." (api_key_scope.h).
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE api_keys SET expires_unix = created_unix + 31536000 WHERE expires_unix = 0;
CREATE INDEX api_keys_user ON api_keys(user_id);
)sql"},
    // Issue 11: a per-username counter let anyone lock anyone out, the
    // admin included, by failing from anywhere. Failures now count per
    // (username, client source) — the source the gateway signed into the
    // grant — so a stranger's failures slow only the stranger's pair. The
    // old per-username rows are dropped, not carried over: they hold locks
    // strangers may have set, and no source to attach them to; the worst a
    // dropped row gives an attacker is the fresh allowance (5 failures,
    // then doubling waits) any new source gets anyway.
    {3, "login throttle per (username, client source)", R"sql(
CREATE TABLE login_throttle_by_source (
  username        TEXT NOT NULL,
  source          TEXT NOT NULL,   -- AccessGrant.client_source; '' = no public client
  failures        INTEGER NOT NULL,
  locked_until_ms INTEGER NOT NULL,
  last_failure_ms INTEGER NOT NULL,
  PRIMARY KEY (username, source)
);
DROP TABLE login_throttle;
)sql"},
};

}  // namespace

std::span<const storage::Migration> AuthMigrations() { return kMigrations; }

}  // namespace cloister::auth
