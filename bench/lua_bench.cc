// Lua sandbox costs (docs/perf/lua.md): a sandboxed state + trivial function
// in-process and forked, and a compute-bound script (fannkuch) in the sandbox
// (estimated instructions, the default; and exact counting) against the
// stock `lua5.4` interpreter on the same script file, with the instruction
// estimate next to the exact count.
//
//   lua_bench                       # all, then the fannkuch ratio
//   lua_bench --fannkuch_n=10 --benchmark_filter=Trivial
#include <benchmark/benchmark.h>

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "functions/lua/lua_function.h"
#include "functions/lua/sys/lua_state.h"

namespace cloister::functions::lua {
namespace {

int g_fannkuch_n = 10;

FunctionSpec BenchSpec() {
  FunctionSpec spec;
  spec.name = "bench";
  SlotSpec out;
  out.name = "out";
  spec.outputs = {out};
  return spec;
}

void RunTrivial(benchmark::State& state, bool forked) {
  SandboxOptions opts;
  opts.forked = forked;
  auto fn = LuaFunction::Create(BenchSpec(), "cloister.output('out', 'x')", opts);
  if (!fn.ok()) {
    state.SkipWithError(fn.error().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    auto out = Invoke(**fn, {}, {});
    if (!out.ok()) {
      state.SkipWithError(out.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(out);
  }
}

void BM_TrivialInProcess(benchmark::State& state) { RunTrivial(state, false); }
void BM_TrivialForked(benchmark::State& state) { RunTrivial(state, true); }
BENCHMARK(BM_TrivialInProcess)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TrivialForked)->Unit(benchmark::kMicrosecond);

// fannkuch-redux from the Computer Language Benchmarks Game (plain Lua 5.4,
// no library calls in the hot loop). Prints "checksum\nPfannkuchen(n) = m".
std::string FannkuchSource(int n) {
  return R"(local function fannkuch(n)
  local p, q, s, sign, maxflips, sum = {}, {}, {}, 1, 0, 0
  for i = 1, n do p[i] = i; q[i] = i; s[i] = i end
  repeat
    local q1 = p[1]
    if q1 ~= 1 then
      for i = 2, n do q[i] = p[i] end
      local flips = 1
      repeat
        local qq = q[q1]
        if qq == 1 then
          sum = sum + sign * flips
          if flips > maxflips then maxflips = flips end
          break
        end
        q[q1] = q1
        if q1 >= 4 then
          local i, j = 2, q1 - 1
          repeat q[i], q[j] = q[j], q[i]; i = i + 1; j = j - 1; until i >= j
        end
        q1 = qq; flips = flips + 1
      until false
    end
    if sign == 1 then
      p[2], p[1] = p[1], p[2]; sign = -1
    else
      p[2], p[3] = p[3], p[2]; sign = 1
      for i = 3, n do
        local sx = s[i]
        if sx ~= 1 then s[i] = sx - 1; break end
        if i == n then return sum, maxflips end
        s[i] = i
        local t = p[1]; for j = 1, i do p[j] = p[j + 1] end; p[i + 1] = t
      end
    end
  until false
end
local sum, flips = fannkuch()" + std::to_string(n) + R"()
print(sum .. "\nPfannkuchen()" + std::to_string(n) + R"() = " .. flips)
)";
}

double NowSec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double TimeSandbox(const std::string& src, bool forked, bool exact, std::string* log,
                   uint64_t* instructions) {
  SandboxOptions opts;
  opts.forked = forked;
  opts.exact_instruction_count = exact;
  opts.limits.instructions = 100'000'000'000ull;
  opts.limits.wall_time_ms = 600'000;
  auto fn = LuaFunction::Create(BenchSpec(), src, opts);
  if (!fn.ok()) return -1;
  auto rt = Runtime::Create(BenchSpec(), {}, {});
  if (!rt.ok()) return -1;
  RunReport report;
  const double t0 = NowSec();
  Status st = (*fn)->RunWithReport(**rt, &report);
  const double t = NowSec() - t0;
  *log = report.log;
  *instructions = report.usage.instructions;
  if (!st.ok()) {
    std::fprintf(stderr, "sandbox run failed: %s\n", st.ToString().c_str());
    return -1;
  }
  return t;
}

// The stock interpreter as a subprocess (stdout to /dev/null); includes its
// process start (~1 ms), negligible against a multi-second run.
double TimeStock(const std::string& path) {
  const double t0 = NowSec();
  pid_t pid = fork();
  if (pid == 0) {
    if (std::freopen("/dev/null", "w", stdout) == nullptr) _exit(127);
    execlp("lua5.4", "lua5.4", path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double t = NowSec() - t0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return t;
}

void CompareWithStock(int n) {
  const std::string src = FannkuchSource(n);
  char path[] = "/tmp/cloister_fannkuch_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return;
  if (write(fd, src.data(), src.size()) != static_cast<ssize_t>(src.size())) return;
  close(fd);
  double best_stock = 1e99, best_in = 1e99, best_fork = 1e99, best_exact = 1e99;
  uint64_t est_in = 0, est_fork = 0, exact_count = 0;
  std::string log;
  for (int rep = 0; rep < 3; ++rep) {  // best of 3, interleaved
    const double s = TimeStock(path);
    const double a = TimeSandbox(src, false, false, &log, &est_in);
    const double b = TimeSandbox(src, true, false, &log, &est_fork);
    const double e = TimeSandbox(src, false, true, &log, &exact_count);
    if (s < 0 || a < 0 || b < 0 || e < 0) {
      std::fprintf(stderr, "fannkuch comparison failed (is lua5.4 installed?)\n");
      unlink(path);
      return;
    }
    best_stock = std::min(best_stock, s);
    best_in = std::min(best_in, a);
    best_fork = std::min(best_fork, b);
    best_exact = std::min(best_exact, e);
  }
  unlink(path);
  const sys::VmCalibration& cal = sys::Calibration();
  std::printf("\nfannkuch(%d), best of 3:\n  result: %s", n, log.c_str());
  std::printf("  calibration: %.3f ns/instruction (%.0f M/s), %.3f ns while sampled\n",
              cal.min_ns_per_instr, 1e3 / cal.min_ns_per_instr, cal.traced_ns_per_instr);
  std::printf("  stock lua5.4                %8.3f s\n", best_stock);
  std::printf("  sandbox in-process          %8.3f s   ratio %.3f   instructions ~%llu\n",
              best_in, best_in / best_stock, static_cast<unsigned long long>(est_in));
  std::printf("  sandbox forked              %8.3f s   ratio %.3f   instructions ~%llu\n",
              best_fork, best_fork / best_stock, static_cast<unsigned long long>(est_fork));
  std::printf("  sandbox in-process, exact   %8.3f s   ratio %.3f   instructions %llu\n",
              best_exact, best_exact / best_stock, static_cast<unsigned long long>(exact_count));
}

}  // namespace
}  // namespace cloister::functions::lua

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--fannkuch_n=", 13) == 0) {
      cloister::functions::lua::g_fannkuch_n = std::atoi(argv[i] + 13);
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      --i;
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (cloister::functions::lua::g_fannkuch_n > 0)
    cloister::functions::lua::CompareWithStock(cloister::functions::lua::g_fannkuch_n);
  return 0;
}
