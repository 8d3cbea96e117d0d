// cloister-keyvault's schema, as versioned storage/ migrations. Applied
// migrations are checksummed by the engine: never edit one, add the next.
#pragma once

#include <array>

#include "storage/engine.h"

namespace cloister::keyvault_store {

// keys: one row per key; latest_version always names an existing
// key_versions row (both are written in the same transaction).
// key_versions.sealed: the platform-sealed key material (never plaintext).
// grants: ops is a bitmask of keyvault.Operation values; expires_unix 0 = never.
// vault_meta: the sealed import-wrapping key.
// file_keys (2): one sealed AES-256-GCM key per encrypted file (the format
// header's file id); the seal's aad binds file id and owner (key_store.cc).
inline constexpr std::array<storage::Migration, 2> kKeyVaultMigrations = {{
    {1, "keyvault: keys, versions, grants", R"sql(
CREATE TABLE keys (
  name TEXT PRIMARY KEY,
  uid TEXT NOT NULL UNIQUE,
  type INTEGER NOT NULL,
  owner TEXT NOT NULL,
  exportable INTEGER NOT NULL,
  allowed_ops INTEGER NOT NULL,
  state INTEGER NOT NULL,
  latest_version INTEGER NOT NULL CHECK (latest_version >= 1),
  min_decryption_version INTEGER NOT NULL CHECK (min_decryption_version >= 1),
  created_unix INTEGER NOT NULL,
  deletion_unix INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX keys_by_owner ON keys(owner);
CREATE TABLE key_versions (
  uid TEXT NOT NULL,
  version INTEGER NOT NULL,
  sealed BLOB NOT NULL,
  public_spki BLOB NOT NULL,
  created_unix INTEGER NOT NULL,
  PRIMARY KEY (uid, version)
);
CREATE TABLE grants (
  grant_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  grantee TEXT NOT NULL,
  ops INTEGER NOT NULL,
  expires_unix INTEGER NOT NULL,
  created_unix INTEGER NOT NULL
);
CREATE INDEX grants_by_key ON grants(name, grantee);
CREATE INDEX grants_by_grantee ON grants(grantee);
CREATE TABLE vault_meta (
  k TEXT PRIMARY KEY,
  v BLOB NOT NULL
);
)sql"},
    {2, "keyvault: file keys", R"sql(
CREATE TABLE file_keys (
  file_id TEXT PRIMARY KEY,
  owner_user_id TEXT NOT NULL,
  sealed BLOB NOT NULL,
  created_unix INTEGER NOT NULL
);
CREATE INDEX file_keys_by_owner ON file_keys(owner_user_id);
)sql"},
}};

}  // namespace cloister::keyvault_store
