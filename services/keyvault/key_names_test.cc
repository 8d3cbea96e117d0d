// Unit tests of per-owner key names (issue 11, docs/keyvault.md "Names and
// namespaces"): parsing NAME and OWNER/NAME; resolution in KeyVaultCore over
// a real SQLite KeyStore (a bare name is always the caller's own key, another
// user's key needs OWNER/NAME and a live grant, so a squatted name or an
// unconsented grant changes nothing); a reused username refused as
// ambiguous; and migration 3 of a store written before namespaces.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto/random.h"
#include "services/keyvault/key_ops.h"
#include "services/keyvault/keyvault_service.h"
#include "services/keyvault/migrations/keyvault_migrations.h"
#include "storage/engine.h"

namespace cloister::keyvault_service {
namespace {

using keyvault_store::AeadSealer;
using keyvault_store::KeyStore;

Caller User(const std::string& id, const std::string& username, bool admin = false) {
  return services::MakeCallerForTesting({.user_id = id, .admin = admin, .username = username});
}

const Caller kAlice = User("u-alice", "alice");
const Caller kMallory = User("u-mallory", "mallory");
const Caller kBob = User("u-bob", "bob");
const Caller kAdmin = User("u-admin", "admin", true);

template <typename T>
std::string ReasonOf(const Result<T>& r) {
  return r.ok() ? "OK" : r.error().reason();
}

TEST(KeyRefTest, BareNamesAreOwnQualifiedNamesNameTheirOwner) {
  auto bare = keyvault_ops::ParseKeyRef("payroll");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->qualified());
  EXPECT_EQ(bare->name, "payroll");
  auto q = keyvault_ops::ParseKeyRef("alice/payroll");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->qualified());
  EXPECT_EQ(q->owner, "alice");
  EXPECT_EQ(q->name, "payroll");
  for (std::string bad : {std::string(""), std::string("/x"), std::string("x/"),
                          std::string("a/b/c"), std::string("a b/x"), std::string("alice/x:y"),
                          std::string(65, 'a') + "/x", "x/" + std::string(65, 'a')}) {
    auto r = keyvault_ops::ParseKeyRef(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().reason(), keyvault_ops::reason::kKeyNameInvalid) << bad;
  }
  EXPECT_EQ(keyvault_ops::FullKeyName("alice", "payroll"), "alice/payroll");
  EXPECT_EQ(keyvault_ops::FullKeyName("", "payroll"), "payroll");
}

TEST(KeyRefTest, CiphertextHeadersCarryTheFullName) {
  auto gcm = *crypto::AesGcm::Create(crypto::RandomBytes(32));
  auto ct = keyvault_ops::EncryptWith(gcm, "alice/db", 2, AsBytes("x"), {});
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(ct->rfind("cloister:alice/db:v2:", 0), 0u) << *ct;
  auto parsed = keyvault_ops::ParseCiphertext(*ct);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->name, "alice/db");
  EXPECT_EQ(ToString(*keyvault_ops::DecryptWith(gcm, *parsed, {})), "x");
  // The owner is bound like the name: the same blob under another owner fails.
  std::string other = *ct;
  other.replace(0, std::string("cloister:alice").size(), "cloister:mallo");
  auto moved = keyvault_ops::ParseCiphertext(other);
  ASSERT_TRUE(moved.ok());
  EXPECT_FALSE(keyvault_ops::DecryptWith(gcm, *moved, {}).ok());
  std::string two_slashes = *ct;
  two_slashes.replace(0, std::string("cloister:alice/db").size(), "cloister:a/b/db");
  EXPECT_EQ(keyvault_ops::ParseCiphertext(two_slashes).error().reason(),
            keyvault_ops::reason::kCiphertextMalformed);
}

class KeyNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kv-names-" + crypto::RandomId());
    std::filesystem::create_directories(dir_);
    sealing_key_ = SecretBytes::Random(32);
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string Url() const { return "sqlite://" + (dir_ / "kv.db").string(); }
  void Open() {
    core_.reset();
    store_.reset();
    auto s = KeyStore::Open(Url(), std::make_unique<AeadSealer>(sealing_key_));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = *std::move(s);
    core_ = std::make_unique<KeyVaultCore>(store_.get(), nullptr, [this] { return now_; });
  }
  Result<keyvault::KeyMetadata> Create(const Caller& c, const std::string& name) {
    keyvault::CreateKeyRequest r;
    r.set_name(name);
    r.set_type(keyvault::KEY_TYPE_AES256_GCM);
    CLOISTER_ASSIGN_OR_RETURN(auto resp, core_->CreateKey(c, r));
    return resp.key();
  }
  Result<std::string> Encrypt(const Caller& c, const std::string& name, const std::string& pt) {
    keyvault::EncryptRequest r;
    r.set_name(name);
    r.set_plaintext(pt);
    CLOISTER_ASSIGN_OR_RETURN(auto resp, core_->Encrypt(c, r));
    return resp.ciphertext();
  }
  Result<std::string> Decrypt(const Caller& c, const std::string& name, const std::string& ct) {
    keyvault::DecryptRequest r;
    r.set_name(name);
    r.set_ciphertext(ct);
    CLOISTER_ASSIGN_OR_RETURN(auto resp, core_->Decrypt(c, r));
    return resp.plaintext();
  }
  Result<keyvault::KeyMetadata> Describe(const Caller& c, const std::string& name) {
    keyvault::DescribeKeyRequest r;
    r.set_name(name);
    CLOISTER_ASSIGN_OR_RETURN(auto resp, core_->DescribeKey(c, r));
    return resp.key();
  }
  Status Grant(const Caller& owner, const std::string& name, const Caller& to,
               std::vector<keyvault::Operation> ops) {
    keyvault::CreateGrantRequest r;
    r.set_name(name);
    r.set_grantee_user_id(to.user_id());
    for (auto op : ops) r.add_operations(op);
    return core_->CreateGrant(owner, r).status();
  }
  std::vector<keyvault::KeyMetadata> List(const Caller& c, bool owned_only = false) {
    keyvault::ListKeysRequest r;
    r.set_owned_only(owned_only);
    auto resp = core_->ListKeys(c, r);
    EXPECT_TRUE(resp.ok()) << resp.error().ToString();
    if (!resp.ok()) return {};
    return {resp->keys().begin(), resp->keys().end()};
  }

  std::filesystem::path dir_;
  SecretBytes sealing_key_;
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<KeyVaultCore> core_;
  int64_t now_ = 1'700'000'000;
};

TEST_F(KeyNamesTest, SquattedNamesAndUnconsentedGrantsNeverReachAnotherUsersBareName) {
  Open();
  // mallory takes "payroll" first and grants it to alice, unasked.
  ASSERT_TRUE(Create(kMallory, "payroll").ok());
  ASSERT_TRUE(Grant(kMallory, "payroll", kAlice,
                    {keyvault::OPERATION_ENCRYPT, keyvault::OPERATION_DECRYPT})
                  .ok());
  // The grant does not make mallory's key alice's "payroll".
  EXPECT_EQ(ReasonOf(Encrypt(kAlice, "payroll", "salary")), "KEY_NOT_FOUND");
  // alice still creates her own "payroll".
  auto mine = Create(kAlice, "payroll");
  ASSERT_TRUE(mine.ok()) << mine.error().ToString();
  EXPECT_EQ(mine->full_name(), "alice/payroll");
  EXPECT_EQ(mine->owner_username(), "alice");
  EXPECT_EQ(mine->owner_user_id(), "u-alice");
  auto ct = Encrypt(kAlice, "payroll", "salary");
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(ct->rfind("cloister:alice/payroll:v1:", 0), 0u) << *ct;
  EXPECT_EQ(*Decrypt(kAlice, "payroll", *ct), "salary");
  // mallory's key is not the key it was made with, whatever she names.
  EXPECT_EQ(ReasonOf(Decrypt(kMallory, "payroll", *ct)), "CIPHERTEXT_KEY_MISMATCH");
  EXPECT_EQ(ReasonOf(Decrypt(kMallory, "alice/payroll", *ct)), "KEY_NOT_FOUND");
  std::string forged = *ct;
  forged.replace(0, std::string("cloister:alice").size(), "cloister:mallory");
  EXPECT_EQ(ReasonOf(Decrypt(kMallory, "payroll", forged)), "AEAD_AUTHENTICATION_FAILED");

  // mallory's key is reachable only as mallory/payroll, within the grant.
  auto theirs = Encrypt(kAlice, "mallory/payroll", "for mallory");
  ASSERT_TRUE(theirs.ok()) << theirs.error().ToString();
  EXPECT_EQ(theirs->rfind("cloister:mallory/payroll:v1:", 0), 0u) << *theirs;
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "payroll", *theirs)), "CIPHERTEXT_KEY_MISMATCH");
  EXPECT_EQ(*Decrypt(kAlice, "mallory/payroll", *theirs), "for mallory");
  keyvault::RewrapRequest rw;
  rw.set_name("mallory/payroll");
  rw.set_ciphertext(*theirs);
  EXPECT_EQ(ReasonOf(core_->Rewrap(kAlice, rw)), "OPERATION_NOT_GRANTED");
  keyvault::RotateKeyRequest rot;
  rot.set_name("mallory/payroll");
  EXPECT_EQ(ReasonOf(core_->RotateKey(kAlice, rot)), "NOT_KEY_OWNER");

  // alice's list shows where each key comes from.
  auto all = List(kAlice);
  ASSERT_EQ(all.size(), 2u);
  int own = 0, granted = 0;
  for (const auto& k : all) {
    if (k.owner_user_id() == "u-alice") {
      ++own;
      EXPECT_EQ(k.full_name(), "alice/payroll");
    } else {
      ++granted;
      EXPECT_EQ(k.full_name(), "mallory/payroll");
      EXPECT_EQ(k.owner_username(), "mallory");
      EXPECT_EQ(k.owner_user_id(), "u-mallory");
    }
  }
  EXPECT_EQ(own, 1);
  EXPECT_EQ(granted, 1);
  auto owned = List(kAlice, /*owned_only=*/true);
  ASSERT_EQ(owned.size(), 1u);
  EXPECT_EQ(owned[0].full_name(), "alice/payroll");
  auto desc = Describe(kAlice, "mallory/payroll");
  ASSERT_TRUE(desc.ok());
  EXPECT_EQ(desc->owner_username(), "mallory");

  // Nobody creates or imports into another user's namespace.
  EXPECT_EQ(ReasonOf(Create(kMallory, "alice/anything")), "KEY_NAME_QUALIFIED");
  EXPECT_EQ(ReasonOf(Create(kMallory, "alice/payroll")), "KEY_NAME_QUALIFIED");
  keyvault::ImportKeyRequest imp;
  imp.set_name("alice/imported");
  imp.set_type(keyvault::KEY_TYPE_AES256_GCM);
  imp.set_wrapped_key("irrelevant");
  EXPECT_EQ(ReasonOf(core_->ImportKey(kMallory, imp)), "KEY_NAME_QUALIFIED");
  // And a grant from alice is what mallory would need to use hers.
  EXPECT_EQ(ReasonOf(Encrypt(kMallory, "alice/payroll", "x")), "KEY_NOT_FOUND");
}

TEST_F(KeyNamesTest, OwnUsernameAsOwnerIsTheCallersOwnKey) {
  Open();
  ASSERT_TRUE(Create(kAlice, "k").ok());
  auto ct = Encrypt(kAlice, "alice/k", "x");
  ASSERT_TRUE(ct.ok()) << ct.error().ToString();
  EXPECT_EQ(*Decrypt(kAlice, "k", *ct), "x");
  keyvault::RotateKeyRequest rot;
  rot.set_name("alice/k");
  EXPECT_TRUE(core_->RotateKey(kAlice, rot).ok());
  // A user whose key is squatted by name elsewhere is unaffected: bob's
  // "k" and alice's "k" are two keys.
  ASSERT_TRUE(Create(kBob, "k").ok());
  EXPECT_EQ(ReasonOf(Decrypt(kBob, "k", *ct)), "CIPHERTEXT_KEY_MISMATCH");
}

TEST_F(KeyNamesTest, ReusedUsernameIsRefusedAsAmbiguousNotGuessed) {
  Open();
  const Caller carol_old = User("u-carol-1", "carol");
  const Caller carol_new = User("u-carol-2", "carol");  // after carol_old was deleted
  ASSERT_TRUE(Create(carol_old, "x").ok());
  ASSERT_TRUE(
      Grant(carol_old, "x", kBob, {keyvault::OPERATION_ENCRYPT, keyvault::OPERATION_DECRYPT}).ok());
  auto old_ct = Encrypt(kBob, "carol/x", "for old carol");
  ASSERT_TRUE(old_ct.ok());
  // The new holder of the username has her own namespace (by user id).
  ASSERT_TRUE(Create(carol_new, "x").ok());
  // bob may use only one key named carol/x: that one.
  EXPECT_EQ(*Decrypt(kBob, "carol/x", *old_ct), "for old carol");
  // Once the new carol grants hers too, bob is told, not guessed for.
  ASSERT_TRUE(Grant(carol_new, "x", kBob, {keyvault::OPERATION_ENCRYPT}).ok());
  EXPECT_EQ(ReasonOf(Encrypt(kBob, "carol/x", "y")), "KEY_NAME_AMBIGUOUS");
  EXPECT_EQ(ReasonOf(Describe(kAdmin, "carol/x")), "KEY_NAME_AMBIGUOUS");
  // Each owner's own name is never ambiguous.
  auto new_ct = Encrypt(carol_new, "carol/x", "mine");
  ASSERT_TRUE(new_ct.ok());
  EXPECT_EQ(*Decrypt(carol_new, "x", *new_ct), "mine");
  EXPECT_EQ(ReasonOf(Decrypt(carol_new, "x", *old_ct)), "AEAD_AUTHENTICATION_FAILED");
}

// The sealing aad of key material as key_store.cc writes it; pinned here
// because blobs written by earlier releases must keep opening.
Bytes LegacyMaterialAad(const std::string& uid, uint32_t version, keyvault::KeyType type) {
  std::string s = "cloister-keyvault/material/v1";
  s.push_back('\0');
  s += uid;
  s.push_back('\0');
  s += std::to_string(version);
  s.push_back('\0');
  s += std::to_string(static_cast<int>(type));
  return ToBytes(s);
}

TEST_F(KeyNamesTest, KeysFromBeforeNamespacesKeepNamesGrantsAndCiphertexts) {
  // A store as the release before namespaces left it (schema 1-2): alice's
  // global "legacy" with a grant to bob, and a grant of a destroyed key.
  const std::string uid = crypto::RandomId();
  auto material = *keyvault_ops::KeyMaterial::Generate(keyvault::KEY_TYPE_AES256_GCM);
  auto gcm = *material.Cipher();
  const std::string old_ct = *keyvault_ops::EncryptWith(gcm, "legacy", 1, AsBytes("old secret"), {});
  ASSERT_EQ(old_ct.rfind("cloister:legacy:v1:", 0), 0u);
  {
    auto db = storage::Engine::Open(Url());
    ASSERT_TRUE(db.ok()) << db.error().ToString();
    ASSERT_TRUE((*db)->Migrate(std::span<const storage::Migration>(
                                   keyvault_store::kKeyVaultMigrations)
                                   .first(2))
                    .ok());
    AeadSealer sealer(SecretBytes(sealing_key_.view()));
    SecretBytes plain = material.Serialize();
    auto sealed = sealer.Seal(plain.view(), LegacyMaterialAad(uid, 1, keyvault::KEY_TYPE_AES256_GCM));
    ASSERT_TRUE(sealed.ok());
    ASSERT_TRUE((*db)->Execute(
                        "INSERT INTO keys (name, uid, type, owner, exportable, allowed_ops, state, "
                        "latest_version, min_decryption_version, created_unix) "
                        "VALUES ('legacy', ?, ?, 'u-alice', 0, ?, ?, 1, 1, ?)",
                        {uid, int64_t{keyvault::KEY_TYPE_AES256_GCM},
                         int64_t{keyvault_ops::SupportedOps(keyvault::KEY_TYPE_AES256_GCM)},
                         int64_t{keyvault::KEY_STATE_ENABLED}, now_})
                    .ok());
    ASSERT_TRUE((*db)->Execute("INSERT INTO key_versions (uid, version, sealed, public_spki, "
                               "created_unix) VALUES (?, 1, ?, ?, ?)",
                               {uid, *sealed, Bytes(), now_})
                    .ok());
    const int64_t ops = keyvault_ops::Bit(keyvault::OPERATION_ENCRYPT) |
                        keyvault_ops::Bit(keyvault::OPERATION_DECRYPT);
    ASSERT_TRUE((*db)->Execute("INSERT INTO grants (grant_id, name, grantee, ops, expires_unix, "
                               "created_unix) VALUES ('g-old', 'legacy', 'u-bob', ?, 0, ?), "
                               "('g-orphan', 'gone', 'u-bob', ?, 0, ?)",
                               {ops, now_, ops, now_})
                    .ok());
  }
  Open();  // applies migration 3
  // Until alice calls, the vault does not know her username: bob cannot
  // name her key yet (the same answer as for no key).
  EXPECT_EQ(ReasonOf(Decrypt(kBob, "alice/legacy", old_ct)), "KEY_NOT_FOUND");
  // alice keeps her key under its name, old ciphertexts included.
  EXPECT_EQ(*Decrypt(kAlice, "legacy", old_ct), "old secret");
  auto desc = Describe(kAlice, "legacy");
  ASSERT_TRUE(desc.ok());
  EXPECT_EQ(desc->full_name(), "alice/legacy");
  ASSERT_EQ(desc->grants_size(), 1);  // the orphan grant did not survive
  EXPECT_EQ(desc->grants(0).grant_id(), "g-old");
  // Her grant to bob carried over, now under alice/legacy.
  EXPECT_EQ(*Decrypt(kBob, "alice/legacy", old_ct), "old secret");
  EXPECT_EQ(ReasonOf(Decrypt(kBob, "legacy", old_ct)), "KEY_NOT_FOUND");
  // New ciphertexts carry the full name; both kinds keep working.
  auto new_ct = Encrypt(kAlice, "legacy", "new secret");
  ASSERT_TRUE(new_ct.ok());
  EXPECT_EQ(new_ct->rfind("cloister:alice/legacy:v1:", 0), 0u) << *new_ct;
  Open();  // the learned username is durable
  EXPECT_EQ(*Decrypt(kBob, "alice/legacy", *new_ct), "new secret");
  EXPECT_EQ(*Decrypt(kBob, "alice/legacy", old_ct), "old secret");
  // The old global name is no longer global: mallory's "legacy" is hers,
  // and alice's old ciphertexts do not name it.
  auto hers = Create(kMallory, "legacy");
  ASSERT_TRUE(hers.ok()) << hers.error().ToString();
  EXPECT_EQ(hers->full_name(), "mallory/legacy");
  EXPECT_EQ(ReasonOf(Decrypt(kMallory, "legacy", old_ct)), "CIPHERTEXT_KEY_MISMATCH");
  // A key made after the migration never accepts a bare-name header.
  auto fresh = Encrypt(kMallory, "legacy", "m");
  ASSERT_TRUE(fresh.ok());
  std::string bare = *fresh;
  bare.replace(0, std::string("cloister:mallory/legacy").size(), "cloister:legacy");
  EXPECT_EQ(ReasonOf(Decrypt(kMallory, "legacy", bare)), "CIPHERTEXT_KEY_MISMATCH");
}

}  // namespace
}  // namespace cloister::keyvault_service
