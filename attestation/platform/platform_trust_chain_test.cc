// Integration tests of issue 9 against the real daemon and real processes:
// a genuine binary with injected code (LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH
// to a swapped library, a dlopen'd unlisted library, anonymous executable
// memory, a tracer before or after connect) gets no quote and no sealing key,
// by name, while the same binary started cleanly is; a session handed to
// another program (exec, fork+exec) gets nothing; only allowed service
// accounts reach the socket; a launch-log flood stays inside its session
// and the node keeps attesting; the daemon's CAP_SYS_PTRACE requirement.
#include <gtest/gtest.h>

#include "tests/support/ci_skip.h"
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "attestation/launch_log.h"
#include "attestation/platform/platform_client.h"
#include "attestation/platform/testing/platform_fixture.h"
#include "attestation/platform/testing/sys/tracer.h"
#include "attestation/quote_provider.h"
#include "attestation/quote_verifier.h"
#include "attestation/ratls.h"
#include "attestation/trust.h"
#include "common/fs.h"

namespace cloister::attestation {
namespace {

using testing::PlatformHarness;
using testing::RunOutput;

constexpr const char* kClientA = CLOISTER_TEST_CLIENT_A;
constexpr const char* kClientB = CLOISTER_TEST_CLIENT_B;
constexpr const char* kPreload = CLOISTER_TEST_PRELOAD_LIB;
const std::string kKeyIdHex = HexEncode(AsBytes(std::string(32, 'k')));
const std::string kReportHex = HexEncode(AsBytes(std::string(64, 'r')));

class TrustChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) { CLOISTER_SKIP_UNLESS_CI("needs root (ptrace, setpriv)"); }
    auto h = PlatformHarness::Create({{"test-client-a", kClientA, 7, 2},
                                      {"test-client-b", kClientB, 7, 1},
                                      {"platform-daemon-test", *SelfExePath(), 7, 2}});
    ASSERT_TRUE(h.ok()) << h.error().ToString();
    h_ = *std::move(h);
  }
  void StartDaemon(std::vector<std::string> extra = {}) {
    Status s = h_->Start({.as_nobody = false, .extra_args = std::move(extra)});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  RunOutput Client(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                   const std::string& bin = kClientA) {
    auto r = h_->RunClient(bin, args, false, env);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : RunOutput{};
  }
  // The client with `flags` asks for a quote and a sealing key; both must be
  // refused with `reason`.
  void ExpectNoQuoteNoKey(const std::vector<std::string>& flags, const std::vector<std::string>& env,
                          const std::string& reason) {
    auto with = [&](std::vector<std::string> cmd) {
      std::vector<std::string> args = flags;
      args.insert(args.end(), cmd.begin(), cmd.end());
      return Client(args, env);
    };
    RunOutput q = with({"quote", kReportHex, ""});
    EXPECT_EQ(q.exit_code, 3) << q.out;
    EXPECT_NE(q.kv["error"].find("reason=" + reason), std::string::npos) << q.out;
    EXPECT_EQ(q.kv.count("quote"), 0u);
    RunOutput k = with({"sealkey", "enclave", kKeyIdHex, "0"});
    EXPECT_EQ(k.exit_code, 3) << k.out;
    EXPECT_NE(k.kv["error"].find("reason=" + reason), std::string::npos) << k.out;
    EXPECT_EQ(k.kv.count("key"), 0u);
  }
  std::string Tmp(const std::string& name) { return h_->dir() + "/" + name; }

  std::unique_ptr<PlatformHarness> h_;
};

TEST_F(TrustChainTest, CleanGenuineBinaryGetsQuoteCoveringItsLibraries) {
  StartDaemon();
  RunOutput q = Client({"quote", kReportHex, ""});
  ASSERT_EQ(q.exit_code, 0) << q.out;
  Quote quote;
  ASSERT_TRUE(quote.ParseFromString(ToString(*HexDecode(q.kv["quote"]))));
  QuoteBody body;
  ASSERT_TRUE(body.ParseFromString(quote.body()));
  EXPECT_EQ(HexEncode(AsBytes(body.measurement())), *testing::Sha256FileHex(kClientA));
  EXPECT_EQ(body.code_digest().size(), 32u);
  EXPECT_NE(body.code_digest(), body.measurement());  // libraries are in it
  RunOutput k = Client({"sealkey", "enclave", kKeyIdHex, "0"});
  ASSERT_EQ(k.exit_code, 0) << k.out;
  EXPECT_EQ(k.kv["key"].size(), 64u);
}

TEST_F(TrustChainTest, PreloadedLibraryIsRefused) {
  StartDaemon();
  ExpectNoQuoteNoKey({}, {std::string("LD_PRELOAD=") + kPreload}, "MEASURE_LOADER_ENV");
}

TEST_F(TrustChainTest, AuditInterfaceIsRefused) {
  StartDaemon();
  ExpectNoQuoteNoKey({}, {std::string("LD_AUDIT=") + kPreload}, "MEASURE_LOADER_ENV");
}

TEST_F(TrustChainTest, LibraryPathToASwappedLibraryIsRefused) {
  StartDaemon();
  // A modified copy of a library the client needs, found first by the loader.
  const std::string dir = Tmp("swapped");
  ASSERT_TRUE(MakeDirs(dir, 0755).ok());
  auto libz = ReadFile("/lib/x86_64-linux-gnu/libz.so.1", 64u << 20);
  if (!libz.ok()) { CLOISTER_SKIP_UNLESS_CI("no libz.so.1 at the Debian path"); }
  ASSERT_TRUE(WriteFileAtomic(dir + "/libz.so.1", *libz + std::string("\x01", 1), 0755).ok());
  ExpectNoQuoteNoKey({}, {"LD_LIBRARY_PATH=" + dir}, "MEASURE_LOADER_ENV");
}

TEST_F(TrustChainTest, LibraryLoadedAfterConnectThatIsNoReferenceValueIsRefused) {
  StartDaemon();
  // No loader variable at all: the per-request inspection of the mappings
  // finds code whose hash the signed manifest does not list.
  ExpectNoQuoteNoKey({"--dlopen-after-connect", kPreload}, {}, "MEASURE_LIBRARY_NOT_REFERENCED");
}

TEST_F(TrustChainTest, AnonymousExecutableMemoryIsRefused) {
  StartDaemon();
  ExpectNoQuoteNoKey({"--anon-exec"}, {}, "MEASURE_ANON_EXEC");
}

// Runs the client with `pause_flag FILE`, attaches a ptrace tracer when it
// signals, lets it go on and returns what it printed.
RunOutput RunTraced(PlatformHarness& h, const std::string& pause_flag, const std::string& file,
                    const std::vector<std::string>& cmd) {
  RunOutput out;
  std::vector<std::string> args = {pause_flag, file};
  args.insert(args.end(), cmd.begin(), cmd.end());
  std::thread runner([&] {
    auto r = h.RunClient(kClientA, args);
    if (r.ok()) out = *r;
  });
  std::string pid_text;
  for (int i = 0; i < 2000 && pid_text.empty(); ++i) {
    auto t = ReadFile(file);
    if (t.ok()) pid_text = *t;
    else std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(pid_text.empty());
  {
    auto tracer = testing::sys::Tracer::Attach(static_cast<pid_t>(std::stol(pid_text)));
    EXPECT_TRUE(tracer.ok()) << tracer.error().ToString();
    EXPECT_TRUE(WriteFileAtomic(file + ".go", std::string_view("go"), 0644).ok());
    runner.join();
  }
  return out;
}

TEST_F(TrustChainTest, TracerAttachedBeforeConnectIsRefused) {
  StartDaemon();
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"quote", kReportHex, ""}, {"sealkey", "enclave", kKeyIdHex, "0"}}) {
    RunOutput r = RunTraced(*h_, "--pause-before-connect", Tmp("pid-before-" + cmd[0]), cmd);
    EXPECT_EQ(r.exit_code, 3) << r.out;
    EXPECT_EQ(r.kv["error"], "PERMISSION_DENIED reason=MEASURE_TRACED") << r.out;
  }
}

TEST_F(TrustChainTest, TracerAttachedAfterConnectIsRefused) {
  StartDaemon();
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"quote", kReportHex, ""}, {"sealkey", "enclave", kKeyIdHex, "0"}}) {
    RunOutput r = RunTraced(*h_, "--pause-after-connect", Tmp("pid-after-" + cmd[0]), cmd);
    EXPECT_EQ(r.exit_code, 3) << r.out;
    EXPECT_EQ(r.kv["error"], "PERMISSION_DENIED reason=MEASURE_TRACED") << r.out;
  }
}

TEST_F(TrustChainTest, SessionHandedToAnotherProgramByExecGetsNothing) {
  StartDaemon();
  // a connects (measured as a), then execs b, which asks on the inherited connection.
  RunOutput r = Client({"--exec-after-connect", kClientB, "identity"});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_EQ(r.kv["error"], "PERMISSION_DENIED reason=MEASURE_EXE_CHANGED") << r.out;
  EXPECT_EQ(r.kv.count("quote"), 0u);
}

TEST_F(TrustChainTest, SessionUsedByAForkedChildGetsNothingEvenIfItIsGenuine) {
  StartDaemon();
  for (const char* child : {kClientB, kClientA}) {
    RunOutput r = Client({"--fork-exec-after-connect", child, "identity"});
    EXPECT_EQ(r.exit_code, 3) << r.out;
    EXPECT_EQ(r.kv["error"], "PERMISSION_DENIED reason=PLATFORM_SENDER_NOT_PEER") << r.out;
    EXPECT_EQ(r.kv.count("quote"), 0u);
  }
  EXPECT_TRUE(h_->Running());
}

TEST_F(TrustChainTest, OnlyAllowedAccountsReachTheSocket) {
  StartDaemon();  // default: only the daemon's own uid (root)
  struct stat st {};
  ASSERT_EQ(::stat(h_->socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  // Another uid cannot even connect (socket mode), let alone measure.
  RunOutput other = Client({"identity"}, {}, kClientA);
  ASSERT_EQ(other.exit_code, 0);  // root: allowed
  auto nobody = h_->RunClient(kClientA, {"identity"}, /*as_nobody=*/true);
  ASSERT_TRUE(nobody.ok());
  EXPECT_EQ(nobody->exit_code, 3) << nobody->out;
  EXPECT_EQ(nobody->kv["error"], "UNAVAILABLE reason=PLATFORM_UNAVAILABLE") << nobody->out;
}

TEST_F(TrustChainTest, AllowlistIsCheckedOnPeerCredentialsAndAllowedAccountIsMeasuredByCode) {
  StartDaemon({"--allow-uid", "65534", "--socket-group", "65534"});
  auto copy = h_->CopyBinary(kClientA, "client-a");
  ASSERT_TRUE(copy.ok());
  // In the socket's group but not an allowed uid: refused by the daemon, by name.
  auto stranger = h_->RunClientAs(65533, 65534, *copy, {"identity"});
  ASSERT_TRUE(stranger.ok());
  EXPECT_EQ(stranger->exit_code, 3) << stranger->out;
  EXPECT_EQ(stranger->kv["error"], "PERMISSION_DENIED reason=PLATFORM_PEER_NOT_ALLOWED");
  // Neither in the group nor allowed: the file system refuses.
  auto outsider = h_->RunClientAs(65533, 65533, *copy, {"identity"});
  ASSERT_TRUE(outsider.ok());
  EXPECT_EQ(outsider->kv["error"], "UNAVAILABLE reason=PLATFORM_UNAVAILABLE");
  // The allowed service account running the genuine binary, hardened before
  // it first talks to the platform: the same identity and key as root's.
  auto svc = h_->RunClient(*copy, {"--harden-before-connect", "sealkey", "enclave", kKeyIdHex, "0"},
                           /*as_nobody=*/true);
  ASSERT_TRUE(svc.ok());
  ASSERT_EQ(svc->exit_code, 0) << svc->out;
  RunOutput root = Client({"sealkey", "enclave", kKeyIdHex, "0"});
  EXPECT_EQ(svc->kv["key"], root.kv["key"]);
}

// A QuoteProvider over a platform session of this test process.
class SessionProvider : public QuoteProvider {
 public:
  explicit SessionProvider(PlatformClient& c) : c_(c) {}
  Result<Quote> GetQuote(ByteView rd, ByteView nonce) override { return c_.GetQuote(rd, nonce); }
  Result<LaunchLog> ReadLaunchLog() override { return c_.ReadLog(); }

 private:
  PlatformClient& c_;
};

TEST_F(TrustChainTest, LaunchLogFloodIsBoundedPerSessionAndTheNodeKeepsAttesting) {
  StartDaemon();
  const std::string digest = HexEncode(AsBytes(std::string(32, 'f')));
  // One session tries to record 1000 unlisted events of maximal size.
  RunOutput flood = Client({"extend", "flood", digest, std::string(256, 'x'), "1000"});
  EXPECT_EQ(flood.exit_code, 3) << flood.out;
  EXPECT_EQ(flood.kv["extended"], std::to_string(kMaxSessionLaunchEvents));
  EXPECT_EQ(flood.kv["error"], "RESOURCE_EXHAUSTED reason=LAUNCH_LOG_FULL");
  RunOutput huge = Client({"extend", "flood", digest, std::string(300, 'x')});
  EXPECT_EQ(huge.kv["error"], "INVALID_ARGUMENT reason=LAUNCH_EVENT_TOO_LARGE");

  // Another enclave (this test binary, in the manifest) still gets a
  // certificate that a level-3 verifier accepts: its log holds only the
  // node's events and its own.
  auto session = PlatformClient::Connect(h_->socket_path());
  ASSERT_TRUE(session.ok()) << session.error().ToString();
  auto self = session->cached_identity();
  crypto::Digest self_digest{};
  std::copy_n(self.measurement().begin(), 32, self_digest.begin());
  ASSERT_TRUE(session->Extend("enclave.start", self_digest, "start").ok());
  SessionProvider provider(*session);
  auto key = crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  ASSERT_TRUE(key.ok());
  auto cert = IssueRaTlsCertificate(provider, *key, "platform-daemon-test", 600, {}, {});
  ASSERT_TRUE(cert.ok()) << cert.error().ToString();
  EXPECT_LT(cert->Der().size(), 16u * 1024);
  auto log = ExtractLaunchLog(*cert);
  ASSERT_TRUE(log.ok() && log->has_value());
  EXPECT_EQ((*log)->events_size(), 2);  // platform.start + our enclave.start
  auto trust = TrustConfig::Load(h_->trust_path());
  ASSERT_TRUE(trust.ok()) << trust.error().ToString();
  VerifyPolicy policy = VerifyPolicy::FromTrust(*trust, {"platform-daemon-test"});
  auto peer = VerifyRaTlsCertificate(*cert, policy, static_cast<int64_t>(::time(nullptr)) * 1000);
  EXPECT_TRUE(peer.ok()) << peer.error().ToString();
  // After its first quote a session may no longer extend.
  EXPECT_EQ(session->Extend("late", self_digest, "").error().reason(), "LAUNCH_LOG_SEALED");
}

TEST_F(TrustChainTest, NonRootDaemonNeedsCapSysPtraceToMeasureHardenedEnclaves) {
  // Without the capability, from level 2, it refuses to start.
  Status refused = h_->Start({.as_nobody = true, .extra_args = {}});
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(FileExists(h_->socket_path()));
  // With it (ambient, as systemd or `setcap cap_sys_ptrace+ep` would give),
  // it measures a client that hardened BEFORE its first platform contact.
  Status s = h_->Start({.as_nobody = true, .extra_args = {}, .ptrace_cap = true});
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto copy = h_->CopyBinary(kClientA, "client-a");
  ASSERT_TRUE(copy.ok());
  auto r = h_->RunClient(*copy, {"--harden-before-connect", "quote", kReportHex, ""}, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << r->out;
  EXPECT_EQ(r->kv.count("quote"), 1u);
}

}  // namespace
}  // namespace cloister::attestation
