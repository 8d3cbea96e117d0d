// KeyStore: cloister-keyvault's durable state (keys, versions, grants) in
// the storage/ engine, with every version's key material SEALED before it
// is written and unsealed only into enclave memory (a small cache of
// KeyMaterial, zeroized when dropped).
//
//   auto store = *KeyStore::Open("sqlite:///data/keyvault.db",
//                                std::make_unique<PlatformSealer>(&enclave->platform()));
//   auto rec = *store->Create({.name = "db", .owner = "u-1", .owner_username = "alice", ...},
//                             material, now);
//   auto mine = *store->Get("u-1", "db", now);              // alice's own "db"
//   auto named = *store->FindByOwnerUsername("alice", "db", now);  // what "alice/db" may mean
//   auto mat = *store->Material(rec, rec.latest_version);
//
// Names are per owner (docs/keyvault.md, "Names and namespaces"): a key is
// unique per (owner user id, name) and is identified by its random uid;
// grants point at the uid. Which key a request's name means, and whether the
// caller may use it, is KeyVaultCore's decision; this store only answers
// the two lookups above.
//
// Sealing: the service uses the platform's MRSIGNER policy (the upgrade
// path, as SGX applications do): a version opens in any key-vault binary
// the auditors signed for this product at the svn it was sealed at or a
// higher one, on this node. A copied database opened by a binary of another
// product or signer (or on another node) yields DataLoss [SEAL_AUTH_FAILED];
// an older key-vault release (lower svn) gets PermissionDenied
// [SEAL_SVN_TOO_HIGH]. Blobs sealed MRENCLAVE by earlier builds still open
// in that identical binary. docs/keyvault.md has the trade-off.
// The sealing aad binds key uid, version and type, so sealed blobs cannot be
// swapped between rows either.
//
// File keys (table file_keys: the 32-byte key of one encrypted file, under
// the format header's file id) are sealed the same way, with aad = file id
// and owner: a blob moved to another row, or a row given another owner,
// no longer opens [SEAL_AUTH_FAILED]. They are not cached: each read
// unseals (a file key is read once per download, not per message).
//
// Metadata (key rows and grants) is cached in memory, write-through: every
// write goes through this object under one writer mutex, so ONE keyvault
// process per database is assumed (as the service runs). Grant expiry is
// still evaluated against the clock at every use.
//
// Crash atomicity: Create and AddVersion (rotate, import of a new version)
// write the sealed version row and the key's latest_version in ONE
// transaction; after a crash the key is at the old or the new version.
//
// Rows: every key row is read by RowToKey (through LoadKeys) and written by
// InsertKey / UpdateKey only; grants by RowToGrant / InsertGrant. Anything
// that must hold for a whole row (an integrity MAC) belongs there.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "attestation/sealer.h"
#include "services/common/row_integrity.h"
#include "attestation/platform/platform_client.h"
#include "services/keyvault/key_ops.h"
#include "storage/engine.h"

namespace cloister::keyvault_store {

using keyvault_ops::KeyMaterial;
using keyvault_ops::OpMask;

namespace reason {
inline constexpr const char* kKeyNotFound = "KEY_NOT_FOUND";
inline constexpr const char* kKeyExists = "KEY_ALREADY_EXISTS";
inline constexpr const char* kVersionNotFound = "KEY_VERSION_NOT_FOUND";
inline constexpr const char* kStoreInconsistent = "KEY_STORE_INCONSISTENT";
inline constexpr const char* kConcurrentUpdate = "KEY_CONCURRENT_UPDATE";
inline constexpr const char* kFileKeyExists = "FILE_KEY_EXISTS";
}  // namespace reason

// Key material is sealed with the one sealing interface (attestation/sealer.h):
// PlatformSealer (MRSIGNER) in the service, AeadSealer in tests and benches.
using attestation::AeadSealer;
using attestation::PlatformSealer;
using attestation::Sealer;

struct KeyRecord {
  std::string name;  // inside its owner's namespace: [A-Za-z0-9._-]{1,64}
  std::string uid;   // random per key: a re-created name never meets old cache entries or grants
  keyvault::KeyType type = keyvault::KEY_TYPE_UNSPECIFIED;
  std::string owner;  // the owner's user id
  // The owner's username, recorded at creation from the owner's verified
  // proof ("" for a key made before namespaces until its owner's next call).
  std::string owner_username;
  // Made before namespaces: its older ciphertexts carry the bare name.
  bool legacy_name = false;
  bool exportable = false;
  OpMask allowed = 0;
  keyvault::KeyState state = keyvault::KEY_STATE_ENABLED;
  uint32_t latest_version = 0;
  uint32_t min_decryption_version = 1;
  int64_t created_unix = 0;
  int64_t deletion_unix = 0;

  // "owner/name": what other users call it, and what its ciphertexts carry.
  std::string FullName() const { return keyvault_ops::FullKeyName(owner_username, name); }
};

struct VersionRecord {
  uint32_t version = 0;
  int64_t created_unix = 0;
  Bytes public_spki;  // empty for symmetric keys
};

struct GrantRecord {
  std::string grant_id;
  std::string key_uid;
  std::string grantee;
  OpMask ops = 0;
  int64_t expires_unix = 0;  // 0: never
  int64_t created_unix = 0;
};

// One file key's row. `sealed` is the sealed key (opens only through
// KeyStore::UnsealFileKey, for this file id and owner).
struct FileKeyRecord {
  std::string file_id;
  std::string owner;
  int64_t created_unix = 0;
  Bytes sealed;
};

struct NewKey {
  std::string name;
  keyvault::KeyType type = keyvault::KEY_TYPE_UNSPECIFIED;
  std::string owner;           // user id
  std::string owner_username;  // from the owner's verified proof
  bool exportable = false;
  OpMask allowed = 0;
};

class KeyStore {
 public:
  // With `integrity` (the service always; unit tests may omit it) the rows
  // of ProtectedTables() are MACed and checked and rollback is detected
  // (services/common/row_integrity.h). Writes name tables as main.<table>.
  static Result<std::unique_ptr<KeyStore>> Open(
      std::string_view url, std::unique_ptr<Sealer> sealer,
      const services::RowIntegrity::Config* integrity = nullptr);
  static const std::vector<services::ProtectedTable>& ProtectedTables();

  // AlreadyExists [KEY_ALREADY_EXISTS] if the owner already has a key of
  // that name (other owners' keys of that name do not matter).
  Result<KeyRecord> Create(const NewKey& key, const KeyMaterial& material, int64_t now);
  // The key `name` of the user with id `owner`; nullopt when absent (a key
  // whose deletion time has passed is destroyed here, on first sight).
  Result<std::optional<KeyRecord>> Get(std::string_view owner, std::string_view name, int64_t now);
  // Every key `name` whose owner had username `owner_username` when it was
  // recorded. More than one only when a deleted user's username was given
  // to a new user (ids differ); KeyVaultCore decides which, if any, is meant.
  Result<std::vector<KeyRecord>> FindByOwnerUsername(std::string_view owner_username,
                                                     std::string_view name, int64_t now);
  // Keys owned by `user`, plus (with_granted) those with a live grant for
  // `user`; all keys if `all`. Ordered by full name.
  Result<std::vector<KeyRecord>> List(std::string_view user, bool with_granted, bool all,
                                      int64_t now);
  // Records `username` as the owner username of `owner`'s keys that have
  // none (keys made before namespaces). Called with every verified user
  // caller; a no-op (no I/O) for users without such keys.
  Status AdoptOwnerUsername(std::string_view owner, std::string_view username);
  Result<std::vector<VersionRecord>> Versions(const KeyRecord& key);
  Result<std::vector<GrantRecord>> Grants(const KeyRecord& key);
  // Union of the operations of `user`'s live grants on `key` (0 if none).
  Result<OpMask> GrantedOps(const KeyRecord& key, std::string_view user, int64_t now);

  // Adds version latest+1 and makes it latest (optionally raising the
  // minimum decryption version), in one transaction. `key.latest_version`
  // guards against a concurrent rotation: Aborted [KEY_CONCURRENT_UPDATE]
  // if it moved.
  Result<KeyRecord> AddVersion(const KeyRecord& key, const KeyMaterial& material,
                               uint32_t min_decryption_version, int64_t now);
  Result<KeyRecord> SetMinDecryptionVersion(const KeyRecord& key, uint32_t v);
  Result<KeyRecord> SetState(const KeyRecord& key, keyvault::KeyState state, int64_t deletion_unix);

  // `g.key_uid` names the key; the grant id is assigned here.
  Result<GrantRecord> AddGrant(GrantRecord g);
  // false if no such grant on that key.
  Result<bool> RevokeGrant(const KeyRecord& key, std::string_view grant_id);

  // The unsealed material of one version (cached in enclave memory).
  // NotFound [KEY_VERSION_NOT_FOUND]; DataLoss [SEAL_AUTH_FAILED] if the
  // sealed blob does not open for this binary.
  Result<std::shared_ptr<const KeyMaterial>> Material(const KeyRecord& key, uint32_t version);

  // The vault's RSA-3072 import-wrapping key (generated and sealed on first use).
  Result<crypto::PrivateKey> WrappingKey();

  // ---- file keys (no access checks here: KeyVaultCore makes them) ----
  // Seals `key` for (file_id, owner) and inserts it. AlreadyExists
  // [FILE_KEY_EXISTS] if the id has a key, whoever owns it.
  Result<FileKeyRecord> PutFileKey(std::string_view file_id, std::string_view owner, ByteView key,
                                   int64_t now);
  // nullopt when the id has no key.
  Result<std::optional<FileKeyRecord>> GetFileKey(std::string_view file_id);
  // DataLoss [SEAL_AUTH_FAILED] if the blob was not sealed for this row's
  // file id and owner (or by this binary).
  Result<SecretBytes> UnsealFileKey(const FileKeyRecord& rec);
  // Deletes the key of `file_id` only if `owner` owns it; true if a row went.
  Result<bool> DeleteFileKey(std::string_view file_id, std::string_view owner);

  storage::Engine& engine() { return *db_; }

  KeyStore(std::unique_ptr<storage::Engine> db, std::unique_ptr<Sealer> sealer)
      : db_(std::move(db)), sealer_(std::move(sealer)) {}

 private:
  // Row access: the only places key and grant rows are read or written.
  static Result<std::vector<KeyRecord>> LoadKeys(storage::Executor& ex, std::string_view where,
                                                 std::vector<storage::Value> params);
  static Result<std::optional<KeyRecord>> LoadKeyByUid(storage::Executor& ex, std::string_view uid);
  static Status InsertKey(storage::Executor& ex, const KeyRecord& k);
  // Writes every column of `k`'s row (found by uid, owner and name) if its
  // latest_version is still `expected_latest`; false if it was not.
  static Result<bool> UpdateKey(storage::Executor& ex, const KeyRecord& k, uint32_t expected_latest);
  static Result<std::vector<GrantRecord>> LoadGrants(storage::Executor& ex, std::string_view uid);
  static Status InsertGrant(storage::Executor& ex, const GrantRecord& g);

  // Loads `uid`, applies `change` and writes it back, in one transaction.
  Result<KeyRecord> Modify(const KeyRecord& key, const std::function<void(KeyRecord&)>& change);
  Status LoadPendingOwners();
  void CacheKey(const KeyRecord& k);
  void ForgetKey(const KeyRecord& k);
  Status Purge(const KeyRecord& key);
  Result<Bytes> SealMaterial(const KeyRecord& key, uint32_t version, const KeyMaterial& m);

  std::unique_ptr<storage::Engine> db_;
  std::unique_ptr<Sealer> sealer_;
  // Serializes writes with their cache updates (and cache fills), so the
  // cache never goes back to a value older than the database's.
  std::mutex write_mu_;
  std::mutex meta_mu_;  // guards keys_, grants_ and pending_owners_
  // By OwnerKey(owner id, name).
  std::map<std::string, KeyRecord, std::less<>> keys_;  // guarded by meta_mu_
  // By key uid.
  std::map<std::string, std::vector<GrantRecord>, std::less<>> grants_;  // guarded by meta_mu_
  // Owner ids with keys whose owner_username is still unknown.
  std::set<std::string, std::less<>> pending_owners_;  // guarded by meta_mu_
  std::mutex mu_;  // guards cache_ and wrapping_
  std::map<std::string, std::shared_ptr<const KeyMaterial>> cache_;  // "uid/version"; guarded by mu_
  std::optional<crypto::PrivateKey> wrapping_;  // guarded by mu_
};

}  // namespace cloister::keyvault_store
