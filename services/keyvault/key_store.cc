// KeyStore: keys, versions and grants in SQL, material sealed; see key_store.h.
#include "services/keyvault/key_store.h"

#include <algorithm>

#include "attestation/sealing.h"
#include "common/crypto/random.h"
#include "services/keyvault/migrations/keyvault_migrations.h"

namespace cloister::keyvault_store {
namespace {

constexpr size_t kMaxCachedVersions = 4096;
constexpr std::string_view kKeyColumns =
    "uid, owner, name, owner_username, legacy_name, type, exportable, allowed_ops, state, "
    "latest_version, min_decryption_version, created_unix, deletion_unix";
constexpr std::string_view kGrantColumns =
    "grant_id, key_uid, grantee, ops, expires_unix, created_unix";

// The cache key of an owner's name (NUL never appears in either part).
std::string OwnerKey(std::string_view owner, std::string_view name) {
  std::string k(owner);
  k.push_back('\0');
  k.append(name);
  return k;
}

Result<KeyRecord> RowToKey(const storage::Row& row) {
  KeyRecord k;
  CLOISTER_ASSIGN_OR_RETURN(k.uid, row.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(k.owner, row.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(k.name, row.GetText(2));
  CLOISTER_ASSIGN_OR_RETURN(k.owner_username, row.GetText(3));
  CLOISTER_ASSIGN_OR_RETURN(int64_t legacy, row.GetInt(4));
  CLOISTER_ASSIGN_OR_RETURN(int64_t type, row.GetInt(5));
  CLOISTER_ASSIGN_OR_RETURN(int64_t exportable, row.GetInt(6));
  CLOISTER_ASSIGN_OR_RETURN(int64_t allowed, row.GetInt(7));
  CLOISTER_ASSIGN_OR_RETURN(int64_t state, row.GetInt(8));
  CLOISTER_ASSIGN_OR_RETURN(int64_t latest, row.GetInt(9));
  CLOISTER_ASSIGN_OR_RETURN(int64_t min_dec, row.GetInt(10));
  CLOISTER_ASSIGN_OR_RETURN(k.created_unix, row.GetInt(11));
  CLOISTER_ASSIGN_OR_RETURN(k.deletion_unix, row.GetInt(12));
  if (!keyvault::KeyType_IsValid(static_cast<int>(type)) ||
      !keyvault::KeyState_IsValid(static_cast<int>(state)) || latest < 1 || latest > UINT32_MAX ||
      min_dec < 1 || min_dec > UINT32_MAX)
    return DataLoss("key row out of range", reason::kStoreInconsistent);
  k.legacy_name = legacy != 0;
  k.type = static_cast<keyvault::KeyType>(type);
  k.exportable = exportable != 0;
  k.allowed = static_cast<OpMask>(allowed);
  k.state = static_cast<keyvault::KeyState>(state);
  k.latest_version = static_cast<uint32_t>(latest);
  k.min_decryption_version = static_cast<uint32_t>(min_dec);
  return k;
}

Result<GrantRecord> RowToGrant(const storage::Row& row) {
  GrantRecord g;
  CLOISTER_ASSIGN_OR_RETURN(g.grant_id, row.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(g.key_uid, row.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(g.grantee, row.GetText(2));
  CLOISTER_ASSIGN_OR_RETURN(int64_t ops, row.GetInt(3));
  g.ops = static_cast<OpMask>(ops);
  CLOISTER_ASSIGN_OR_RETURN(g.expires_unix, row.GetInt(4));
  CLOISTER_ASSIGN_OR_RETURN(g.created_unix, row.GetInt(5));
  return g;
}

// The sealing aad: binds the blob to its key, version and type.
Bytes MaterialAad(const KeyRecord& key, uint32_t version) {
  std::string s = "cloister-keyvault/material/v1";
  s.push_back('\0');
  s += key.uid;
  s.push_back('\0');
  s += std::to_string(version);
  s.push_back('\0');
  s += std::to_string(static_cast<int>(key.type));
  return ToBytes(s);
}

constexpr std::string_view kWrappingAad = "cloister-keyvault/wrapping-key/v1";

// The file-key sealing aad: binds the blob to its file id and owner, so a
// swapped blob or an edited owner column fails to unseal.
Bytes FileKeyAad(std::string_view file_id, std::string_view owner) {
  std::string s = "cloister-keyvault/file-key/v1";
  s.push_back('\0');
  s += file_id;
  s.push_back('\0');
  s += owner;
  return ToBytes(s);
}

Result<FileKeyRecord> RowToFileKey(const storage::Row& row) {
  FileKeyRecord r;
  CLOISTER_ASSIGN_OR_RETURN(r.file_id, row.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(r.owner, row.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(r.created_unix, row.GetInt(2));
  CLOISTER_ASSIGN_OR_RETURN(r.sealed, row.GetBlob(3));
  return r;
}

}  // namespace

const std::vector<services::ProtectedTable>& KeyStore::ProtectedTables() {
  // Who owns a key, what it may do, whether it leaves the vault, its
  // material, and every grant: what an edited row would give away.
  static const std::vector<services::ProtectedTable> kTables = {
      {"keys", {"uid"},
       {"uid", "owner", "name", "owner_username", "legacy_name", "type", "exportable",
        "allowed_ops", "state", "latest_version", "min_decryption_version", "deletion_unix"}},
      {"key_versions", {"uid", "version"}, {"uid", "version", "sealed", "public_spki"}},
      {"grants", {"grant_id"}, {"grant_id", "key_uid", "grantee", "ops", "expires_unix"}},
      {"file_keys", {"file_id"}, {"file_id", "owner_user_id", "sealed"}},
      {"vault_meta", {"k"}, {"k", "v"}},
  };
  return kTables;
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(std::string_view url,
                                                 std::unique_ptr<Sealer> sealer,
                                                 const services::RowIntegrity::Config* integrity) {
  CLOISTER_ASSIGN_OR_RETURN(auto db, storage::Engine::Open(url));
  CLOISTER_RETURN_IF_ERROR(db->Migrate(kKeyVaultMigrations));
  if (integrity != nullptr) {
    CLOISTER_ASSIGN_OR_RETURN(db, services::RowIntegrity::Protect(std::move(db), ProtectedTables(),
                                                                  *integrity));
  } else {
    CLOISTER_ASSIGN_OR_RETURN(db, services::RowIntegrity::Unprotected(std::move(db), ProtectedTables()));
  }
  auto store = std::make_unique<KeyStore>(std::move(db), std::move(sealer));
  CLOISTER_RETURN_IF_ERROR(store->LoadPendingOwners());
  return store;
}

Status KeyStore::LoadPendingOwners() {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT DISTINCT owner FROM keys_checked WHERE owner_username = ''", {}));
  std::lock_guard lock(meta_mu_);
  for (const auto& row : rows) {
    CLOISTER_ASSIGN_OR_RETURN(std::string owner, row.GetText(0));
    pending_owners_.insert(std::move(owner));
  }
  return OkStatus();
}

Result<Bytes> KeyStore::SealMaterial(const KeyRecord& key, uint32_t version, const KeyMaterial& m) {
  SecretBytes plain = m.Serialize();
  return sealer_->Seal(plain.view(), MaterialAad(key, version));
}

// ---- rows ----

Result<std::vector<KeyRecord>> KeyStore::LoadKeys(storage::Executor& ex, std::string_view where,
                                                  std::vector<storage::Value> params) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, ex.Query("SELECT " + std::string(kKeyColumns) + " FROM keys_checked " + std::string(where),
                          params));
  std::vector<KeyRecord> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    CLOISTER_ASSIGN_OR_RETURN(KeyRecord k, RowToKey(row));
    out.push_back(std::move(k));
  }
  return out;
}

Result<std::optional<KeyRecord>> KeyStore::LoadKeyByUid(storage::Executor& ex,
                                                        std::string_view uid) {
  CLOISTER_ASSIGN_OR_RETURN(auto keys, LoadKeys(ex, "WHERE uid = ?", {std::string(uid)}));
  if (keys.empty()) return std::optional<KeyRecord>();
  return std::optional<KeyRecord>(std::move(keys.front()));
}

Status KeyStore::InsertKey(storage::Executor& ex, const KeyRecord& k) {
  return ex.Execute(
      "INSERT INTO main.keys (" + std::string(kKeyColumns) + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
      {k.uid, k.owner, k.name, k.owner_username, int64_t{k.legacy_name}, int64_t{k.type},
       int64_t{k.exportable}, int64_t{k.allowed}, int64_t{k.state}, int64_t{k.latest_version},
       int64_t{k.min_decryption_version}, k.created_unix, k.deletion_unix});
}

Result<bool> KeyStore::UpdateKey(storage::Executor& ex, const KeyRecord& k,
                                 uint32_t expected_latest) {
  CLOISTER_ASSIGN_OR_RETURN(
      int64_t changed,
      ex.ExecuteChanges(
          "UPDATE main.keys SET owner_username = ?, legacy_name = ?, type = ?, exportable = ?, "
          "allowed_ops = ?, state = ?, latest_version = ?, min_decryption_version = ?, "
          "created_unix = ?, deletion_unix = ? "
          "WHERE uid = ? AND owner = ? AND name = ? AND latest_version = ?",
          {k.owner_username, int64_t{k.legacy_name}, int64_t{k.type}, int64_t{k.exportable},
           int64_t{k.allowed}, int64_t{k.state}, int64_t{k.latest_version},
           int64_t{k.min_decryption_version}, k.created_unix, k.deletion_unix, k.uid, k.owner,
           k.name, int64_t{expected_latest}}));
  return changed == 1;
}

Result<std::vector<GrantRecord>> KeyStore::LoadGrants(storage::Executor& ex,
                                                      std::string_view uid) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, ex.Query("SELECT " + std::string(kGrantColumns) +
                              " FROM grants_checked WHERE key_uid = ? ORDER BY created_unix, grant_id",
                          {std::string(uid)}));
  std::vector<GrantRecord> out;
  for (const auto& row : rows) {
    CLOISTER_ASSIGN_OR_RETURN(auto g, RowToGrant(row));
    out.push_back(std::move(g));
  }
  return out;
}

Status KeyStore::InsertGrant(storage::Executor& ex, const GrantRecord& g) {
  return ex.Execute("INSERT INTO main.grants (" + std::string(kGrantColumns) + ") VALUES (?,?,?,?,?,?)",
                    {g.grant_id, g.key_uid, g.grantee, int64_t{g.ops}, g.expires_unix,
                     g.created_unix});
}

// ---- cache ----

void KeyStore::CacheKey(const KeyRecord& k) {
  std::lock_guard lock(meta_mu_);
  keys_[OwnerKey(k.owner, k.name)] = k;
}

void KeyStore::ForgetKey(const KeyRecord& k) {
  std::lock_guard lock(meta_mu_);
  if (auto it = keys_.find(OwnerKey(k.owner, k.name)); it != keys_.end()) keys_.erase(it);
  if (auto it = grants_.find(k.uid); it != grants_.end()) grants_.erase(it);
}

// ---- keys ----

Result<KeyRecord> KeyStore::Create(const NewKey& nk, const KeyMaterial& material, int64_t now) {
  KeyRecord k;
  k.name = nk.name;
  k.uid = crypto::RandomId();
  k.type = nk.type;
  k.owner = nk.owner;
  k.owner_username = nk.owner_username;
  k.exportable = nk.exportable;
  k.allowed = nk.allowed;
  k.state = keyvault::KEY_STATE_ENABLED;
  k.latest_version = 1;
  k.min_decryption_version = 1;
  k.created_unix = now;
  CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, SealMaterial(k, 1, material));
  Bytes spki = material.public_key() ? material.public_key()->SpkiDer() : Bytes();
  std::lock_guard write(write_mu_);
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    // Unique per owner: another user's key of this name is no obstacle.
    CLOISTER_ASSIGN_OR_RETURN(auto existing,
                              LoadKeys(tx, "WHERE owner = ? AND name = ?", {k.owner, k.name}));
    if (!existing.empty())
      return AlreadyExists("you already have a key named " + k.name, reason::kKeyExists);
    CLOISTER_RETURN_IF_ERROR(InsertKey(tx, k));
    return tx.Execute(
        "INSERT INTO main.key_versions (uid, version, sealed, public_spki, created_unix) "
        "VALUES (?,?,?,?,?)",
        {k.uid, int64_t{1}, std::move(sealed), std::move(spki), now});
  });
  CLOISTER_RETURN_IF_ERROR(st);
  CacheKey(k);
  return k;
}

Status KeyStore::Purge(const KeyRecord& key) {
  std::lock_guard write(write_mu_);
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_RETURN_IF_ERROR(tx.Execute("DELETE FROM main.keys WHERE uid = ?", {key.uid}));
    CLOISTER_RETURN_IF_ERROR(tx.Execute("DELETE FROM main.key_versions WHERE uid = ?", {key.uid}));
    return tx.Execute("DELETE FROM main.grants WHERE key_uid = ?", {key.uid});
  });
  CLOISTER_RETURN_IF_ERROR(st);
  ForgetKey(key);
  std::lock_guard lock(mu_);
  for (auto it = cache_.begin(); it != cache_.end();) {
    it = it->first.rfind(key.uid + "/", 0) == 0 ? cache_.erase(it) : std::next(it);
  }
  return OkStatus();
}

Result<std::optional<KeyRecord>> KeyStore::Get(std::string_view owner, std::string_view name,
                                               int64_t now) {
  const std::string cache_key = OwnerKey(owner, name);
  std::optional<KeyRecord> k;
  {
    std::lock_guard lock(meta_mu_);
    if (auto it = keys_.find(cache_key); it != keys_.end()) k = it->second;
  }
  if (!k) {
    // Fill under the writer mutex so a concurrent write cannot be overtaken.
    std::lock_guard write(write_mu_);
    CLOISTER_ASSIGN_OR_RETURN(auto keys, LoadKeys(*db_, "WHERE owner = ? AND name = ?",
                                                  {std::string(owner), std::string(name)}));
    if (!keys.empty()) {
      k = std::move(keys.front());
      CacheKey(*k);
    }
  }
  if (k && k->state == keyvault::KEY_STATE_PENDING_DELETION && now >= k->deletion_unix) {
    CLOISTER_RETURN_IF_ERROR(Purge(*k));
    return std::optional<KeyRecord>();
  }
  return k;
}

Result<std::vector<KeyRecord>> KeyStore::FindByOwnerUsername(std::string_view owner_username,
                                                             std::string_view name, int64_t now) {
  std::vector<KeyRecord> out;
  if (owner_username.empty()) return out;  // '' marks "not known yet", never a namespace
  CLOISTER_ASSIGN_OR_RETURN(
      auto keys, LoadKeys(*db_, "WHERE owner_username = ? AND name = ? ORDER BY created_unix, uid",
                          {std::string(owner_username), std::string(name)}));
  for (auto& k : keys) {
    if (k.state == keyvault::KEY_STATE_PENDING_DELETION && now >= k.deletion_unix) {
      CLOISTER_RETURN_IF_ERROR(Purge(k));
      continue;
    }
    out.push_back(std::move(k));
  }
  return out;
}

Result<std::vector<KeyRecord>> KeyStore::List(std::string_view user, bool with_granted, bool all,
                                              int64_t now) {
  std::string where;
  std::vector<storage::Value> params;
  if (!all && with_granted) {
    where = "WHERE owner = ? OR uid IN (SELECT key_uid FROM grants_checked WHERE grantee = ? AND "
            "(expires_unix = 0 OR expires_unix > ?))";
    params = {std::string(user), std::string(user), now};
  } else if (!all) {
    where = "WHERE owner = ?";
    params = {std::string(user)};
  }
  where += " ORDER BY owner_username, name, owner";
  CLOISTER_ASSIGN_OR_RETURN(auto keys, LoadKeys(*db_, where, std::move(params)));
  std::vector<KeyRecord> out;
  for (auto& k : keys) {
    if (k.state == keyvault::KEY_STATE_PENDING_DELETION && now >= k.deletion_unix) {
      CLOISTER_RETURN_IF_ERROR(Purge(k));
      continue;
    }
    out.push_back(std::move(k));
  }
  return out;
}

Status KeyStore::AdoptOwnerUsername(std::string_view owner, std::string_view username) {
  {
    std::lock_guard lock(meta_mu_);
    if (pending_owners_.find(owner) == pending_owners_.end()) return OkStatus();
  }
  if (username.empty()) return OkStatus();
  std::lock_guard write(write_mu_);
  std::vector<KeyRecord> adopted;
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(
        auto keys,
        LoadKeys(tx, "WHERE owner = ? AND owner_username = ''", {std::string(owner)}));
    for (auto& k : keys) {
      k.owner_username = std::string(username);
      CLOISTER_ASSIGN_OR_RETURN(bool ok, UpdateKey(tx, k, k.latest_version));
      if (!ok) return Internal("key changed inside its own transaction");
      adopted.push_back(std::move(k));
    }
    return OkStatus();
  });
  CLOISTER_RETURN_IF_ERROR(st);
  for (const auto& k : adopted) CacheKey(k);
  std::lock_guard lock(meta_mu_);
  if (auto it = pending_owners_.find(owner); it != pending_owners_.end()) pending_owners_.erase(it);
  return OkStatus();
}

Result<std::vector<VersionRecord>> KeyStore::Versions(const KeyRecord& key) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT version, created_unix, public_spki FROM key_versions_checked "
                            "WHERE uid = ? ORDER BY version",
                            {key.uid}));
  std::vector<VersionRecord> out;
  for (const auto& row : rows) {
    VersionRecord v;
    CLOISTER_ASSIGN_OR_RETURN(int64_t ver, row.GetInt(0));
    v.version = static_cast<uint32_t>(ver);
    CLOISTER_ASSIGN_OR_RETURN(v.created_unix, row.GetInt(1));
    CLOISTER_ASSIGN_OR_RETURN(v.public_spki, row.GetBlob(2));
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::vector<GrantRecord>> KeyStore::Grants(const KeyRecord& key) {
  return LoadGrants(*db_, key.uid);
}

Result<OpMask> KeyStore::GrantedOps(const KeyRecord& key, std::string_view user, int64_t now) {
  // Expiry is checked against `now` at every use, so an expired grant stops
  // at once; revocation updates the cache before it returns.
  std::vector<GrantRecord> grants;
  bool cached = false;
  {
    std::lock_guard lock(meta_mu_);
    if (auto it = grants_.find(key.uid); it != grants_.end()) {
      grants = it->second;
      cached = true;
    }
  }
  if (!cached) {
    std::lock_guard write(write_mu_);
    CLOISTER_ASSIGN_OR_RETURN(grants, LoadGrants(*db_, key.uid));
    std::lock_guard lock(meta_mu_);
    grants_[key.uid] = grants;
  }
  OpMask ops = 0;
  for (const auto& g : grants)
    if (g.grantee == user && (g.expires_unix == 0 || g.expires_unix > now)) ops |= g.ops;
  return ops;
}

Result<KeyRecord> KeyStore::Modify(const KeyRecord& key,
                                   const std::function<void(KeyRecord&)>& change) {
  KeyRecord out;
  std::lock_guard write(write_mu_);
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(auto cur, LoadKeyByUid(tx, key.uid));
    if (!cur) return NotFound("key not found", reason::kKeyNotFound);
    const uint32_t latest = cur->latest_version;
    change(*cur);
    CLOISTER_ASSIGN_OR_RETURN(bool ok, UpdateKey(tx, *cur, latest));
    if (!ok) return Internal("key changed inside its own transaction");
    out = *std::move(cur);
    return OkStatus();
  });
  CLOISTER_RETURN_IF_ERROR(st);
  CacheKey(out);
  return out;
}

Result<KeyRecord> KeyStore::AddVersion(const KeyRecord& key, const KeyMaterial& material,
                                       uint32_t min_decryption_version, int64_t now) {
  if (key.latest_version == UINT32_MAX) return FailedPrecondition("key has too many versions");
  const uint32_t next = key.latest_version + 1;
  CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, SealMaterial(key, next, material));
  Bytes spki = material.public_key() ? material.public_key()->SpkiDer() : Bytes();
  KeyRecord out;
  std::lock_guard write(write_mu_);
  // The version row and the key's pointer to it commit together or not at
  // all; the update is conditional on the latest version the caller saw, so
  // a concurrent rotation fails instead of leaving latest_version pointing
  // past a version that was never written.
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(auto cur, LoadKeyByUid(tx, key.uid));
    if (!cur || cur->latest_version != key.latest_version)
      return Aborted("key changed concurrently; retry", reason::kConcurrentUpdate);
    KeyRecord k = *std::move(cur);
    k.latest_version = next;
    k.min_decryption_version =
        std::max(k.min_decryption_version, std::max<uint32_t>(min_decryption_version, 1));
    CLOISTER_ASSIGN_OR_RETURN(bool ok, UpdateKey(tx, k, key.latest_version));
    if (!ok) return Aborted("key changed concurrently; retry", reason::kConcurrentUpdate);
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO main.key_versions (uid, version, sealed, public_spki, created_unix) "
        "VALUES (?,?,?,?,?)",
        {key.uid, int64_t{next}, std::move(sealed), std::move(spki), now}));
    out = std::move(k);
    return OkStatus();
  });
  CLOISTER_RETURN_IF_ERROR(st);
  CacheKey(out);
  return out;
}

Result<KeyRecord> KeyStore::SetMinDecryptionVersion(const KeyRecord& key, uint32_t v) {
  return Modify(key, [v](KeyRecord& k) { k.min_decryption_version = v; });
}

Result<KeyRecord> KeyStore::SetState(const KeyRecord& key, keyvault::KeyState state,
                                     int64_t deletion_unix) {
  return Modify(key, [&](KeyRecord& k) {
    k.state = state;
    k.deletion_unix = deletion_unix;
  });
}

Result<GrantRecord> KeyStore::AddGrant(GrantRecord g) {
  std::lock_guard write(write_mu_);
  g.grant_id = "g-" + crypto::RandomId();
  CLOISTER_RETURN_IF_ERROR(InsertGrant(*db_, g));
  std::lock_guard lock(meta_mu_);
  grants_.erase(g.key_uid);
  return g;
}

Result<bool> KeyStore::RevokeGrant(const KeyRecord& key, std::string_view grant_id) {
  std::lock_guard write(write_mu_);
  CLOISTER_ASSIGN_OR_RETURN(int64_t n, db_->ExecuteChanges(
                                           "DELETE FROM main.grants WHERE key_uid = ? AND grant_id = ?",
                                           {key.uid, std::string(grant_id)}));
  std::lock_guard lock(meta_mu_);
  if (auto it = grants_.find(key.uid); it != grants_.end()) grants_.erase(it);
  return n > 0;
}

Result<std::shared_ptr<const KeyMaterial>> KeyStore::Material(const KeyRecord& key,
                                                              uint32_t version) {
  const std::string cache_key = key.uid + "/" + std::to_string(version);
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(cache_key); it != cache_.end()) return it->second;
  }
  CLOISTER_ASSIGN_OR_RETURN(auto row,
                            db_->QueryRow("SELECT sealed FROM key_versions_checked WHERE uid = ? AND "
                                          "version = ?",
                                          {key.uid, int64_t{version}}));
  if (!row)
    return NotFound("key " + key.FullName() + " has no version " + std::to_string(version),
                    reason::kVersionNotFound);
  CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, row->GetBlob(0));
  CLOISTER_ASSIGN_OR_RETURN(SecretBytes plain, sealer_->Unseal(sealed, MaterialAad(key, version)));
  CLOISTER_ASSIGN_OR_RETURN(KeyMaterial m, KeyMaterial::FromBytes(key.type, plain.view()));
  auto shared = std::make_shared<const KeyMaterial>(std::move(m));
  std::lock_guard lock(mu_);
  // A crude bound: dropping the whole cache only costs re-unsealing.
  if (cache_.size() >= kMaxCachedVersions) cache_.clear();
  cache_.emplace(cache_key, shared);
  return shared;
}

Result<crypto::PrivateKey> KeyStore::WrappingKey() {
  std::lock_guard lock(mu_);
  if (wrapping_) return *wrapping_;
  CLOISTER_ASSIGN_OR_RETURN(auto row,
                            db_->QueryRow("SELECT v FROM vault_meta_checked WHERE k = 'wrapping_key'", {}));
  if (row) {
    CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, row->GetBlob(0));
    CLOISTER_ASSIGN_OR_RETURN(SecretBytes der, sealer_->Unseal(sealed, AsBytes(kWrappingAad)));
    CLOISTER_ASSIGN_OR_RETURN(auto k, crypto::PrivateKey::FromPkcs8Der(der.view()));
    wrapping_ = k;
    return k;
  }
  CLOISTER_ASSIGN_OR_RETURN(auto k, crypto::PrivateKey::Generate(crypto::KeyType::kRsa3072));
  SecretBytes der = k.Pkcs8Der();
  CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, sealer_->Seal(der.view(), AsBytes(kWrappingAad)));
  CLOISTER_RETURN_IF_ERROR(
      db_->Execute("INSERT INTO main.vault_meta (k, v) VALUES ('wrapping_key', ?)", {std::move(sealed)}));
  wrapping_ = k;
  return k;
}

Result<FileKeyRecord> KeyStore::PutFileKey(std::string_view file_id, std::string_view owner,
                                           ByteView key, int64_t now) {
  FileKeyRecord r{
      .file_id = std::string(file_id), .owner = std::string(owner), .created_unix = now};
  CLOISTER_ASSIGN_OR_RETURN(r.sealed, sealer_->Seal(key, FileKeyAad(file_id, owner)));
  std::lock_guard write(write_mu_);
  Status st = db_->Execute(
      "INSERT INTO main.file_keys (file_id, owner_user_id, sealed, created_unix) VALUES (?,?,?,?)",
      {r.file_id, r.owner, r.sealed, now});
  // The primary key decides a race between two registrations of one id.
  if (!st.ok() && st.code() == Code::kAlreadyExists)
    return AlreadyExists("file " + r.file_id + " already has a key", reason::kFileKeyExists);
  CLOISTER_RETURN_IF_ERROR(st);
  return r;
}

Result<std::optional<FileKeyRecord>> KeyStore::GetFileKey(std::string_view file_id) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, db_->QueryRow("SELECT file_id, owner_user_id, created_unix, sealed FROM file_keys_checked "
                              "WHERE file_id = ?",
                              {std::string(file_id)}));
  if (!row) return std::optional<FileKeyRecord>();
  CLOISTER_ASSIGN_OR_RETURN(FileKeyRecord r, RowToFileKey(*row));
  return std::optional<FileKeyRecord>(std::move(r));
}

Result<SecretBytes> KeyStore::UnsealFileKey(const FileKeyRecord& rec) {
  return sealer_->Unseal(rec.sealed, FileKeyAad(rec.file_id, rec.owner));
}

Result<bool> KeyStore::DeleteFileKey(std::string_view file_id, std::string_view owner) {
  std::lock_guard write(write_mu_);
  CLOISTER_ASSIGN_OR_RETURN(
      int64_t n,
      db_->ExecuteChanges("DELETE FROM main.file_keys WHERE file_id = ? AND owner_user_id = ?",
                          {std::string(file_id), std::string(owner)}));
  return n > 0;
}

}  // namespace cloister::keyvault_store
