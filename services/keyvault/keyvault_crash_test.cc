// kill -9 during rotation (issue 6, item 3): a child process rotates one key
// in a tight loop on a real SQLite file; the parent SIGKILLs it at a random
// moment, reopens the store and checks the key is at the old or the new
// version, never broken: every version up to latest_version exists, unseals
// and decrypts, and no orphan version beyond it exists.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/crypto/random.h"
#include "services/keyvault/keyvault_service.h"

namespace cloister::keyvault_service {
namespace {

using keyvault_store::AeadSealer;
using keyvault_store::KeyStore;

const Caller kOwner = services::MakeCallerForTesting({.user_id = "u-owner"});

std::unique_ptr<KeyStore> OpenStore(const std::string& url, const SecretBytes& key) {
  auto s = KeyStore::Open(url, std::make_unique<AeadSealer>(key));
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return s.ok() ? *std::move(s) : nullptr;
}

TEST(KeyVaultCrashTest, KillDuringRotationLeavesOldOrNewVersion) {
  auto dir = std::filesystem::temp_directory_path() / ("kv-crash-" + crypto::RandomId());
  std::filesystem::create_directories(dir);
  const std::string url = "sqlite://" + (dir / "kv.db").string();
  SecretBytes sealing = SecretBytes::Random(32);
  std::string first_ct;
  {
    auto store = OpenStore(url, sealing);
    ASSERT_NE(store, nullptr);
    KeyVaultCore core(store.get(), nullptr);
    keyvault::CreateKeyRequest c;
    c.set_name("rotating");
    c.set_type(keyvault::KEY_TYPE_AES256_GCM);
    ASSERT_TRUE(core.CreateKey(kOwner, c).ok());
    keyvault::EncryptRequest e;
    e.set_name("rotating");
    e.set_plaintext("v1 data");
    first_ct = core.Encrypt(kOwner, e)->ciphertext();
  }
  uint32_t last_seen = 1;
  for (int round = 0; round < 6; ++round) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = OpenStore(url, sealing);
      if (!store) _exit(3);
      KeyVaultCore core(store.get(), nullptr);
      keyvault::RotateKeyRequest r;
      r.set_name("rotating");
      for (;;) {
        if (!core.RotateKey(kOwner, r).ok()) _exit(4);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + crypto::RandomU64() % 150));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "rotating child exited early: " << WEXITSTATUS(status);

    auto store = OpenStore(url, sealing);
    ASSERT_NE(store, nullptr);
    KeyVaultCore core(store.get(), nullptr);
    keyvault::DescribeKeyRequest d;
    d.set_name("rotating");
    auto desc = core.DescribeKey(kOwner, d);
    ASSERT_TRUE(desc.ok()) << desc.error().ToString();
    const uint32_t latest = desc->key().latest_version();
    EXPECT_GE(latest, last_seen);
    // Exactly versions 1..latest: nothing missing, no orphan from a torn write.
    ASSERT_EQ(desc->key().versions_size(), static_cast<int>(latest));
    for (int i = 0; i < desc->key().versions_size(); ++i)
      EXPECT_EQ(desc->key().versions(i).version(), static_cast<uint32_t>(i + 1));
    // The latest version works, and so does the first.
    keyvault::EncryptRequest e;
    e.set_name("rotating");
    e.set_plaintext("after crash");
    auto ct = core.Encrypt(kOwner, e);
    ASSERT_TRUE(ct.ok()) << ct.error().ToString();
    EXPECT_EQ(ct->key_version(), latest);
    keyvault::DecryptRequest dr;
    dr.set_name("rotating");
    dr.set_ciphertext(ct->ciphertext());
    EXPECT_EQ(core.Decrypt(kOwner, dr)->plaintext(), "after crash");
    dr.set_ciphertext(first_ct);
    EXPECT_EQ(core.Decrypt(kOwner, dr)->plaintext(), "v1 data");
    last_seen = latest;
  }
  EXPECT_GT(last_seen, 1u) << "the child never completed a rotation";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cloister::keyvault_service
