// Tests for the POSIX layer: Process (spawn, redirect, exit status, kill),
// UniqueFd helpers and WriteFileAtomic.
#include "common/sys/process.h"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/fs.h"
#include "common/sys/atomic_file.h"
#include "common/sys/unique_fd.h"

namespace cloister::sys {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string TempPath(const std::string& name) {
  return "/tmp/cloister-sys-test-" + std::to_string(::getpid()) + "-" + name;
}

TEST(ProcessTest, ExitCodeAndStdoutRedirect) {
  const std::string out = TempPath("out");
  auto p = Process::Spawn({"/bin/sh", "-c", "echo hi; exit 3"},
                          {.stdout_to = Redirect::Truncate(out)});
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  auto st = p->Wait(seconds(10));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, ExitStatus::Exited(3));
  EXPECT_EQ(st->ShellCode(), 3);
  EXPECT_EQ(*ReadFile(out), "hi\n");
  ::unlink(out.c_str());
}

TEST(ProcessTest, EnvAndCwd) {
  const std::string out = TempPath("env");
  auto p = Process::Spawn({"/bin/sh", "-c", "echo \"$CLOISTER_X\"; pwd"},
                          {.env = {{"CLOISTER_X", "y"}},
                           .cwd = "/",
                           .stdout_to = Redirect::Truncate(out)});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->Wait(seconds(10))->success());
  EXPECT_EQ(*ReadFile(out), "y\n/\n");
  ::unlink(out.c_str());
}

TEST(ProcessTest, WaitTimesOutThenStopReportsSignal) {
  auto p = Process::Spawn({"/bin/sleep", "30"});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Running());
  EXPECT_EQ(p->Wait(milliseconds(20)).code(), Code::kDeadlineExceeded);
  auto st = p->Stop(SIGTERM, seconds(10));
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->killed_by(SIGTERM));
  EXPECT_EQ(st->ShellCode(), 128 + SIGTERM);
  EXPECT_EQ(st->ToString(), "signal SIGTERM");
  EXPECT_FALSE(p->Running());
}

TEST(ProcessTest, MissingBinaryExits127) {
  auto p = Process::Spawn({"/nonexistent/cloister-none"}, {.stderr_to = Redirect::DevNull()});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p->Wait(seconds(10)), ExitStatus::Exited(kExitExecFailed));
}

TEST(ProcessTest, ForkRunsFunction) {
  auto pipe = MakePipe();
  ASSERT_TRUE(pipe.ok());
  const int wfd = pipe->write.get();
  auto p = Process::Fork([wfd] {
    (void)!::write(wfd, "ok", 2);
    ::_exit(4);
  });
  ASSERT_TRUE(p.ok());
  pipe->write.Reset();
  EXPECT_EQ(*ReadToEnd(pipe->read.get(), 16), "ok");
  EXPECT_EQ(*p->WaitForever(), ExitStatus::Exited(4));
}

TEST(ProcessTest, DestructorKillsChild) {
  pid_t pid = -1;
  {
    auto p = Process::Spawn({"/bin/sleep", "30"});
    ASSERT_TRUE(p.ok());
    pid = p->pid();
  }
  EXPECT_FALSE(ProcessAlive(pid));
}

// The loader list runs with an empty environment (attestation/sys/
// loader_list.cc): nothing of ours, such as LD_PRELOAD, may reach it.
TEST(ProcessTest, CapturesStdoutWithAClearedEnvironment) {
  ASSERT_EQ(::setenv("CLOISTER_SYS_TEST_LEAK", "1", 1), 0);
  SpawnOptions o;
  o.clear_env = true;
  o.env = {{"ONLY", "this"}};
  auto run = RunCapturingStdout({"/usr/bin/env"}, o, 1 << 20);
  ::unsetenv("CLOISTER_SYS_TEST_LEAK");
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_TRUE(run->status.success());
  EXPECT_EQ(run->out, "ONLY=this\n");
}

TEST(ProcessTest, CapturedStdoutIsBoundedAndTheChildKilled) {
  auto run = RunCapturingStdout({"/bin/sh", "-c", "while :; do echo xxxxxxxxxxxxxxxx; done"}, {},
                                4096);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code(), Code::kResourceExhausted);
}

TEST(AtomicFileTest, ReplacesContentWithMode) {
  const std::string path = TempPath("atomic");
  ASSERT_TRUE(WriteFileAtomic(path, std::string_view("one"), 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(path, std::string_view("two"), 0600).ok());
  EXPECT_EQ(*ReadFile(path), "two");
  EXPECT_TRUE(CheckPrivateFile(path).ok());
  ::unlink(path.c_str());
}

TEST(AtomicFileTest, MissingDirectoryFails) {
  EXPECT_EQ(WriteFileAtomic("/nonexistent-dir/x", std::string_view("a")).code(), Code::kNotFound);
}

}  // namespace
}  // namespace cloister::sys
