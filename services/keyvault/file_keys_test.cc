// Unit tests of the file-key calls of KeyVaultCore over a real SQLite
// KeyStore: input rules, ALREADY_EXISTS whoever owns an id, owner-only
// reads and deletes (admins included), DestroyFileKey refusing every user,
// the store's owner-bound idempotent delete, sealing (no plaintext key in
// the database or WAL; swapped blobs and edited owners do not open), audit.
#include "services/keyvault/file_keys.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "attestation/sealing.h"
#include "common/crypto/random.h"
#include "services/common/audit_log.h"
#include "services/keyvault/keyvault_service.h"

namespace cloister::keyvault_service {
namespace {

using keyvault_store::AeadSealer;
using keyvault_store::KeyStore;

const Caller kAlice = services::MakeCallerForTesting({.user_id = "u-alice"});
const Caller kBob = services::MakeCallerForTesting({.user_id = "u-bob"});
const Caller kAdmin = services::MakeCallerForTesting({.user_id = "u-admin", .admin = true});

std::string NewFileId() { return HexEncode(crypto::RandomBytes(16)); }

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool Contains(std::string_view hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

class FileKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kv-files-" + crypto::RandomId());
    std::filesystem::create_directories(dir_);
    sealing_key_ = SecretBytes::Random(32);
    Reopen(nullptr);
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(services::AuditLog* audit) {
    core_.reset();
    store_.reset();
    auto s = KeyStore::Open("sqlite://" + (dir_ / "kv.db").string(),
                            std::make_unique<AeadSealer>(sealing_key_));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = *std::move(s);
    core_ = std::make_unique<KeyVaultCore>(store_.get(), audit, [this] { return now_; });
  }
  Result<keyvault::RegisterFileKeyResponse> Register(const Caller& c, const std::string& id,
                                                     const std::string& key) {
    keyvault::RegisterFileKeyRequest r;
    r.set_file_id(id);
    r.set_file_key(key);
    return core_->RegisterFileKey(c, r);
  }
  Result<keyvault::GetFileKeyResponse> Get(const Caller& c, const std::string& id) {
    keyvault::GetFileKeyRequest r;
    r.set_file_id(id);
    return core_->GetFileKey(c, r);
  }
  Result<keyvault::DeleteFileKeyResponse> Delete(const Caller& c, const std::string& id) {
    keyvault::DeleteFileKeyRequest r;
    r.set_file_id(id);
    return core_->DeleteFileKey(c, r);
  }
  template <typename T>
  static std::string ReasonOf(const Result<T>& r) {
    return r.ok() ? "OK" : r.error().reason();
  }
  static std::string NewKey() { return ToString(crypto::RandomBytes(32)); }

  std::filesystem::path dir_;
  SecretBytes sealing_key_;
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<KeyVaultCore> core_;
  int64_t now_ = 1'700'000'000;
};

TEST_F(FileKeysTest, OwnerRegistersAndGetsTheKeyBack) {
  const std::string id = NewFileId(), key = NewKey();
  auto reg = Register(kAlice, id, key);
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  EXPECT_EQ(reg->key().file_id(), id);
  EXPECT_EQ(reg->key().owner_user_id(), "u-alice");
  EXPECT_EQ(reg->key().created_unix(), now_);
  auto got = Get(kAlice, id);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->file_key(), key);
  EXPECT_EQ(got->key().owner_user_id(), "u-alice");
}

TEST_F(FileKeysTest, FileIdMustBe32LowercaseHexDigits) {
  const std::string good = NewFileId();
  std::string upper = good;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  if (upper == good) upper[0] = 'A';  // all digits: force one upper-case letter
  for (const std::string& bad : {std::string(), good.substr(1), good + "0", upper,
                                 std::string(31, 'a') + "g", std::string(32, ' ')}) {
    EXPECT_EQ(ReasonOf(Register(kAlice, bad, NewKey())), reason::kFileIdInvalid) << bad;
    EXPECT_EQ(ReasonOf(Get(kAlice, bad)), reason::kFileIdInvalid) << bad;
    EXPECT_EQ(ReasonOf(Delete(kAlice, bad)), reason::kFileIdInvalid) << bad;
  }
  EXPECT_EQ(Register(kAlice, good, NewKey()).code(), Code::kOk);
}

TEST_F(FileKeysTest, KeyMustBeExactly32Bytes) {
  for (size_t n : {size_t{0}, size_t{16}, size_t{31}, size_t{33}, size_t{64}}) {
    auto r = Register(kAlice, NewFileId(), std::string(n, 'k'));
    EXPECT_EQ(r.code(), Code::kInvalidArgument) << n;
    EXPECT_EQ(ReasonOf(r), reason::kFileKeyInvalid) << n;
  }
}

TEST_F(FileKeysTest, AnExistingIdIsAlreadyExistsWhoeverOwnsIt) {
  const std::string id = NewFileId(), key = NewKey();
  ASSERT_TRUE(Register(kAlice, id, key).ok());
  for (const Caller* c : {&kAlice, &kBob, &kAdmin}) {
    auto again = Register(*c, id, NewKey());
    EXPECT_EQ(again.code(), Code::kAlreadyExists) << c->user_id();
    EXPECT_EQ(ReasonOf(again), keyvault_store::reason::kFileKeyExists) << c->user_id();
  }
  // The first registration stands, unchanged.
  auto got = Get(kAlice, id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->file_key(), key);
}

TEST_F(FileKeysTest, OnlyTheOwnerReadsAndOthersSeeTheAbsentAnswer) {
  const std::string id = NewFileId();
  ASSERT_TRUE(Register(kAlice, id, NewKey()).ok());
  auto absent = Get(kAlice, NewFileId());
  ASSERT_EQ(absent.code(), Code::kNotFound);
  EXPECT_EQ(ReasonOf(absent), reason::kFileKeyNotFound);
  for (const Caller* c : {&kBob, &kAdmin}) {
    auto r = Get(*c, id);
    ASSERT_EQ(r.code(), Code::kNotFound) << c->user_id();
    EXPECT_EQ(ReasonOf(r), reason::kFileKeyNotFound);
    EXPECT_EQ(r.error().message(), absent.error().message());
  }
}

TEST_F(FileKeysTest, AnonymousAndUnauthenticatedCallersOwnNothing) {
  const std::string id = NewFileId();
  EXPECT_EQ(Register(Caller::Anonymous(), id, NewKey()).code(), Code::kUnauthenticated);
  ASSERT_TRUE(Register(kAlice, id, NewKey()).ok());
  EXPECT_EQ(Get(Caller::Anonymous(), id).code(), Code::kUnauthenticated);
  EXPECT_EQ(Delete(Caller::Anonymous(), id).code(), Code::kUnauthenticated);
}

TEST_F(FileKeysTest, OnlyTheOwnerDeletes) {
  const std::string id = NewFileId();
  ASSERT_TRUE(Register(kAlice, id, NewKey()).ok());
  for (const Caller* c : {&kBob, &kAdmin}) {
    auto r = Delete(*c, id);
    EXPECT_EQ(r.code(), Code::kNotFound) << c->user_id();
    EXPECT_EQ(ReasonOf(r), reason::kFileKeyNotFound);
  }
  ASSERT_TRUE(Get(kAlice, id).ok()) << "a non-owner's delete removed the key";
  ASSERT_TRUE(Delete(kAlice, id).ok());
  EXPECT_EQ(ReasonOf(Get(kAlice, id)), reason::kFileKeyNotFound);
  EXPECT_EQ(ReasonOf(Delete(kAlice, id)), reason::kFileKeyNotFound);
  // The id is free again (an abandoned upload's id may be reused by its owner).
  EXPECT_TRUE(Register(kAlice, id, NewKey()).ok());
}

TEST_F(FileKeysTest, DestroyFileKeyRefusesEveryUser) {
  const std::string id = NewFileId();
  ASSERT_TRUE(Register(kAlice, id, NewKey()).ok());
  keyvault::DestroyFileKeyRequest r;
  r.set_file_id(id);
  r.set_owner_user_id("u-alice");
  // The owner, an admin, and a user whose id merely reads like the service.
  const Caller impostor =
      services::MakeCallerForTesting({.user_id = std::string(kStoragePrincipal)});
  for (const Caller* c : {&kAlice, &kAdmin, &impostor}) {
    auto d = core_->DestroyFileKey(*c, r);
    EXPECT_EQ(d.code(), Code::kPermissionDenied) << c->user_id();
    EXPECT_EQ(ReasonOf(d), reason::kNotStorage);
  }
  EXPECT_EQ(core_->DestroyFileKey(Caller::Anonymous(), r).code(), Code::kPermissionDenied);
  EXPECT_FALSE(IsStorageService(impostor));
  EXPECT_TRUE(Get(kAlice, id).ok()) << "a refused destroy removed the key";
}

// DestroyFileKey's deletion is the store's owner-bound delete: a service
// Caller can only be made by the GrantVerifier, so the call itself is
// covered end to end once storage is in the topology.
TEST_F(FileKeysTest, StoreDeleteIsOwnerBoundAndIdempotent) {
  const std::string id = NewFileId();
  ASSERT_TRUE(Register(kAlice, id, NewKey()).ok());
  auto wrong = store_->DeleteFileKey(id, "u-bob");
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE(*wrong);
  EXPECT_TRUE(Get(kAlice, id).ok()) << "a delete naming another owner removed the key";
  auto first = store_->DeleteFileKey(id, "u-alice");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto second = store_->DeleteFileKey(id, "u-alice");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  EXPECT_EQ(ReasonOf(Get(kAlice, id)), reason::kFileKeyNotFound);
}

TEST_F(FileKeysTest, KeyNeverReachesTheDatabaseFilesInPlaintext) {
  std::vector<std::string> keys;
  const std::string last_id = NewFileId();
  for (int i = 0; i < 8; ++i) {
    keys.push_back(NewKey());
    ASSERT_TRUE(Register(i % 2 ? kBob : kAlice, i == 7 ? last_id : NewFileId(), keys.back()).ok());
  }
  // Read while the store is open (the rows may still be in the WAL only),
  // then again after closing (checkpointed into the main file).
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      core_.reset();
      store_.reset();
    }
    int files = 0;
    bool id_seen = false;  // the scan's control: the plaintext id column is found
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path().filename().string().rfind("kv.db", 0) != 0) continue;
      ++files;
      const std::string bytes = ReadAll(entry.path());
      id_seen = id_seen || Contains(bytes, last_id);
      for (const auto& k : keys) {
        EXPECT_FALSE(Contains(bytes, k)) << entry.path() << " holds a raw file key";
        EXPECT_FALSE(Contains(bytes, HexEncode(AsBytes(k)))) << entry.path();
        EXPECT_FALSE(Contains(bytes, Base64Encode(AsBytes(k)))) << entry.path();
      }
    }
    EXPECT_GE(files, 1);
    EXPECT_TRUE(id_seen) << "pass " << pass << ": the scan did not see the rows";
  }
}

TEST_F(FileKeysTest, SealBindsFileIdAndOwner) {
  const std::string a = NewFileId(), b = NewFileId();
  ASSERT_TRUE(Register(kAlice, a, NewKey()).ok());
  ASSERT_TRUE(Register(kAlice, b, NewKey()).ok());
  // Someone with the database file moves b's sealed key into a's row...
  ASSERT_TRUE(store_->engine()
                  .Execute("UPDATE file_keys SET sealed = (SELECT sealed FROM file_keys_checked WHERE "
                           "file_id = ?) WHERE file_id = ?",
                           {b, a})
                  .ok());
  auto swapped = Get(kAlice, a);
  EXPECT_EQ(swapped.code(), Code::kDataLoss);
  EXPECT_EQ(ReasonOf(swapped), attestation::kSealAuthFailed);
  // ...or hands b to bob: the blob was sealed for alice and does not open.
  ASSERT_TRUE(store_->engine()
                  .Execute("UPDATE file_keys SET owner_user_id = 'u-bob' WHERE file_id = ?", {b})
                  .ok());
  auto stolen = Get(kBob, b);
  EXPECT_EQ(stolen.code(), Code::kDataLoss);
  EXPECT_EQ(ReasonOf(stolen), attestation::kSealAuthFailed);
}

TEST_F(FileKeysTest, KeysSurviveRestartAndAnotherSealingKeyOpensNone) {
  const std::string id = NewFileId(), key = NewKey();
  ASSERT_TRUE(Register(kAlice, id, key).ok());
  Reopen(nullptr);
  auto got = Get(kAlice, id);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->file_key(), key);
  sealing_key_ = SecretBytes::Random(32);  // another binary's sealing key
  Reopen(nullptr);
  EXPECT_EQ(ReasonOf(Get(kAlice, id)), attestation::kSealAuthFailed);
}

TEST_F(FileKeysTest, EveryCallIsAuditedWithTheFileButNeverTheKey) {
  const std::string log_path = (dir_ / "audit.log").string();
  auto log = services::AuditLog::Open(log_path, "keyvault", SecretBytes::Random(32));
  ASSERT_TRUE(log.ok()) << log.error().ToString();
  Reopen(log->get());
  const std::string id = NewFileId(), key = NewKey();
  ASSERT_TRUE(Register(kAlice, id, key).ok());
  ASSERT_TRUE(Get(kAlice, id).ok());
  EXPECT_FALSE(Get(kBob, id).ok());
  ASSERT_TRUE(Delete(kAlice, id).ok());
  keyvault::DestroyFileKeyRequest d;
  d.set_file_id(id);
  d.set_owner_user_id("u-alice");
  EXPECT_FALSE(core_->DestroyFileKey(kAlice, d).ok());
  core_.reset();
  const std::string text = ReadAll(log_path);
  std::vector<std::string> lines;
  for (size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1)
    lines.push_back(text.substr(pos, nl - pos));
  ASSERT_EQ(lines.size(), 5u) << text;
  const std::vector<std::pair<std::string, std::string>> want = {
      {"keyvault.RegisterFileKey", "allow"},
      {"keyvault.GetFileKey", "allow"},
      {"keyvault.GetFileKey", "deny"},
      {"keyvault.DeleteFileKey", "allow"},
      {"keyvault.DestroyFileKey", "deny"}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(Contains(lines[i], "\"" + want[i].first + "\"")) << lines[i];
    EXPECT_TRUE(Contains(lines[i], "\"" + want[i].second + "\"")) << lines[i];
  }
  EXPECT_TRUE(Contains(lines[2], reason::kFileKeyNotFound));
  EXPECT_TRUE(Contains(lines[4], reason::kNotStorage));
  // The file id is a (HMAC'd) resource of each entry that validated it.
  for (size_t i = 0; i < 4; ++i) EXPECT_FALSE(Contains(lines[i], "\"resources\":[]")) << lines[i];
  EXPECT_FALSE(Contains(text, id));
  EXPECT_FALSE(Contains(text, key));
  EXPECT_FALSE(Contains(text, HexEncode(AsBytes(key))));
  EXPECT_FALSE(Contains(text, Base64Encode(AsBytes(key))));
}

}  // namespace
}  // namespace cloister::keyvault_service
