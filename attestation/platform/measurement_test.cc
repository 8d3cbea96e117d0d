// Caller measurement: /proc stat parsing against hostile comm fields, the
// measurement equals the file hash, the file-identity cache, and the pieces
// of code inspection: /proc maps parsing, the loader-environment list,
// CapEff, `ld.so --list` parsing and the code identity of this process.
#include "attestation/platform/measurement.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "attestation/platform/capabilities.h"
#include "attestation/platform/loader_env.h"
#include "attestation/platform/proc_maps.h"

#include "attestation/manifest.h"
#include "common/fs.h"

namespace cloister::attestation {
namespace {

TEST(MeasurementTest, ParsesStartTimeDespiteHostileComm) {
  // Fields 3..21 then starttime (22) = 123456.
  const std::string tail = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 123456 99 100";
  EXPECT_EQ(*sys::ParseStartTime("42 (bash)" + tail), 123456u);
  EXPECT_EQ(*sys::ParseStartTime("42 (a) S 1 2 3 (x) y)" + tail), 123456u);
  EXPECT_EQ(*sys::ParseStartTime("42 ( ) ) )" + tail), 123456u);
  EXPECT_FALSE(sys::ParseStartTime("42 (bash) S 1 2").ok());
  EXPECT_FALSE(sys::ParseStartTime("no parens at all").ok());
  EXPECT_FALSE(sys::ParseStartTime("42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12a4").ok());
}

TEST(MeasurementTest, OwnStartTimeIsStable) {
  auto a = sys::ProcessStartTime(::getpid());
  auto b = sys::ProcessStartTime(::getpid());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(sys::ProcessStartTime(0x3fffffff).code(), Code::kNotFound);
}

TEST(MeasurementTest, MeasurementIsHashOfExecutableAndCached) {
  Measurer m;
  auto first = m.Measure(::getpid());
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  auto expected = HashFile(*SelfExePath());
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(first->measurement, *expected);
  EXPECT_EQ(first->tracer_pid, 0);
  EXPECT_EQ(m.cache_hits_for_testing(), 0u);
  auto second = m.Measure(::getpid());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->measurement, *expected);
  EXPECT_EQ(m.cache_hits_for_testing(), 1u);
}

TEST(MeasurementTest, GoneProcessIsNotFound) {
  Measurer m;
  EXPECT_EQ(m.Measure(0x3fffffff).code(), Code::kNotFound);
}

}  // namespace
}  // namespace cloister::attestation

namespace cloister::attestation {
namespace {

TEST(ProcMapsTest, ParsesKernelFormatIncludingSpacesInPaths) {
  const std::string text =
      "55d0c0a00000-55d0c0a21000 r-xp 00002000 fd:01 1234567                    /usr/bin/my prog\n"
      "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
      "7f0000001000-7f0000002000 r-xp 00000000 00:00 0                          [vdso]\n"
      "7f0000002000-7f0000003000 rwxs 00000000 00:05 42                         /memfd:x (deleted)";
  auto maps = ParseProcMaps(text);
  ASSERT_TRUE(maps.ok()) << maps.error().ToString();
  ASSERT_EQ(maps->size(), 4u);
  EXPECT_TRUE((*maps)[0].exec);
  EXPECT_FALSE((*maps)[0].write);
  EXPECT_EQ((*maps)[0].dev_major, 0xfdu);
  EXPECT_EQ((*maps)[0].dev_minor, 1u);
  EXPECT_EQ((*maps)[0].inode, 1234567u);
  EXPECT_EQ((*maps)[0].offset, 0x2000u);
  EXPECT_EQ((*maps)[0].path, "/usr/bin/my prog");
  EXPECT_EQ((*maps)[1].path, "");
  EXPECT_EQ((*maps)[2].path, "[vdso]");
  EXPECT_TRUE((*maps)[3].shared && (*maps)[3].write && (*maps)[3].exec);
  EXPECT_EQ((*maps)[3].path, "/memfd:x (deleted)");
}

TEST(ProcMapsTest, RefusesMalformedLines) {
  for (const char* bad : {"zz-10 r-xp 0 fd:01 1 /x", "10-5 r-xp 0 fd:01 1 /x", "10-20 rxp 0 fd:01 1 /x",
                          "10-20 r-xq 0 fd:01 1 /x", "10-20 r-xp 0 fd01 1 /x", "10-20 r-xp 0 fd:01 x /x",
                          "10-20 r-xp 0 fd:01 99999999999999999999999 /x",
                          "10000000000000000-20 r-xp 0 fd:01 1 /x"})
    EXPECT_EQ(ParseProcMaps(bad).error().reason(), kProcMapsMalformed) << bad;
}

TEST(LoaderEnvTest, RefusesInjectionVariablesByNameOnly) {
  using namespace std::string_literals;
  EXPECT_TRUE(CheckLoaderEnvironment("PATH=/bin\0HOME=/root\0TMPDIR=/tmp\0"s).ok());
  for (const char* var : {"LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH", "LD_BIND_NOW", "GCONV_PATH",
                          "GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "OPENSSL_CONF", "LOCPATH"}) {
    std::string env = "PATH=/bin"s + '\0' + var + "=secret-value" + '\0';
    auto s = CheckLoaderEnvironment(env);
    ASSERT_FALSE(s.ok()) << var;
    EXPECT_EQ(s.error().reason(), kMeasureLoaderEnv);
    EXPECT_NE(s.error().message().find(var), std::string::npos);
    EXPECT_EQ(s.error().message().find("secret-value"), std::string::npos);
  }
  // A value that mentions LD_PRELOAD is not the variable.
  EXPECT_TRUE(CheckLoaderEnvironment("NOTE=LD_PRELOAD=x\0"s).ok());
  EXPECT_EQ(CheckLoaderEnvironment(std::string(kMaxEnvironBytes + 1, 'a')).error().reason(),
            kMeasureEnvMalformed);
}

TEST(CapabilitiesTest, ParsesCapEff) {
  const std::string status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000080000\n";
  EXPECT_TRUE(*ParseEffectiveCapability(status, kCapSysPtrace));
  EXPECT_FALSE(*ParseEffectiveCapability(status, 0));
  EXPECT_FALSE(ParseEffectiveCapability("Name: x\n", 0).ok());
}

TEST(LoaderListTest, ParsesLdSoListOutput) {
  const std::string out =
      "\tlinux-vdso.so.1 (0x00007ffc)\n"
      "\tlibprotobuf.so.32 => /lib/x86_64-linux-gnu/libprotobuf.so.32 (0x00007f12)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f13)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f14)\n";
  auto libs = ParseLoaderList(out);
  ASSERT_TRUE(libs.ok());
  EXPECT_EQ(*libs, (std::vector<std::string>{"/lib/x86_64-linux-gnu/libprotobuf.so.32",
                                             "/lib/x86_64-linux-gnu/libc.so.6",
                                             "/lib64/ld-linux-x86-64.so.2"}));
  EXPECT_EQ(ParseLoaderList("\tlibmissing.so => not found\n").error().reason(),
            kManifestLibraryNotFound);
}

TEST(InspectTest, OwnCodeIdentityListsLibrariesAndRefusesUnreferencedOnes) {
  Measurer m;
  auto all = m.Inspect(::getpid(), [](const crypto::Digest&) { return true; });
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  EXPECT_EQ(all->exe, *HashFile(*SelfExePath()));
  ASSERT_FALSE(all->libraries.empty());
  bool has_libc = false;
  for (const auto& l : all->libraries) has_libc |= l.path.find("libc.so") != std::string::npos;
  EXPECT_TRUE(has_libc);
  EXPECT_TRUE(std::is_sorted(all->libraries.begin(), all->libraries.end(),
                             [](const MappedCode& a, const MappedCode& b) { return a.path < b.path; }));
  EXPECT_EQ(all->code_digest, CodeDigest(all->exe, all->libraries));
  // The reference values the build would produce accept it; none refuse it.
  auto refs = FindLibraryReferences(std::vector<std::string>{*SelfExePath()});
  ASSERT_TRUE(refs.ok()) << refs.error().ToString();
  auto referenced = [&](const crypto::Digest& d) {
    for (const auto& r : *refs)
      if (ToBytes(r.digest()) == crypto::DigestBytes(d)) return true;
    return false;
  };
  EXPECT_TRUE(m.Inspect(::getpid(), referenced).ok());
  EXPECT_EQ(m.Inspect(::getpid(), [](const crypto::Digest&) { return false; }).error().reason(),
            kMeasureLibraryNotReferenced);
}

}  // namespace
}  // namespace cloister::attestation
