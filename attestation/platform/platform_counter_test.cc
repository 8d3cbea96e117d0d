// Monotonic counters without the daemon: CounterTable (values, names,
// limits, the file format and its refusals, durability), PlatformService's
// owner rule (signer + product, manifest binaries only) and InProcessCounters.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <thread>

#include "attestation/platform/counters.h"
#include "attestation/platform/platform_service.h"
#include "common/fs.h"

namespace cloister::attestation {
namespace {

crypto::Digest M(std::string_view name) { return crypto::Sha256(name); }

CounterOwner Owner(uint32_t product, std::string_view signer = "signer") {
  return CounterOwner{M(signer), product};
}

std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "cloister-ctr-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

class CounterTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    ASSERT_FALSE(dir_.empty());
    path_ = dir_ + "/counters";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<CounterTable> OpenTable() {
    auto t = CounterTable::Open(path_);
    EXPECT_TRUE(t.ok()) << t.error().ToString();
    return t.ok() ? *std::move(t) : CounterTable::InMemory();
  }
  std::string dir_, path_;
};

TEST_F(CounterTableTest, UnknownCounterReadsZeroAndWritesNothing) {
  auto t = OpenTable();
  EXPECT_EQ(*t->Read(Owner(7), "db.epoch"), 0u);
  EXPECT_EQ(*t->Advance(Owner(7), "db.epoch", 0), 0u);  // max(0, 0): no change
  EXPECT_EQ(t->writes(), 0u);
  EXPECT_FALSE(FileExists(path_));
}

TEST_F(CounterTableTest, AdvanceMovesUpNeverDownAndWritesOnlyOnChange) {
  auto t = OpenTable();
  EXPECT_EQ(*t->Advance(Owner(7), "db", 5), 5u);
  EXPECT_EQ(t->writes(), 1u);
  EXPECT_EQ(*t->Advance(Owner(7), "db", 3), 5u);  // never down
  EXPECT_EQ(*t->Advance(Owner(7), "db", 5), 5u);  // same value
  EXPECT_EQ(t->writes(), 1u);                     // neither wrote
  EXPECT_EQ(*t->Read(Owner(7), "db"), 5u);
  EXPECT_EQ(*t->Advance(Owner(7), "db", UINT64_MAX), UINT64_MAX);
  EXPECT_EQ(t->writes(), 2u);
  EXPECT_EQ(*t->Advance(Owner(7), "db", 0), UINT64_MAX);
}

TEST_F(CounterTableTest, ValuesSurviveReopenInAPrivateFile) {
  {
    auto t = OpenTable();
    ASSERT_TRUE(t->Advance(Owner(7), "db", 42).ok());
    ASSERT_TRUE(t->Advance(Owner(8), "db", 9).ok());
  }
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto t = OpenTable();
  EXPECT_EQ(*t->Read(Owner(7), "db"), 42u);
  EXPECT_EQ(*t->Read(Owner(8), "db"), 9u);
  EXPECT_EQ(*t->Advance(Owner(7), "db", 41), 42u);  // still never down after reload
}

TEST_F(CounterTableTest, OwnersWithTheSameNameAreSeparate) {
  auto t = OpenTable();
  ASSERT_TRUE(t->Advance(Owner(7), "db", 10).ok());
  EXPECT_EQ(*t->Read(Owner(8), "db"), 0u);               // other product
  EXPECT_EQ(*t->Read(Owner(7, "other-signer"), "db"), 0u);  // other signer
  ASSERT_TRUE(t->Advance(Owner(8), "db", 3).ok());
  EXPECT_EQ(*t->Read(Owner(7), "db"), 10u);
  EXPECT_EQ(*t->Read(Owner(8), "db"), 3u);
}

TEST_F(CounterTableTest, BadNamesAreRefused) {
  auto t = OpenTable();
  const std::string bad[] = {"", std::string(65, 'a'), "a b", "a/b", "a\nb", "caf\xc3\xa9",
                             std::string("x\0y", 3)};
  for (const auto& name : bad) {
    auto r = t->Advance(Owner(7), name, 1);
    EXPECT_EQ(r.code(), Code::kInvalidArgument) << name;
    EXPECT_EQ(r.error().reason(), kPlatformBadRequest) << name;
    EXPECT_EQ(t->Read(Owner(7), name).error().reason(), kPlatformBadRequest) << name;
  }
  EXPECT_EQ(t->writes(), 0u);
  EXPECT_EQ(*t->Advance(Owner(7), std::string(64, 'z'), 1), 1u);
  EXPECT_EQ(*t->Advance(Owner(7), "db.epoch:v1_A-9", 2), 2u);
  EXPECT_EQ(*t->Advance(Owner(7), "end", 3), 3u);  // not confused with the trailer line
  auto again = OpenTable();  // every valid name round-trips through the file
  EXPECT_EQ(*again->Read(Owner(7), "end"), 3u);
  EXPECT_EQ(*again->Read(Owner(7), "db.epoch:v1_A-9"), 2u);
}

TEST_F(CounterTableTest, OwnerLimitIs64Counters) {
  auto t = OpenTable();
  for (size_t i = 0; i < kMaxCountersPerOwner; ++i)
    ASSERT_TRUE(t->Advance(Owner(7), "c" + std::to_string(i), 1).ok()) << i;
  auto full = t->Advance(Owner(7), "one-more", 1);
  EXPECT_EQ(full.code(), Code::kResourceExhausted);
  EXPECT_EQ(full.error().reason(), kPlatformCountersFull);
  EXPECT_EQ(*t->Read(Owner(7), "one-more"), 0u);
  EXPECT_EQ(*t->Advance(Owner(7), "c0", 2), 2u);        // existing ones still move
  EXPECT_EQ(*t->Advance(Owner(8), "one-more", 1), 1u);  // another owner has its own 64
}

TEST(CounterTableMemoryTest, NodeLimitIs4096Counters) {
  auto t = CounterTable::InMemory();
  const size_t owners = kMaxCountersTotal / kMaxCountersPerOwner;
  for (uint32_t o = 0; o < owners; ++o)
    for (size_t i = 0; i < kMaxCountersPerOwner; ++i)
      ASSERT_TRUE(t->Advance(Owner(o), "c" + std::to_string(i), 1).ok());
  auto full = t->Advance(Owner(static_cast<uint32_t>(owners)), "c0", 1);
  EXPECT_EQ(full.code(), Code::kResourceExhausted);
  EXPECT_EQ(full.error().reason(), kPlatformCountersFull);
  EXPECT_EQ(t->writes(), 0u);  // in memory: never persisted
}

TEST_F(CounterTableTest, FailedWriteChangesNothing) {
  path_ = dir_ + "/missing-dir/counters";  // the atomic write cannot create its temp file
  auto t = OpenTable();
  auto r = t->Advance(Owner(7), "db", 5);
  EXPECT_EQ(r.code(), Code::kUnavailable);
  EXPECT_EQ(r.error().reason(), kPlatformCountersIo);
  EXPECT_EQ(*t->Read(Owner(7), "db"), 0u);
  // Nor did the failed create take one of the owner's slots.
  for (size_t i = 0; i < kMaxCountersPerOwner; ++i)
    EXPECT_EQ(t->Advance(Owner(7), "c" + std::to_string(i), 1).error().reason(), kPlatformCountersIo);
}

TEST_F(CounterTableTest, ConcurrentAdvancesEndAtTheMaximumOnDisk) {
  auto t = OpenTable();
  std::vector<std::thread> threads;
  for (uint64_t k = 1; k <= 8; ++k)
    threads.emplace_back([&, k] {
      for (uint64_t i = 0; i < 10; ++i) (void)t->Advance(Owner(7), "db", k * 100 + i);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(*t->Read(Owner(7), "db"), 809u);
  EXPECT_EQ(*OpenTable()->Read(Owner(7), "db"), 809u);
}

TEST(CounterFormatTest, SerializeParseRoundTrip) {
  CounterTable::Map m;
  m[Owner(7)]["a"] = 1;
  m[Owner(7)]["b"] = UINT64_MAX;
  m[Owner(0xffffffffu, "x")]["z.9"] = 0;
  const std::string text = CounterTable::Serialize(m);
  EXPECT_TRUE(text.starts_with("cloister-counters v1\n"));
  EXPECT_TRUE(text.ends_with("end 3\n"));
  auto back = CounterTable::Parse(text);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, m);
  EXPECT_TRUE(CounterTable::Parse(CounterTable::Serialize({})).ok());
}

TEST_F(CounterTableTest, MalformedFilesRefuseToLoad) {
  const std::string sig = HexEncode(ByteView(M("signer")));
  const std::string head = "cloister-counters v1\n";
  std::string too_many = head;
  for (size_t i = 0; i <= kMaxCountersPerOwner; ++i) too_many += sig + " 7 c" + std::to_string(i) + " 1\n";
  too_many += "end " + std::to_string(kMaxCountersPerOwner + 1) + "\n";
  std::string upper = sig;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string cases[] = {
      "",                                                          // empty
      "cloister-counters v2\nend 0\n",                             // unknown version
      head,                                                        // no end line (truncated)
      head + sig + " 7 db 5\n",                                    // truncated before end
      head + sig + " 7 db 5\nend 2\n",                             // wrong count
      head + sig + " 7 db 5\nend 1",                               // no final newline
      head + sig + " 7 db 5\nend 1\n" + sig + " 7 x 1\n",          // data after end
      head + "end 0\nend 0\n",                                     // two ends
      head + sig.substr(2) + " 7 db 5\nend 1\n",                   // short signer
      head + upper + " 7 db 5\nend 1\n",                           // not lowercase hex
      head + sig + " 07 db 5\nend 1\n",                            // leading zero
      head + sig + " 4294967296 db 5\nend 1\n",                    // product overflow
      head + sig + " 7 db -5\nend 1\n",                            // sign
      head + sig + " 7 db 18446744073709551616\nend 1\n",          // value overflow
      head + sig + " 7 d/b 5\nend 1\n",                            // bad name
      head + sig + " 7 db  5\nend 1\n",                            // double space
      head + sig + " 7 db 5 6\nend 1\n",                           // extra field
      head + sig + " 7 db 5\n" + sig + " 7 db 6\nend 2\n",         // duplicate
      too_many,                                                    // over the owner limit
      std::string(CounterTable::kMaxCounterFileBytes + 1, 'x'),    // oversized
  };
  for (const auto& text : cases) {
    ASSERT_TRUE(WriteFileAtomic(path_, text, 0600).ok());
    auto t = CounterTable::Open(path_);
    ASSERT_FALSE(t.ok()) << text.substr(0, 200);
    EXPECT_EQ(t.code(), Code::kFailedPrecondition) << text.substr(0, 200);
    EXPECT_EQ(t.error().reason(), kPlatformStateInvalid) << text.substr(0, 200);
  }
  // The same content, well formed, loads.
  ASSERT_TRUE(WriteFileAtomic(path_, head + sig + " 7 db 5\nend 1\n", 0600).ok());
  auto ok = CounterTable::Open(path_);
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(*(*ok)->Read(Owner(7), "db"), 5u);
}

TEST_F(CounterTableTest, GroupReadableFileRefused) {
  ASSERT_TRUE(WriteFileAtomic(path_, "cloister-counters v1\nend 0\n", 0644).ok());
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  auto t = CounterTable::Open(path_);
  EXPECT_EQ(t.code(), Code::kFailedPrecondition);
}

TEST(InProcessCountersTest, SameSemanticsForUnitTests) {
  InProcessCounters c;
  EXPECT_EQ(*c.ReadCounter("db"), 0u);
  EXPECT_EQ(*c.AdvanceCounter("db", 4), 4u);
  EXPECT_EQ(*c.AdvanceCounter("db", 2), 4u);
  EXPECT_EQ(c.ReadCounter("a b").error().reason(), kPlatformBadRequest);
  MonotonicCounters& iface = c;  // what services take
  EXPECT_EQ(*iface.ReadCounter("db"), 4u);

  const std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  {
    auto p = InProcessCounters::Open(dir + "/counters");
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p->AdvanceCounter("db", 9).ok());
  }
  auto p = InProcessCounters::Open(dir + "/counters");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p->ReadCounter("db"), 9u);  // a "restarted" service sees it
  std::filesystem::remove_all(dir);
}

// PlatformService: the owner is the caller's MRSIGNER identity.
class PlatformCounterServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    ASSERT_FALSE(dir_.empty());
    ASSERT_TRUE(InitPlatform(dir_, {}).ok());
    auto auditor = *crypto::PrivateKey::Generate(crypto::KeyType::kEd25519);
    AuditorSet auditors{{auditor.public_key()}, 1};
    ManifestBody body;
    body.set_version(kManifestVersion);
    body.set_created_unix(static_cast<int64_t>(std::time(nullptr)));
    auto add = [&](std::string name, uint32_t product, uint32_t svn) {
      ManifestEntry* e = body.add_entries();
      e->set_name(name);
      auto m = M(name);
      e->set_measurement(m.data(), m.size());
      e->set_product_id(product);
      e->set_svn(svn);
    };
    add("platform", 1, 1);
    add("app-v1", 7, 1);
    add("app-v2", 7, 2);
    add("other-product", 8, 2);
    auto signed_manifest = SignManifest(body, std::span(&auditor, 1));
    ASSERT_TRUE(signed_manifest.ok());
    auto manifest = Manifest::Verify(*signed_manifest, auditors);
    ASSERT_TRUE(manifest.ok());
    auto state = LoadPlatformState(dir_);
    ASSERT_TRUE(state.ok()) << state.error().ToString();
    auto counters = CounterTable::Open(PlatformPaths::For(dir_).counters);
    ASSERT_TRUE(counters.ok());
    service_ = std::make_unique<PlatformService>(*std::move(state), *manifest,
                                                 PlatformService::Options{3, false}, M("platform"),
                                                 *std::move(counters));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  CallerIdentity Who(std::string_view name) {
    return service_->Identify(1234, 1000, ProcessMeasurement{M(name), 0});
  }
  PlatformResponse Counter(std::string_view who, std::string name, bool advance, uint64_t to) {
    PlatformRequest req;
    req.mutable_counter()->set_name(std::move(name));
    req.mutable_counter()->set_advance(advance);
    req.mutable_counter()->set_to(to);
    SessionLaunchLog session;
    return service_->Handle(Who(who), session, req);
  }
  std::string dir_;
  std::unique_ptr<PlatformService> service_;
};

TEST_F(PlatformCounterServiceTest, UpgradeKeepsCountersOtherProductDoesNot) {
  PlatformResponse up = Counter("app-v1", "db", true, 12);
  ASSERT_TRUE(up.has_counter()) << up.DebugString();
  EXPECT_EQ(up.counter().value(), 12u);
  EXPECT_EQ(Counter("app-v2", "db", false, 0).counter().value(), 12u);  // same signer + product
  EXPECT_EQ(Counter("other-product", "db", false, 0).counter().value(), 0u);
  EXPECT_EQ(Counter("other-product", "db", true, 1).counter().value(), 1u);
  EXPECT_EQ(Counter("app-v2", "db", true, 3).counter().value(), 12u);  // never down
  EXPECT_TRUE(FileExists(PlatformPaths::For(dir_).counters));
}

TEST_F(PlatformCounterServiceTest, UnmeasuredCallerIsRefused) {
  for (bool advance : {false, true}) {
    PlatformResponse r = Counter("not-in-manifest", "db", advance, 5);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error().code(), static_cast<int>(Code::kPermissionDenied));
    EXPECT_EQ(r.error().reason(), kPlatformUnknownEnclave);
  }
  EXPECT_FALSE(FileExists(PlatformPaths::For(dir_).counters));
}

TEST_F(PlatformCounterServiceTest, BadNameComesBackAsBadRequest) {
  PlatformResponse r = Counter("app-v1", "no spaces", true, 5);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().code(), static_cast<int>(Code::kInvalidArgument));
  EXPECT_EQ(r.error().reason(), kPlatformBadRequest);
}

TEST_F(PlatformCounterServiceTest, ForcedReinitDropsCounters) {
  ASSERT_TRUE(Counter("app-v1", "db", true, 5).has_counter());
  ASSERT_TRUE(FileExists(PlatformPaths::For(dir_).counters));
  PlatformInitOptions opts;
  opts.force = true;
  ASSERT_TRUE(InitPlatform(dir_, opts).ok());
  EXPECT_FALSE(FileExists(PlatformPaths::For(dir_).counters));
}

}  // namespace
}  // namespace cloister::attestation
