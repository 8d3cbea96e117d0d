// Forked-mode specifics: a child that makes a forbidden system call or gets
// stuck inside C code is killed and reported, and the parent keeps serving.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "functions/lua/test_util.h"

namespace cloister::functions::lua {
namespace {

using ::testing::HasSubstr;
using testing::RunLua;
using testing::RunResult;
using testing::TestLimits;

SandboxOptions Forked() {
  SandboxOptions o;
  o.limits = TestLimits();
  o.forked = true;
  return o;
}

TEST(ForkedTest, ForbiddenSyscallKillsChildAndParentSurvives) {
  SandboxOptions o = Forked();
  o.unsafe_test_syscall_fn = [] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) close(fd);
  };
  RunResult r = RunLua("cloister.output('out', 'before') ; cloister._test_syscall()", o);
  EXPECT_EQ(r.reason(), "SANDBOX_VIOLATION") << r.status.ToString();
  EXPECT_THAT(r.message(), HasSubstr("forbidden system call socket"));
  EXPECT_TRUE(r.outputs.empty());
  // The parent serves the next call.
  RunResult next = RunLua("cloister.output('out', 'fine')", Forked());
  ASSERT_TRUE(next.status.ok()) << next.status.ToString();
  EXPECT_EQ(next.outputs["out"], "fine");
}

TEST(ForkedTest, OpeningAFileIsAViolation) {
#ifdef CLOISTER_SANITIZE
  GTEST_SKIP() << "the sanitizer runtime needs openat in the child; covered by the normal build";
#endif
  SandboxOptions o = Forked();
  o.unsafe_test_syscall_fn = [] {
    int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) close(fd);
  };
  RunResult r = RunLua("cloister._test_syscall()", o);
  EXPECT_EQ(r.reason(), "SANDBOX_VIOLATION");
  EXPECT_THAT(r.message(), HasSubstr("openat"));
}

TEST(ForkedTest, ExecIsKilledOutright) {
  SandboxOptions o = Forked();
  o.unsafe_test_syscall_fn = [] {
    char* argv[] = {nullptr};
    execve("/bin/true", argv, argv);
  };
  RunResult r = RunLua("cloister._test_syscall()", o);
  EXPECT_EQ(r.reason(), "SANDBOX_VIOLATION") << r.status.ToString();
}

TEST(ForkedTest, WallTimeEnforcedFromOutsideForStuckCCode) {
  SandboxOptions o = Forked();
  o.limits.wall_time_ms = 150;
  o.unsafe_test_syscall_fn = [] {
    volatile int spin = 0;
    for (;;) spin = spin + 1;
  };
  RunResult r = RunLua("cloister._test_syscall()", o);
  EXPECT_EQ(r.reason(), "TIME_LIMIT_EXCEEDED") << r.status.ToString();
  EXPECT_THAT(r.message(), HasSubstr("killed"));
  EXPECT_LT(r.report.usage.wall_ms, 2000);
}

#ifndef CLOISTER_SANITIZE
TEST(ForkedTest, CrashIsReported) {
  SandboxOptions o = Forked();
  o.unsafe_test_syscall_fn = [] {
    volatile int* p = nullptr;
    *p = 1;
  };
  RunResult r = RunLua("cloister._test_syscall()", o);
  EXPECT_EQ(r.reason(), "SANDBOX_CRASHED") << r.status.ToString();
  EXPECT_THAT(r.message(), HasSubstr("SIGSEGV"));
}
#endif

TEST(ForkedTest, UsageComesBack) {
  RunResult r = RunLua("local x = 0 for i = 1, 1e5 do x = x + i end print(x)", Forked());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_GT(r.report.usage.instructions, 100'000u);
  EXPECT_GT(r.report.usage.peak_memory_bytes, 0u);
  EXPECT_EQ(r.report.log, "5000050000\n");
}

}  // namespace
}  // namespace cloister::functions::lua
