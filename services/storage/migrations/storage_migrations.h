// cloister-storage's schema, as versioned storage/ migrations. Applied
// migrations are checksummed by the engine: never edit one, add the next.
#pragma once

#include <array>

#include "storage/engine.h"

namespace cloister::storage_service {

// files: one row per completed file; a row exists only once its blob is in
// place (CompleteUpload renames first, then commits). seq orders listings
// newest first (completion order) and is the page cursor.
// upload_sessions: open uploads; file_id is UNIQUE so one file id is in at
// most one session; `received` is the durable offset (bytes fsynced).
// Sizes are ciphertext bytes; all fit SQLite's signed 64 bits because the
// quota (≤ INT64_MAX) bounds them.
// *_labels: the labels of a file / of a session (copied at completion).
inline constexpr std::array<storage::Migration, 1> kStorageMigrations = {{
    {1, "storage: files, upload sessions, labels", R"sql(
CREATE TABLE files (
  file_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  plaintext_size INTEGER NOT NULL CHECK (plaintext_size >= 0),
  chunk_size INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  sha256 BLOB NOT NULL,
  created_unix INTEGER NOT NULL,
  description TEXT NOT NULL,
  seq INTEGER NOT NULL UNIQUE
);
CREATE INDEX files_by_owner ON files(owner, seq);
CREATE TABLE file_labels (
  file_id TEXT NOT NULL,
  k TEXT NOT NULL,
  v TEXT NOT NULL,
  PRIMARY KEY (file_id, k)
);
CREATE TABLE upload_sessions (
  upload_id TEXT PRIMARY KEY,
  file_id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  size INTEGER NOT NULL CHECK (size >= 0),
  received INTEGER NOT NULL CHECK (received >= 0 AND received <= size),
  created_unix INTEGER NOT NULL,
  expires_unix INTEGER NOT NULL,
  description TEXT NOT NULL
);
CREATE INDEX upload_sessions_by_owner ON upload_sessions(owner);
CREATE INDEX upload_sessions_by_expiry ON upload_sessions(expires_unix);
CREATE TABLE upload_labels (
  upload_id TEXT NOT NULL,
  k TEXT NOT NULL,
  v TEXT NOT NULL,
  PRIMARY KEY (upload_id, k)
);
)sql"},
}};

}  // namespace cloister::storage_service
