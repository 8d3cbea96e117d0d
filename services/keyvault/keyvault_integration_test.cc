// Integration tests of the real cloister-keyvault binary on a real platform
// daemon: this test process registers itself in the signed manifest as the
// "gateway" role, so it can sign grants for any principal exactly as the
// gateway does, over mutual RA-TLS. Covers: round trips with openssl CLI
// verification, access across users, restart durability, kill -9 during
// rotation, a copied store opened by another binary, bad input, and the
// file-key RPCs (owner-only; DestroyFileKey refused to the gateway role).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "attestation/enclave.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "common/grpc_status.h"
#include "proto/keyvault.grpc.pb.h"
#include "services/common/grant_verifier.h"
#include "services/keyvault/key_store.h"
#include "tests/support/attested_node.h"
#include "tests/support/gateway_sessions.h"

namespace cloister::testing {
namespace {

using namespace std::chrono_literals;

std::string SelfExe() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

class KeyVaultIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = std::make_unique<AttestedNode>(
        std::vector<std::pair<std::string, std::string>>{{"keyvault", CLOISTER_KEYVAULT_BIN}, {"gateway", SelfExe()}, {"auth", CLOISTER_AUTH_BIN}},
        AttestedNodeOptions{.platform_binary = CLOISTER_PLATFORM_BIN});
    ASSERT_TRUE(node_->Start().ok());
    auto e = attestation::Enclave::Start({.role = "gateway", .trust_path = node_->trust_path()});
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    enclave_ = *std::move(e);
    // The key vault checks every request's auth proof with the real auth's keys.
    auto a = RealAuth::Start(*node_, CLOISTER_AUTH_BIN, enclave_.get());
    ASSERT_TRUE(a.ok()) << a.error().ToString();
    auth_ = *std::move(a);
    StartKeyVault();
  }
  static void TearDownTestSuite() {
    kv_.reset();
    auth_.reset();
    enclave_.reset();
    node_.reset();
  }
  static std::string DataDir() { return node_->dir() + "/kv-data"; }
  static void StartKeyVault() {
    std::string port_file = node_->dir() + "/kv.port";
    std::filesystem::remove(port_file);
    auto p = Subprocess::Start({CLOISTER_KEYVAULT_BIN, "--trust", node_->trust_path(), "--data-dir",
                                DataDir(), "--port-file", port_file, "--auth-addr",
                                auth_->address()},
                               {.log_prefix = node_->dir() + "/keyvault"});
    ASSERT_TRUE(p.ok());
    kv_.reset();
    kv_ = std::make_unique<Subprocess>(*std::move(p));
    ASSERT_TRUE(WaitForFile(port_file, 15s)) << kv_->Stderr();
    auto port = ReadFile(port_file);
    ASSERT_TRUE(port.ok());
    stub_ = keyvault::KeyVault::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + *port, enclave_->ChannelCredentials({"keyvault"})));
  }

  // Calls the backend as the gateway would, for `user`.
  template <typename Req, typename Resp>
  static Status Call(const std::string& method, const std::string& user, const Req& req,
                     Resp* resp,
                     grpc::Status (keyvault::KeyVault::Stub::*fn)(grpc::ClientContext*,
                                                                         const Req&, Resp*)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    // A real user of the real auth (its token is the grant's auth proof).
    CLOISTER_ASSIGN_OR_RETURN(UserSession who, auth_->User(user));
    CLOISTER_RETURN_IF_ERROR(services::AttachGrant(
        ctx, *enclave_, "keyvault", req, "/cloister.keyvault.KeyVault/" + method, GrantFor(who)));
    return FromGrpcStatus(((*stub_).*fn)(&ctx, req, resp));
  }
#define KV(M, user, req, resp) Call(#M, user, req, resp, &keyvault::KeyVault::Stub::M)

  static std::string Reason(const Status& s) { return s.ok() ? "OK" : s.error().reason(); }

  static std::unique_ptr<AttestedNode> node_;
  static std::unique_ptr<attestation::Enclave> enclave_;
  static std::unique_ptr<Subprocess> kv_;
  static std::unique_ptr<RealAuth> auth_;
  static std::unique_ptr<keyvault::KeyVault::Stub> stub_;
};
std::unique_ptr<RealAuth> KeyVaultIntegrationTest::auth_;

std::unique_ptr<AttestedNode> KeyVaultIntegrationTest::node_;
std::unique_ptr<attestation::Enclave> KeyVaultIntegrationTest::enclave_;
std::unique_ptr<Subprocess> KeyVaultIntegrationTest::kv_;
std::unique_ptr<keyvault::KeyVault::Stub> KeyVaultIntegrationTest::stub_;

keyvault::CreateKeyRequest NewKey(const std::string& name, keyvault::KeyType t, bool exportable = false) {
  keyvault::CreateKeyRequest r;
  r.set_name(name);
  r.set_type(t);
  r.set_exportable(exportable);
  return r;
}

TEST_F(KeyVaultIntegrationTest, EncryptDecryptAndSignaturesVerifyWithOpenssl) {
  keyvault::CreateKeyResponse cr;
  ASSERT_TRUE(KV(CreateKey, "u-alice", NewKey("it-aes", keyvault::KEY_TYPE_AES256_GCM), &cr).ok());
  keyvault::EncryptRequest e;
  e.set_name("it-aes");
  e.set_plaintext("hello vault");
  e.set_aad("ctx");
  keyvault::EncryptResponse er;
  ASSERT_TRUE(KV(Encrypt, "u-alice", e, &er).ok());
  keyvault::DecryptRequest d;
  d.set_name("it-aes");
  d.set_ciphertext(er.ciphertext());
  d.set_aad("ctx");
  keyvault::DecryptResponse dr;
  ASSERT_TRUE(KV(Decrypt, "u-alice", d, &dr).ok());
  EXPECT_EQ(dr.plaintext(), "hello vault");

  keyvault::CreateKeyResponse rsa;
  ASSERT_TRUE(KV(CreateKey, "u-alice", NewKey("it-rsa", keyvault::KEY_TYPE_RSA_2048), &rsa).ok());
  keyvault::SignRequest s;
  s.set_name("it-rsa");
  s.set_input("signed message");
  s.set_algorithm(keyvault::SIGNATURE_ALGORITHM_RSA_PKCS1V15_SHA256);
  keyvault::SignResponse sr;
  ASSERT_TRUE(KV(Sign, "u-alice", s, &sr).ok());
  std::string dir = node_->dir();
  std::ofstream(dir + "/pub.pem") << rsa.key().versions(0).public_key_pem();
  std::ofstream(dir + "/msg", std::ios::binary) << "signed message";
  std::ofstream(dir + "/sig", std::ios::binary) << sr.signature();
  std::string cmd = "openssl dgst -sha256 -verify " + dir + "/pub.pem -signature " + dir +
                    "/sig " + dir + "/msg >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST_F(KeyVaultIntegrationTest, OtherUsersNeedAGrantAndRevocationActsAtOnce) {
  keyvault::CreateKeyResponse cr;
  ASSERT_TRUE(KV(CreateKey, "u-alice", NewKey("it-shared", keyvault::KEY_TYPE_HMAC_SHA256), &cr).ok());
  // bob names alice's key by its owner's username: "it-shared" alone is
  // always bob's own (absent) key.
  keyvault::HmacRequest h;
  h.set_name("it-shared");
  h.set_input("data");
  keyvault::HmacResponse hr;
  EXPECT_EQ(Reason(KV(Hmac, "u-bob", h, &hr)), "KEY_NOT_FOUND");
  h.set_name("u-alice/it-shared");
  EXPECT_EQ(Reason(KV(Hmac, "u-bob", h, &hr)), "KEY_NOT_FOUND");
  keyvault::DescribeKeyRequest dk;
  dk.set_name("u-alice/it-shared");
  keyvault::DescribeKeyResponse dkr;
  EXPECT_EQ(Reason(KV(DescribeKey, "u-bob", dk, &dkr)), "KEY_NOT_FOUND");
  keyvault::ListKeysResponse lr;
  ASSERT_TRUE(KV(ListKeys, "u-bob", keyvault::ListKeysRequest(), &lr).ok());
  for (const auto& k : lr.keys()) EXPECT_NE(k.name(), "it-shared");

  keyvault::CreateGrantRequest g;
  g.set_name("it-shared");
  g.set_grantee_user_id(auth_->User("u-bob")->user_id);
  g.add_operations(keyvault::OPERATION_HMAC);
  keyvault::CreateGrantResponse gr;
  ASSERT_TRUE(KV(CreateGrant, "u-alice", g, &gr).ok());
  EXPECT_TRUE(KV(Hmac, "u-bob", h, &hr).ok());
  keyvault::RevokeGrantRequest rv;
  rv.set_name("it-shared");
  rv.set_grant_id(gr.grant().grant_id());
  keyvault::RevokeGrantResponse rvr;
  ASSERT_TRUE(KV(RevokeGrant, "u-alice", rv, &rvr).ok());
  EXPECT_EQ(Reason(KV(Hmac, "u-bob", h, &hr)), "KEY_NOT_FOUND");
  // An expired grant stops at its second.
  g.set_expires_unix(static_cast<int64_t>(time(nullptr)) + 2);
  ASSERT_TRUE(KV(CreateGrant, "u-alice", g, &gr).ok());
  EXPECT_TRUE(KV(Hmac, "u-bob", h, &hr).ok());
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(Reason(KV(Hmac, "u-bob", h, &hr)), "KEY_NOT_FOUND");
  // The audit log names principal and operation, never the data.
  auto audit = ReadFile(DataDir() + "/audit/keyvault.log");
  ASSERT_TRUE(audit.ok());
  EXPECT_NE(audit->find("\"method\":\"keyvault.Hmac\""), std::string::npos);
  EXPECT_EQ(audit->find("data\""), std::string::npos);
}

TEST_F(KeyVaultIntegrationTest, BadInputGetsClearErrorsAndServiceKeepsServing) {
  keyvault::CreateKeyResponse cr;
  EXPECT_EQ(Reason(KV(CreateKey, "u-alice", NewKey("x", static_cast<keyvault::KeyType>(42)), &cr)),
            "KEY_TYPE_UNKNOWN");
  ASSERT_TRUE(KV(CreateKey, "u-alice", NewKey("it-bad", keyvault::KEY_TYPE_AES256_GCM), &cr).ok());
  keyvault::EncryptRequest e;
  e.set_name("it-bad");
  e.set_plaintext(std::string(2 << 20, 'x'));
  keyvault::EncryptResponse er;
  EXPECT_EQ(Reason(KV(Encrypt, "u-alice", e, &er)), "PAYLOAD_TOO_LARGE");
  keyvault::DecryptRequest d;
  d.set_name("it-bad");
  d.set_ciphertext("cloister:it-bad:v1:AAAA");
  keyvault::DecryptResponse dr;
  EXPECT_EQ(Reason(KV(Decrypt, "u-alice", d, &dr)), "CIPHERTEXT_MALFORMED");
  keyvault::CreateKeyResponse ec;
  ASSERT_TRUE(KV(CreateKey, "u-alice", NewKey("it-ec", keyvault::KEY_TYPE_ECDSA_P256), &ec).ok());
  keyvault::SignRequest s;
  s.set_name("it-ec");
  s.set_prehashed(true);
  s.set_input("not 32 bytes");
  keyvault::SignResponse sr;
  EXPECT_EQ(Reason(KV(Sign, "u-alice", s, &sr)), "DIGEST_LENGTH_INVALID");
  e.set_plaintext("fine");
  EXPECT_TRUE(KV(Encrypt, "u-alice", e, &er).ok());
  EXPECT_TRUE(kv_->Running());
}

// The file-key RPCs through the real binary and grant verifier: the owner
// registers and reads, another user gets FILE_KEY_NOT_FOUND, and the
// internal DestroyFileKey is refused to the gateway's role (only the
// storage enclave may call it).
TEST_F(KeyVaultIntegrationTest, FileKeysAreTheOwnersAndDestroyIsNotForTheGateway) {
  const std::string id = HexEncode(crypto::RandomBytes(16));
  const std::string key = ToString(crypto::RandomBytes(32));
  keyvault::RegisterFileKeyRequest reg;
  reg.set_file_id(id);
  reg.set_file_key(key);
  keyvault::RegisterFileKeyResponse regr;
  ASSERT_TRUE(KV(RegisterFileKey, "u-alice", reg, &regr).ok());
  keyvault::GetFileKeyRequest get;
  get.set_file_id(id);
  keyvault::GetFileKeyResponse getr;
  ASSERT_TRUE(KV(GetFileKey, "u-alice", get, &getr).ok());
  EXPECT_EQ(getr.file_key(), key);
  EXPECT_EQ(Reason(KV(GetFileKey, "u-bob", get, &getr)), "FILE_KEY_NOT_FOUND");
  keyvault::DestroyFileKeyRequest destroy;
  destroy.set_file_id(id);
  destroy.set_owner_user_id(regr.key().owner_user_id());
  keyvault::DestroyFileKeyResponse destroyr;
  // Refused at the attested-peer check: the gateway is not among its callers.
  EXPECT_EQ(Reason(KV(DestroyFileKey, "u-alice", destroy, &destroyr)), "ROLE_NOT_ALLOWED");
  keyvault::DeleteFileKeyRequest del;
  del.set_file_id(id);
  keyvault::DeleteFileKeyResponse delr;
  EXPECT_EQ(Reason(KV(DeleteFileKey, "u-bob", del, &delr)), "FILE_KEY_NOT_FOUND");
  ASSERT_TRUE(KV(DeleteFileKey, "u-alice", del, &delr).ok());
  EXPECT_EQ(Reason(KV(GetFileKey, "u-alice", get, &getr)), "FILE_KEY_NOT_FOUND");
}

TEST_F(KeyVaultIntegrationTest, KeysSurviveRestartAndKillDuringRotation) {
  keyvault::CreateKeyResponse cr;
  ASSERT_TRUE(KV(CreateKey, "u-alice", NewKey("it-rot", keyvault::KEY_TYPE_AES256_GCM), &cr).ok());
  keyvault::EncryptRequest e;
  e.set_name("it-rot");
  e.set_plaintext("before");
  keyvault::EncryptResponse v1;
  ASSERT_TRUE(KV(Encrypt, "u-alice", e, &v1).ok());

  // Rotate from two threads until the process is SIGKILLed under them.
  std::atomic<bool> stop{false};
  std::atomic<int> rotations{0};
  std::vector<std::thread> rotators;
  for (int i = 0; i < 2; ++i)
    rotators.emplace_back([&] {
      keyvault::RotateKeyRequest r;
      r.set_name("it-rot");
      while (!stop) {
        keyvault::RotateKeyResponse rr;
        if (KV(RotateKey, "u-alice", r, &rr).ok()) rotations++;
      }
    });
  std::this_thread::sleep_for(1500ms);
  kv_->Kill();
  stop = true;
  for (auto& t : rotators) t.join();
  ASSERT_GT(rotations.load(), 0);
  StartKeyVault();

  keyvault::DescribeKeyRequest dk;
  dk.set_name("it-rot");
  keyvault::DescribeKeyResponse dkr;
  ASSERT_TRUE(KV(DescribeKey, "u-alice", dk, &dkr).ok());
  const uint32_t latest = dkr.key().latest_version();
  EXPECT_GE(latest, static_cast<uint32_t>(rotations.load()));
  ASSERT_EQ(dkr.key().versions_size(), static_cast<int>(latest));
  keyvault::DecryptRequest d;
  d.set_name("it-rot");
  d.set_ciphertext(v1.ciphertext());
  keyvault::DecryptResponse dr;
  ASSERT_TRUE(KV(Decrypt, "u-alice", d, &dr).ok());
  EXPECT_EQ(dr.plaintext(), "before");
  keyvault::EncryptResponse after;
  ASSERT_TRUE(KV(Encrypt, "u-alice", e, &after).ok());
  EXPECT_EQ(after.key_version(), latest);
}

TEST_F(KeyVaultIntegrationTest, CopiedStoreOpenedByAnotherBinaryRevealsNothing) {
  keyvault::CreateKeyResponse cr;
  ASSERT_TRUE(KV(CreateKey, "u-alice", NewKey("it-copy", keyvault::KEY_TYPE_AES256_GCM, true), &cr).ok());
  keyvault::ExportKeyRequest x;
  x.set_name("it-copy");
  keyvault::ExportKeyResponse xr;
  ASSERT_TRUE(KV(ExportKey, "u-alice", x, &xr).ok());
  keyvault::EncryptRequest e;
  e.set_name("it-copy");
  e.set_plaintext("copied");
  keyvault::EncryptResponse er;
  ASSERT_TRUE(KV(Encrypt, "u-alice", e, &er).ok());

  // Copy the database (with its WAL) elsewhere.
  std::string copy_dir = node_->dir() + "/stolen";
  std::filesystem::create_directories(copy_dir);
  for (auto suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    std::filesystem::copy_file(DataDir() + "/keyvault.db" + suffix,
                               copy_dir + "/keyvault.db" + suffix, ec);
  }
  // The raw key bytes appear nowhere in the files.
  for (auto suffix : {"", "-wal"}) {
    auto bytes = ReadFile(copy_dir + "/keyvault.db" + suffix, 256 << 20);
    if (bytes.ok()) {
      EXPECT_EQ(bytes->find(xr.key_material()), std::string::npos);
    }
  }
  // This test binary is another (attested, manifest-listed) binary: its
  // sealing key differs, so no version opens.
  auto store = keyvault_store::KeyStore::Open(
      "sqlite://" + copy_dir + "/keyvault.db",
      std::make_unique<keyvault_store::PlatformSealer>(&enclave_->platform()));
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  auto rec = (*store)->Get(cr.key().owner_user_id(), "it-copy", time(nullptr));
  ASSERT_TRUE(rec.ok());
  ASSERT_TRUE(rec->has_value());
  auto material = (*store)->Material(**rec, 1);
  ASSERT_FALSE(material.ok());
  EXPECT_EQ(material.error().reason(), "SEAL_AUTH_FAILED");
}

#undef KV

}  // namespace
}  // namespace cloister::testing
