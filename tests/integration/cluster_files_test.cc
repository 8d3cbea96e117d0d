// Encrypted files end to end (issue 12): a real cluster from `cloister
// cluster up` (platform, auth, exec, keyvault, storage, gateway), driven by
// the C++ SDK's FilesClient, the `cloister file` CLI and raw gRPC calls
// through the gateway. Each test is one "must be true" of the issue:
// round trips and memory, no plaintext at rest, tampering, isolation
// between users, resumption, crash recovery, quota and bad stream input.
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "files/file_format.h"
#include "proto/keyvault.grpc.pb.h"
#include "proto/storage.grpc.pb.h"
#include "sdk/cloister_client.h"
#include "sdk/files_client.h"
#include "tests/integration/cluster_fixture.h"
#include "tests/support/public_error.h"

namespace cloister::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPassword = "correct horse battery staple";
constexpr int kQuotaFiles = 20;
constexpr int64_t kQuotaBytes = int64_t{700} << 20;

// Writes `size` pseudo-random bytes (seeded) to `path` in pieces; the marker,
// if given, is written every 64 KiB so that any plaintext fragment holds it.
void WriteFile(const std::string& path, uint64_t size, uint32_t seed,
               const std::string& marker = "") {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::mt19937_64 rng(seed);
  std::string buf(1 << 16, '\0');
  for (uint64_t done = 0; done < size;) {
    for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(&buf[i], &v, 8);
    }
    if (!marker.empty()) buf.replace(0, marker.size(), marker);
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
    out.write(buf.data(), static_cast<std::streamsize>(n));
    done += n;
  }
}

std::string FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  crypto::Sha256Hasher h;
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) h.Update(AsBytes(std::string_view(buf.data(), in.gcount())));
  }
  auto d = h.Finish();
  return HexEncode(ByteView(d.data(), d.size()));
}

// `b` with byte `at` xored with `mask`. Out of line: GCC 12 inlines a
// direct store into a lambda over std::string and then warns falsely
// (-Wstringop-overflow on the small-string buffer).
[[gnu::noinline]] std::string FlipBit(std::string b, size_t at, char mask) {
  b.replace(at, 1, 1, static_cast<char>(b.at(at) ^ mask));
  return b;
}

// Resident set of a process in KiB (VmRSS), -1 if unreadable.
int64_t RssKiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

// Whether `needle` occurs in the file at `path` (read in overlapping pieces).
bool FileContains(const std::string& path, const std::string& needle) {
  std::ifstream in(path, std::ios::binary);
  std::string carry, buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::string window = carry + buf.substr(0, static_cast<size_t>(in.gcount()));
    if (window.find(needle) != std::string::npos) return true;
    carry = window.size() >= needle.size() ? window.substr(window.size() - needle.size() + 1)
                                           : window;
  }
  return false;
}

class ClusterFilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start([](std::string toml) {
      // A small quota so the quota test is quick; large enough for 300 MiB.
      auto set = [&toml](const std::string& key, const std::string& value) {
        auto at = toml.find("\n" + key + " = ");
        ASSERT_NE(at, std::string::npos) << key << " missing from cluster.toml";
        auto end = toml.find('\n', at + 1);
        toml.replace(at + 1, end - at - 1, key + " = " + value);
      };
      set("quota_files", std::to_string(kQuotaFiles));
      set("quota_bytes", std::to_string(kQuotaBytes));
      return toml;
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto admin = Connect();
    ASSERT_TRUE(admin->Login("admin", cluster_->admin_password()).ok());
    for (const char* u : {"alice", "bob", "carol", "dave"}) {
      auto created = admin->CreateUser(u, kPassword);
      ASSERT_TRUE(created.ok()) << created.error().ToString();
    }
    auto trust = attestation::TrustConfig::Load(cluster_->trust_path());
    ASSERT_TRUE(trust.ok());
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(
        cluster_->gateway(),
        attestation::AttestingChannelCredentials(
            std::make_shared<attestation::TrustConfig>(*std::move(trust)), {"gateway"}),
        args);
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static sdk::ClientOptions Options() {
    return {.gateway_address = cluster_->gateway(), .trust_path = cluster_->trust_path()};
  }
  static std::unique_ptr<sdk::Client> Connect() {
    auto c = sdk::Client::Connect(Options());
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // A logged-in user with a files client.
  struct User {
    std::unique_ptr<sdk::Client> client;
    std::unique_ptr<sdk::FilesClient> files;
    std::string token() const { return client->session()->token; }
  };
  static User Login(const std::string& name) {
    User u;
    u.client = Connect();
    auto st = u.client->Login(name, name == "admin" ? cluster_->admin_password() : kPassword);
    EXPECT_TRUE(st.ok()) << st.error().ToString();
    auto f = sdk::FilesClient::Create(u.client.get(), Options());
    EXPECT_TRUE(f.ok()) << f.error().ToString();
    if (f.ok()) u.files = std::move(*f);
    return u;
  }

  // A logged-in CLI home for `name` (a copy of the operator's home).
  static std::vector<std::string> CliLogin(const std::string& name) {
    std::string pw = name == "admin" ? cluster_->admin_password() : std::string(kPassword);
    pw += "\n";
    auto r = cluster_->Cli({"login", "--user", name, "--password-stdin"}, &pw);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return {};
  }

  static std::string Scratch(const std::string& name) { return cluster_->scratch() + "/" + name; }
  static std::string StorageDir() { return cluster_->home() + "/data/storage"; }
  static std::string BlobPath(const std::string& file_id) {
    for (const auto& e : fs::recursive_directory_iterator(StorageDir()))
      if (e.is_regular_file() && e.path().filename() == file_id) return e.path().string();
    return "";
  }

  // A unary call through the gateway with `token`.
  template <typename Resp, typename Req, typename Fn>
  static grpc::Status Unary(const std::string& token, const Req& req, Resp* resp, Fn fn) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata("authorization", "Bearer " + token);
    grpc::Status st = fn(&ctx, req, resp);
    // Issue 11, must-be-true 7: every refusal here is a public error.
    EXPECT_EQ(PublicErrorProblem(st, {cluster_->home()}), "");
    return st;
  }

  // Raw messages on a streaming method through the gateway: each string is
  // sent as one message's bytes, then the client half-closes.
  static grpc::Status RawStream(const std::string& token, const std::string& method,
                                const std::vector<std::string>& messages) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata("authorization", "Bearer " + token);
    grpc::CompletionQueue cq;
    auto call = stub.PrepareCall(&ctx, method, &cq);
    void* tag = nullptr;
    bool ok = false;
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    for (const auto& m : messages) {
      grpc::Slice s(m);
      grpc::ByteBuffer b(&s, 1);
      call->Write(b, reinterpret_cast<void*>(2));
      cq.Next(&tag, &ok);
      if (!ok) break;
    }
    call->WritesDone(reinterpret_cast<void*>(3));
    cq.Next(&tag, &ok);
    grpc::ByteBuffer resp;
    for (;;) {
      call->Read(&resp, reinterpret_cast<void*>(4));
      cq.Next(&tag, &ok);
      if (!ok) break;
    }
    grpc::Status st;
    call->Finish(&st, reinterpret_cast<void*>(5));
    cq.Next(&tag, &ok);
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    EXPECT_EQ(PublicErrorProblem(st, {cluster_->home()}), "") << method;
    return st;
  }

  static void ExpectClusterHealthy() {
    for (const char* svc : {"platform", "auth", "exec", "keyvault", "storage", "gateway"}) {
      int pid = cluster_->ServicePid(svc);
      ASSERT_GT(pid, 0) << svc;
      EXPECT_EQ(kill(pid, 0), 0) << svc << " died";
    }
    auto c = Connect();
    ASSERT_NE(c, nullptr);
    auto h = c->Health();
    ASSERT_TRUE(h.ok()) << h.error().ToString();
    EXPECT_EQ(h->status(), "SERVING") << h->service();
  }

  static std::unique_ptr<ClusterFixture> cluster_;
  static std::shared_ptr<grpc::Channel> channel_;
};
std::unique_ptr<ClusterFixture> ClusterFilesTest::cluster_;
std::shared_ptr<grpc::Channel> ClusterFilesTest::channel_;

// 1. Round trips through the gateway, SDK and CLI, at the chunk boundaries.
TEST_F(ClusterFilesTest, RoundTripAtChunkBoundariesSdkAndCli) {
  User alice = Login("alice");
  ASSERT_NE(alice.files, nullptr);
  const uint64_t chunk = files::kDefaultChunkSize;
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, chunk - 1, chunk, chunk + 1}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const std::string in = Scratch("in-" + std::to_string(size));
    const std::string out = Scratch("out-" + std::to_string(size));
    WriteFile(in, size, static_cast<uint32_t>(size) + 7);
    auto up = alice.files->Upload(in, {.description = "boundary"});
    ASSERT_TRUE(up.ok()) << up.error().ToString();
    EXPECT_EQ(up->plaintext_size(), size);
    EXPECT_EQ(up->owner_user_id(), alice.client->session()->user.user_id());
    auto stat = alice.files->Stat(up->file_id());
    ASSERT_TRUE(stat.ok()) << stat.error().ToString();
    EXPECT_EQ(stat->size(), up->size());
    EXPECT_EQ(stat->description(), "boundary");
    Status down = alice.files->Download(up->file_id(), out);
    ASSERT_TRUE(down.ok()) << down.ToString();
    EXPECT_EQ(FileSha256(out), FileSha256(in));
  }
  // The CLI, as a user would run it.
  CliLogin("alice");
  for (uint64_t size : {uint64_t{0}, chunk + 1}) {
    const std::string in = Scratch("cli-in-" + std::to_string(size));
    const std::string out = Scratch("cli-out-" + std::to_string(size));
    WriteFile(in, size, 99);
    int code = -1;
    auto up = cluster_->CliJson({"file", "upload", in, "--description", "via cli"}, nullptr, &code);
    ASSERT_EQ(code, 0) << up.dump();
    ASSERT_TRUE(up.contains("file_id") && up.contains("size") && up.contains("sha256")) << up.dump();
    const std::string id = up["file_id"].get<std::string>();
    auto ls = cluster_->CliJson({"file", "ls"}, nullptr, &code);
    ASSERT_EQ(code, 0);
    ASSERT_TRUE(ls.is_array()) << ls.dump();
    bool listed = false;
    for (const auto& f : ls) listed |= f.value("file_id", "") == id;
    EXPECT_TRUE(listed) << ls.dump();
    auto stat = cluster_->CliJson({"file", "stat", id}, nullptr, &code);
    ASSERT_EQ(code, 0) << stat.dump();
    EXPECT_EQ(stat.value("file_id", ""), id);
    auto r = cluster_->Cli({"file", "download", id, "-o", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(FileSha256(out), FileSha256(in));
    r = cluster_->Cli({"file", "rm", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = cluster_->Cli({"file", "stat", id});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(id), std::string::npos) << "the error names the file: " << r.err;
  }
}

// 1b. 300 MiB through the gateway with bounded memory in every process.
TEST_F(ClusterFilesTest, LargeFileKeepsEveryProcessUnder100MiBAboveIdle) {
  User alice = Login("alice");
  ASSERT_NE(alice.files, nullptr);
  const std::string in = Scratch("big.bin"), out = Scratch("big.out");
  WriteFile(in, uint64_t{300} << 20, 300);
  std::vector<std::pair<std::string, int>> procs = {{"test client (SDK)", getpid()}};
  for (const char* svc : {"gateway", "storage", "keyvault", "auth"})
    procs.emplace_back(svc, cluster_->ServicePid(svc));
  std::map<std::string, int64_t> idle, peak;
  for (const auto& [name, pid] : procs) idle[name] = peak[name] = RssKiB(pid);
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done) {
      for (const auto& [name, pid] : procs) peak[name] = std::max(peak[name], RssKiB(pid));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto up = alice.files->Upload(in);
  Status down = up.ok() ? alice.files->Download(up->file_id(), out) : up.status();
  done = true;
  sampler.join();
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  ASSERT_TRUE(down.ok()) << down.ToString();
  EXPECT_EQ(FileSha256(out), FileSha256(in));
  for (const auto& [name, pid] : procs) {
    const int64_t grew_mib = (peak[name] - idle[name]) / 1024;
    std::cout << name << ": idle " << idle[name] / 1024 << " MiB, peak +" << grew_mib << " MiB\n";
    EXPECT_LT(grew_mib, 100) << name << " held too much of a 300 MiB transfer";
  }
  ASSERT_TRUE(alice.files->Delete(up->file_id()).ok());
  fs::remove(in);
  fs::remove(out);
}

// 2. Neither the plaintext nor the file key is anywhere on disk.
TEST_F(ClusterFilesTest, NoPlaintextOrFileKeyAtRest) {
  User alice = Login("alice");
  const std::string marker = "CLOISTER-MARKER-" + crypto::RandomId();
  const std::string in = Scratch("marked.bin");
  WriteFile(in, 3u << 20, 5, marker);
  auto up = alice.files->Upload(in);
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  auto kv = keyvault::KeyVault::NewStub(channel_);
  keyvault::GetFileKeyRequest req;
  req.set_file_id(up->file_id());
  keyvault::GetFileKeyResponse key;
  auto st = Unary(alice.token(), req, &key, [&](auto* c, const auto& r, auto* o) {
    return kv->GetFileKey(c, r, o);
  });
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(key.file_key().size(), files::kFileKeySize);
  // Every file the cluster wrote: data dirs (blobs, SQLite + WAL, sealed
  // state), audit logs, service logs.
  size_t scanned = 0;
  for (const auto& e : fs::recursive_directory_iterator(cluster_->home())) {
    if (!e.is_regular_file()) continue;
    ++scanned;
    EXPECT_FALSE(FileContains(e.path().string(), marker)) << "plaintext in " << e.path();
    EXPECT_FALSE(FileContains(e.path().string(), key.file_key())) << "file key in " << e.path();
  }
  EXPECT_GT(scanned, 10u);
  ASSERT_FALSE(BlobPath(up->file_id()).empty()) << "the ciphertext is stored";
}

// 3. Every tampering of the stored ciphertext is caught on download, by
// name, and leaves no output file.
TEST_F(ClusterFilesTest, TamperedCiphertextFailsByNameAndLeavesNoOutput) {
  User alice = Login("alice");
  const std::string in = Scratch("tamper.bin");
  WriteFile(in, 5 * 1024 + 100, 11);  // 6 chunks of 1 KiB
  auto up = alice.files->Upload(in, {.chunk_size = 1024});
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  const std::string blob = BlobPath(up->file_id());
  ASSERT_FALSE(blob.empty());
  auto original = ReadFile(blob, 1 << 20);
  ASSERT_TRUE(original.ok());
  const size_t h = files::kHeaderSize, c = 1024 + files::kTagSize;
  struct Case {
    const char* name;
    std::function<std::string(std::string)> edit;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"flip a header byte (plaintext length)",
       [](std::string b) { return FlipBit(std::move(b), 39, 1); }, nullptr},
      {"flip a chunk byte", [&](std::string b) { return FlipBit(std::move(b), h + c + 5, 0x40); },
       files::reason::kChunkAuth},
      {"swap chunks 1 and 2",
       [&](std::string b) {
         std::string c1 = b.substr(h + c, c), c2 = b.substr(h + 2 * c, c);
         b.replace(h + c, c, c2);
         b.replace(h + 2 * c, c, c1);
         return b;
       },
       files::reason::kChunkAuth},
      {"duplicate chunk 1 over chunk 2",
       [&](std::string b) { b.replace(h + 2 * c, c, b.substr(h + c, c)); return b; },
       files::reason::kChunkAuth},
      // A change of size is caught by storage before any byte is served
      // (its catalog holds the size and SHA-256 acknowledged at upload).
      {"drop chunk 3", [&](std::string b) { b.erase(h + 3 * c, c); return b; }, "BLOB_CORRUPT"},
      {"truncate the final chunk", [](std::string b) { b.resize(b.size() - 10); return b; },
       "BLOB_CORRUPT"},
      {"append bytes", [](std::string b) { return b + "extra"; }, "BLOB_CORRUPT"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    ASSERT_TRUE(WriteFileAtomic(blob, tc.edit(*original), 0600).ok());
    const std::string out = Scratch("tampered.out");
    Status st = alice.files->Download(up->file_id(), out);
    EXPECT_FALSE(st.ok());
    // The SDK names the caller's own output path; the rest is the server's.
    EXPECT_EQ(PublicErrorProblem(WithoutClientText(st, out), {cluster_->home()}), "");
    if (tc.reason != nullptr) {
      EXPECT_EQ(st.error().reason(), tc.reason) << st.ToString();
    } else {
      EXPECT_FALSE(st.error().reason().empty()) << st.ToString();
    }
    EXPECT_FALSE(fs::exists(out)) << "an output file was left behind";
    for (const auto& e : fs::directory_iterator(cluster_->scratch()))
      EXPECT_EQ(e.path().filename().string().find("tampered.out."), std::string::npos)
          << "temporary left: " << e.path();
  }
  ASSERT_TRUE(WriteFileAtomic(blob, *original, 0600).ok());
  EXPECT_TRUE(alice.files->Download(up->file_id(), Scratch("restored.out")).ok());
}

// 4. Another user can neither see nor touch alice's file, and gets the same
// answer as for a file that does not exist; an admin may delete, not read.
TEST_F(ClusterFilesTest, OtherUsersCannotSeeOrTouchAFileAdminMayOnlyDelete) {
  User alice = Login("alice"), bob = Login("bob"), admin = Login("admin");
  const std::string in = Scratch("private.bin");
  WriteFile(in, 4000, 12);
  auto up = alice.files->Upload(in, {.description = "alice's secret"});
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  const std::string id = up->file_id();
  const std::string absent = std::string(32, 'a');
  auto same_answer = [&](const Status& mine, const Status& none) {
    ASSERT_FALSE(mine.ok());
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(mine.error().code(), none.error().code());
    EXPECT_EQ(mine.error().reason(), none.error().reason());
    // (A download's error names the caller's own output path.)
    EXPECT_EQ(PublicErrorProblem(WithoutClientText(mine, Scratch("stolen")), {cluster_->home()}),
              "");
    EXPECT_EQ(PublicErrorProblem(WithoutClientText(none, Scratch("stolen")), {cluster_->home()}),
              "");
    std::string a = mine.error().message(), b = none.error().message();
    for (auto* s : {&a, &b}) {
      for (const std::string& x : {id, absent})
        for (size_t p; (p = s->find(x)) != std::string::npos;) s->replace(p, x.size(), "<id>");
    }
    EXPECT_EQ(a, b) << "the error text tells 'not yours' from 'absent'";
  };
  same_answer(bob.files->Stat(id).status(), bob.files->Stat(absent).status());
  same_answer(bob.files->Download(id, Scratch("stolen")),
              bob.files->Download(absent, Scratch("stolen")));
  EXPECT_FALSE(fs::exists(Scratch("stolen")));
  same_answer(bob.files->Delete(id), bob.files->Delete(absent));
  auto listed = bob.files->ListAll();
  ASSERT_TRUE(listed.ok());
  for (const auto& f : *listed) EXPECT_NE(f.file_id(), id);
  // Straight at the key vault: bob cannot read alice's file key.
  auto kv = keyvault::KeyVault::NewStub(channel_);
  keyvault::GetFileKeyRequest kreq;
  kreq.set_file_id(id);
  keyvault::GetFileKeyResponse kresp;
  auto kst = Unary(bob.token(), kreq, &kresp,
                   [&](auto* c, const auto& r, auto* o) { return kv->GetFileKey(c, r, o); });
  EXPECT_EQ(kst.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(kresp.file_key().empty());
  // The file is intact for alice.
  EXPECT_TRUE(alice.files->Download(id, Scratch("mine.out")).ok());
  // Admin: may stat and delete, not download.
  EXPECT_TRUE(admin.files->Stat(id).ok());
  Status admin_down = admin.files->Download(id, Scratch("admin.out"));
  EXPECT_FALSE(admin_down.ok());
  EXPECT_FALSE(fs::exists(Scratch("admin.out")));
  ASSERT_TRUE(admin.files->Delete(id).ok());
  // Gone for alice too, with its key: nothing readable is left.
  EXPECT_EQ(alice.files->Stat(id).status().error().code(), Code::kNotFound);
  kst = Unary(alice.token(), kreq, &kresp,
              [&](auto* c, const auto& r, auto* o) { return kv->GetFileKey(c, r, o); });
  EXPECT_EQ(kst.error_code(), grpc::StatusCode::NOT_FOUND) << "the key outlived its file";
  EXPECT_TRUE(BlobPath(id).empty()) << "the ciphertext outlived its file";
}

// 4b. The other order: the owner deletes the file key itself. The
// ciphertext that is left is unreadable by everyone, its owner included,
// and can still be deleted.
TEST_F(ClusterFilesTest, DeletingTheKeyFirstLeavesNothingReadable) {
  User alice = Login("alice"), bob = Login("bob");
  const std::string in = Scratch("keyless.bin");
  WriteFile(in, 5000, 14);
  auto up = alice.files->Upload(in);
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  auto kv = keyvault::KeyVault::NewStub(channel_);
  keyvault::DeleteFileKeyRequest del;
  del.set_file_id(up->file_id());
  keyvault::DeleteFileKeyResponse dresp;
  auto st = Unary(alice.token(), del, &dresp,
                  [&](auto* c, const auto& r, auto* o) { return kv->DeleteFileKey(c, r, o); });
  ASSERT_TRUE(st.ok()) << st.error_message();
  for (User* u : {&alice, &bob}) {
    Status down = u->files->Download(up->file_id(), Scratch("keyless.out"));
    ASSERT_FALSE(down.ok());
    EXPECT_EQ(down.error().code(), Code::kNotFound) << down.ToString();
    EXPECT_FALSE(fs::exists(Scratch("keyless.out")));
  }
  EXPECT_TRUE(alice.files->Delete(up->file_id()).ok()) << "a keyless file can still be deleted";
  EXPECT_TRUE(BlobPath(up->file_id()).empty());
}

// 5. A stream cut mid-upload (and mid-download) resumes to the same file.
TEST_F(ClusterFilesTest, BrokenStreamsResumeToTheIdenticalFile) {
  User alice = Login("alice");
  const std::string in = Scratch("resume.bin"), out = Scratch("resume.out");
  WriteFile(in, 10u << 20, 13);
  sdk::UploadOptions opts;
  opts.fail_after_bytes_for_testing = 3u << 20;
  opts.initial_backoff = std::chrono::milliseconds(50);
  auto up = alice.files->Upload(in, opts);
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  sdk::DownloadOptions dopts;
  dopts.fail_after_bytes_for_testing = 4u << 20;
  dopts.initial_backoff = std::chrono::milliseconds(50);
  Status down = alice.files->Download(up->file_id(), out, nullptr, dopts);
  ASSERT_TRUE(down.ok()) << down.ToString();
  EXPECT_EQ(FileSha256(out), FileSha256(in));
  ASSERT_TRUE(alice.files->Delete(up->file_id()).ok());
}

// 5b. An abandoned upload never shows as a file (and frees nothing it does
// not own); the session itself is collected by the GC (storage_core_test).
TEST_F(ClusterFilesTest, AbandonedUploadIsNeverAFile) {
  User alice = Login("alice");
  auto stub = filestore::Storage::NewStub(channel_);
  filestore::CreateUploadRequest req;
  req.set_file_id(std::string(32, 'b'));
  req.set_size(1000);
  filestore::CreateUploadResponse resp;
  auto st = Unary(alice.token(), req, &resp,
                  [&](auto* c, const auto& r, auto* o) { return stub->CreateUpload(c, r, o); });
  ASSERT_TRUE(st.ok()) << st.error_message();
  filestore::UploadChunksRequest chunk;
  chunk.set_upload_id(resp.session().upload_id());
  chunk.set_data(std::string(400, 'x'));
  st = RawStream(alice.token(), "/cloister.filestore.Storage/UploadChunks",
                 {chunk.SerializeAsString()});
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto listed = alice.files->ListAll();
  ASSERT_TRUE(listed.ok());
  for (const auto& f : *listed) EXPECT_NE(f.file_id(), req.file_id());
  EXPECT_FALSE(alice.files->Stat(req.file_id()).ok());
  filestore::AbortUploadRequest abort;
  abort.set_upload_id(resp.session().upload_id());
  filestore::AbortUploadResponse aresp;
  st = Unary(alice.token(), abort, &aresp,
             [&](auto* c, const auto& r, auto* o) { return stub->AbortUpload(c, r, o); });
  EXPECT_TRUE(st.ok()) << st.error_message();
}

// 6. kill -9 of storage (then of the key vault) in the middle of an upload,
// then `cluster up`: every file acknowledged before is intact.
TEST_F(ClusterFilesTest, KillDuringUploadLosesNothingAcknowledged) {
  for (const char* victim : {"storage", "keyvault"}) {
    SCOPED_TRACE(victim);
    User alice = Login("alice");
    const std::string a = Scratch("acked.bin"), b = Scratch("inflight.bin");
    WriteFile(a, 2u << 20, 21);
    WriteFile(b, 60u << 20, 22);
    auto acked = alice.files->Upload(a);
    ASSERT_TRUE(acked.ok()) << acked.error().ToString();
    std::atomic<bool> started{false};
    Result<filestore::FileInfo> inflight = Unavailable("not run");
    std::thread uploader([&] {
      sdk::UploadOptions o;
      o.max_retries = 0;  // the stream dies with the service
      inflight = alice.files->Upload(b, o, [&](uint64_t done, uint64_t) {
        if (done > (8u << 20)) started = true;
      });
    });
    while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const int pid = cluster_->ServicePid(victim);
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    uploader.join();
    // The upload either finished before the kill landed or failed; never
    // half a file.
    int code = -1;
    auto up = cluster_->CliJson({"cluster", "up"}, nullptr, &code);
    ASSERT_EQ(code, 0) << up.dump();
    User again = Login("alice");
    Status down = again.files->Download(acked->file_id(), Scratch("acked.out"));
    ASSERT_TRUE(down.ok()) << down.ToString();
    EXPECT_EQ(FileSha256(Scratch("acked.out")), FileSha256(a));
    auto listed = again.files->ListAll();
    ASSERT_TRUE(listed.ok()) << listed.error().ToString();
    for (const auto& f : *listed) {
      if (!inflight.ok() || f.file_id() != inflight->file_id()) continue;
      ASSERT_TRUE(again.files->Download(f.file_id(), Scratch("inflight.out")).ok());
      EXPECT_EQ(FileSha256(Scratch("inflight.out")), FileSha256(b));
    }
    ASSERT_TRUE(again.files->Delete(acked->file_id()).ok());
    if (inflight.ok()) (void)again.files->Delete(inflight->file_id());
  }
  ExpectClusterHealthy();
}

// 7. Over quota: refused with a named reason, nothing stored.
TEST_F(ClusterFilesTest, QuotaExceededIsRefusedByNameAndStoresNothing) {
  User carol = Login("carol");
  auto stub = filestore::Storage::NewStub(channel_);
  filestore::CreateUploadRequest big;
  big.set_file_id(std::string(32, 'c'));
  big.set_size(static_cast<uint64_t>(kQuotaBytes) + 1);
  filestore::CreateUploadResponse resp;
  auto st = Unary(carol.token(), big, &resp,
                  [&](auto* c, const auto& r, auto* o) { return stub->CreateUpload(c, r, o); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_EQ(st.error_details(), "QUOTA_BYTES_EXCEEDED");
  const std::string in = Scratch("small.bin");
  WriteFile(in, 100, 31);
  std::vector<std::string> ids;
  for (int i = 0; i < kQuotaFiles; ++i) {
    auto up = carol.files->Upload(in);
    ASSERT_TRUE(up.ok()) << i << ": " << up.error().ToString();
    ids.push_back(up->file_id());
  }
  auto over = carol.files->Upload(in);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code(), Code::kResourceExhausted);
  // (The SDK names the caller's own input path; the rest is the server's.)
  EXPECT_EQ(PublicReason(WithoutClientText(over.status(), in)), "QUOTA_FILES_EXCEEDED")
      << over.error().ToString();
  auto listed = carol.files->ListAll();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), ids.size()) << "a refused upload stored something";
  for (const auto& id : ids) ASSERT_TRUE(carol.files->Delete(id).ok());
  EXPECT_TRUE(carol.files->Upload(in).ok()) << "deleting gives the quota back";
}

// 8. Garbage, truncated, oversized and out-of-order stream messages: a clear
// INVALID_ARGUMENT, and every service keeps serving.
TEST_F(ClusterFilesTest, BadStreamMessagesGetInvalidArgumentAndServicesKeepServing) {
  User alice = Login("dave");  // a user of its own: every session holds quota
  auto stub = filestore::Storage::NewStub(channel_);
  std::vector<std::string> sessions;
  // A fresh upload session per case (aborted at the end).
  auto new_session = [&]() -> std::string {
    filestore::CreateUploadRequest req;
    req.set_file_id(HexEncode(crypto::RandomBytes(16)));
    req.set_size(10'000);
    filestore::CreateUploadResponse session;
    auto st = Unary(alice.token(), req, &session,
                    [&](auto* c, const auto& r, auto* o) { return stub->CreateUpload(c, r, o); });
    EXPECT_TRUE(st.ok()) << st.error_message();
    sessions.push_back(session.session().upload_id());
    return session.session().upload_id();
  };
  auto chunk = [](const std::string& upload_id, uint64_t offset, std::string data) {
    filestore::UploadChunksRequest m;
    m.set_upload_id(upload_id);
    m.set_offset(offset);
    m.set_data(std::move(data));
    return m.SerializeAsString();
  };
  const std::string upload = "/cloister.filestore.Storage/UploadChunks";
  const std::string download = "/cloister.filestore.Storage/Download";
  const std::string garbage("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10);
  struct Case {
    const char* name;
    std::string method;
    std::function<std::vector<std::string>(const std::string&)> messages;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"garbage first message", upload, [&](auto&) { return std::vector{garbage}; },
       "REQUEST_MALFORMED"},
      {"truncated first message", upload,
       [&](auto& id) { return std::vector{chunk(id, 0, std::string(100, 'x')).substr(0, 50)}; },
       "REQUEST_MALFORMED"},
      {"garbage later message", upload,
       [&](auto& id) { return std::vector{chunk(id, 0, "abc"), garbage}; }, "REQUEST_MALFORMED"},
      {"out of order", upload,
       [&](auto& id) { return std::vector{chunk(id, 0, "abc"), chunk(id, 100, "def")}; },
       "UPLOAD_OFFSET_MISMATCH"},
      {"a message over the gateway's 8 MiB", upload,
       [&](auto& id) {
         return std::vector{chunk(id, 0, "abc"), chunk(id, 3, std::string(9u << 20, 'o'))};
       },
       "MESSAGE_TOO_LARGE"},
      {"a message over storage's 4 MiB", upload,
       [&](auto& id) { return std::vector{chunk(id, 0, std::string(5u << 20, 'o'))}; },
       "MESSAGE_TOO_LARGE"},
      {"an empty message", upload, [&](auto& id) { return std::vector{chunk(id, 0, "")}; },
       "EMPTY_CHUNK"},
      {"another session's id later", upload,
       [&](auto& id) { return std::vector{chunk(id, 0, "abc"), chunk(new_session(), 3, "d")}; },
       nullptr},
      {"beyond the declared size", upload,
       [&](auto& id) { return std::vector{chunk(id, 0, std::string(10'001, 'b'))}; },
       "UPLOAD_BEYOND_SIZE"},
      {"garbage download request", download, [&](auto&) { return std::vector{garbage}; },
       "REQUEST_MALFORMED"},
      {"two download requests", download,
       [&](auto&) {
         return std::vector{filestore::DownloadRequest().SerializeAsString(),
                            filestore::DownloadRequest().SerializeAsString()};
       },
       "REQUEST_MALFORMED"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    grpc::Status s = RawStream(alice.token(), tc.method, tc.messages(new_session()));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    if (tc.reason != nullptr) {
      EXPECT_EQ(s.error_details(), tc.reason) << s.error_message();
    }
    EXPECT_FALSE(s.error_message().empty());
  }
  // A stream that ends early is fine (it resumes later), but the upload is
  // not a file until all of it arrived.
  const std::string short_id = new_session();
  ASSERT_TRUE(RawStream(alice.token(), upload, {chunk(short_id, 0, "abc")}).ok());
  filestore::CompleteUploadRequest complete;
  complete.set_upload_id(short_id);
  complete.set_sha256(std::string(32, '\0'));
  filestore::CompleteUploadResponse done;
  auto st = Unary(alice.token(), complete, &done,
                  [&](auto* c, const auto& r, auto* o) { return stub->CompleteUpload(c, r, o); });
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  for (const auto& id : sessions) {
    filestore::AbortUploadRequest abort;
    abort.set_upload_id(id);
    filestore::AbortUploadResponse aresp;
    (void)Unary(alice.token(), abort, &aresp,
                [&](auto* c, const auto& r, auto* o) { return stub->AbortUpload(c, r, o); });
  }
  ExpectClusterHealthy();
}

}  // namespace
}  // namespace cloister::testing
