// FilesClient's whole flows against in-process fakes of the Storage and
// KeyVault services (plaintext gRPC, a level-1 trust file), until the real
// storage service and the gateway relay exist: the key registered before
// the session, round trips, resumption after a broken upload (with a
// durable offset behind what was sent) and download, giving up with
// cleanup, refusals that are not retried, no output file after a tampered
// or refused download, paging, and progress.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "attestation/manifest.h"
#include "attestation/testing/fake_platform.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "sdk/files_client.h"

namespace cloister::sdk {
namespace {

namespace fs = std::filesystem;

grpc::Status Refuse(grpc::StatusCode code, const std::string& msg) { return {code, msg}; }

// What both fakes share. Guarded by mu.
struct FakeState {
  std::mutex mu;
  struct Key {
    std::string owner, key;
  };
  struct Upload {
    std::string file_id, owner, data, description;
    uint64_t size = 0;
  };
  struct File {
    filestore::FileInfo info;
    std::string data;
  };
  std::map<std::string, Key> keys;
  std::map<std::string, Upload> uploads;
  std::vector<std::pair<std::string, File>> files;  // upload order
  // Knobs.
  uint64_t durable_granularity = 1;  // a broken stream keeps only whole units
  uint32_t max_message_bytes = 64u << 10;
  size_t download_message = 10'000;
  uint32_t list_page = 100;
  int break_upload_streams = 0;  // these many next streams fail after break_upload_after
  uint64_t break_upload_after = 0;
  bool break_download_once = false;
  uint64_t break_download_after = 0;
  std::optional<grpc::Status> create_upload_error;
  // Observations.
  int get_upload_calls = 0, abort_calls = 0, upload_streams = 0;
  size_t largest_message = 0;
  std::vector<uint64_t> download_offsets;

  File* FindFile(const std::string& id) {
    for (auto& [fid, f] : files)
      if (fid == id) return &f;
    return nullptr;
  }
  uint64_t Received(const Upload& u) const {
    if (u.data.size() == u.size) return u.size;
    return u.data.size() / durable_granularity * durable_granularity;
  }
};

// The caller: "Bearer <user id>" (the fakes trust the token's text).
std::string UserOf(const grpc::ServerContext* ctx) {
  auto it = ctx->client_metadata().find("authorization");
  if (it == ctx->client_metadata().end()) return "";
  std::string v(it->second.data(), it->second.size());
  return v.rfind("Bearer ", 0) == 0 ? v.substr(7) : "";
}

class FakeKeyVault final : public keyvault::KeyVault::Service {
 public:
  explicit FakeKeyVault(FakeState* s) : s_(s) {}
  grpc::Status RegisterFileKey(grpc::ServerContext* ctx, const keyvault::RegisterFileKeyRequest* r,
                               keyvault::RegisterFileKeyResponse* resp) override {
    std::lock_guard lock(s_->mu);
    if (s_->keys.count(r->file_id())) return Refuse(grpc::ALREADY_EXISTS, "FILE_KEY_EXISTS");
    if (r->file_key().size() != 32) return Refuse(grpc::INVALID_ARGUMENT, "FILE_KEY_INVALID");
    s_->keys[r->file_id()] = {UserOf(ctx), r->file_key()};
    resp->mutable_key()->set_file_id(r->file_id());
    return grpc::Status::OK;
  }
  grpc::Status GetFileKey(grpc::ServerContext* ctx, const keyvault::GetFileKeyRequest* r,
                          keyvault::GetFileKeyResponse* resp) override {
    std::lock_guard lock(s_->mu);
    auto it = s_->keys.find(r->file_id());
    if (it == s_->keys.end() || it->second.owner != UserOf(ctx))
      return Refuse(grpc::NOT_FOUND, "no key for this file");
    resp->set_file_key(it->second.key);
    return grpc::Status::OK;
  }
  grpc::Status DeleteFileKey(grpc::ServerContext* ctx, const keyvault::DeleteFileKeyRequest* r,
                             keyvault::DeleteFileKeyResponse*) override {
    std::lock_guard lock(s_->mu);
    auto it = s_->keys.find(r->file_id());
    if (it == s_->keys.end() || it->second.owner != UserOf(ctx))
      return Refuse(grpc::NOT_FOUND, "no key for this file");
    s_->keys.erase(it);
    return grpc::Status::OK;
  }

 private:
  FakeState* s_;
};

class FakeStorage final : public filestore::Storage::Service {
 public:
  explicit FakeStorage(FakeState* s) : s_(s) {}

  grpc::Status CreateUpload(grpc::ServerContext* ctx, const filestore::CreateUploadRequest* r,
                            filestore::CreateUploadResponse* resp) override {
    std::lock_guard lock(s_->mu);
    if (s_->create_upload_error) return *s_->create_upload_error;
    // The SDK's ordering rule: the id's key is registered, by this user, first.
    auto k = s_->keys.find(r->file_id());
    if (k == s_->keys.end() || k->second.owner != UserOf(ctx))
      return Refuse(grpc::FAILED_PRECONDITION, "no file key registered before CreateUpload");
    const std::string id = "up-" + crypto::RandomId();
    s_->uploads[id] = {r->file_id(), UserOf(ctx), "", r->description(), r->size()};
    auto* out = resp->mutable_session();
    out->set_upload_id(id);
    out->set_file_id(r->file_id());
    out->set_size(r->size());
    out->set_max_message_bytes(s_->max_message_bytes);
    return grpc::Status::OK;
  }
  grpc::Status GetUpload(grpc::ServerContext*, const filestore::GetUploadRequest* r,
                         filestore::GetUploadResponse* resp) override {
    std::lock_guard lock(s_->mu);
    ++s_->get_upload_calls;
    auto it = s_->uploads.find(r->upload_id());
    if (it == s_->uploads.end()) return Refuse(grpc::NOT_FOUND, "UPLOAD_NOT_FOUND");
    resp->mutable_session()->set_upload_id(r->upload_id());
    resp->mutable_session()->set_received(s_->Received(it->second));
    return grpc::Status::OK;
  }
  grpc::Status UploadChunks(grpc::ServerContext*,
                            grpc::ServerReader<filestore::UploadChunksRequest>* in,
                            filestore::UploadChunksResponse* resp) override {
    filestore::UploadChunksRequest m;
    bool first = true;
    bool breaks = false;
    {
      std::lock_guard lock(s_->mu);
      ++s_->upload_streams;
      if (s_->break_upload_streams > 0) {
        --s_->break_upload_streams;
        breaks = true;
      }
    }
    std::string id;
    while (in->Read(&m)) {
      std::lock_guard lock(s_->mu);
      auto it = s_->uploads.find(m.upload_id());
      if (it == s_->uploads.end()) return Refuse(grpc::NOT_FOUND, "UPLOAD_NOT_FOUND");
      auto& u = it->second;
      id = m.upload_id();
      if (first) u.data.resize(s_->Received(u));  // only the durable part survived
      first = false;
      if (m.offset() != u.data.size()) return Refuse(grpc::ABORTED, "UPLOAD_OFFSET_MISMATCH");
      if (m.data().empty() || m.data().size() > s_->max_message_bytes)
        return Refuse(grpc::INVALID_ARGUMENT, "UPLOAD_MESSAGE_SIZE");
      if (u.data.size() + m.data().size() > u.size)
        return Refuse(grpc::INVALID_ARGUMENT, "UPLOAD_TOO_LARGE");
      s_->largest_message = std::max(s_->largest_message, m.data().size());
      u.data += m.data();
      if (breaks && u.data.size() >= s_->break_upload_after)
        return Refuse(grpc::UNAVAILABLE, "connection reset (fake)");
    }
    std::lock_guard lock(s_->mu);
    auto it = s_->uploads.find(id);
    if (it != s_->uploads.end()) resp->mutable_session()->set_received(s_->Received(it->second));
    return grpc::Status::OK;
  }
  grpc::Status CompleteUpload(grpc::ServerContext*, const filestore::CompleteUploadRequest* r,
                              filestore::CompleteUploadResponse* resp) override {
    std::lock_guard lock(s_->mu);
    auto it = s_->uploads.find(r->upload_id());
    if (it == s_->uploads.end()) return Refuse(grpc::NOT_FOUND, "UPLOAD_NOT_FOUND");
    auto& u = it->second;
    if (u.data.size() != u.size) return Refuse(grpc::FAILED_PRECONDITION, "UPLOAD_INCOMPLETE");
    const auto digest = crypto::Sha256(std::string_view(u.data));
    if (r->sha256() != std::string(digest.begin(), digest.end()))
      return Refuse(grpc::DATA_LOSS, "UPLOAD_SHA256_MISMATCH");
    auto header = files::FileHeader::Decode(AsBytes(u.data).first(files::kHeaderSize));
    if (!header.ok() || HexEncode(header->file_id) != u.file_id)
      return Refuse(grpc::INVALID_ARGUMENT, "UPLOAD_HEADER_INVALID");
    FakeState::File f;
    f.info.set_file_id(u.file_id);
    f.info.set_owner_user_id(u.owner);
    f.info.set_size(u.size);
    f.info.set_plaintext_size(header->plaintext_length);
    f.info.set_chunk_size(header->chunk_size);
    f.info.set_chunk_count(header->chunk_count());
    f.info.set_sha256(r->sha256());
    f.info.set_description(u.description);
    f.data = std::move(u.data);
    *resp->mutable_file() = f.info;
    const std::string fid = f.info.file_id();
    s_->files.emplace_back(fid, std::move(f));
    s_->uploads.erase(it);
    return grpc::Status::OK;
  }
  grpc::Status AbortUpload(grpc::ServerContext*, const filestore::AbortUploadRequest* r,
                           filestore::AbortUploadResponse*) override {
    std::lock_guard lock(s_->mu);
    ++s_->abort_calls;
    s_->uploads.erase(r->upload_id());
    return grpc::Status::OK;
  }
  grpc::Status StatFile(grpc::ServerContext* ctx, const filestore::StatFileRequest* r,
                        filestore::StatFileResponse* resp) override {
    std::lock_guard lock(s_->mu);
    auto* f = s_->FindFile(r->file_id());
    if (f == nullptr || f->info.owner_user_id() != UserOf(ctx))
      return Refuse(grpc::NOT_FOUND, "FILE_NOT_FOUND");
    *resp->mutable_file() = f->info;
    return grpc::Status::OK;
  }
  grpc::Status ListFiles(grpc::ServerContext* ctx, const filestore::ListFilesRequest* r,
                         filestore::ListFilesResponse* resp) override {
    std::lock_guard lock(s_->mu);
    std::vector<const filestore::FileInfo*> mine;
    for (auto it = s_->files.rbegin(); it != s_->files.rend(); ++it)
      if (it->second.info.owner_user_id() == UserOf(ctx)) mine.push_back(&it->second.info);
    const size_t page = std::min<size_t>(r->page_size() ? r->page_size() : 100, s_->list_page);
    const size_t from = r->page_token().empty() ? 0 : std::stoul(r->page_token());
    for (size_t i = from; i < mine.size() && i < from + page; ++i) *resp->add_files() = *mine[i];
    if (from + page < mine.size()) resp->set_next_page_token(std::to_string(from + page));
    return grpc::Status::OK;
  }
  grpc::Status DeleteFile(grpc::ServerContext* ctx, const filestore::DeleteFileRequest* r,
                          filestore::DeleteFileResponse*) override {
    std::lock_guard lock(s_->mu);
    for (auto it = s_->files.begin(); it != s_->files.end(); ++it) {
      if (it->first != r->file_id() || it->second.info.owner_user_id() != UserOf(ctx)) continue;
      s_->keys.erase(r->file_id());  // the key first, then the ciphertext
      s_->files.erase(it);
      return grpc::Status::OK;
    }
    return Refuse(grpc::NOT_FOUND, "FILE_NOT_FOUND");
  }
  grpc::Status Download(grpc::ServerContext* ctx, const filestore::DownloadRequest* r,
                        grpc::ServerWriter<filestore::DownloadResponse>* out) override {
    std::string data;
    filestore::FileInfo info;
    bool breaks = false;
    size_t message = 0;
    uint64_t break_after = 0;
    {
      std::lock_guard lock(s_->mu);
      s_->download_offsets.push_back(r->offset());
      auto* f = s_->FindFile(r->file_id());
      if (f == nullptr || f->info.owner_user_id() != UserOf(ctx))
        return Refuse(grpc::NOT_FOUND, "FILE_NOT_FOUND");
      data = f->data;
      info = f->info;
      breaks = std::exchange(s_->break_download_once, false);
      break_after = s_->break_download_after;
      message = s_->download_message;
    }
    if (r->offset() > data.size()) return Refuse(grpc::OUT_OF_RANGE, "OFFSET_PAST_END");
    for (uint64_t at = r->offset(); at < data.size(); at += message) {
      if (breaks && at >= break_after) return Refuse(grpc::UNAVAILABLE, "connection reset (fake)");
      filestore::DownloadResponse m;
      m.set_offset(at);
      m.set_data(data.substr(at, message));
      if (at == r->offset()) *m.mutable_file() = info;
      if (!out->Write(m)) return Refuse(grpc::CANCELLED, "client went away");
    }
    return grpc::Status::OK;
  }

 private:
  FakeState* s_;
};

class FilesClientFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("files-flow-" + crypto::RandomId());
    fs::create_directories(dir_ / "work");
    WriteTrust();
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&storage_);
    b.RegisterService(&keyvault_);
    b.SetMaxReceiveMessageSize(64 << 20);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
    alice_ = Connect("u-alice");
    bob_ = Connect("u-bob");
  }
  void TearDown() override {
    alice_ = {};
    bob_ = {};
    server_->Shutdown();
    fs::remove_all(dir_);
  }

  // A level-1 trust file (plaintext, no quote to check) made from a fake
  // platform's root, auditors and signed manifest.
  void WriteTrust() {
    attestation::testing::FakePlatform platform({"gateway"});
    ASSERT_TRUE(WriteFileAtomic(dir_ / "root.pem", platform.root().Pem(), 0644).ok());
    auto signed_manifest =
        attestation::SignManifest(platform.manifest_body(), platform.auditor_keys());
    ASSERT_TRUE(signed_manifest.ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ / "manifest.bin", *signed_manifest, 0644).ok());
    std::string keys;
    for (size_t i = 0; i < platform.auditor_keys().size(); ++i) {
      const std::string name = "auditor-" + std::to_string(i) + ".pub";
      ASSERT_TRUE(
          WriteFileAtomic(dir_ / name, platform.auditor_keys()[i].public_key().Pem(), 0644).ok());
      keys += (i ? ", \"" : "\"") + name + "\"";
    }
    const std::string toml =
        "[attestation]\nroot_ca = \"root.pem\"\nmanifest = \"manifest.bin\"\n"
        "auditor_keys = [" +
        keys +
        "]\nauditor_threshold = 2\n"
        "security_level = 1\n";
    ASSERT_TRUE(WriteFileAtomic(dir_ / "trust.toml", toml, 0644).ok());
  }

  struct User {
    std::unique_ptr<Client> client;
    std::unique_ptr<FilesClient> files;
  };
  User Connect(const std::string& user_id) {
    User u;
    ClientOptions o{.gateway_address = address_, .trust_path = dir_ / "trust.toml"};
    auto c = Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    if (!c.ok()) return u;
    u.client = *std::move(c);
    u.client->Resume({.token = user_id, .expires_unix = std::time(nullptr) + 3600});
    auto f = FilesClient::Create(u.client.get(), o);
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    if (f.ok()) u.files = *std::move(f);
    return u;
  }

  std::string WriteInput(const std::string& name, size_t n) {
    const std::string path = dir_ / "work" / name;
    content_ = ToString(crypto::RandomBytes(n));
    EXPECT_TRUE(WriteFileAtomic(path, content_, 0600).ok());
    return path;
  }
  std::vector<std::string> WorkFiles() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_ / "work")) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  static UploadOptions Fast() {
    UploadOptions o;
    o.chunk_size = 16u << 10;
    o.max_message_bytes = 10'000;
    o.initial_backoff = std::chrono::milliseconds(1);
    return o;
  }

  fs::path dir_;
  FakeState state_;
  FakeStorage storage_{&state_};
  FakeKeyVault keyvault_{&state_};
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  User alice_, bob_;
  std::string content_;
};

TEST_F(FilesClientFlowTest, UploadThenDownloadRoundTrips) {
  const std::string in = WriteInput("data.bin", 200'123);
  std::vector<std::pair<uint64_t, uint64_t>> seen;
  auto f =
      alice_.files->Upload(in, Fast(), [&](uint64_t d, uint64_t t) { seen.emplace_back(d, t); });
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ(f->file_id().size(), 32u);
  EXPECT_EQ(f->plaintext_size(), content_.size());
  EXPECT_EQ(f->chunk_size(), 16u << 10);
  EXPECT_LE(state_.largest_message, 10'000u);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().first, f->size());
  EXPECT_EQ(seen.back().second, f->size());

  const std::string out = dir_ / "work" / "copy.bin";
  ASSERT_TRUE(alice_.files->Download(f->file_id(), out).ok());
  EXPECT_EQ(*ReadFile(out, 1 << 20), content_);
  EXPECT_EQ(fs::status(out).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(WorkFiles(), (std::vector<std::string>{"copy.bin", "data.bin"}));  // no temp left
}

TEST_F(FilesClientFlowTest, EmptyFileRoundTrips) {
  const std::string in = WriteInput("empty", 0);
  auto f = alice_.files->Upload(in, Fast());
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  const std::string out = dir_ / "work" / "empty.out";
  ASSERT_TRUE(alice_.files->Download(f->file_id(), out).ok());
  EXPECT_EQ(fs::file_size(out), 0u);
}

TEST_F(FilesClientFlowTest, ABrokenUploadResumesFromTheDurableOffset) {
  state_.durable_granularity = 4096;  // the server kept less than was sent
  const std::string in = WriteInput("big.bin", 150'000);
  UploadOptions o = Fast();
  o.fail_after_bytes_for_testing = 70'000;  // the client-side test hook
  auto f = alice_.files->Upload(in, o);
  ASSERT_TRUE(f.ok()) << f.error().ToString();  // CompleteUpload checked size and SHA-256
  EXPECT_GE(state_.get_upload_calls, 1);
  // Two streams, or three if GetUpload overtook the server's handling of
  // the cancelled one (the next stream then starts at a stale offset).
  EXPECT_GE(state_.upload_streams, 2);
  const std::string out = dir_ / "work" / "big.out";
  ASSERT_TRUE(alice_.files->Download(f->file_id(), out).ok());
  EXPECT_EQ(*ReadFile(out, 1 << 20), content_);
}

TEST_F(FilesClientFlowTest, ServerSideBreaksAreResumedToo) {
  state_.durable_granularity = 1000;
  state_.break_upload_streams = 2;
  state_.break_upload_after = 30'000;
  const std::string in = WriteInput("twice.bin", 80'000);
  auto f = alice_.files->Upload(in, Fast());
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ(state_.upload_streams, 3);
}

TEST_F(FilesClientFlowTest, GivingUpAbortsTheSessionAndDeletesTheKey) {
  state_.break_upload_streams = 100;
  state_.break_upload_after = 1;
  const std::string in = WriteInput("doomed.bin", 50'000);
  UploadOptions o = Fast();
  o.max_retries = 2;
  auto f = alice_.files->Upload(in, o);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.code(), Code::kUnavailable);
  EXPECT_NE(f.error().message().find(in), std::string::npos) << f.error().message();
  EXPECT_NE(f.error().message().find("after 2 retries"), std::string::npos) << f.error().message();
  EXPECT_EQ(state_.upload_streams, 3);
  EXPECT_EQ(state_.abort_calls, 1);
  EXPECT_TRUE(state_.keys.empty()) << "the abandoned upload's key was left behind";
  EXPECT_TRUE(state_.uploads.empty());
}

TEST_F(FilesClientFlowTest, ARefusalIsNotRetriedAndLeavesNoKey) {
  state_.create_upload_error = grpc::Status(grpc::RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED");
  const std::string in = WriteInput("big.bin", 1000);
  auto f = alice_.files->Upload(in, Fast());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.code(), Code::kResourceExhausted);
  EXPECT_EQ(state_.get_upload_calls, 0);
  EXPECT_TRUE(state_.keys.empty());
}

TEST_F(FilesClientFlowTest, AMissingInputFailsBeforeAnyCall) {
  auto f = alice_.files->Upload((dir_ / "work" / "nope").string(), Fast());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message().find("nope"), std::string::npos);
  EXPECT_TRUE(state_.keys.empty());
}

TEST_F(FilesClientFlowTest, AnInputThatCannotSeekCannotResume) {
  // A pipe-like stream: reads forward, refuses to seek.
  class Forward : public std::streambuf {
   public:
    explicit Forward(std::string s) : s_(std::move(s)) {
      setg(s_.data(), s_.data(), s_.data() + s_.size());
    }

   protected:
    pos_type seekoff(off_type, std::ios_base::seekdir, std::ios_base::openmode) override {
      return pos_type(off_type(-1));
    }

   private:
    std::string s_;
  };
  state_.durable_granularity = 4096;  // so the resumption must go back
  Forward buf(ToString(crypto::RandomBytes(60'000)));
  std::istream in(&buf);
  UploadOptions o = Fast();
  o.fail_after_bytes_for_testing = 20'000;
  auto f = alice_.files->Upload(in, 60'000, o);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().reason(), kUploadNotResumable);
  EXPECT_EQ(state_.abort_calls, 1);
  EXPECT_TRUE(state_.keys.empty());
}

TEST_F(FilesClientFlowTest, ABrokenDownloadResumesAtTheLastOffset) {
  const std::string in = WriteInput("data.bin", 120'000);
  auto f = alice_.files->Upload(in, Fast());
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  state_.break_download_once = true;
  state_.break_download_after = 50'000;
  const std::string out = dir_ / "work" / "copy.bin";
  DownloadOptions o;
  o.initial_backoff = std::chrono::milliseconds(1);
  ASSERT_TRUE(alice_.files->Download(f->file_id(), out, nullptr, o).ok());
  EXPECT_EQ(*ReadFile(out, 1 << 20), content_);
  ASSERT_EQ(state_.download_offsets.size(), 2u);
  EXPECT_EQ(state_.download_offsets[0], 0u);
  EXPECT_EQ(state_.download_offsets[1], 50'000u);
  // And the client-side hook: cancelled once, resumed where it stopped.
  o.fail_after_bytes_for_testing = 30'000;
  const std::string out2 = dir_ / "work" / "copy2.bin";
  ASSERT_TRUE(alice_.files->Download(f->file_id(), out2, nullptr, o).ok());
  EXPECT_EQ(*ReadFile(out2, 1 << 20), content_);
  EXPECT_EQ(state_.download_offsets.size(), 4u);
}

TEST_F(FilesClientFlowTest, ATamperedFileFailsWithTheFormatsReasonAndLeavesNoOutput) {
  const std::string in = WriteInput("data.bin", 70'000);
  auto f = alice_.files->Upload(in, Fast());
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  state_.FindFile(f->file_id())->data[40'000] ^= 0x20;
  const std::string out = dir_ / "work" / "copy.bin";
  Status st = alice_.files->Download(f->file_id(), out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().reason(), files::reason::kChunkAuth);
  EXPECT_NE(st.error().message().find(f->file_id()), std::string::npos);
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(WorkFiles(), std::vector<std::string>{"data.bin"});  // the temp file is gone too
  // A truncated file (the byte restored): the format's FILE_TRUNCATED, no output either.
  state_.FindFile(f->file_id())->data[40'000] ^= 0x20;
  state_.FindFile(f->file_id())->data.resize(50'000);
  st = alice_.files->Download(f->file_id(), out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().reason(), files::reason::kTruncated);
  EXPECT_EQ(WorkFiles(), std::vector<std::string>{"data.bin"});
}

TEST_F(FilesClientFlowTest, AnotherUsersFileIsNotFoundAndLeavesNoOutput) {
  const std::string in = WriteInput("data.bin", 1000);
  auto f = alice_.files->Upload(in, Fast());
  ASSERT_TRUE(f.ok());
  const std::string out = dir_ / "work" / "stolen.bin";
  Status st = bob_.files->Download(f->file_id(), out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(FilesClientFlowTest, ListStatAndDelete) {
  state_.list_page = 2;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto f = alice_.files->Upload(WriteInput("f" + std::to_string(i), 100 + i), Fast());
    ASSERT_TRUE(f.ok());
    ids.push_back(f->file_id());
  }
  auto page = alice_.files->List(2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->files_size(), 2);
  EXPECT_FALSE(page->next_page_token().empty());
  auto all = alice_.files->ListAll();
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].file_id(), ids[4]);  // newest first
  auto none = bob_.files->ListAll();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  auto stat = alice_.files->Stat(ids[1]);
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->plaintext_size(), 101u);
  ASSERT_TRUE(alice_.files->Delete(ids[1]).ok());
  EXPECT_EQ(alice_.files->Stat(ids[1]).code(), Code::kNotFound);
  EXPECT_EQ(state_.keys.count(ids[1]), 0u);
}

}  // namespace
}  // namespace cloister::sdk
