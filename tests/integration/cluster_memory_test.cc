// Issue 11, must-be-true 4: anonymous memory exhaustion, against a real
// cluster. Floods of concurrent oversized requests without a credential
// (60 MiB each, over several connections) are refused early, and the
// gateway's peak RSS (VmHWM in /proc/<pid>/status, reset before each flood)
// grows by less than the bound each test states; then a normal login and a
// signed-in large Call still work. The bounds and why they hold are in
// docs/operations.md, "Resource bounds".
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <condition_variable>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <sstream>

#include "attestation/ratls_credentials.h"
#include "proto/auth.grpc.pb.h"
#include "proto/cloister.pb.h"
#include "tests/integration/cluster_fixture.h"

namespace cloister::testing {
namespace {

constexpr int kFloodRequests = 16;
constexpr int kFloodConnections = 4;
constexpr size_t kBodyBytes = size_t{60} << 20;
// Measured on a 2-core box (docs/operations.md): before issue 11 a flood of
// 12 such Logins raised the peak by 696 MiB (every body buffered at once);
// now 16 raise it by 129-141 MiB (the two anonymous read slots, 60 MiB
// each), and 16 Calls, which anonymous callers may not make, by 0-1 MiB.
constexpr int64_t kLoginFloodBoundMiB = 176;  // 2 read slots x 64 MiB + 48 MiB of the rest
constexpr int64_t kUnreadFloodBoundMiB = 32;  // unread: 64 KiB windows, TLS buffers

const std::string kLogin = "/cloister.api.Auth/Login";
const std::string kCall = "/cloister.api.Exec/Call";
const std::string kWhoAmI = "/cloister.api.Auth/WhoAmI";

struct Memory {
  int64_t hwm_kib = -1, rss_kib = -1;
};

Memory ReadMemory(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  Memory m;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    int64_t kib = 0;
    fields >> key >> kib;
    if (key == "VmHWM:") m.hwm_kib = kib;
    if (key == "VmRSS:") m.rss_kib = kib;
  }
  return m;
}

// Resets the peak to the current RSS ("5" > clear_refs, Linux ≥ 4.0), so
// the next VmHWM is the peak of what follows. False without the right
// (another user's or a non-dumpable process, unless root).
bool ResetPeak(int pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  out.flush();
  return out.good();
}

class ClusterMemoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<ClusterFixture>();
    Status st = cluster_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  // A channel of its own connection (no shared subchannel), so a flood
  // spreads over several connections like several clients'.
  static std::shared_ptr<grpc::Channel> NewConnection() {
    auto trust = attestation::TrustConfig::Load(cluster_->trust_path());
    EXPECT_TRUE(trust.ok());
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    args.SetMaxReceiveMessageSize(-1);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(
        cluster_->gateway(),
        attestation::AttestingChannelCredentials(
            std::make_shared<attestation::TrustConfig>(*std::move(trust)), {"gateway"}),
        args);
  }

  // Sends `body` to `method` `n` times at once over `connections`
  // connections; the statuses, in order.
  static std::vector<grpc::Status> Concurrently(int n, int connections, const std::string& method,
                                                const std::string& body,
                                                const std::string& authorization = "") {
    std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
    for (int i = 0; i < connections; ++i)
      stubs.push_back(std::make_unique<grpc::GenericStub>(NewConnection()));
    grpc::Slice slice(body);
    std::vector<grpc::Status> results(n);
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<grpc::ByteBuffer> requests(n), responses(n);
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    for (int i = 0; i < n; ++i) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      contexts.back()->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      if (!authorization.empty()) contexts.back()->AddMetadata("authorization", authorization);
      requests[i] = grpc::ByteBuffer(&slice, 1);
      stubs[i % connections]->UnaryCall(contexts.back().get(), method, grpc::StubOptions(),
                                        &requests[i], &responses[i], [&, i](grpc::Status s) {
                                          std::lock_guard<std::mutex> lock(mu);
                                          results[i] = std::move(s);
                                          ++done;
                                          cv.notify_one();
                                        });
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done == n; });
    return results;
  }

  static grpc::Status One(const std::string& method, const std::string& body,
                          const std::string& authorization = "",
                          grpc::ByteBuffer* response = nullptr) {
    grpc::GenericStub stub(NewConnection());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    grpc::Slice slice(body);
    grpc::ByteBuffer request(&slice, 1), ignored;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request,
                   response != nullptr ? response : &ignored,
                   [&done](grpc::Status s) { done.set_value(std::move(s)); });
    return done.get_future().get();
  }

  static std::string AdminToken() {
    api::LoginRequest login;
    login.set_username("admin");
    login.set_password(cluster_->admin_password());
    grpc::ByteBuffer out;
    grpc::Status st = One(kLogin, login.SerializeAsString(), "", &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (out.Dump(&slices).ok())
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    api::LoginResponse resp;
    EXPECT_TRUE(resp.ParseFromString(bytes));
    return resp.token();
  }

  // Runs `flood`, returns how far the gateway's peak RSS rose (MiB).
  static int64_t PeakGrowthMiB(const std::function<void()>& flood) {
    const int pid = cluster_->ServicePid("gateway");
    EXPECT_GT(pid, 0);
    if (!ResetPeak(pid))
      std::cerr << "cannot reset the gateway's VmHWM; growth is measured over its earlier peak\n";
    const Memory before = ReadMemory(pid);
    EXPECT_GT(before.hwm_kib, 0);
    flood();
    const Memory after = ReadMemory(pid);
    const int64_t growth = (after.hwm_kib - before.hwm_kib) >> 10;
    std::cout << "gateway VmHWM " << (before.hwm_kib >> 10) << " -> " << (after.hwm_kib >> 10)
              << " MiB (+" << growth << "), VmRSS now " << (after.rss_kib >> 10) << " MiB"
              << std::endl;
    return growth;
  }

  static std::unique_ptr<ClusterFixture> cluster_;
};
std::unique_ptr<ClusterFixture> ClusterMemoryTest::cluster_;

std::string LoginBody(size_t password_bytes) {
  api::LoginRequest login;
  login.set_username("nobody");
  login.set_password(std::string(password_bytes, 'p'));
  return login.SerializeAsString();
}

// Login is open to anonymous callers, so its requests are read: two at a
// time (the gateway's anonymous read slots), the others waiting unread, and
// each is refused at its 4 KiB cap before it is parsed.
TEST_F(ClusterMemoryTest, OversizedAnonymousLoginFloodIsRefusedAndPeakRssStaysBounded) {
  const std::string body = LoginBody(kBodyBytes);
  std::vector<grpc::Status> results;
  const int64_t growth = PeakGrowthMiB(
      [&] { results = Concurrently(kFloodRequests, kFloodConnections, kLogin, body); });
  std::multiset<std::string> reasons;
  for (const auto& st : results) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
    reasons.insert(st.error_details());
  }
  // Refused at the cap once read, or (when the box is slow) after waiting
  // for a read slot too long: either way never parsed.
  for (const auto& r : reasons) EXPECT_TRUE(r == "REQUEST_TOO_LARGE" || r == "GATEWAY_BUSY") << r;
  EXPECT_GE(reasons.count("REQUEST_TOO_LARGE"), 1u);
  EXPECT_LT(growth, kLoginFloodBoundMiB)
      << kFloodRequests << " anonymous 60 MiB Logins raised the gateway's peak RSS by " << growth
      << " MiB";
}

// Call needs a signed-in user, so an anonymous Call is refused before any
// of its body is read: the flood costs the gateway almost nothing.
TEST_F(ClusterMemoryTest, OversizedAnonymousCallFloodIsRefusedUnread) {
  api::CallRequest call;
  call.set_function("echo");
  (*call.mutable_inputs())["data"] = std::string(kBodyBytes, 'x');
  const std::string body = call.SerializeAsString();
  std::vector<grpc::Status> results;
  const int64_t growth = PeakGrowthMiB(
      [&] { results = Concurrently(kFloodRequests, kFloodConnections, kCall, body); });
  for (const auto& st : results) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
    EXPECT_EQ(st.error_details(), "LOGIN_REQUIRED");
  }
  EXPECT_LT(growth, kUnreadFloodBoundMiB)
      << kFloodRequests << " anonymous 60 MiB Calls raised the gateway's peak RSS by " << growth
      << " MiB";
  // A method that does not exist is refused unread too.
  grpc::Status unknown = One("/cloister.api.Auth/NoSuchMethod", body);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNIMPLEMENTED) << unknown.error_message();
}

// A signed-in caller is held to each method's cap from the method table,
// checked before the body is parsed: 2 MiB of garbage to WhoAmI (cap 1 MiB)
// is REQUEST_TOO_LARGE, not REQUEST_MALFORMED; the same garbage is parsed
// (and refused as malformed) by Call, whose cap is 64 MiB.
TEST_F(ClusterMemoryTest, SignedInOversizedRequestToASmallCapMethodIsRefusedBeforeParsing) {
  const std::string bearer = "Bearer " + AdminToken();
  const std::string garbage(size_t{2} << 20, '\xff');
  grpc::Status whoami = One(kWhoAmI, garbage, bearer);
  EXPECT_EQ(whoami.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << whoami.error_message();
  EXPECT_EQ(whoami.error_details(), "REQUEST_TOO_LARGE") << whoami.error_message();
  grpc::Status small = One(kWhoAmI, garbage.substr(0, 100), bearer);
  EXPECT_EQ(small.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << small.error_message();
  EXPECT_EQ(small.error_details(), "REQUEST_MALFORMED");
  grpc::Status call = One(kCall, garbage, bearer);
  EXPECT_EQ(call.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << call.error_message();
  EXPECT_EQ(call.error_details(), "REQUEST_MALFORMED");
  // Without a credential the cap is 8 KiB whatever the method's is.
  grpc::Status anon = One(kLogin, LoginBody(5000));
  EXPECT_EQ(anon.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << anon.error_message();
  EXPECT_EQ(anon.error_details(), "REQUEST_TOO_LARGE");
}

// After the floods the gateway still serves: a normal login, and a signed-in
// 48 MiB Call (its cap is 64 MiB) comes back whole.
TEST_F(ClusterMemoryTest, AfterTheFloodsLoginAndALargeSignedInCallWork) {
  const std::string token = AdminToken();
  ASSERT_FALSE(token.empty());
  api::CallRequest call;
  call.set_function("echo");
  (*call.mutable_inputs())["data"] = std::string(size_t{48} << 20, 'y');
  grpc::ByteBuffer out;
  grpc::Status st = One(kCall, call.SerializeAsString(), "Bearer " + token, &out);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_GT(out.Length(), size_t{48} << 20);
  for (const char* svc : {"gateway", "auth", "exec"}) {
    const int pid = cluster_->ServicePid(svc);
    ASSERT_GT(pid, 0) << svc;
    EXPECT_EQ(kill(pid, 0), 0) << svc << " died";
  }
}

}  // namespace
}  // namespace cloister::testing
