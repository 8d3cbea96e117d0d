// KeyStore: keys, versions and grants in SQL, material sealed; see key_store.h.
#include "services/keyvault/key_store.h"

#include "attestation/sealing.h"
#include "common/crypto/random.h"
#include "services/keyvault/migrations/keyvault_migrations.h"

namespace cloister::keyvault_store {
namespace {

constexpr size_t kMaxCachedVersions = 4096;
constexpr std::string_view kKeyColumns =
    "name, uid, type, owner, exportable, allowed_ops, state, latest_version, "
    "min_decryption_version, created_unix, deletion_unix";

Result<KeyRecord> RowToKey(const storage::Row& row) {
  KeyRecord k;
  CLOISTER_ASSIGN_OR_RETURN(k.name, row.GetText(0));
  CLOISTER_ASSIGN_OR_RETURN(k.uid, row.GetText(1));
  CLOISTER_ASSIGN_OR_RETURN(int64_t type, row.GetInt(2));
  CLOISTER_ASSIGN_OR_RETURN(k.owner, row.GetText(3));
  CLOISTER_ASSIGN_OR_RETURN(int64_t exportable, row.GetInt(4));
  CLOISTER_ASSIGN_OR_RETURN(int64_t allowed, row.GetInt(5));
  CLOISTER_ASSIGN_OR_RETURN(int64_t state, row.GetInt(6));
  CLOISTER_ASSIGN_OR_RETURN(int64_t latest, row.GetInt(7));
  CLOISTER_ASSIGN_OR_RETURN(int64_t min_dec, row.GetInt(8));
  CLOISTER_ASSIGN_OR_RETURN(k.created_unix, row.GetInt(9));
  CLOISTER_ASSIGN_OR_RETURN(k.deletion_unix, row.GetInt(10));
  if (!keyvault::KeyType_IsValid(static_cast<int>(type)) ||
      !keyvault::KeyState_IsValid(static_cast<int>(state)) || latest < 1 || latest > UINT32_MAX ||
      min_dec < 1 || min_dec > UINT32_MAX)
    return DataLoss("key row out of range", reason::kStoreInconsistent);
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
  CLOISTER_ASSIGN_OR_RETURN(g.name, row.GetText(1));
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

Result<Bytes> PlatformSealer::Seal(ByteView plaintext, ByteView aad) {
  // MRSIGNER, sealed at our svn: survives a rebuild (svn >= ours), never
  // opened by a lower svn. See key_store.h.
  return attestation::Seal(*client_, attestation::SEAL_POLICY_MRSIGNER, plaintext, aad);
}

Result<SecretBytes> PlatformSealer::Unseal(ByteView blob, ByteView aad) {
  CLOISTER_ASSIGN_OR_RETURN(Bytes b, attestation::Unseal(*client_, blob, aad));
  return SecretBytes::Adopt(std::move(b));
}

Result<Bytes> AeadSealer::Seal(ByteView plaintext, ByteView aad) {
  CLOISTER_ASSIGN_OR_RETURN(auto gcm, crypto::AesGcm::Create(key_.view()));
  return gcm.SealWithRandomNonce(aad, plaintext);
}

Result<SecretBytes> AeadSealer::Unseal(ByteView blob, ByteView aad) {
  CLOISTER_ASSIGN_OR_RETURN(auto gcm, crypto::AesGcm::Create(key_.view()));
  auto b = gcm.OpenWithNonce(aad, blob);
  if (!b.ok()) return DataLoss("sealed key material does not open", attestation::kSealAuthFailed);
  return SecretBytes::Adopt(*std::move(b));
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(std::string_view url,
                                                 std::unique_ptr<Sealer> sealer) {
  CLOISTER_ASSIGN_OR_RETURN(auto db, storage::Engine::Open(url));
  CLOISTER_RETURN_IF_ERROR(db->Migrate(kKeyVaultMigrations));
  return std::make_unique<KeyStore>(std::move(db), std::move(sealer));
}

Result<Bytes> KeyStore::SealMaterial(const KeyRecord& key, uint32_t version, const KeyMaterial& m) {
  SecretBytes plain = m.Serialize();
  return sealer_->Seal(plain.view(), MaterialAad(key, version));
}

Result<std::optional<KeyRecord>> KeyStore::Load(storage::Executor& ex, std::string_view name) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, ex.QueryRow("SELECT " + std::string(kKeyColumns) + " FROM keys WHERE name = ?",
                            {std::string(name)}));
  if (!row) return std::optional<KeyRecord>();
  CLOISTER_ASSIGN_OR_RETURN(KeyRecord k, RowToKey(*row));
  return std::optional<KeyRecord>(std::move(k));
}

void KeyStore::CacheKey(const KeyRecord& k) {
  std::lock_guard lock(meta_mu_);
  keys_[k.name] = k;
}

void KeyStore::ForgetKey(std::string_view name) {
  std::lock_guard lock(meta_mu_);
  if (auto it = keys_.find(name); it != keys_.end()) keys_.erase(it);
  if (auto it = grants_.find(name); it != grants_.end()) grants_.erase(it);
}

Result<KeyRecord> KeyStore::Create(const NewKey& nk, const KeyMaterial& material, int64_t now) {
  KeyRecord k;
  k.name = nk.name;
  k.uid = crypto::RandomId();
  k.type = nk.type;
  k.owner = nk.owner;
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
    CLOISTER_ASSIGN_OR_RETURN(auto existing, Load(tx, k.name));
    if (existing) return AlreadyExists("a key with this name exists", reason::kKeyExists);
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO keys (" + std::string(kKeyColumns) + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        {k.name, k.uid, int64_t{k.type}, k.owner, int64_t{k.exportable}, int64_t{k.allowed},
         int64_t{k.state}, int64_t{1}, int64_t{1}, now, int64_t{0}}));
    // Grants of a destroyed key with the same name must not carry over.
    CLOISTER_RETURN_IF_ERROR(tx.Execute("DELETE FROM grants WHERE name = ?", {k.name}));
    return tx.Execute(
        "INSERT INTO key_versions (uid, version, sealed, public_spki, created_unix) "
        "VALUES (?,?,?,?,?)",
        {k.uid, int64_t{1}, std::move(sealed), std::move(spki), now});
  });
  CLOISTER_RETURN_IF_ERROR(st);
  ForgetKey(k.name);  // drops any grants cached for an older key of this name
  CacheKey(k);
  return k;
}

Status KeyStore::Purge(const KeyRecord& key) {
  std::lock_guard write(write_mu_);
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_RETURN_IF_ERROR(
        tx.Execute("DELETE FROM keys WHERE name = ? AND uid = ?", {key.name, key.uid}));
    CLOISTER_RETURN_IF_ERROR(tx.Execute("DELETE FROM key_versions WHERE uid = ?", {key.uid}));
    return tx.Execute("DELETE FROM grants WHERE name = ?", {key.name});
  });
  CLOISTER_RETURN_IF_ERROR(st);
  ForgetKey(key.name);
  std::lock_guard lock(mu_);
  for (auto it = cache_.begin(); it != cache_.end();) {
    it = it->first.rfind(key.uid + "/", 0) == 0 ? cache_.erase(it) : std::next(it);
  }
  return OkStatus();
}

Result<std::optional<KeyRecord>> KeyStore::Get(std::string_view name, int64_t now) {
  std::optional<KeyRecord> k;
  {
    std::lock_guard lock(meta_mu_);
    if (auto it = keys_.find(name); it != keys_.end()) k = it->second;
  }
  if (!k) {
    // Fill under the writer mutex so a concurrent write cannot be overtaken.
    std::lock_guard write(write_mu_);
    CLOISTER_ASSIGN_OR_RETURN(k, Load(*db_, name));
    if (k) CacheKey(*k);
  }
  if (k && k->state == keyvault::KEY_STATE_PENDING_DELETION && now >= k->deletion_unix) {
    CLOISTER_RETURN_IF_ERROR(Purge(*k));
    return std::optional<KeyRecord>();
  }
  return k;
}

Result<std::vector<KeyRecord>> KeyStore::List(std::string_view user, bool all, int64_t now) {
  std::string sql = "SELECT " + std::string(kKeyColumns) + " FROM keys";
  std::vector<storage::Value> params;
  if (!all) {
    sql += " WHERE owner = ? OR name IN (SELECT name FROM grants WHERE grantee = ? AND "
           "(expires_unix = 0 OR expires_unix > ?))";
    params = {std::string(user), std::string(user), now};
  }
  sql += " ORDER BY name";
  CLOISTER_ASSIGN_OR_RETURN(auto rows, db_->Query(sql, params));
  std::vector<KeyRecord> out;
  for (const auto& row : rows) {
    CLOISTER_ASSIGN_OR_RETURN(KeyRecord k, RowToKey(row));
    if (k.state == keyvault::KEY_STATE_PENDING_DELETION && now >= k.deletion_unix) {
      CLOISTER_RETURN_IF_ERROR(Purge(k));
      continue;
    }
    out.push_back(std::move(k));
  }
  return out;
}

Result<std::vector<VersionRecord>> KeyStore::Versions(const KeyRecord& key) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT version, created_unix, public_spki FROM key_versions "
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

Result<std::vector<GrantRecord>> KeyStore::Grants(std::string_view name) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto rows, db_->Query("SELECT grant_id, name, grantee, ops, expires_unix, created_unix "
                            "FROM grants WHERE name = ? ORDER BY created_unix, grant_id",
                            {std::string(name)}));
  std::vector<GrantRecord> out;
  for (const auto& row : rows) {
    CLOISTER_ASSIGN_OR_RETURN(auto g, RowToGrant(row));
    out.push_back(std::move(g));
  }
  return out;
}

Result<OpMask> KeyStore::GrantedOps(std::string_view name, std::string_view user, int64_t now) {
  // Expiry is checked against `now` at every use, so an expired grant stops
  // at once; revocation updates the cache before it returns.
  std::vector<GrantRecord> grants;
  bool cached = false;
  {
    std::lock_guard lock(meta_mu_);
    if (auto it = grants_.find(name); it != grants_.end()) {
      grants = it->second;
      cached = true;
    }
  }
  if (!cached) {
    std::lock_guard write(write_mu_);
    CLOISTER_ASSIGN_OR_RETURN(grants, Grants(name));
    std::lock_guard lock(meta_mu_);
    grants_[std::string(name)] = grants;
  }
  OpMask ops = 0;
  for (const auto& g : grants)
    if (g.grantee == user && (g.expires_unix == 0 || g.expires_unix > now)) ops |= g.ops;
  return ops;
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
  // all; the conditional UPDATE makes a concurrent rotation fail instead of
  // leaving latest_version pointing past a version that was never written.
  Status st = db_->Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(
        int64_t changed,
        tx.ExecuteChanges("UPDATE keys SET latest_version = ?, min_decryption_version = "
                          "MAX(min_decryption_version, ?) WHERE name = ? AND uid = ? AND "
                          "latest_version = ?",
                          {int64_t{next}, int64_t{std::max<uint32_t>(min_decryption_version, 1)},
                           key.name, key.uid, int64_t{key.latest_version}}));
    if (changed != 1) return Aborted("key changed concurrently; retry", "KEY_CONCURRENT_UPDATE");
    CLOISTER_RETURN_IF_ERROR(tx.Execute(
        "INSERT INTO key_versions (uid, version, sealed, public_spki, created_unix) "
        "VALUES (?,?,?,?,?)",
        {key.uid, int64_t{next}, std::move(sealed), std::move(spki), now}));
    CLOISTER_ASSIGN_OR_RETURN(auto k, Load(tx, key.name));
    if (!k) return Internal("key vanished inside its own transaction");
    out = *std::move(k);
    return OkStatus();
  });
  CLOISTER_RETURN_IF_ERROR(st);
  CacheKey(out);
  return out;
}

Result<KeyRecord> KeyStore::SetMinDecryptionVersion(const KeyRecord& key, uint32_t v) {
  std::lock_guard write(write_mu_);
  CLOISTER_RETURN_IF_ERROR(db_->Execute(
      "UPDATE keys SET min_decryption_version = ? WHERE name = ? AND uid = ?",
      {int64_t{v}, key.name, key.uid}));
  CLOISTER_ASSIGN_OR_RETURN(auto k, Load(*db_, key.name));
  if (!k) return NotFound("key not found", reason::kKeyNotFound);
  CacheKey(*k);
  return *std::move(k);
}

Result<KeyRecord> KeyStore::SetState(const KeyRecord& key, keyvault::KeyState state,
                                     int64_t deletion_unix) {
  std::lock_guard write(write_mu_);
  CLOISTER_RETURN_IF_ERROR(db_->Execute(
      "UPDATE keys SET state = ?, deletion_unix = ? WHERE name = ? AND uid = ?",
      {int64_t{state}, deletion_unix, key.name, key.uid}));
  CLOISTER_ASSIGN_OR_RETURN(auto k, Load(*db_, key.name));
  if (!k) return NotFound("key not found", reason::kKeyNotFound);
  CacheKey(*k);
  return *std::move(k);
}

Result<GrantRecord> KeyStore::AddGrant(GrantRecord g) {
  std::lock_guard write(write_mu_);
  g.grant_id = "g-" + crypto::RandomId();
  CLOISTER_RETURN_IF_ERROR(db_->Execute(
      "INSERT INTO grants (grant_id, name, grantee, ops, expires_unix, created_unix) "
      "VALUES (?,?,?,?,?,?)",
      {g.grant_id, g.name, g.grantee, int64_t{g.ops}, g.expires_unix, g.created_unix}));
  std::lock_guard lock(meta_mu_);
  grants_.erase(g.name);
  return g;
}

Result<bool> KeyStore::RevokeGrant(std::string_view name, std::string_view grant_id) {
  std::lock_guard write(write_mu_);
  CLOISTER_ASSIGN_OR_RETURN(int64_t n, db_->ExecuteChanges(
                                           "DELETE FROM grants WHERE name = ? AND grant_id = ?",
                                           {std::string(name), std::string(grant_id)}));
  std::lock_guard lock(meta_mu_);
  if (auto it = grants_.find(name); it != grants_.end()) grants_.erase(it);
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
                            db_->QueryRow("SELECT sealed FROM key_versions WHERE uid = ? AND "
                                          "version = ?",
                                          {key.uid, int64_t{version}}));
  if (!row)
    return NotFound("key " + key.name + " has no version " + std::to_string(version),
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
                            db_->QueryRow("SELECT v FROM vault_meta WHERE k = 'wrapping_key'", {}));
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
      db_->Execute("INSERT INTO vault_meta (k, v) VALUES ('wrapping_key', ?)", {std::move(sealed)}));
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
      "INSERT INTO file_keys (file_id, owner_user_id, sealed, created_unix) VALUES (?,?,?,?)",
      {r.file_id, r.owner, r.sealed, now});
  // The primary key decides a race between two registrations of one id.
  if (!st.ok() && st.code() == Code::kAlreadyExists)
    return AlreadyExists("file " + r.file_id + " already has a key", reason::kFileKeyExists);
  CLOISTER_RETURN_IF_ERROR(st);
  return r;
}

Result<std::optional<FileKeyRecord>> KeyStore::GetFileKey(std::string_view file_id) {
  CLOISTER_ASSIGN_OR_RETURN(
      auto row, db_->QueryRow("SELECT file_id, owner_user_id, created_unix, sealed FROM file_keys "
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
      db_->ExecuteChanges("DELETE FROM file_keys WHERE file_id = ? AND owner_user_id = ?",
                          {std::string(file_id), std::string(owner)}));
  return n > 0;
}

}  // namespace cloister::keyvault_store
