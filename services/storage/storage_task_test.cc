// Tests of cloister-storage's task methods (issue 13): ReadFileForTask and
// StoreTaskOutput, through the real StorageService and GrantVerifier in this
// process over a real StorageCore, with real level-1 enclaves (a platform
// daemon, a signed manifest, a cluster secret) signing real task grants
// (SignTaskGrant) that the real TaskGrantVerifier checks. The execution
// enclave's calls carry access grants MACed under the cluster secret for
// principal "service:exec", so the core sees the service Caller only the
// grant verifier builds. Every check has the attack it stops: no grant, a
// garbage one, another cluster's, an expired one, one issued to another
// worker role, one naming another file / owner / ciphertext, an output for
// a slot or owner the grant does not name, a user or another service
// calling; and the owner reads a stored output back the normal way.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "attestation/enclave.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "files/file_stream.h"
#include "proto/storage.grpc.pb.h"
#include "services/common/audit_log.h"
#include "services/common/grant_verifier.h"
#include "services/common/task_grant.h"
#include "services/storage/storage_core.h"
#include "services/storage/storage_service.h"
#include "tests/support/attested_node.h"

namespace cloister::storage_service {
namespace {

namespace fs = std::filesystem;
namespace tgr = services::task_grant_reason;

constexpr const char* kPrefix = "/cloister.filestore.Storage/";
const Caller kAlice = services::MakeCallerForTesting({.user_id = "u-alice"});
const Caller kBob = services::MakeCallerForTesting({.user_id = "u-bob"});
const Caller kAdmin = services::MakeCallerForTesting({.user_id = "u-admin", .admin = true});

std::string SelfExe() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).string();
}

// A real encrypted file (file_stream.h), in memory, optionally under a
// pinned file id (a file replaced under the same id).
struct Cipher {
  std::string bytes;
  std::string file_id;
};

Cipher MakeCipher(size_t plaintext_size, std::optional<files::FileId> id = std::nullopt) {
  Bytes key = crypto::RandomBytes(32);
  auto enc = files::FileEncryptor::Create(key, plaintext_size, {.chunk_size = 1024, .file_id = id});
  EXPECT_TRUE(enc.ok()) << enc.error().ToString();
  Bytes plain = crypto::RandomBytes(plaintext_size);
  std::string out(AsChars(enc->header_bytes()));
  size_t off = 0;
  for (uint64_t i = 0; i < enc->header().chunk_count(); ++i) {
    const size_t n = enc->header().chunk_plaintext_size(i);
    auto sealed = enc->SealChunk(ByteView(plain).subspan(off, n));
    EXPECT_TRUE(sealed.ok());
    out.append(AsChars(*sealed));
    off += n;
  }
  EXPECT_TRUE(enc->Finish().ok());
  return {std::move(out), HexEncode(enc->header().file_id)};
}

std::string Sha(std::string_view b) {
  auto d = crypto::Sha256(AsBytes(b));
  return std::string(d.begin(), d.end());
}

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

// What one ReadFileForTask call returned.
struct ReadResult {
  grpc::Status status;
  std::string data;
  filestore::FileInfo file;
  size_t messages = 0;
};

class StorageTaskTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = std::make_unique<cloister::testing::AttestedNode>(
        std::vector<std::pair<std::string, std::string>>{{"storage", SelfExe()}},
        cloister::testing::AttestedNodeOptions{.security_level = 1,
                                               .platform_binary = CLOISTER_PLATFORM_BIN});
    auto st = node_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    const std::string secret = node_->dir() + "/cluster.secret";
    const std::string other = node_->dir() + "/other-cluster.secret";
    ASSERT_TRUE(WriteFileAtomic(secret, crypto::RandomBytes(32), 0600).ok());
    ASSERT_TRUE(WriteFileAtomic(other, crypto::RandomBytes(32), 0600).ok());
    // This binary is storage in the manifest; the other roles' enclaves run
    // in it too (skipping only their own self-check): at level 1 a role's
    // proof is the cluster secret it holds.
    storage_ = StartEnclave("storage", secret, false);
    tasks_ = StartEnclave("tasks", secret, true);
    exec_ = StartEnclave("exec", secret, true);
    rogue_tasks_ = StartEnclave("tasks", other, true);
  }
  static void TearDownTestSuite() {
    rogue_tasks_.reset();
    exec_.reset();
    tasks_.reset();
    storage_.reset();
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
    ASSERT_NE(storage_, nullptr);
    ASSERT_NE(tasks_, nullptr);
    ASSERT_NE(exec_, nullptr);
    ASSERT_NE(rogue_tasks_, nullptr);
    dir_ = fs::temp_directory_path() / ("storage-task-" + crypto::RandomId());
    fs::create_directories(dir_ / "data");
    auto log = services::AuditLog::Open((dir_ / "audit.log").string(), "storage",
                                        SecretBytes::Random(32));
    ASSERT_TRUE(log.ok()) << log.error().ToString();
    audit_ = *std::move(log);
    Reopen({});
  }
  void TearDown() override {
    StopServer();
    core_.reset();
    audit_.reset();
    fs::remove_all(dir_);
  }

  // A new core (and server) on a fresh database with `options`.
  void Reopen(StorageOptions options) {
    StopServer();
    core_.reset();
    fs::remove_all(dir_ / "data");
    fs::remove(dir_ / "storage.db");
    fs::create_directories(dir_ / "data");
    KeyShredder shredder = [](const std::string&, const std::string&) { return OkStatus(); };
    auto core = StorageCore::Open((dir_ / "data").string(),
                                  "sqlite://" + (dir_ / "storage.db").string(), shredder,
                                  audit_.get(), options);
    ASSERT_TRUE(core.ok()) << core.error().ToString();
    core_ = *std::move(core);
    verifier_ = std::make_unique<services::GrantVerifier>(storage_.get(), audit_.get(), nullptr);
    task_grants_ = std::make_unique<services::TaskGrantVerifier>(storage_.get());
    service_ = std::make_unique<StorageService>(verifier_.get(), task_grants_.get(), core_.get(),
                                                storage_->security_level());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", storage_->ServerCredentials({"exec"}), &port);
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    stub_ = filestore::Storage::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port), exec_->ChannelCredentials({"storage"}), args));
  }
  void StopServer() {
    stub_.reset();
    if (server_) server_->Shutdown();
    server_.reset();
    service_.reset();
    task_grants_.reset();
    verifier_.reset();
  }

  // A user's file, uploaded through the owner path.
  filestore::FileInfo Store(const Caller& c, const Cipher& f) {
    filestore::CreateUploadRequest cr;
    cr.set_file_id(f.file_id);
    cr.set_size(f.bytes.size());
    auto s = core_->CreateUpload(c, cr);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    if (!s.ok()) return {};
    filestore::UploadChunksRequest m;
    m.set_upload_id(s->session().upload_id());
    m.set_data(f.bytes);
    auto stream = core_->OpenUploadStream(c, m);
    EXPECT_TRUE(stream.ok()) << stream.error().ToString();
    if (!stream.ok()) return {};
    EXPECT_TRUE((*stream)->Finish().ok());
    stream->reset();
    filestore::CompleteUploadRequest done;
    done.set_upload_id(s->session().upload_id());
    done.set_sha256(Sha(f.bytes));
    auto file = core_->CompleteUpload(c, done);
    EXPECT_TRUE(file.ok()) << file.error().ToString();
    return file.ok() ? file->file() : filestore::FileInfo();
  }
  // The whole file as its owner downloads it (the normal owner path).
  Result<std::string> Download(const Caller& c, const std::string& file_id) {
    CLOISTER_ASSIGN_OR_RETURN(auto reader, core_->OpenDownload(c, file_id, 0));
    std::string out;
    for (;;) {
      CLOISTER_ASSIGN_OR_RETURN(auto piece, reader->Next());
      if (!piece) break;
      out += piece->data();
    }
    return out;
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
  static void AddInput(internal::TaskGrant& g, const std::string& slot, const Cipher& f,
                       const std::string& owner) {
    auto* in = g.add_inputs();
    in->set_slot(slot);
    in->set_file_id(f.file_id);
    in->set_owner_user_id(owner);
    in->set_ciphertext_sha256(Sha(f.bytes));
  }
  static void AddOutput(internal::TaskGrant& g, const std::string& slot,
                        std::vector<std::string> owners) {
    auto* out = g.add_outputs();
    out->set_slot(slot);
    for (auto& o : owners) out->add_owner_user_ids(o);
  }
  static std::string Sign(const internal::TaskGrant& g,
                          attestation::Enclave* signer = nullptr) {
    auto s = services::SignTaskGrant(signer ? *signer : *tasks_, g);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return s.ok() ? *s : "";
  }
  // A grant whose lease has already run out (signed, then waited out).
  static std::string ExpiredGrant(internal::TaskGrant g) {
    g.set_expires_unix_ms(attestation::NowUnixMs() + 20);
    std::string s = Sign(g);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // SignTaskGrant keeps an expiry in the future: check it kept this one.
    internal::SignedTaskGrant sg;
    internal::TaskGrant signed_grant;
    EXPECT_TRUE(sg.ParseFromString(s) && signed_grant.ParseFromString(sg.grant()));
    EXPECT_LT(signed_grant.expires_unix_ms(), attestation::NowUnixMs());
    return s;
  }

  // An access grant for `req` as `principal` would attach it (MACed under
  // the cluster secret by the caller's enclave).
  void Attach(grpc::ClientContext& ctx, const google::protobuf::Message& req,
              const std::string& method, const std::string& principal = "service:exec") {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    internal::AccessGrant g;
    g.set_principal(principal);
    g.set_username(principal);
    ASSERT_TRUE(services::AttachGrant(ctx, *exec_, "storage", req, kPrefix + method, g).ok());
  }

  ReadResult Read(const std::string& file_id, const std::string& grant, uint64_t offset = 0,
                  const std::string& principal = "service:exec") {
    filestore::ReadFileForTaskRequest req;
    req.set_file_id(file_id);
    req.set_offset(offset);
    req.set_task_grant(grant);
    grpc::ClientContext ctx;
    Attach(ctx, req, "ReadFileForTask", principal);
    auto reader = stub_->ReadFileForTask(&ctx, req);
    ReadResult r;
    filestore::DownloadResponse piece;
    while (reader->Read(&piece)) {
      if (r.messages++ == 0) r.file = piece.file();
      r.data += piece.data();
    }
    r.status = reader->Finish();
    return r;
  }

  static filestore::StoreTaskOutputRequest First(const std::string& grant, const std::string& slot,
                                                 const std::string& owner, const Cipher& f) {
    filestore::StoreTaskOutputRequest m;
    m.set_task_grant(grant);
    m.set_slot(slot);
    m.set_owner_user_id(owner);
    m.set_file_id(f.file_id);
    m.set_size(f.bytes.size());
    m.set_sha256(Sha(f.bytes));
    m.set_description("output `" + slot + "` of task task-1");
    return m;
  }
  // Sends `first` (plus the first `first_data` bytes of `data`), then the
  // rest of `data` in `piece`-byte messages; `extra` edits each later one.
  grpc::Status StoreOutput(filestore::StoreTaskOutputRequest first, std::string_view data,
                           filestore::StoreTaskOutputResponse* resp, size_t first_data = 1000,
                           size_t piece = 1500,
                           const std::function<void(filestore::StoreTaskOutputRequest&)>& extra =
                               nullptr,
                           const std::string& principal = "service:exec") {
    first_data = std::min(first_data, data.size());
    first.set_data(std::string(data.substr(0, first_data)));
    grpc::ClientContext ctx;
    Attach(ctx, first, "StoreTaskOutput", principal);
    auto writer = stub_->StoreTaskOutput(&ctx, resp);
    if (!writer->Write(first)) return writer->Finish();
    for (size_t off = first_data; off < data.size(); off += piece) {
      filestore::StoreTaskOutputRequest m;
      m.set_data(std::string(data.substr(off, piece)));
      if (extra) extra(m);
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Nothing of `f` is visible to `owner` and nothing is reserved for it.
  void ExpectNothingStored(const Caller& owner, const Cipher& f) {
    filestore::StatFileRequest stat;
    stat.set_file_id(f.file_id);
    ExpectError(core_->StatFile(owner, stat), Code::kNotFound, reason::kFileNotFound);
    filestore::ListFilesRequest list;
    auto files = core_->ListFiles(owner, list);
    ASSERT_TRUE(files.ok());
    for (const auto& info : files->files()) EXPECT_NE(info.file_id(), f.file_id);
    size_t parts = 0;
    for (const auto& e : fs::directory_iterator(dir_ / "data" / "uploads"))
      parts += e.is_regular_file();
    EXPECT_EQ(parts, 0u) << "an aborted output left its part file";
  }

  std::string AuditText() {
    auto text = ReadFile((dir_ / "audit.log").string());
    return text.ok() ? *text : "";
  }

  static std::unique_ptr<cloister::testing::AttestedNode> node_;
  static std::unique_ptr<attestation::Enclave> storage_, tasks_, exec_, rogue_tasks_;

  fs::path dir_;
  std::unique_ptr<services::AuditLog> audit_;
  std::unique_ptr<StorageCore> core_;
  std::unique_ptr<services::GrantVerifier> verifier_;
  std::unique_ptr<services::TaskGrantVerifier> task_grants_;
  std::unique_ptr<StorageService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<filestore::Storage::Stub> stub_;
};
std::unique_ptr<cloister::testing::AttestedNode> StorageTaskTest::node_;
std::unique_ptr<attestation::Enclave> StorageTaskTest::storage_;
std::unique_ptr<attestation::Enclave> StorageTaskTest::tasks_;
std::unique_ptr<attestation::Enclave> StorageTaskTest::exec_;
std::unique_ptr<attestation::Enclave> StorageTaskTest::rogue_tasks_;

// ---- ReadFileForTask ----

TEST_F(StorageTaskTest, ExecReadsAnInputTheGrantNames) {
  const Cipher f = MakeCipher(3000);  // several 1 MiB pieces are not needed: 3 chunks
  Store(kAlice, f);
  internal::TaskGrant g = Grant();
  AddInput(g, "in.a", f, "u-alice");
  const std::string grant = Sign(g);
  ReadResult r = Read(f.file_id, grant);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message() << " " << r.status.error_details();
  EXPECT_EQ(r.data, f.bytes);
  EXPECT_EQ(r.file.file_id(), f.file_id);
  EXPECT_EQ(r.file.owner_user_id(), "u-alice");
  EXPECT_EQ(r.file.sha256(), Sha(f.bytes));
  // From an offset, as Download resumes.
  ReadResult tail = Read(f.file_id, grant, 100);
  ASSERT_TRUE(tail.status.ok());
  EXPECT_EQ(tail.data, f.bytes.substr(100));
  EXPECT_EQ(core_->Counters()["reads_for_tasks"], 2u);
  // Audited as the exec service's read of that file for that task.
  const std::string audit = AuditText();
  EXPECT_NE(audit.find("storage.ReadFileForTask"), std::string::npos);
  EXPECT_NE(audit.find("\"principal\":\"service:exec\""), std::string::npos) << audit;
}

TEST_F(StorageTaskTest, ReadsWithoutAValidGrantAreRefusedWithItsReason) {
  const Cipher f = MakeCipher(500);
  Store(kAlice, f);
  internal::TaskGrant g = Grant();
  AddInput(g, "in.a", f, "u-alice");
  internal::TaskGrant for_tasks = g;
  for_tasks.set_worker_role("tasks");
  internal::SignedTaskGrant forged;
  forged.set_grant(g.SerializeAsString());
  forged.set_signature(std::string(32, 'x'));
  const std::vector<std::pair<std::string, std::string>> attacks = {
      {"", tgr::kMissing},
      {"garbage, not a SignedTaskGrant", tgr::kMalformed},
      {forged.SerializeAsString(), tgr::kSignature},
      // MACed by a cloister-tasks of another cluster (another secret).
      {Sign(g, rogue_tasks_.get()), tgr::kSignature},
      {ExpiredGrant(g), tgr::kExpired},
      // A grant for another kind of worker, presented by exec.
      {Sign(for_tasks), tgr::kWorker},
  };
  for (const auto& [grant, why] : attacks) {
    ReadResult r = Read(f.file_id, grant);
    ExpectGrpc(r.status, grpc::StatusCode::PERMISSION_DENIED, why);
    EXPECT_EQ(r.messages, 0u) << why;
    EXPECT_TRUE(r.data.empty()) << why;
  }
  EXPECT_EQ(core_->Counters()["reads_for_tasks"], 0u);
  EXPECT_NE(AuditText().find(std::string("\"reason\":\"") + tgr::kSignature), std::string::npos);
}

TEST_F(StorageTaskTest, AGrantNamingAnotherFileOwnerOrCiphertextReadsNothing) {
  const Cipher f = MakeCipher(500), other = MakeCipher(400), bobs = MakeCipher(300);
  Store(kAlice, f);
  Store(kAlice, other);
  Store(kBob, bobs);
  const ReadResult absent = Read(MakeCipher(10).file_id, [&] {
    internal::TaskGrant g = Grant();
    AddInput(g, "in.a", f, "u-alice");
    return Sign(g);
  }());
  ExpectGrpc(absent.status, grpc::StatusCode::NOT_FOUND, reason::kFileNotFound);

  auto expect_hidden = [&](const std::string& file_id, const internal::TaskGrant& g,
                           const std::string& what) {
    ReadResult r = Read(file_id, Sign(g));
    ExpectGrpc(r.status, grpc::StatusCode::NOT_FOUND, reason::kFileNotFound);
    // The words of an absent file: nothing tells the file exists.
    EXPECT_EQ(r.status.error_message(), absent.status.error_message()) << what;
    EXPECT_EQ(r.messages, 0u) << what;
  };
  {
    // The grant names alice's other file: f is not an input of this task.
    internal::TaskGrant g = Grant();
    AddInput(g, "in.a", other, "u-alice");
    expect_hidden(f.file_id, g, "another file");
  }
  {
    // f named as bob's: the grant must name the file's real owner.
    internal::TaskGrant g = Grant();
    AddInput(g, "in.a", f, "u-bob");
    expect_hidden(f.file_id, g, "another owner");
    // ... and bob's file named as alice's.
    internal::TaskGrant h = Grant();
    AddInput(h, "in.b", bobs, "u-alice");
    expect_hidden(bobs.file_id, h, "bob's file as alice's");
  }
  {
    // f with the hash of other bytes (the ciphertext approved is not f's).
    internal::TaskGrant g = Grant();
    AddInput(g, "in.a", f, "u-alice");
    g.mutable_inputs(0)->set_ciphertext_sha256(Sha(other.bytes));
    expect_hidden(f.file_id, g, "another ciphertext");
    g.mutable_inputs(0)->clear_ciphertext_sha256();
    expect_hidden(f.file_id, g, "no ciphertext hash");
  }
  EXPECT_EQ(core_->Counters()["reads_for_tasks"], 0u);
}

TEST_F(StorageTaskTest, AFileReplacedAfterApprovalIsNotTheApprovedInput) {
  files::FileId id{};
  const Bytes raw = crypto::RandomBytes(files::kFileIdSize);
  std::copy(raw.begin(), raw.end(), id.begin());
  const Cipher approved = MakeCipher(500, id);
  Store(kAlice, approved);
  internal::TaskGrant g = Grant();
  AddInput(g, "in.a", approved, "u-alice");
  const std::string grant = Sign(g);
  ASSERT_TRUE(Read(approved.file_id, grant).status.ok());
  // Alice deletes the file and uploads other bytes under the same id.
  filestore::DeleteFileRequest del;
  del.set_file_id(approved.file_id);
  ASSERT_TRUE(core_->DeleteFile(kAlice, del).ok());
  const Cipher replaced = MakeCipher(500, id);
  ASSERT_EQ(replaced.file_id, approved.file_id);
  ASSERT_NE(Sha(replaced.bytes), Sha(approved.bytes));
  Store(kAlice, replaced);
  ReadResult r = Read(approved.file_id, grant);
  ExpectGrpc(r.status, grpc::StatusCode::NOT_FOUND, reason::kFileNotFound);
  EXPECT_TRUE(r.data.empty());
}

TEST_F(StorageTaskTest, UsersAndOtherServicesCannotCallTheTaskMethods) {
  const Cipher f = MakeCipher(500);
  Store(kAlice, f);
  internal::TaskGrant g = Grant();
  AddInput(g, "in.a", f, "u-alice");
  AddOutput(g, "out", {"u-alice"});
  const std::string grant = Sign(g);
  // At the port: the grant verifier admits only exec's own principal.
  for (const std::string principal : {"u-alice", "service:tasks", "service:gateway"}) {
    ReadResult r = Read(f.file_id, grant, 0, principal);
    ExpectGrpc(r.status, grpc::StatusCode::PERMISSION_DENIED,
               services::grant_reason::kPrincipal);
    EXPECT_TRUE(r.data.empty());
    const Cipher out = MakeCipher(200);
    filestore::StoreTaskOutputResponse resp;
    ExpectGrpc(StoreOutput(First(grant, "out", "u-alice", out), out.bytes, &resp, 1000, 1500,
                           nullptr, principal),
               grpc::StatusCode::PERMISSION_DENIED, services::grant_reason::kPrincipal);
  }
  // In the core, with a valid grant in hand: the owner, an admin, a user
  // whose id reads like the service and nobody are all refused.
  const Caller impostor = services::MakeCallerForTesting({.user_id = "service:exec"});
  for (const Caller* c : {&kAlice, &kAdmin, &impostor}) {
    filestore::ReadFileForTaskRequest req;
    req.set_file_id(f.file_id);
    req.set_task_grant(grant);
    ExpectError(core_->OpenTaskRead(*c, req, *task_grants_), Code::kPermissionDenied,
                reason::kExecOnly);
    const Cipher out = MakeCipher(200);
    filestore::StoreTaskOutputRequest first = First(grant, "out", "u-alice", out);
    first.set_data(out.bytes);
    ExpectError(core_->OpenTaskOutput(*c, first, *task_grants_), Code::kPermissionDenied,
                reason::kExecOnly);
    ExpectNothingStored(kAlice, out);
  }
  filestore::ReadFileForTaskRequest req;
  req.set_file_id(f.file_id);
  req.set_task_grant(grant);
  ExpectError(core_->OpenTaskRead(Caller::Anonymous(), req, *task_grants_),
              Code::kPermissionDenied, reason::kExecOnly);
}

// ---- StoreTaskOutput ----

TEST_F(StorageTaskTest, StoresAnOutputThatItsOwnerReadsBack) {
  internal::TaskGrant g = Grant();
  AddOutput(g, "out", {"u-alice", "u-bob"});
  const std::string grant = Sign(g);
  const Cipher out = MakeCipher(5000);
  filestore::StoreTaskOutputResponse resp;
  auto st = StoreOutput(First(grant, "out", "u-bob", out), out.bytes, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message() << " " << st.error_details();
  EXPECT_EQ(resp.file().file_id(), out.file_id);
  EXPECT_EQ(resp.file().owner_user_id(), "u-bob");
  EXPECT_EQ(resp.file().size(), out.bytes.size());
  EXPECT_EQ(resp.file().sha256(), Sha(out.bytes));
  EXPECT_EQ(resp.file().description(), "output `out` of task task-1");
  // Bob's file now, through the owner path; nobody else's.
  auto back = Download(kBob, out.file_id);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, out.bytes);
  filestore::ListFilesRequest list;
  auto files = core_->ListFiles(kBob, list);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->files_size(), 1);
  EXPECT_EQ(files->files(0).file_id(), out.file_id);
  ExpectError(Download(kAlice, out.file_id), Code::kNotFound, reason::kFileNotFound);
  // A data-less first message works as well (the header fields alone).
  const Cipher second = MakeCipher(2000);
  filestore::StoreTaskOutputResponse resp2;
  ASSERT_TRUE(StoreOutput(First(grant, "out", "u-alice", second), second.bytes, &resp2, 0).ok());
  EXPECT_EQ(*Download(kAlice, second.file_id), second.bytes);
  EXPECT_EQ(core_->Counters()["outputs_stored"], 2u);
  EXPECT_NE(AuditText().find("storage.StoreTaskOutput"), std::string::npos);
}

TEST_F(StorageTaskTest, AnOutputForASlotOrOwnerTheGrantDoesNotNameIsRefused) {
  internal::TaskGrant g = Grant();
  AddOutput(g, "out", {"u-alice"});
  AddOutput(g, "log", {"u-bob"});
  const Cipher f = MakeCipher(1000);
  AddInput(g, "in.a", f, "u-carol");
  const std::string grant = Sign(g);
  const Cipher out = MakeCipher(800);
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"other", "u-alice"},  // no such slot
      {"out", "u-bob"},      // a slot of the task, another slot's owner
      {"out", "u-carol"},    // an input owner only
      {"out", ""},
      {"in.a", "u-carol"},   // an input slot is not an output
  };
  for (const auto& [slot, owner] : refused) {
    filestore::StoreTaskOutputResponse resp;
    ExpectGrpc(StoreOutput(First(grant, slot, owner, out), out.bytes, &resp),
               grpc::StatusCode::PERMISSION_DENIED, tgr::kNotNamed);
    EXPECT_TRUE(resp.file().file_id().empty());
  }
  for (const Caller* c : {&kAlice, &kBob}) ExpectNothingStored(*c, out);
  ExpectNothingStored(services::MakeCallerForTesting({.user_id = "u-carol"}), out);
  // Bad grants on the output path too.
  internal::TaskGrant for_tasks = g;
  for_tasks.set_worker_role("tasks");
  for (const auto& [bad, why] : std::vector<std::pair<std::string, std::string>>{
           {"", tgr::kMissing},
           {"junk", tgr::kMalformed},
           {Sign(g, rogue_tasks_.get()), tgr::kSignature},
           {ExpiredGrant(g), tgr::kExpired},
           {Sign(for_tasks), tgr::kWorker}}) {
    filestore::StoreTaskOutputResponse resp;
    ExpectGrpc(StoreOutput(First(bad, "out", "u-alice", out), out.bytes, &resp),
               grpc::StatusCode::PERMISSION_DENIED, why);
  }
  ExpectNothingStored(kAlice, out);
  EXPECT_EQ(core_->Counters()["outputs_stored"], 0u);
}

TEST_F(StorageTaskTest, AnOutputFailingCompletionsChecksLeavesNothing) {
  internal::TaskGrant g = Grant();
  AddOutput(g, "out", {"u-alice"});
  const std::string grant = Sign(g);
  const Cipher out = MakeCipher(3000);
  filestore::StoreTaskOutputResponse resp;
  // The stream ends early: nothing visible, nothing reserved.
  ExpectGrpc(StoreOutput(First(grant, "out", "u-alice", out),
                         std::string_view(out.bytes).substr(0, 2000), &resp),
             grpc::StatusCode::FAILED_PRECONDITION, reason::kUploadIncomplete);
  ExpectNothingStored(kAlice, out);
  // The wrong SHA-256.
  auto wrong_sha = First(grant, "out", "u-alice", out);
  wrong_sha.set_sha256(Sha("other"));
  ExpectGrpc(StoreOutput(wrong_sha, out.bytes, &resp), grpc::StatusCode::INVALID_ARGUMENT,
             reason::kSha256Mismatch);
  ExpectNothingStored(kAlice, out);
  auto short_sha = First(grant, "out", "u-alice", out);
  short_sha.set_sha256("abc");
  ExpectGrpc(StoreOutput(short_sha, out.bytes, &resp), grpc::StatusCode::INVALID_ARGUMENT,
             reason::kSha256Invalid);
  // A header naming another file than `file_id`.
  const Cipher other = MakeCipher(3000);
  auto renamed = First(grant, "out", "u-alice", out);
  renamed.set_file_id(other.file_id);
  ExpectGrpc(StoreOutput(renamed, out.bytes, &resp), grpc::StatusCode::INVALID_ARGUMENT,
             reason::kHeaderMismatch);
  ExpectNothingStored(kAlice, other);
  // Bytes that are not the file format.
  std::string junk(out.bytes.size(), 'j');
  auto not_format = First(grant, "out", "u-alice", out);
  not_format.set_sha256(Sha(junk));
  EXPECT_EQ(StoreOutput(not_format, junk, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectNothingStored(kAlice, out);
  // More bytes than declared.
  ExpectGrpc(StoreOutput(First(grant, "out", "u-alice", out), out.bytes + "x", &resp, 1000,
                         out.bytes.size()),
             grpc::StatusCode::INVALID_ARGUMENT, reason::kBeyondSize);
  ExpectNothingStored(kAlice, out);
  // A later message repeating a first-message field.
  ExpectGrpc(StoreOutput(First(grant, "out", "u-alice", out), out.bytes, &resp, 1000, 1500,
                         [](filestore::StoreTaskOutputRequest& m) { m.set_owner_user_id("u-bob"); }),
             grpc::StatusCode::INVALID_ARGUMENT, reason::kTaskOutputHeaderRepeated);
  ExpectNothingStored(kAlice, out);
  ExpectNothingStored(kBob, out);
  // After all of that, the same output stores (the id and quota were freed).
  ASSERT_TRUE(StoreOutput(First(grant, "out", "u-alice", out), out.bytes, &resp).ok());
  EXPECT_EQ(*Download(kAlice, out.file_id), out.bytes);
  // And a second time is FILE_EXISTS: file ids are unique.
  ExpectGrpc(StoreOutput(First(grant, "out", "u-alice", out), out.bytes, &resp),
             grpc::StatusCode::ALREADY_EXISTS, reason::kFileExists);
  EXPECT_EQ(core_->Counters()["outputs_stored"], 1u);
  const std::string audit = AuditText();
  EXPECT_NE(audit.find("\"reason\":\"UPLOAD_INCOMPLETE\""), std::string::npos);
  EXPECT_NE(audit.find("\"reason\":\"SHA256_MISMATCH\""), std::string::npos);
}

TEST_F(StorageTaskTest, AMessageOver4MiBIsRefusedNamingTheField) {
  internal::TaskGrant g = Grant();
  AddOutput(g, "out", {"u-alice"});
  const std::string grant = Sign(g);
  const Cipher out = MakeCipher(5u << 20, {});
  ASSERT_GT(out.bytes.size(), kMaxMessageBytes);
  filestore::StoreTaskOutputResponse resp;
  // In the first message, and in a later one.
  for (size_t first : {out.bytes.size(), size_t{1000}}) {
    auto st = StoreOutput(First(grant, "out", "u-alice", out), out.bytes, &resp, first,
                          out.bytes.size());
    ExpectGrpc(st, grpc::StatusCode::INVALID_ARGUMENT, reason::kMessageTooLarge);
    EXPECT_NE(st.error_message().find("data"), std::string::npos) << st.error_message();
    ExpectNothingStored(kAlice, out);
  }
  // 4 MiB pieces store.
  ASSERT_TRUE(StoreOutput(First(grant, "out", "u-alice", out), out.bytes, &resp, kMaxMessageBytes,
                          kMaxMessageBytes)
                  .ok());
  EXPECT_EQ(*Download(kAlice, out.file_id), out.bytes);
}

TEST_F(StorageTaskTest, AnOutputIsChargedToItsOwnersQuota) {
  const Cipher mine = MakeCipher(3000), out = MakeCipher(3000);
  Reopen({.quota_bytes = mine.bytes.size() + out.bytes.size() / 2});
  Store(kBob, mine);
  internal::TaskGrant g = Grant();
  AddOutput(g, "out", {"u-alice", "u-bob"});
  const std::string grant = Sign(g);
  filestore::StoreTaskOutputResponse resp;
  ExpectGrpc(StoreOutput(First(grant, "out", "u-bob", out), out.bytes, &resp),
             grpc::StatusCode::RESOURCE_EXHAUSTED, reason::kQuotaBytes);
  ExpectNothingStored(kBob, out);
  // Alice's quota is her own: the same output stores for her.
  ASSERT_TRUE(StoreOutput(First(grant, "out", "u-alice", out), out.bytes, &resp).ok());
  EXPECT_EQ(resp.file().owner_user_id(), "u-alice");
}

}  // namespace
}  // namespace cloister::storage_service
