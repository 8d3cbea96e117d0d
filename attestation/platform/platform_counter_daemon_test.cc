// Monotonic counters through the real cloister-platform and real client
// processes: values, persistence across a daemon restart, per-product
// ownership, refusal of unmeasured callers, name and owner limits, and a
// corrupt counters file refusing start.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "attestation/platform/counters.h"
#include "attestation/platform/platform_client.h"
#include "attestation/platform/protocol.h"
#include "attestation/platform/testing/platform_fixture.h"
#include "common/fs.h"

namespace cloister::attestation {
namespace {

using testing::PlatformHarness;
using testing::RunOutput;

constexpr const char* kClientA = CLOISTER_TEST_CLIENT_A;
constexpr const char* kClientB = CLOISTER_TEST_CLIENT_B;

class PlatformCounterDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // This test (product 7) and client a (product 7, another binary: an
    // "upgrade") share counters; client b is another product (8).
    auto h = PlatformHarness::Create({{"test-client-a", kClientA, 7, 2},
                                      {"test-client-b", kClientB, 8, 1},
                                      {"platform-counter-test", *SelfExePath(), 7, 2}});
    ASSERT_TRUE(h.ok()) << h.error().ToString();
    h_ = *std::move(h);
    Start();
  }
  void Start() {
    Status s = h_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  PlatformClient Connect() {
    auto c = PlatformClient::Connect(h_->socket_path());
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return *std::move(c);
  }
  RunOutput Client(const std::string& bin, const std::vector<std::string>& args) {
    auto r = h_->RunClient(bin, args);
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    return r.ok() ? *r : RunOutput{};
  }
  std::string CountersPath() const { return h_->state_dir() + "/platform/counters"; }

  std::unique_ptr<PlatformHarness> h_;
};

TEST_F(PlatformCounterDaemonTest, UnknownReadsZeroAndAdvanceNeverGoesDown) {
  PlatformClient c = Connect();
  EXPECT_EQ(*c.ReadCounter("db.epoch"), 0u);
  EXPECT_EQ(*c.AdvanceCounter("db.epoch", 0), 0u);
  EXPECT_FALSE(FileExists(CountersPath()));  // no change, no file
  EXPECT_EQ(*c.AdvanceCounter("db.epoch", 5), 5u);
  EXPECT_EQ(*c.AdvanceCounter("db.epoch", 2), 5u);
  EXPECT_EQ(*c.ReadCounter("db.epoch"), 5u);
  EXPECT_EQ(*c.AdvanceCounter("db.epoch", 6), 6u);
}

TEST_F(PlatformCounterDaemonTest, SurvivesDaemonRestart) {
  {
    PlatformClient c = Connect();
    ASSERT_EQ(*c.AdvanceCounter("db", 42), 42u);
  }
  struct stat st {};
  ASSERT_EQ(::stat(CountersPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(h_->Stop().ok());
  Start();
  PlatformClient c = Connect();
  EXPECT_EQ(*c.ReadCounter("db"), 42u);
  EXPECT_EQ(*c.AdvanceCounter("db", 41), 42u);
}

TEST_F(PlatformCounterDaemonTest, CountersBelongToSignerAndProduct) {
  PlatformClient self = Connect();
  ASSERT_EQ(*self.AdvanceCounter("db", 10), 10u);
  // Another binary of the same product (an upgrade) sees and moves it.
  RunOutput a = Client(kClientA, {"counter", "db"});
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_EQ(a.kv["value"], "10");
  // Another product's counter of the same name is a different counter.
  RunOutput b = Client(kClientB, {"counter", "db"});
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_EQ(b.kv["value"], "0");
  RunOutput b_up = Client(kClientB, {"advance", "db", "3"});
  ASSERT_EQ(b_up.exit_code, 0) << b_up.out;
  EXPECT_EQ(b_up.kv["value"], "3");
  EXPECT_EQ(*self.ReadCounter("db"), 10u);
  RunOutput a_up = Client(kClientA, {"advance", "db", "11"});
  EXPECT_EQ(a_up.kv["value"], "11");
  EXPECT_EQ(*self.ReadCounter("db"), 11u);
  EXPECT_EQ(Client(kClientB, {"counter", "db"}).kv["value"], "3");
}

TEST_F(PlatformCounterDaemonTest, UnmeasuredCallerIsRefused) {
  auto copy = h_->CopyBinary(kClientA, "client-a-modified", std::string_view("\x01", 1));
  ASSERT_TRUE(copy.ok());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"counter", "db"}, std::vector<std::string>{"advance", "db", "1"}}) {
    RunOutput r = Client(*copy, args);
    EXPECT_EQ(r.exit_code, 3) << r.out;
    EXPECT_NE(r.out.find("reason=PLATFORM_UNKNOWN_ENCLAVE"), std::string::npos) << r.out;
  }
  EXPECT_FALSE(FileExists(CountersPath()));
}

TEST_F(PlatformCounterDaemonTest, BadNamesAndOwnerLimitRefused) {
  PlatformClient c = Connect();
  for (const std::string& name : {std::string(), std::string(65, 'n'), std::string("a b"),
                                 std::string("x/y")}) {
    auto r = c.AdvanceCounter(name, 1);
    EXPECT_EQ(r.code(), Code::kInvalidArgument) << name;
    EXPECT_EQ(r.error().reason(), "PLATFORM_BAD_REQUEST") << name;
    EXPECT_EQ(c.ReadCounter(name).error().reason(), "PLATFORM_BAD_REQUEST") << name;
  }
  for (size_t i = 0; i < kMaxCountersPerOwner; ++i)
    ASSERT_TRUE(c.AdvanceCounter("c" + std::to_string(i), 1).ok()) << i;
  auto full = c.AdvanceCounter("one-more", 1);
  EXPECT_EQ(full.code(), Code::kResourceExhausted);
  EXPECT_EQ(full.error().reason(), "PLATFORM_COUNTERS_FULL");
  // Another product still has room; the session is still usable.
  EXPECT_EQ(Client(kClientB, {"advance", "one-more", "1"}).kv["value"], "1");
  EXPECT_EQ(*c.AdvanceCounter("c0", 2), 2u);
}

TEST_F(PlatformCounterDaemonTest, CorruptCountersFileRefusesStart) {
  {
    PlatformClient c = Connect();
    ASSERT_TRUE(c.AdvanceCounter("db", 7).ok());
  }
  ASSERT_TRUE(h_->Stop().ok());
  auto good = ReadFile(CountersPath());
  ASSERT_TRUE(good.ok());
  // A value edited to garbage, and a truncated file (no end line).
  for (const std::string& bad : {std::string(*good).replace(good->rfind(" 7\n"), 3, " 7x\n"),
                                 good->substr(0, good->find("end"))}) {
    ASSERT_TRUE(WriteFileAtomic(CountersPath(), bad, 0600).ok());
    auto r = h_->RunDaemonToExit();
    ASSERT_TRUE(r.ok());
    EXPECT_NE(r->exit_code, 0) << bad;
    EXPECT_FALSE(FileExists(h_->socket_path()));
  }
  // The well-formed file starts again, with its value.
  ASSERT_TRUE(WriteFileAtomic(CountersPath(), *good, 0600).ok());
  Start();
  EXPECT_EQ(*Connect().ReadCounter("db"), 7u);
}

}  // namespace
}  // namespace cloister::attestation
