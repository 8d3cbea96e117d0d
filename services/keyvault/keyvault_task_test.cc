// Tests of cloister-keyvault's task methods (issue 13): GetFileKeyForTask
// and RegisterFileKeyForTask, through the real KeyVaultService and
// GrantVerifier in this process over a real KeyStore, with real level-1
// enclaves (a platform daemon, a signed manifest, a cluster secret) signing
// real task grants (SignTaskGrant) that the real TaskGrantVerifier checks.
// The execution enclave's calls carry access grants MACed under the cluster
// secret for principal "service:exec", so the core sees the service Caller
// only the grant verifier builds. Every check has the attack it stops: no
// grant, a garbage one, another cluster's, an expired one, one issued to
// another worker role, one naming another file or owner, a claimed owner
// that is not the key's, an output key for a slot or owner the grant does
// not name, a user or another service calling; and a registered output key
// is its owner's like any other (GetFileKey, DeleteFileKey, DestroyFileKey).
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "attestation/enclave.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "proto/keyvault.grpc.pb.h"
#include "services/common/audit_log.h"
#include "services/common/grant_verifier.h"
#include "services/common/task_grant.h"
#include "services/keyvault/file_keys.h"
#include "services/keyvault/keyvault_service.h"
#include "tests/support/attested_node.h"

namespace cloister::keyvault_service {
namespace {

namespace fs = std::filesystem;
namespace tgr = services::task_grant_reason;

constexpr const char* kPrefix = "/cloister.keyvault.KeyVault/";
const Caller kAlice = services::MakeCallerForTesting({.user_id = "u-alice"});
const Caller kBob = services::MakeCallerForTesting({.user_id = "u-bob"});
const Caller kAdmin = services::MakeCallerForTesting({.user_id = "u-admin", .admin = true});

std::string SelfExe() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).string();
}

std::string NewFileId() { return HexEncode(crypto::RandomBytes(16)); }
std::string NewKey() { return ToString(crypto::RandomBytes(32)); }

template <typename T>
void ExpectError(const Result<T>& r, Code code, std::string_view reason) {
  ASSERT_FALSE(r.ok()) << "expected " << reason;
  EXPECT_EQ(r.code(), code) << r.error().ToString();
  EXPECT_EQ(r.error().reason(), reason) << r.error().ToString();
}

void ExpectGrpc(const grpc::Status& st, grpc::StatusCode code, std::string_view reason) {
  EXPECT_EQ(st.error_code(), code) << st.error_message();
  EXPECT_EQ(st.error_details(), reason) << st.error_message();
}

class KeyVaultTaskTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = std::make_unique<cloister::testing::AttestedNode>(
        std::vector<std::pair<std::string, std::string>>{{"keyvault", SelfExe()}},
        cloister::testing::AttestedNodeOptions{.security_level = 1,
                                               .platform_binary = CLOISTER_PLATFORM_BIN});
    auto st = node_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    const std::string secret = node_->dir() + "/cluster.secret";
    const std::string other = node_->dir() + "/other-cluster.secret";
    ASSERT_TRUE(WriteFileAtomic(secret, crypto::RandomBytes(32), 0600).ok());
    ASSERT_TRUE(WriteFileAtomic(other, crypto::RandomBytes(32), 0600).ok());
    // This binary is keyvault in the manifest; the other roles' enclaves run
    // in it too (skipping only their own self-check): at level 1 a role's
    // proof is the cluster secret it holds.
    keyvault_ = StartEnclave("keyvault", secret, false);
    tasks_ = StartEnclave("tasks", secret, true);
    exec_ = StartEnclave("exec", secret, true);
    rogue_tasks_ = StartEnclave("tasks", other, true);
  }
  static void TearDownTestSuite() {
    rogue_tasks_.reset();
    exec_.reset();
    tasks_.reset();
    keyvault_.reset();
    node_.reset();
  }
  static std::unique_ptr<attestation::Enclave> StartEnclave(const std::string& role,
                                                             const std::string& secret,
                                                             bool other_role) {
    auto e = attestation::Enclave::Start({.role = role,
                                          .trust_path = node_->trust_path(),
                                          .cluster_secret_path = secret,
                                          .skip_self_check_for_testing = other_role});
    EXPECT_TRUE(e.ok()) << e.error().ToString();
    if (!e.ok()) return nullptr;
    EXPECT_EQ((*e)->security_level(), 1);
    EXPECT_NE((*e)->cluster_secret(), nullptr);
    return *std::move(e);
  }

  void SetUp() override {
    ASSERT_NE(keyvault_, nullptr);
    ASSERT_NE(tasks_, nullptr);
    ASSERT_NE(exec_, nullptr);
    ASSERT_NE(rogue_tasks_, nullptr);
    dir_ = fs::temp_directory_path() / ("kv-task-" + crypto::RandomId());
    fs::create_directories(dir_);
    auto log = services::AuditLog::Open((dir_ / "audit.log").string(), "keyvault",
                                        SecretBytes::Random(32));
    ASSERT_TRUE(log.ok()) << log.error().ToString();
    audit_ = *std::move(log);
    auto s = keyvault_store::KeyStore::Open(
        "sqlite://" + (dir_ / "kv.db").string(),
        std::make_unique<keyvault_store::AeadSealer>(SecretBytes::Random(32)));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = *std::move(s);
    core_ = std::make_unique<KeyVaultCore>(store_.get(), audit_.get());
    verifier_ = std::make_unique<services::GrantVerifier>(keyvault_.get(), audit_.get(), nullptr);
    task_grants_ = std::make_unique<services::TaskGrantVerifier>(keyvault_.get());
    service_ = std::make_unique<KeyVaultService>(verifier_.get(), task_grants_.get(), core_.get(),
                                                 keyvault_->security_level());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", keyvault_->ServerCredentials({"exec", "storage"}),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = keyvault::KeyVault::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), exec_->ChannelCredentials({"keyvault"})));
  }
  void TearDown() override {
    stub_.reset();
    if (server_) server_->Shutdown();
    server_.reset();
    service_.reset();
    task_grants_.reset();
    verifier_.reset();
    core_.reset();
    store_.reset();
    audit_.reset();
    fs::remove_all(dir_);
  }

  // A file key its owner registers the normal way (the SDK before an upload).
  void Register(const Caller& c, const std::string& file_id, const std::string& key) {
    keyvault::RegisterFileKeyRequest r;
    r.set_file_id(file_id);
    r.set_file_key(key);
    auto reg = core_->RegisterFileKey(c, r);
    ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  }
  Result<keyvault::GetFileKeyResponse> OwnerGet(const Caller& c, const std::string& file_id) {
    keyvault::GetFileKeyRequest r;
    r.set_file_id(file_id);
    return core_->GetFileKey(c, r);
  }

  // A task grant as cloister-tasks would issue it for a claimed task.
  static internal::TaskGrant Grant() {
    internal::TaskGrant g;
    g.set_task_id("task-1");
    g.set_fencing_token(3);
    g.set_digest(std::string(64, 'd'));
    g.set_worker_role("exec");
    g.set_expires_unix_ms(attestation::NowUnixMs() + 60'000);
    return g;
  }
  static void AddInput(internal::TaskGrant& g, const std::string& slot, const std::string& file_id,
                       const std::string& owner) {
    auto* in = g.add_inputs();
    in->set_slot(slot);
    in->set_file_id(file_id);
    in->set_owner_user_id(owner);
    in->set_ciphertext_sha256(std::string(32, 's'));
  }
  static void AddOutput(internal::TaskGrant& g, const std::string& slot,
                        std::vector<std::string> owners) {
    auto* out = g.add_outputs();
    out->set_slot(slot);
    for (auto& o : owners) out->add_owner_user_ids(o);
  }
  static std::string Sign(const internal::TaskGrant& g, attestation::Enclave* signer = nullptr) {
    auto s = services::SignTaskGrant(signer ? *signer : *tasks_, g);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return s.ok() ? *s : "";
  }
  // A grant whose lease has already run out (signed, then waited out).
  static std::string ExpiredGrant(internal::TaskGrant g) {
    g.set_expires_unix_ms(attestation::NowUnixMs() + 20);
    std::string s = Sign(g);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    internal::SignedTaskGrant sg;
    internal::TaskGrant signed_grant;
    EXPECT_TRUE(sg.ParseFromString(s) && signed_grant.ParseFromString(sg.grant()));
    EXPECT_LT(signed_grant.expires_unix_ms(), attestation::NowUnixMs());
    return s;
  }
  // The bad grants every task call must refuse, with their reasons.
  static std::vector<std::pair<std::string, std::string>> BadGrants(const internal::TaskGrant& g) {
    internal::TaskGrant for_tasks = g;
    for_tasks.set_worker_role("tasks");
    internal::SignedTaskGrant forged;
    forged.set_grant(g.SerializeAsString());
    forged.set_signature(std::string(32, 'x'));
    return {{"", tgr::kMissing},
            {"garbage, not a SignedTaskGrant", tgr::kMalformed},
            {forged.SerializeAsString(), tgr::kSignature},
            {Sign(g, rogue_tasks_.get()), tgr::kSignature},  // another cluster's tasks
            {ExpiredGrant(g), tgr::kExpired},
            {Sign(for_tasks), tgr::kWorker}};  // issued to another kind of worker
  }

  void Attach(grpc::ClientContext& ctx, const google::protobuf::Message& req,
              const std::string& method, const std::string& principal) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    internal::AccessGrant g;
    g.set_principal(principal);
    g.set_username(principal);
    ASSERT_TRUE(services::AttachGrant(ctx, *exec_, "keyvault", req, kPrefix + method, g).ok());
  }
  grpc::Status GetForTask(const std::string& file_id, const std::string& owner,
                          const std::string& grant, keyvault::GetFileKeyResponse* resp,
                          const std::string& principal = "service:exec") {
    keyvault::GetFileKeyForTaskRequest req;
    req.set_file_id(file_id);
    req.set_owner_user_id(owner);
    req.set_task_grant(grant);
    grpc::ClientContext ctx;
    Attach(ctx, req, "GetFileKeyForTask", principal);
    return stub_->GetFileKeyForTask(&ctx, req, resp);
  }
  grpc::Status RegisterForTask(const std::string& file_id, const std::string& owner,
                               const std::string& key, const std::string& slot,
                               const std::string& grant, keyvault::RegisterFileKeyResponse* resp,
                               const std::string& principal = "service:exec") {
    keyvault::RegisterFileKeyForTaskRequest req;
    req.set_file_id(file_id);
    req.set_owner_user_id(owner);
    req.set_file_key(key);
    req.set_slot(slot);
    req.set_task_grant(grant);
    grpc::ClientContext ctx;
    Attach(ctx, req, "RegisterFileKeyForTask", principal);
    return stub_->RegisterFileKeyForTask(&ctx, req, resp);
  }

  std::string AuditText() {
    auto text = ReadFile((dir_ / "audit.log").string());
    return text.ok() ? *text : "";
  }

  static std::unique_ptr<cloister::testing::AttestedNode> node_;
  static std::unique_ptr<attestation::Enclave> keyvault_, tasks_, exec_, rogue_tasks_;

  fs::path dir_;
  std::unique_ptr<services::AuditLog> audit_;
  std::unique_ptr<keyvault_store::KeyStore> store_;
  std::unique_ptr<KeyVaultCore> core_;
  std::unique_ptr<services::GrantVerifier> verifier_;
  std::unique_ptr<services::TaskGrantVerifier> task_grants_;
  std::unique_ptr<KeyVaultService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<keyvault::KeyVault::Stub> stub_;
};
std::unique_ptr<cloister::testing::AttestedNode> KeyVaultTaskTest::node_;
std::unique_ptr<attestation::Enclave> KeyVaultTaskTest::keyvault_;
std::unique_ptr<attestation::Enclave> KeyVaultTaskTest::tasks_;
std::unique_ptr<attestation::Enclave> KeyVaultTaskTest::exec_;
std::unique_ptr<attestation::Enclave> KeyVaultTaskTest::rogue_tasks_;

// ---- GetFileKeyForTask ----

TEST_F(KeyVaultTaskTest, ExecGetsTheKeyOfAnInputTheGrantNames) {
  const std::string id = NewFileId(), key = NewKey();
  Register(kAlice, id, key);
  internal::TaskGrant g = Grant();
  AddInput(g, "in.a", id, "u-alice");
  keyvault::GetFileKeyResponse resp;
  auto st = GetForTask(id, "u-alice", Sign(g), &resp);
  ASSERT_TRUE(st.ok()) << st.error_message() << " " << st.error_details();
  EXPECT_EQ(resp.file_key(), key);
  EXPECT_EQ(resp.key().file_id(), id);
  EXPECT_EQ(resp.key().owner_user_id(), "u-alice");
  // Audited as exec's, for that task; never the key.
  const std::string audit = AuditText();
  EXPECT_NE(audit.find("keyvault.GetFileKeyForTask"), std::string::npos);
  EXPECT_NE(audit.find("\"principal\":\"service:exec\""), std::string::npos);
  EXPECT_EQ(audit.find(HexEncode(AsBytes(key))), std::string::npos);
}

TEST_F(KeyVaultTaskTest, AKeyFetchWithoutAValidGrantIsRefusedWithItsReason) {
  const std::string id = NewFileId(), key = NewKey();
  Register(kAlice, id, key);
  internal::TaskGrant g = Grant();
  AddInput(g, "in.a", id, "u-alice");
  for (const auto& [grant, why] : BadGrants(g)) {
    keyvault::GetFileKeyResponse resp;
    ExpectGrpc(GetForTask(id, "u-alice", grant, &resp), grpc::StatusCode::PERMISSION_DENIED, why);
    EXPECT_TRUE(resp.file_key().empty()) << why;
  }
  EXPECT_NE(AuditText().find(std::string("\"reason\":\"") + tgr::kExpired), std::string::npos);
}

TEST_F(KeyVaultTaskTest, AGrantNamingAnotherFileOrOwnerGetsTheAbsentAnswer) {
  const std::string id = NewFileId(), other = NewFileId(), bobs = NewFileId();
  Register(kAlice, id, NewKey());
  Register(kAlice, other, NewKey());
  Register(kBob, bobs, NewKey());
  keyvault::GetFileKeyResponse absent;
  {
    const std::string nobody = NewFileId();
    internal::TaskGrant g = Grant();
    AddInput(g, "in.a", nobody, "u-alice");
    ExpectGrpc(GetForTask(nobody, "u-alice", Sign(g), &absent), grpc::StatusCode::NOT_FOUND,
               reason::kFileKeyNotFound);
  }
  auto expect_hidden = [&](const std::string& file_id, const std::string& owner,
                           const internal::TaskGrant& g, const std::string& what) {
    keyvault::GetFileKeyResponse resp;
    auto st = GetForTask(file_id, owner, Sign(g), &resp);
    ExpectGrpc(st, grpc::StatusCode::NOT_FOUND, reason::kFileKeyNotFound);
    EXPECT_TRUE(resp.file_key().empty()) << what;
    // The same words as for an id without a key.
    keyvault::GetFileKeyResponse again;
    const std::string nobody = NewFileId();
    internal::TaskGrant n = Grant();
    AddInput(n, "in.a", nobody, "u-alice");
    EXPECT_EQ(st.error_message(), GetForTask(nobody, "u-alice", Sign(n), &again).error_message())
        << what;
  };
  {
    // The grant names alice's other file.
    internal::TaskGrant g = Grant();
    AddInput(g, "in.a", other, "u-alice");
    expect_hidden(id, "u-alice", g, "another file");
  }
  {
    // The grant names the file as bob's and exec claims bob owns it: the
    // key's owner is alice.
    internal::TaskGrant g = Grant();
    AddInput(g, "in.a", id, "u-bob");
    expect_hidden(id, "u-bob", g, "another owner in grant and request");
    // The grant is right, the claimed owner is not.
    internal::TaskGrant h = Grant();
    AddInput(h, "in.a", id, "u-alice");
    expect_hidden(id, "u-bob", h, "another owner in the request");
    // The claimed owner is right, the grant names another.
    internal::TaskGrant k = Grant();
    AddInput(k, "in.a", id, "u-bob");
    expect_hidden(id, "u-alice", k, "another owner in the grant");
    // Bob's key under a grant naming it as alice's.
    internal::TaskGrant b = Grant();
    AddInput(b, "in.b", bobs, "u-alice");
    expect_hidden(bobs, "u-alice", b, "bob's key as alice's");
  }
  {
    // An output of the task is not an input.
    internal::TaskGrant g = Grant();
    AddOutput(g, "out", {"u-alice"});
    expect_hidden(id, "u-alice", g, "an output slot");
  }
}

TEST_F(KeyVaultTaskTest, UsersAndOtherServicesCannotCallTheTaskMethods) {
  const std::string id = NewFileId(), key = NewKey();
  Register(kAlice, id, key);
  internal::TaskGrant g = Grant();
  AddInput(g, "in.a", id, "u-alice");
  AddOutput(g, "out", {"u-alice"});
  const std::string grant = Sign(g);
  // At the port: the grant verifier admits only exec's own principal.
  for (const std::string principal : {"u-alice", "service:storage", "service:tasks"}) {
    keyvault::GetFileKeyResponse resp;
    ExpectGrpc(GetForTask(id, "u-alice", grant, &resp, principal),
               grpc::StatusCode::PERMISSION_DENIED, services::grant_reason::kPrincipal);
    EXPECT_TRUE(resp.file_key().empty());
    keyvault::RegisterFileKeyResponse reg;
    ExpectGrpc(RegisterForTask(NewFileId(), "u-alice", NewKey(), "out", grant, &reg, principal),
               grpc::StatusCode::PERMISSION_DENIED, services::grant_reason::kPrincipal);
  }
  // In the core, with a valid grant in hand: the owner, an admin, a user
  // whose id reads like the service and nobody are all refused.
  const Caller impostor =
      services::MakeCallerForTesting({.user_id = std::string(kExecPrincipal)});
  EXPECT_FALSE(IsExecService(impostor));
  for (const Caller* c : {&kAlice, &kAdmin, &impostor}) {
    keyvault::GetFileKeyForTaskRequest get;
    get.set_file_id(id);
    get.set_owner_user_id("u-alice");
    get.set_task_grant(grant);
    ExpectError(core_->GetFileKeyForTask(*c, get, *task_grants_), Code::kPermissionDenied,
                reason::kNotExec);
    keyvault::RegisterFileKeyForTaskRequest reg;
    const std::string fresh = NewFileId();
    reg.set_file_id(fresh);
    reg.set_owner_user_id("u-alice");
    reg.set_file_key(NewKey());
    reg.set_slot("out");
    reg.set_task_grant(grant);
    ExpectError(core_->RegisterFileKeyForTask(*c, reg, *task_grants_), Code::kPermissionDenied,
                reason::kNotExec);
    ExpectError(OwnerGet(kAlice, fresh), Code::kNotFound, reason::kFileKeyNotFound);
  }
  keyvault::GetFileKeyForTaskRequest get;
  get.set_file_id(id);
  get.set_owner_user_id("u-alice");
  get.set_task_grant(grant);
  ExpectError(core_->GetFileKeyForTask(Caller::Anonymous(), get, *task_grants_),
              Code::kPermissionDenied, reason::kNotExec);
  // The one decision: exec without a grant is no owner, and a user with one
  // is no exec.
  keyvault_store::FileKeyRecord rec{.file_id = id, .owner = "u-alice"};
  const TaskKeyClaim claim{g, "u-alice"};
  EXPECT_TRUE(MayReceiveFileKey(kAlice, rec));
  EXPECT_FALSE(MayReceiveFileKey(kAdmin, rec));
  EXPECT_FALSE(MayReceiveFileKey(kAlice, rec, &claim));
  EXPECT_FALSE(MayReceiveFileKey(impostor, rec, &claim));
}

// ---- RegisterFileKeyForTask ----

TEST_F(KeyVaultTaskTest, AnOutputKeyIsItsOwnersLikeAnyFileKey) {
  internal::TaskGrant g = Grant();
  AddOutput(g, "out", {"u-alice", "u-bob"});
  const std::string grant = Sign(g);
  const std::string id = NewFileId(), key = NewKey();
  keyvault::RegisterFileKeyResponse reg;
  auto st = RegisterForTask(id, "u-bob", key, "out", grant, &reg);
  ASSERT_TRUE(st.ok()) << st.error_message() << " " << st.error_details();
  EXPECT_EQ(reg.key().file_id(), id);
  EXPECT_EQ(reg.key().owner_user_id(), "u-bob");
  // Bob reads it the normal way; alice (a co-owner of the slot, with her
  // own copy) and admins do not; nor does exec without an input grant.
  auto got = OwnerGet(kBob, id);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->file_key(), key);
  ExpectError(OwnerGet(kAlice, id), Code::kNotFound, reason::kFileKeyNotFound);
  ExpectError(OwnerGet(kAdmin, id), Code::kNotFound, reason::kFileKeyNotFound);
  keyvault::GetFileKeyResponse none;
  ExpectGrpc(GetForTask(id, "u-bob", grant, &none), grpc::StatusCode::NOT_FOUND,
             reason::kFileKeyNotFound);
  // Storage's DestroyFileKey (for a deleted file) destroys it like any other.
  {
    keyvault::DestroyFileKeyRequest req;
    req.set_file_id(id);
    req.set_owner_user_id("u-bob");
    grpc::ClientContext ctx;
    Attach(ctx, req, "DestroyFileKey", "service:storage");
    keyvault::DestroyFileKeyResponse resp;
    auto destroyed = stub_->DestroyFileKey(&ctx, req, &resp);
    ASSERT_TRUE(destroyed.ok()) << destroyed.error_message();
    EXPECT_TRUE(resp.existed());
  }
  ExpectError(OwnerGet(kBob, id), Code::kNotFound, reason::kFileKeyNotFound);
  // And the owner deletes one itself.
  const std::string second = NewFileId();
  ASSERT_TRUE(RegisterForTask(second, "u-alice", NewKey(), "out", grant, &reg).ok());
  keyvault::DeleteFileKeyRequest del;
  del.set_file_id(second);
  ASSERT_TRUE(core_->DeleteFileKey(kAlice, del).ok());
  ExpectError(OwnerGet(kAlice, second), Code::kNotFound, reason::kFileKeyNotFound);
  EXPECT_NE(AuditText().find("keyvault.RegisterFileKeyForTask"), std::string::npos);
}

TEST_F(KeyVaultTaskTest, AnOutputKeyForASlotOrOwnerTheGrantDoesNotNameIsRefused) {
  internal::TaskGrant g = Grant();
  AddOutput(g, "out", {"u-alice"});
  AddOutput(g, "log", {"u-bob"});
  AddInput(g, "in.a", NewFileId(), "u-carol");
  const std::string grant = Sign(g);
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"other", "u-alice"},  // no such slot
      {"out", "u-bob"},      // another slot's owner
      {"out", "u-carol"},    // an input owner only
      {"in.a", "u-carol"},   // an input slot is not an output
  };
  const std::string id = NewFileId();
  for (const auto& [slot, owner] : refused) {
    keyvault::RegisterFileKeyResponse reg;
    ExpectGrpc(RegisterForTask(id, owner, NewKey(), slot, grant, &reg),
               grpc::StatusCode::PERMISSION_DENIED, tgr::kNotNamed);
  }
  for (const auto& [bad, why] : BadGrants(g)) {
    keyvault::RegisterFileKeyResponse reg;
    ExpectGrpc(RegisterForTask(id, "u-alice", NewKey(), "out", bad, &reg),
               grpc::StatusCode::PERMISSION_DENIED, why);
  }
  // Nothing was registered: the id is still free for anyone.
  for (const char* who : {"u-alice", "u-bob", "u-carol"})
    ExpectError(OwnerGet(services::MakeCallerForTesting({.user_id = who}), id), Code::kNotFound,
                reason::kFileKeyNotFound);
  Register(kAlice, id, NewKey());
}

TEST_F(KeyVaultTaskTest, AnOutputKeyFollowsRegisterFileKeysRules) {
  internal::TaskGrant g = Grant();
  AddOutput(g, "out", {"u-alice", "u-bob"});
  const std::string grant = Sign(g);
  keyvault::RegisterFileKeyResponse reg;
  ExpectGrpc(RegisterForTask("ABC", "u-alice", NewKey(), "out", grant, &reg),
             grpc::StatusCode::INVALID_ARGUMENT, reason::kFileIdInvalid);
  ExpectGrpc(RegisterForTask(NewFileId(), "u-alice", "short", "out", grant, &reg),
             grpc::StatusCode::INVALID_ARGUMENT, reason::kFileKeyInvalid);
  ExpectGrpc(RegisterForTask(NewFileId(), "u-alice", NewKey() + "x", "out", grant, &reg),
             grpc::StatusCode::INVALID_ARGUMENT, reason::kFileKeyInvalid);
  // An id that has a key stays its first owner's: no takeover through a task.
  const std::string taken = NewFileId(), key = NewKey();
  Register(kBob, taken, key);
  ExpectGrpc(RegisterForTask(taken, "u-alice", NewKey(), "out", grant, &reg),
             grpc::StatusCode::ALREADY_EXISTS, keyvault_store::reason::kFileKeyExists);
  ExpectGrpc(RegisterForTask(taken, "u-bob", NewKey(), "out", grant, &reg),
             grpc::StatusCode::ALREADY_EXISTS, keyvault_store::reason::kFileKeyExists);
  EXPECT_EQ(OwnerGet(kBob, taken)->file_key(), key);
}

}  // namespace
}  // namespace cloister::keyvault_service
