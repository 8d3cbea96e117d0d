// Unit tests of KeyVaultCore over a real SQLite KeyStore with a test
// sealer: lifecycle, access (owner, grants, expiry, revocation), versions
// and retirement, export rules, deletion, batches, bad input, restart, and
// that a store opened with another sealing key reveals nothing.
#include "services/keyvault/keyvault_service.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto/random.h"

namespace cloister::keyvault_service {
namespace {

using keyvault_store::AeadSealer;
using keyvault_store::KeyStore;

const Caller kAlice = services::MakeCallerForTesting({.user_id = "u-alice", .username = "alice"});
const Caller kBob = services::MakeCallerForTesting({.user_id = "u-bob", .username = "bob"});
const Caller kAdmin =
    services::MakeCallerForTesting({.user_id = "u-admin", .admin = true, .username = "admin"});

class KeyVaultCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kv-core-" + crypto::RandomId());
    std::filesystem::create_directories(dir_);
    sealing_key_ = SecretBytes::Random(32);
    Reopen(sealing_key_);
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(const SecretBytes& key) {
    core_.reset();
    store_.reset();
    auto s = KeyStore::Open("sqlite://" + (dir_ / "kv.db").string(),
                            std::make_unique<AeadSealer>(key));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = *std::move(s);
    core_ = std::make_unique<KeyVaultCore>(store_.get(), nullptr, [this] { return now_; });
  }
  keyvault::KeyMetadata Create(const std::string& name, keyvault::KeyType type,
                               bool exportable = false, const Caller& c = kAlice) {
    keyvault::CreateKeyRequest r;
    r.set_name(name);
    r.set_type(type);
    r.set_exportable(exportable);
    auto resp = core_->CreateKey(c, r);
    EXPECT_TRUE(resp.ok()) << resp.error().ToString();
    return resp.ok() ? resp->key() : keyvault::KeyMetadata();
  }
  Result<std::string> Encrypt(const Caller& c, const std::string& name, const std::string& pt,
                              const std::string& aad = "") {
    keyvault::EncryptRequest r;
    r.set_name(name);
    r.set_plaintext(pt);
    r.set_aad(aad);
    CLOISTER_ASSIGN_OR_RETURN(auto resp, core_->Encrypt(c, r));
    return resp.ciphertext();
  }
  Result<std::string> Decrypt(const Caller& c, const std::string& name, const std::string& ct,
                              const std::string& aad = "") {
    keyvault::DecryptRequest r;
    r.set_name(name);
    r.set_ciphertext(ct);
    r.set_aad(aad);
    CLOISTER_ASSIGN_OR_RETURN(auto resp, core_->Decrypt(c, r));
    return resp.plaintext();
  }
  std::string Grant(const std::string& name, const Caller& to,
                    std::vector<keyvault::Operation> ops, int64_t expires = 0) {
    keyvault::CreateGrantRequest r;
    r.set_name(name);
    r.set_grantee_user_id(to.user_id());
    for (auto op : ops) r.add_operations(op);
    r.set_expires_unix(expires);
    auto resp = core_->CreateGrant(kAlice, r);
    EXPECT_TRUE(resp.ok()) << resp.error().ToString();
    return resp.ok() ? resp->grant().grant_id() : "";
  }
  keyvault::RotateKeyResponse Rotate(const std::string& name, uint32_t min_dec = 0) {
    keyvault::RotateKeyRequest r;
    r.set_name(name);
    r.set_min_decryption_version(min_dec);
    auto resp = core_->RotateKey(kAlice, r);
    EXPECT_TRUE(resp.ok()) << resp.error().ToString();
    return resp.ok() ? *resp : keyvault::RotateKeyResponse();
  }
  template <typename T>
  static std::string ReasonOf(const Result<T>& r) {
    return r.ok() ? "OK" : r.error().reason();
  }

  std::filesystem::path dir_;
  SecretBytes sealing_key_;
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<KeyVaultCore> core_;
  int64_t now_ = 1'700'000'000;
};

TEST_F(KeyVaultCoreTest, CreateDescribeList) {
  auto m = Create("signer", keyvault::KEY_TYPE_ECDSA_P256);
  EXPECT_EQ(m.latest_version(), 1u);
  EXPECT_EQ(m.owner_user_id(), "u-alice");
  ASSERT_EQ(m.versions_size(), 1);
  EXPECT_NE(m.versions(0).public_key_pem().find("BEGIN PUBLIC KEY"), std::string::npos);
  keyvault::DescribeKeyRequest d;
  d.set_name("signer");
  EXPECT_TRUE(core_->DescribeKey(kAlice, d).ok());
  auto list = core_->ListKeys(kAlice, {});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->keys_size(), 1);
  EXPECT_EQ(list->keys(0).name(), "signer");
}

TEST_F(KeyVaultCoreTest, BadCreateRequests) {
  keyvault::CreateKeyRequest r;
  r.set_name("x");
  r.set_type(static_cast<keyvault::KeyType>(99));
  EXPECT_EQ(ReasonOf(core_->CreateKey(kAlice, r)), "KEY_TYPE_UNKNOWN");
  r.set_type(keyvault::KEY_TYPE_UNSPECIFIED);
  EXPECT_EQ(ReasonOf(core_->CreateKey(kAlice, r)), "KEY_TYPE_UNKNOWN");
  r.set_type(keyvault::KEY_TYPE_HMAC_SHA256);
  r.set_name("bad:name");
  EXPECT_EQ(ReasonOf(core_->CreateKey(kAlice, r)), "KEY_NAME_INVALID");
  r.set_name("h");
  r.add_allowed_operations(keyvault::OPERATION_SIGN);
  EXPECT_EQ(ReasonOf(core_->CreateKey(kAlice, r)), "OPERATION_UNSUPPORTED_FOR_TYPE");
  Create("dup", keyvault::KEY_TYPE_AES256_GCM);
  keyvault::CreateKeyRequest dup;
  dup.set_name("dup");
  dup.set_type(keyvault::KEY_TYPE_AES256_GCM);
  EXPECT_EQ(ReasonOf(core_->CreateKey(kAlice, dup)), "KEY_ALREADY_EXISTS");
  // Names are per owner: bob's "dup" is his own key, not a clash.
  EXPECT_EQ(ReasonOf(core_->CreateKey(kBob, dup)), "OK");
  dup.set_name("bob/dup2");
  EXPECT_EQ(ReasonOf(core_->CreateKey(kAlice, dup)), "KEY_NAME_QUALIFIED");
  keyvault::CreateKeyRequest anon;
  anon.set_name("a");
  anon.set_type(keyvault::KEY_TYPE_AES256_GCM);
  EXPECT_EQ(ReasonOf(core_->CreateKey(services::Caller::Anonymous(), anon)),
            "KEYVAULT_UNAUTHENTICATED");
}

TEST_F(KeyVaultCoreTest, EveryOperationRoundTrips) {
  Create("aes", keyvault::KEY_TYPE_AES256_GCM);
  auto ct = Encrypt(kAlice, "aes", "plain", "ctx");
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(*Decrypt(kAlice, "aes", *ct, "ctx"), "plain");

  for (auto type : {keyvault::KEY_TYPE_RSA_2048, keyvault::KEY_TYPE_ECDSA_P256,
                    keyvault::KEY_TYPE_ED25519}) {
    std::string name = "sig-" + std::to_string(static_cast<int>(type));
    Create(name, type);
    keyvault::SignRequest s;
    s.set_name(name);
    s.set_input("msg");
    auto sig = core_->Sign(kAlice, s);
    ASSERT_TRUE(sig.ok()) << sig.error().ToString();
    keyvault::VerifyRequest v;
    v.set_name(name);
    v.set_input("msg");
    v.set_signature(sig->signature());
    EXPECT_TRUE(core_->Verify(kAlice, v)->valid());
    v.set_input("msG");
    EXPECT_FALSE(core_->Verify(kAlice, v)->valid());
  }

  Create("mac", keyvault::KEY_TYPE_HMAC_SHA256);
  keyvault::HmacRequest h;
  h.set_name("mac");
  h.set_input("data");
  auto mac = core_->Hmac(kAlice, h);
  ASSERT_TRUE(mac.ok());
  keyvault::VerifyHmacRequest vh;
  vh.set_name("mac");
  vh.set_input("data");
  vh.set_mac(mac->mac());
  EXPECT_TRUE(core_->VerifyHmac(kAlice, vh)->valid());
  // An HMAC key cannot encrypt.
  EXPECT_EQ(ReasonOf(Encrypt(kAlice, "mac", "x")), "OPERATION_UNSUPPORTED_FOR_TYPE");
}

TEST_F(KeyVaultCoreTest, DataKeysAreForStorage) {
  Create("files", keyvault::KEY_TYPE_AES256_GCM);
  keyvault::GenerateDataKeyRequest r;
  r.set_name("files");
  r.set_aad("file-42");
  auto dk = core_->GenerateDataKey(kAlice, r);
  ASSERT_TRUE(dk.ok());
  EXPECT_EQ(dk->plaintext().size(), 32u);
  EXPECT_EQ(*Decrypt(kAlice, "files", dk->ciphertext(), "file-42"), dk->plaintext());
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "files", dk->ciphertext(), "file-43")),
            "AEAD_AUTHENTICATION_FAILED");
  r.set_wrapped_only(true);
  auto wrapped = core_->GenerateDataKey(kAlice, r);
  ASSERT_TRUE(wrapped.ok());
  EXPECT_TRUE(wrapped->plaintext().empty());
  EXPECT_EQ(Decrypt(kAlice, "files", wrapped->ciphertext(), "file-42")->size(), 32u);
}

TEST_F(KeyVaultCoreTest, NamedErrorsForWrongKeyAadTamperingRetiredVersion) {
  Create("a", keyvault::KEY_TYPE_AES256_GCM);
  Create("b", keyvault::KEY_TYPE_AES256_GCM);
  std::string ct = *Encrypt(kAlice, "a", "secret", "aad");
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "b", ct, "aad")), "CIPHERTEXT_KEY_MISMATCH");
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "a", ct, "other")), "AEAD_AUTHENTICATION_FAILED");
  std::string tampered = ct;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "a", tampered, "aad")), "AEAD_AUTHENTICATION_FAILED");
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "a", "not a ciphertext", "aad")), "CIPHERTEXT_MALFORMED");
  std::string future = ct;
  future.replace(future.find(":v1:"), 4, ":v9:");
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "a", future, "aad")), "KEY_VERSION_NOT_FOUND");
  Rotate("a", 2);
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "a", ct, "aad")), "KEY_VERSION_RETIRED");
}

TEST_F(KeyVaultCoreTest, RotationKeepsOldVersionsUntilRetiredAndRewrapMovesForward) {
  Create("k", keyvault::KEY_TYPE_AES256_GCM);
  std::string v1 = *Encrypt(kAlice, "k", "one");
  auto rot = Rotate("k");
  EXPECT_EQ(rot.key().latest_version(), 2u);
  EXPECT_EQ(rot.key().versions_size(), 2);
  std::string v2 = *Encrypt(kAlice, "k", "two");
  EXPECT_NE(v2.find(":v2:"), std::string::npos);
  EXPECT_EQ(*Decrypt(kAlice, "k", v1), "one");
  keyvault::RewrapRequest rw;
  rw.set_name("k");
  rw.set_ciphertext(v1);
  auto re = core_->Rewrap(kAlice, rw);
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(re->key_version(), 2u);
  keyvault::SetMinDecryptionVersionRequest mdv;
  mdv.set_name("k");
  mdv.set_min_decryption_version(2);
  ASSERT_TRUE(core_->SetMinDecryptionVersion(kAlice, mdv).ok());
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "k", v1)), "KEY_VERSION_RETIRED");
  EXPECT_EQ(*Decrypt(kAlice, "k", re->ciphertext()), "one");
  // Un-retiring is allowed while the material exists.
  mdv.set_min_decryption_version(1);
  ASSERT_TRUE(core_->SetMinDecryptionVersion(kAlice, mdv).ok());
  EXPECT_EQ(*Decrypt(kAlice, "k", v1), "one");
  mdv.set_min_decryption_version(3);
  EXPECT_EQ(ReasonOf(core_->SetMinDecryptionVersion(kAlice, mdv)), "KEY_VERSION_INVALID");
}

TEST_F(KeyVaultCoreTest, StrangersCannotUseDescribeOrListAnothersKey) {
  Create("private", keyvault::KEY_TYPE_AES256_GCM);
  std::string ct = *Encrypt(kAlice, "private", "x");
  for (std::string name : {"private", "alice/private"}) {
    EXPECT_EQ(ReasonOf(Encrypt(kBob, name, "x")), "KEY_NOT_FOUND") << name;
    EXPECT_EQ(ReasonOf(Decrypt(kBob, name, ct)), "KEY_NOT_FOUND") << name;
  }
  keyvault::DescribeKeyRequest d;
  d.set_name("alice/private");
  EXPECT_EQ(ReasonOf(core_->DescribeKey(kBob, d)), "KEY_NOT_FOUND");
  EXPECT_EQ(core_->ListKeys(kBob, {})->keys_size(), 0);
  keyvault::RotateKeyRequest rot;
  rot.set_name("alice/private");
  EXPECT_EQ(ReasonOf(core_->RotateKey(kBob, rot)), "KEY_NOT_FOUND");
  // Admins see metadata but cannot use keys.
  EXPECT_TRUE(core_->DescribeKey(kAdmin, d).ok());
  EXPECT_EQ(core_->ListKeys(kAdmin, {})->keys_size(), 1);
  EXPECT_EQ(ReasonOf(Decrypt(kAdmin, "alice/private", ct)), "KEY_NOT_FOUND");
}

TEST_F(KeyVaultCoreTest, GrantsAllowExactlyTheirOperationsAndStopAtOnce) {
  Create("shared", keyvault::KEY_TYPE_AES256_GCM);
  std::string ct = *Encrypt(kAlice, "shared", "x");
  std::string gid = Grant("shared", kBob, {keyvault::OPERATION_ENCRYPT});
  EXPECT_TRUE(Encrypt(kBob, "alice/shared", "y").ok());
  EXPECT_EQ(ReasonOf(Decrypt(kBob, "alice/shared", ct)), "OPERATION_NOT_GRANTED");
  EXPECT_EQ(core_->ListKeys(kBob, {})->keys_size(), 1);
  keyvault::DescribeKeyRequest d;
  d.set_name("alice/shared");
  auto desc = core_->DescribeKey(kBob, d);
  ASSERT_TRUE(desc.ok());
  EXPECT_EQ(desc->key().grants_size(), 0);  // grants are the owner's business
  // A grantee cannot manage the key.
  keyvault::RotateKeyRequest rot;
  rot.set_name("alice/shared");
  EXPECT_EQ(ReasonOf(core_->RotateKey(kBob, rot)), "NOT_KEY_OWNER");
  // Revocation acts on the next call.
  keyvault::RevokeGrantRequest rv;
  rv.set_name("shared");
  rv.set_grant_id(gid);
  ASSERT_TRUE(core_->RevokeGrant(kAlice, rv).ok());
  EXPECT_EQ(ReasonOf(Encrypt(kBob, "alice/shared", "y")), "KEY_NOT_FOUND");
  EXPECT_EQ(ReasonOf(core_->RevokeGrant(kAlice, rv)), "GRANT_NOT_FOUND");
  // Expiry acts the second it passes.
  Grant("shared", kBob, {keyvault::OPERATION_DECRYPT}, now_ + 10);
  EXPECT_EQ(*Decrypt(kBob, "alice/shared", ct), "x");
  now_ += 10;
  EXPECT_EQ(ReasonOf(Decrypt(kBob, "alice/shared", ct)), "KEY_NOT_FOUND");
  EXPECT_EQ(core_->ListKeys(kBob, {})->keys_size(), 0);
}

TEST_F(KeyVaultCoreTest, NonExportableKeysCannotBeReadOut) {
  Create("locked", keyvault::KEY_TYPE_AES256_GCM, false);
  Grant("locked", kBob, {keyvault::OPERATION_EXPORT, keyvault::OPERATION_ENCRYPT});
  keyvault::ExportKeyRequest e;
  e.set_name("locked");
  EXPECT_EQ(ReasonOf(core_->ExportKey(kAlice, e)), "KEY_NOT_EXPORTABLE");
  e.set_name("alice/locked");
  EXPECT_EQ(ReasonOf(core_->ExportKey(kBob, e)), "KEY_NOT_EXPORTABLE");
  // Nothing else returns material: describe holds only public data.
  keyvault::DescribeKeyRequest d;
  d.set_name("locked");
  auto desc = core_->DescribeKey(kAlice, d);
  ASSERT_TRUE(desc.ok());
  EXPECT_TRUE(desc->key().versions(0).public_key_spki().empty());

  Create("open", keyvault::KEY_TYPE_AES256_GCM, true);
  e.set_name("open");
  auto exported = core_->ExportKey(kAlice, e);
  ASSERT_TRUE(exported.ok());
  ASSERT_EQ(exported->key_material().size(), 32u);
  // The exported key really is the key: it opens the vault's ciphertext.
  std::string ct = *Encrypt(kAlice, "open", "data", "a");
  auto gcm = *crypto::AesGcm::Create(AsBytes(exported->key_material()));
  auto parsed = *keyvault_ops::ParseCiphertext(ct);
  EXPECT_EQ(ToString(*keyvault_ops::DecryptWith(gcm, parsed, AsBytes("a"))), "data");
  Create("rsa-open", keyvault::KEY_TYPE_RSA_2048, true);
  e.set_name("rsa-open");
  EXPECT_NE(core_->ExportKey(kAlice, e)->key_material().find("BEGIN PRIVATE KEY"), std::string::npos);
}

TEST_F(KeyVaultCoreTest, DisableEnableAndScheduledDeletion) {
  Create("k", keyvault::KEY_TYPE_AES256_GCM);
  keyvault::SetKeyEnabledRequest en;
  en.set_name("k");
  en.set_enabled(false);
  ASSERT_TRUE(core_->SetKeyEnabled(kAlice, en).ok());
  EXPECT_EQ(ReasonOf(Encrypt(kAlice, "k", "x")), "KEY_DISABLED");
  en.set_enabled(true);
  ASSERT_TRUE(core_->SetKeyEnabled(kAlice, en).ok());
  EXPECT_TRUE(Encrypt(kAlice, "k", "x").ok());

  keyvault::ScheduleKeyDeletionRequest del;
  del.set_name("k");
  del.set_waiting_period_s(-1);
  EXPECT_EQ(ReasonOf(core_->ScheduleKeyDeletion(kAlice, del)), "WAITING_PERIOD_INVALID");
  del.set_waiting_period_s(3600);
  auto sched = core_->ScheduleKeyDeletion(kAlice, del);
  ASSERT_TRUE(sched.ok());
  EXPECT_EQ(sched->key().state(), keyvault::KEY_STATE_PENDING_DELETION);
  EXPECT_EQ(ReasonOf(Encrypt(kAlice, "k", "x")), "KEY_PENDING_DELETION");
  keyvault::CancelKeyDeletionRequest cancel;
  cancel.set_name("k");
  auto back = core_->CancelKeyDeletion(kAlice, cancel);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->key().state(), keyvault::KEY_STATE_DISABLED);
  EXPECT_EQ(ReasonOf(core_->CancelKeyDeletion(kAlice, cancel)), "KEY_NOT_PENDING_DELETION");

  ASSERT_TRUE(core_->ScheduleKeyDeletion(kAlice, del).ok());
  now_ += 3600;
  EXPECT_EQ(ReasonOf(Encrypt(kAlice, "k", "x")), "KEY_NOT_FOUND");
  EXPECT_EQ(core_->ListKeys(kAlice, {})->keys_size(), 0);
  // The name is free again, and the new key is a different key.
  Create("k", keyvault::KEY_TYPE_AES256_GCM);
}

TEST_F(KeyVaultCoreTest, BatchesReportPerItemErrors) {
  Create("b", keyvault::KEY_TYPE_AES256_GCM);
  keyvault::BatchEncryptRequest be;
  be.set_name("b");
  for (int i = 0; i < 100; ++i) {
    auto* it = be.add_items();
    it->set_plaintext("msg" + std::to_string(i));
    it->set_aad("aad" + std::to_string(i));
  }
  auto enc = core_->BatchEncrypt(kAlice, be);
  ASSERT_TRUE(enc.ok());
  ASSERT_EQ(enc->results_size(), 100);
  keyvault::BatchDecryptRequest bd;
  bd.set_name("b");
  for (int i = 0; i < 100; ++i) {
    auto* it = bd.add_items();
    it->set_ciphertext(enc->results(i).ciphertext());
    it->set_aad(i == 7 ? "wrong" : "aad" + std::to_string(i));
  }
  bd.add_items()->set_ciphertext("garbage");
  auto dec = core_->BatchDecrypt(kAlice, bd);
  ASSERT_TRUE(dec.ok());
  ASSERT_EQ(dec->results_size(), 101);
  EXPECT_EQ(dec->results(3).plaintext(), "msg3");
  EXPECT_EQ(dec->results(7).error().reason(), "AEAD_AUTHENTICATION_FAILED");
  EXPECT_EQ(dec->results(100).error().reason(), "CIPHERTEXT_MALFORMED");

  Create("s", keyvault::KEY_TYPE_ECDSA_P256);
  keyvault::BatchSignRequest bs;
  bs.set_name("s");
  bs.set_prehashed(true);
  bs.add_inputs(std::string(32, 'a'));
  bs.add_inputs(std::string(31, 'a'));
  auto sigs = core_->BatchSign(kAlice, bs);
  ASSERT_TRUE(sigs.ok());
  EXPECT_FALSE(sigs->results(0).signature().empty());
  EXPECT_EQ(sigs->results(1).error().reason(), "DIGEST_LENGTH_INVALID");
}

TEST_F(KeyVaultCoreTest, BadInputGetsClearErrorsAndServiceKeepsServing) {
  Create("k", keyvault::KEY_TYPE_AES256_GCM);
  EXPECT_EQ(ReasonOf(Encrypt(kAlice, "k", std::string(kMaxPayload + 1, 'x'))), "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "k", "cloister:k:v1:%%%")), "CIPHERTEXT_MALFORMED");
  Create("s", keyvault::KEY_TYPE_RSA_2048);
  keyvault::SignRequest s;
  s.set_name("s");
  s.set_prehashed(true);
  s.set_input("short");
  EXPECT_EQ(ReasonOf(core_->Sign(kAlice, s)), "DIGEST_LENGTH_INVALID");
  keyvault::BatchEncryptRequest huge;
  huge.set_name("k");
  for (size_t i = 0; i < kMaxBatchItems + 1; ++i) huge.add_items();
  EXPECT_EQ(ReasonOf(core_->BatchEncrypt(kAlice, huge)), "BATCH_TOO_LARGE");
  EXPECT_TRUE(Encrypt(kAlice, "k", "still serving").ok());
}

TEST_F(KeyVaultCoreTest, ImportCreatesAndRotatesAndExportMatches) {
  auto wk = core_->GetWrappingKey(kAlice, {});
  ASSERT_TRUE(wk.ok());
  auto pub = *crypto::PublicKey::FromSpkiDer(AsBytes(wk->public_key_spki()));
  auto mine = *keyvault_ops::KeyMaterial::Generate(keyvault::KEY_TYPE_ED25519);
  SecretBytes der = mine.Serialize();
  keyvault::ImportKeyRequest imp;
  imp.set_name("byok");
  imp.set_type(keyvault::KEY_TYPE_ED25519);
  imp.set_wrapped_key(ToString(*keyvault_ops::WrapForImport(pub, der.view(), "byok")));
  auto created = core_->ImportKey(kAlice, imp);
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(created->key().versions(0).public_key_spki(), ToString(mine.public_key()->SpkiDer()));
  // The same import again adds version 2 of the same key.
  auto again = core_->ImportKey(kAlice, imp);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->key().latest_version(), 2u);
  // Nobody imports into another user's namespace; bob's "byok" is his own.
  imp.set_name("alice/byok");
  EXPECT_EQ(ReasonOf(core_->ImportKey(kBob, imp)), "KEY_NAME_QUALIFIED");
  imp.set_name("byok");
  auto bobs = core_->ImportKey(kBob, imp);
  ASSERT_TRUE(bobs.ok()) << bobs.error().ToString();
  EXPECT_EQ(bobs->key().latest_version(), 1u);
  EXPECT_EQ(bobs->key().full_name(), "bob/byok");
  imp.set_type(keyvault::KEY_TYPE_ECDSA_P256);
  EXPECT_EQ(ReasonOf(core_->ImportKey(kAlice, imp)), "KEY_MATERIAL_INVALID");
  imp.set_name("other");
  imp.set_type(keyvault::KEY_TYPE_ED25519);
  EXPECT_EQ(ReasonOf(core_->ImportKey(kAlice, imp)), "WRAPPED_KEY_AUTH_FAILED");
}

TEST_F(KeyVaultCoreTest, KeysAndVersionsSurviveRestart) {
  Create("k", keyvault::KEY_TYPE_AES256_GCM);
  std::string v1 = *Encrypt(kAlice, "k", "one");
  Rotate("k");
  std::string v2 = *Encrypt(kAlice, "k", "two");
  Grant("k", kBob, {keyvault::OPERATION_DECRYPT});
  Reopen(sealing_key_);
  EXPECT_EQ(*Decrypt(kAlice, "k", v1), "one");
  EXPECT_EQ(*Decrypt(kBob, "alice/k", v2), "two");
}

TEST_F(KeyVaultCoreTest, StoreOpenedWithAnotherSealingKeyRevealsNothing) {
  Create("k", keyvault::KEY_TYPE_AES256_GCM);
  std::string ct = *Encrypt(kAlice, "k", "secret");
  // Another binary derives another sealing key: metadata is readable, but
  // no version's material opens.
  Reopen(SecretBytes::Random(32));
  EXPECT_EQ(ReasonOf(Decrypt(kAlice, "k", ct)), "SEAL_AUTH_FAILED");
  keyvault::ExportKeyRequest e;
  e.set_name("k");
  EXPECT_FALSE(core_->ExportKey(kAlice, e).ok());
}

}  // namespace
}  // namespace cloister::keyvault_service
