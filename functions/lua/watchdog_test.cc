// The watchdog that enforces Lua limits without a permanent count hook
// (sys/lua_ticker.cc): tight loops still end on their instruction limit, the
// instruction estimate tracks the exact count, exact mode still counts, the
// tick reaches threads that block its signal, built-in CPU time is not
// charged, and states closing while ticks fire on other threads are safe.
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "functions/lua/test_util.h"

namespace cloister::functions::lua {
namespace {

using testing::RunLua;
using testing::RunResult;
using testing::TestLimits;

SandboxOptions Opts(bool forked, bool exact = false) {
  SandboxOptions o;
  o.limits = TestLimits();
  o.forked = forked;
  o.exact_instruction_count = exact;
  return o;
}

class WatchdogTest : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(Modes, WatchdogTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Forked" : "InProcess";
                         });

// Nothing but the tick can stop these: no hook is set while they run, and
// the wall-time limit is a minute away.
TEST_P(WatchdogTest, TightLoopsEndOnTheInstructionLimit) {
  SandboxOptions o = Opts(GetParam());
  o.limits.instructions = 2'000'000;
  o.limits.wall_time_ms = 60'000;
  for (const char* src : {
           "while true do end",
           "local x = 0 while true do x = x + 1 end",
           "local t = {1} while true do t[1] = t[1] + 1 end",
           "coroutine.wrap(function() while true do end end)()",
           "local co = coroutine.create(function() while true do end end) coroutine.resume(co)",
           "local co = coroutine.create(function() coroutine.yield() end) coroutine.resume(co)\n"
           "coroutine.resume(coroutine.create(function()\n"
           "  local c2 = coroutine.wrap(function() while true do end end) c2() end))",
           "local co = coroutine.create(function()\n"
           "  local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
           "  coroutine.yield() end)\n"
           "coroutine.resume(co) coroutine.close(co)",
           "while true do pcall(function() while true do end end) end",
       }) {
    SCOPED_TRACE(src);
    RunResult r = RunLua(src, o);
    EXPECT_EQ(r.reason(), "INSTRUCTION_LIMIT_EXCEEDED") << r.status.ToString();
    EXPECT_LT(r.report.usage.wall_ms, 5'000);
  }
}

TEST_P(WatchdogTest, WallTimeEndsALoopWithInstructionsToSpare) {
  SandboxOptions o = Opts(GetParam());
  o.limits.instructions = 1'000'000'000'000ull;
  o.limits.wall_time_ms = 150;
  RunResult r = RunLua("local x = 0 while true do x = x + 1 end", o);
  EXPECT_EQ(r.reason(), "TIME_LIMIT_EXCEEDED") << r.status.ToString();
  EXPECT_LT(r.report.usage.wall_ms, 1'500);
}

// The estimate errs high but stays close to the exact count, for VM-bound
// code (fast and slow instructions) and allocation-bound code alike.
TEST(WatchdogEstimateTest, TracksTheExactCount) {
  int n = 0;
  for (const char* src : {
           "local x = 0 for i = 1, 3e6 do x = x + i end",
           "local function f(a) return a + 1 end local x = 0 for i = 1, 1e6 do x = f(x) end",
           "local t = {} for i = 1, 1e6 do t[i] = i end for i = 1, 1e6 do t[i] = t[i] + 1 end",
           "local s = {} for i = 1, 1e5 do s[#s + 1] = tostring(i) .. 'x' end",
       }) {
    SCOPED_TRACE(src);
    SandboxOptions exact = Opts(false, true);
    exact.limits.instructions = 1'000'000'000;
    exact.limits.wall_time_ms = 60'000;
    exact.limits.memory_bytes = 256ull << 20;
    SandboxOptions est = exact;
    est.exact_instruction_count = false;
    RunResult e = RunLua(src, exact);
    RunResult a = RunLua(src, est);
    ASSERT_TRUE(e.status.ok()) << e.status.ToString();
    ASSERT_TRUE(a.status.ok()) << a.status.ToString();
    const double ratio = static_cast<double>(a.report.usage.instructions) /
                         static_cast<double>(e.report.usage.instructions);
    RecordProperty("estimate_over_exact_" + std::to_string(n++), std::to_string(ratio));
    EXPECT_GT(ratio, 0.7) << a.report.usage.instructions << " vs " << e.report.usage.instructions;
    EXPECT_LT(ratio, 4.0) << a.report.usage.instructions << " vs " << e.report.usage.instructions;
  }
}

TEST(WatchdogEstimateTest, ExactModeCountsEveryThousandInstructions) {
  SandboxOptions o = Opts(false, true);
  RunResult r = RunLua("for i = 1, 1e5 do end", o);  // one FORLOOP per iteration
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_GE(r.report.usage.instructions, 99'000u);
  EXPECT_LE(r.report.usage.instructions, 102'000u);
  o.limits.instructions = 50'000;
  RunResult limited = RunLua("while true do end", o);
  EXPECT_EQ(limited.reason(), "INSTRUCTION_LIMIT_EXCEEDED");
  EXPECT_LE(limited.report.usage.instructions, 51'000u);
}

// A host thread that blocks SIGURG (many servers block signals in worker
// threads) still gets its limits enforced, and gets its mask back.
TEST(WatchdogTickTest, ReachesAThreadThatBlocksTheTickSignal) {
  std::thread t([] {
    sigset_t set, now;
    sigemptyset(&set);
    sigaddset(&set, SIGURG);
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, nullptr), 0);
    SandboxOptions o = Opts(false);
    o.limits.instructions = 2'000'000;
    o.limits.wall_time_ms = 60'000;
    RunResult r = RunLua("while true do end", o);
    EXPECT_EQ(r.reason(), "INSTRUCTION_LIMIT_EXCEEDED") << r.status.ToString();
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, nullptr, &now), 0);
    EXPECT_EQ(sigismember(&now, SIGURG), 1);
  });
  t.join();
}

int64_t ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// A trusted built-in that burns 60 ms of CPU.
class SpinFunction : public Function {
 public:
  SpinFunction() {
    spec_.name = "spin";
    spec_.outputs = {{"out", "", false, false, 1, 1}};
  }
  const FunctionSpec& spec() const override { return spec_; }
  Status Run(Runtime& rt) const override {
    const int64_t end = ThreadCpuMs() + 60;
    volatile uint64_t x = 0;
    while (ThreadCpuMs() < end) x = x + 1;
    return rt.Write("out", "spun");
  }

 private:
  FunctionSpec spec_;
};

TEST_P(WatchdogTest, BuiltinCpuTimeIsNotCharged) {
  static const SpinFunction kSpin;
  SandboxOptions o = Opts(GetParam());
  o.limits.instructions = 5'000'000;  // ~10 ms of the fastest VM code
  o.builtins = [](std::string_view name) -> const Function* {
    return name == "spin" ? &kSpin : nullptr;
  };
  RunResult r = RunLua("cloister.output('out', cloister.builtin('spin', {}, {}).out)", o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs["out"], "spun");
  EXPECT_LT(r.report.usage.instructions, 5'000'000u);
}

// States are created and closed on several threads while their ticks fire
// (1 ms), including runs that end by a limit inside coroutines; under ASan a
// tick touching a closed state would be reported.
TEST(WatchdogTickTest, StatesClosedWhileTicksFireOnOtherThreads) {
  // What this asserts is that nothing touches a closed state; the outcome of
  // each run is checked too, but with limits far from anything an overloaded
  // sanitizer run can reach by accident (four threads on two cores under
  // ASan once pushed a run past a 3 s wall limit), and each failure says
  // what happened instead of only counting.
  std::mutex mu;
  std::vector<std::string> failures;
  auto fail = [&](std::string what) {
    std::lock_guard<std::mutex> lock(mu);
    failures.push_back(std::move(what));
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &fail] {
      for (int i = 0; i < 40; ++i) {
        SandboxOptions ok_opts = Opts(false);
        ok_opts.limits.instructions = 50'000'000;
        ok_opts.limits.wall_time_ms = 120'000;
        RunResult ok = RunLua(
            "local co = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)\n"
            "local s = co() + co() + co()\n"
            "local x = 0 for i = 1, 2e4 do x = x + i end\n"
            "cloister.output('out', tostring(s))",
            ok_opts);
        if (!ok.status.ok() || ok.outputs["out"] != "6") {
          fail("ok run: " + ok.status.ToString());
        }
        SandboxOptions limit_opts = Opts(false);
        limit_opts.limits.instructions = 300'000;
        limit_opts.limits.wall_time_ms = 120'000;
        RunResult limit = RunLua(
            (i + t) % 2 == 0 ? "coroutine.wrap(function() while true do end end)()"
                             : "while true do local t = {} end",
            limit_opts);
        if (limit.reason() != "INSTRUCTION_LIMIT_EXCEEDED") {
          fail("limit run: " + limit.status.ToString());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(failures, ::testing::IsEmpty());
}

}  // namespace
}  // namespace cloister::functions::lua
