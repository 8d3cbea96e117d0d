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
// (3) key names per owner (docs/keyvault.md, "Names and namespaces"): a key
// is unique per (owner user id, name), keyed by its uid, and records its
// owner's username (learned from the owner's verified proof; '' for keys
// made before this migration until their owner's next call). legacy_name = 1
// marks those older keys, whose ciphertexts carry the bare name. Grants
// point at the key's uid instead of a (then global) name.
inline constexpr std::array<storage::Migration, 3> kKeyVaultMigrations = {{
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
    {3, "keyvault: key names per owner", R"sql(
CREATE TABLE keys_v3 (
  uid TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  owner_username TEXT NOT NULL,
  legacy_name INTEGER NOT NULL,
  type INTEGER NOT NULL,
  exportable INTEGER NOT NULL,
  allowed_ops INTEGER NOT NULL,
  state INTEGER NOT NULL,
  latest_version INTEGER NOT NULL CHECK (latest_version >= 1),
  min_decryption_version INTEGER NOT NULL CHECK (min_decryption_version >= 1),
  created_unix INTEGER NOT NULL,
  deletion_unix INTEGER NOT NULL DEFAULT 0,
  UNIQUE (owner, name)
);
INSERT INTO keys_v3 (uid, owner, name, owner_username, legacy_name, type, exportable, allowed_ops,
                     state, latest_version, min_decryption_version, created_unix, deletion_unix)
  SELECT uid, owner, name, '', 1, type, exportable, allowed_ops, state, latest_version,
         min_decryption_version, created_unix, deletion_unix FROM keys;
CREATE TABLE grants_v3 (
  grant_id TEXT PRIMARY KEY,
  key_uid TEXT NOT NULL,
  grantee TEXT NOT NULL,
  ops INTEGER NOT NULL,
  expires_unix INTEGER NOT NULL,
  created_unix INTEGER NOT NULL
);
INSERT INTO grants_v3 (grant_id, key_uid, grantee, ops, expires_unix, created_unix)
  SELECT g.grant_id, k.uid, g.grantee, g.ops, g.expires_unix, g.created_unix
  FROM grants g JOIN keys k ON k.name = g.name;
DROP TABLE grants;
DROP TABLE keys;
ALTER TABLE keys_v3 RENAME TO keys;
ALTER TABLE grants_v3 RENAME TO grants;
CREATE INDEX keys_by_owner_username ON keys(owner_username, name);
CREATE INDEX grants_by_key ON grants(key_uid, grantee);
CREATE INDEX grants_by_grantee ON grants(grantee);
)sql"},
}};

}  // namespace cloister::keyvault_store
