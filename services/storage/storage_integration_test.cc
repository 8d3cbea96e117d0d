// The real cloister-storage binary, called straight at its port by this
// test process registered in the signed manifest as the "gateway" role (so
// it can sign grants as a compromised gateway could), with the real auth
// and key vault behind it (issue 12, must-be-true 4, last clause): storage
// itself refuses another user's grant and a grant whose principal is not
// the proof's, and audits both; a peer of another role cannot call it.
#include <gtest/gtest.h>

#include <filesystem>

#include "attestation/enclave.h"
#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "common/grpc_status.h"
#include "files/file_stream.h"
#include "proto/storage.grpc.pb.h"
#include "services/common/grant_verifier.h"
#include "tests/support/attested_node.h"
#include "tests/support/gateway_sessions.h"

namespace cloister::testing {
namespace {

using namespace std::chrono_literals;
constexpr const char* kPrefix = "/cloister.filestore.Storage/";

std::string SelfExe() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

class StorageIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = std::make_unique<AttestedNode>(
        std::vector<std::pair<std::string, std::string>>{{"storage", CLOISTER_STORAGE_BIN},
                                                         {"keyvault", CLOISTER_KEYVAULT_BIN},
                                                         {"gateway", SelfExe()},
                                                         {"auth", CLOISTER_AUTH_BIN}},
        AttestedNodeOptions{.platform_binary = CLOISTER_PLATFORM_BIN});
    ASSERT_TRUE(node_->Start().ok());
    auto e = attestation::Enclave::Start({.role = "gateway", .trust_path = node_->trust_path()});
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    enclave_ = *std::move(e);
    auto a = RealAuth::Start(*node_, CLOISTER_AUTH_BIN, enclave_.get());
    ASSERT_TRUE(a.ok()) << a.error().ToString();
    auth_ = *std::move(a);
    auto kv_addr = StartService("keyvault", CLOISTER_KEYVAULT_BIN, {});
    ASSERT_FALSE(kv_addr.empty());
    auto storage_addr = StartService("storage", CLOISTER_STORAGE_BIN, {"--keyvault-addr", kv_addr});
    ASSERT_FALSE(storage_addr.empty());
    stub_ = filestore::Storage::NewStub(
        grpc::CreateChannel(storage_addr, enclave_->ChannelCredentials({"storage"})));
  }
  static void TearDownTestSuite() {
    stub_.reset();
    procs_.clear();
    auth_.reset();
    enclave_.reset();
    node_.reset();
  }

  static std::string StartService(const std::string& name, const std::string& bin,
                                  std::vector<std::string> extra) {
    const std::string port_file = node_->dir() + "/" + name + ".port";
    std::vector<std::string> argv = {bin, "--trust", node_->trust_path(), "--data-dir",
                                     node_->dir() + "/" + name + "-data", "--port-file",
                                     port_file, "--auth-addr", auth_->address()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = Subprocess::Start(argv, {.log_prefix = node_->dir() + "/" + name});
    EXPECT_TRUE(p.ok());
    if (!p.ok()) return "";
    procs_.push_back(*std::move(p));
    EXPECT_TRUE(WaitForFile(port_file, 15s)) << procs_.back().Stderr();
    auto port = ReadFile(port_file);
    return port.ok() ? "127.0.0.1:" + *port : "";
  }

  static std::string Audit() {
    auto a = ReadFile(node_->dir() + "/storage-data/audit/storage.log", 64 << 20);
    return a.ok() ? *a : "";
  }

  // A grant as the gateway would sign it for `user` (its real auth proof),
  // optionally edited first (a forged claim).
  static Status Grant(grpc::ClientContext& ctx, const std::string& user,
                      const google::protobuf::Message& req, const std::string& method,
                      const std::function<void(internal::AccessGrant&)>& edit = nullptr) {
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    CLOISTER_ASSIGN_OR_RETURN(UserSession who, auth_->User(user));
    internal::AccessGrant g = GrantFor(who);
    if (edit) edit(g);
    return services::AttachGrant(ctx, *enclave_, "storage", req, kPrefix + method, std::move(g));
  }

  // Uploads a real encrypted file for `user`; returns its file id.
  static std::string UploadFor(const std::string& user) {
    const Bytes key = crypto::RandomBytes(32);
    const std::string plain(3000, 'p');
    auto enc = files::FileEncryptor::Create(key, plain.size(), {.chunk_size = 1024});
    EXPECT_TRUE(enc.ok());
    std::string blob(AsChars(enc->header_bytes()));
    for (uint64_t i = 0, off = 0; i < enc->header().chunk_count(); ++i) {
      const size_t n = enc->header().chunk_plaintext_size(i);
      auto sealed = enc->SealChunk(AsBytes(std::string_view(plain).substr(off, n)));
      EXPECT_TRUE(sealed.ok());
      blob.append(AsChars(*sealed));
      off += n;
    }
    const std::string file_id = HexEncode(ByteView(enc->header().file_id.data(), 16));
    filestore::CreateUploadRequest cr;
    cr.set_file_id(file_id);
    cr.set_size(blob.size());
    filestore::CreateUploadResponse session;
    {
      grpc::ClientContext ctx;
      EXPECT_TRUE(Grant(ctx, user, cr, "CreateUpload").ok());
      auto st = stub_->CreateUpload(&ctx, cr, &session);
      EXPECT_TRUE(st.ok()) << st.error_message();
    }
    filestore::UploadChunksRequest chunk;
    chunk.set_upload_id(session.session().upload_id());
    chunk.set_data(blob);
    {
      grpc::ClientContext ctx;
      EXPECT_TRUE(Grant(ctx, user, chunk, "UploadChunks").ok());
      filestore::UploadChunksResponse resp;
      auto writer = stub_->UploadChunks(&ctx, &resp);
      EXPECT_TRUE(writer->Write(chunk));
      writer->WritesDone();
      auto st = writer->Finish();
      EXPECT_TRUE(st.ok()) << st.error_message();
    }
    filestore::CompleteUploadRequest done;
    done.set_upload_id(session.session().upload_id());
    auto digest = crypto::Sha256(AsBytes(blob));
    done.set_sha256(digest.data(), digest.size());
    grpc::ClientContext ctx;
    EXPECT_TRUE(Grant(ctx, user, done, "CompleteUpload").ok());
    filestore::CompleteUploadResponse file;
    auto st = stub_->CompleteUpload(&ctx, done, &file);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return file_id;
  }

  static std::unique_ptr<AttestedNode> node_;
  static std::unique_ptr<attestation::Enclave> enclave_;
  static std::unique_ptr<RealAuth> auth_;
  static std::vector<Subprocess> procs_;
  static std::unique_ptr<filestore::Storage::Stub> stub_;
};
std::unique_ptr<AttestedNode> StorageIntegrationTest::node_;
std::unique_ptr<attestation::Enclave> StorageIntegrationTest::enclave_;
std::unique_ptr<RealAuth> StorageIntegrationTest::auth_;
std::vector<Subprocess> StorageIntegrationTest::procs_;
std::unique_ptr<filestore::Storage::Stub> StorageIntegrationTest::stub_;

TEST_F(StorageIntegrationTest, OwnerStatsAndDownloadsItsFile) {
  const std::string id = UploadFor("alice");
  filestore::StatFileRequest req;
  req.set_file_id(id);
  grpc::ClientContext ctx;
  ASSERT_TRUE(Grant(ctx, "alice", req, "StatFile").ok());
  filestore::StatFileResponse resp;
  auto st = stub_->StatFile(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.file().file_id(), id);
  filestore::DownloadRequest dr;
  dr.set_file_id(id);
  grpc::ClientContext dctx;
  ASSERT_TRUE(Grant(dctx, "alice", dr, "Download").ok());
  auto reader = stub_->Download(&dctx, dr);
  filestore::DownloadResponse piece;
  uint64_t got = 0;
  while (reader->Read(&piece)) got += piece.data().size();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(got, resp.file().size());
}

// Another user's valid grant (bob, with bob's real proof) for alice's file:
// the gateway would never send it, but storage must refuse it itself — the
// same NOT_FOUND as for an absent file — and audit the refusal.
TEST_F(StorageIntegrationTest, AnotherUsersGrantIsRefusedByTheServiceAndAudited) {
  const std::string id = UploadFor("alice");
  filestore::StatFileRequest stat;
  stat.set_file_id(id);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(Grant(ctx, "bob", stat, "StatFile").ok());
    filestore::StatFileResponse resp;
    auto st = stub_->StatFile(&ctx, stat, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(st.error_details(), "FILE_NOT_FOUND");
    EXPECT_TRUE(resp.file().file_id().empty());
  }
  filestore::DownloadRequest dr;
  dr.set_file_id(id);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(Grant(ctx, "bob", dr, "Download").ok());
    auto reader = stub_->Download(&ctx, dr);
    filestore::DownloadResponse piece;
    EXPECT_FALSE(reader->Read(&piece)) << "bob received bytes of alice's file";
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  filestore::DeleteFileRequest del;
  del.set_file_id(id);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(Grant(ctx, "bob", del, "DeleteFile").ok());
    filestore::DeleteFileResponse resp;
    EXPECT_EQ(stub_->DeleteFile(&ctx, del, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  auto bob = auth_->User("bob");
  ASSERT_TRUE(bob.ok());
  const std::string audit = Audit();
  EXPECT_NE(audit.find("\"principal\":\"" + bob->user_id + "\""), std::string::npos);
  EXPECT_NE(audit.find("\"reason\":\"FILE_NOT_FOUND\""), std::string::npos) << audit.substr(0, 2000);
  // alice's file is untouched.
  grpc::ClientContext ctx;
  ASSERT_TRUE(Grant(ctx, "alice", stat, "StatFile").ok());
  filestore::StatFileResponse resp;
  EXPECT_TRUE(stub_->StatFile(&ctx, stat, &resp).ok());
}

// A forged grant: names alice as the principal but carries bob's proof (what
// a compromised gateway would send to read alice's file). Refused by the
// grant verifier before the core runs, and audited.
TEST_F(StorageIntegrationTest, ForgedPrincipalIsRefusedAndAudited) {
  const std::string id = UploadFor("alice");
  auto alice = auth_->User("alice");
  ASSERT_TRUE(alice.ok());
  filestore::DownloadRequest dr;
  dr.set_file_id(id);
  grpc::ClientContext ctx;
  ASSERT_TRUE(Grant(ctx, "bob", dr, "Download", [&](internal::AccessGrant& g) {
                g.set_principal(alice->user_id);
                g.set_username("alice");
              }).ok());
  auto reader = stub_->Download(&ctx, dr);
  filestore::DownloadResponse piece;
  EXPECT_FALSE(reader->Read(&piece));
  auto st = reader->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_details(), services::grant_reason::kProofPrincipal);
  EXPECT_NE(Audit().find(std::string("\"reason\":\"") + services::grant_reason::kProofPrincipal),
            std::string::npos);
}

// A grant with no proof at all, and one for another service's audience.
TEST_F(StorageIntegrationTest, GrantWithoutProofOrForAnotherAudienceIsRefused) {
  filestore::ListFilesRequest req;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(Grant(ctx, "alice", req, "ListFiles",
                      [](internal::AccessGrant& g) { g.clear_auth_proof(); }).ok());
    filestore::ListFilesResponse resp;
    auto st = stub_->ListFiles(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(st.error_details(), services::grant_reason::kProofMissing);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  auto alice = auth_->User("alice");
  ASSERT_TRUE(alice.ok());
  ASSERT_TRUE(services::AttachGrant(ctx, *enclave_, "keyvault", req,
                                    std::string(kPrefix) + "ListFiles", GrantFor(*alice))
                  .ok());
  filestore::ListFilesResponse resp;
  auto st = stub_->ListFiles(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_details(), services::grant_reason::kAudience);
}

}  // namespace
}  // namespace cloister::testing
