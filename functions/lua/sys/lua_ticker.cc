// Wraps POSIX timers and signals for the Lua sandbox's watchdog: a 1 ms tick
// delivered to the thread that runs a state, whose handler arms the limit
// hook on that same thread; plus the one-time calibration of the VM rate
// used to estimate instructions from CPU time (docs/perf/lua.md).
//
// Why a signal to the running thread and not a watchdog thread calling
// lua_sethook: lua_sethook is async-signal-safe only for the thread that
// owns the state. It walks the state's CallInfo list (settraps) and writes
// ci->u.l.trap into every frame it believes is a Lua frame; from another
// thread that walk races with the VM pushing frames (a reused CallInfo that
// is becoming a C frame gets 1 written into its u.c.old_errfunc) and with
// luaE_shrinkCI freeing CallInfos (use after free). Run in the owning thread,
// from a signal handler, it is exactly what lua.c does for SIGINT.
//
// Why a per-run kernel timer and not a process-wide ticking thread: the
// kernel delivers the signal itself (timer_create with SIGEV_THREAD_ID), so
// there is no thread to keep alive, no registry lock, and nothing to restart
// after fork(); a forked child (RLIMIT_NPROC=0, seccomp: no clone) gets one
// process timer created before its filter is installed (StartProcessTicker).
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "functions/lua/sys/lua_context.h"
#include "functions/lua/sys/lua_state.h"

namespace cloister::functions::lua::sys {
namespace {

// SIGURG: ignored by default (a late tick after the handler is gone, or
// before it is installed, is harmless), rarely used by servers. Ticks are
// told apart from any host SIGURG by si_code == SI_TIMER and our marker.
constexpr int kTickSignal = SIGURG;
constexpr long kTickNs = 1'000'000;  // 1 ms
char g_tick_marker;

// The context whose state runs on this thread (null outside a run).
// initial-exec: reading it from the signal handler must not allocate.
[[gnu::tls_model("initial-exec")]] thread_local Context* t_ctx = nullptr;

struct sigaction g_previous {};
std::once_flag g_handler_once;
// Set in a forked child: a process timer already ticks this (only) thread.
bool g_process_ticker = false;

void OnTick(int sig, siginfo_t* info, void* uctx) {
  if (info != nullptr && info->si_code == SI_TIMER && info->si_value.sival_ptr == &g_tick_marker) {
    Context* c = t_ctx;
    if (c == nullptr) return;
    if (!c->tick.load(std::memory_order_relaxed)) {
      c->tick_cpu_ns.store(ThreadCpuNs(), std::memory_order_relaxed);  // clock_gettime: async-safe
      std::atomic_signal_fence(std::memory_order_seq_cst);
      c->tick.store(true, std::memory_order_relaxed);
    }
    if (!c->exact) ArmHook(c);
    return;
  }
  // Not ours: hand it to whatever handler the host had installed.
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, uctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
             g_previous.sa_handler != nullptr) {
    g_previous.sa_handler(sig);
  }
}

void InstallHandler() {
  std::call_once(g_handler_once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnTick;
    // SA_RESTART: a tick landing in a system call of a C function (a
    // built-in, OpenSSL) restarts it instead of failing with EINTR.
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(kTickSignal, &sa, &g_previous);
  });
}

// Unblocks the tick signal for this thread; true if it was blocked.
bool UnblockTick() {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, kTickSignal);
  if (pthread_sigmask(SIG_UNBLOCK, &set, &old) != 0) return false;
  return sigismember(&old, kTickSignal) == 1;
}

bool CreateTimer(pid_t tid, timer_t* out) {
  sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kTickSignal;
  sev.sigev_value.sival_ptr = &g_tick_marker;
  sev._sigev_un._tid = tid;
  if (timer_create(CLOCK_MONOTONIC, &sev, out) != 0) return false;
  itimerspec its{};
  its.it_value.tv_nsec = kTickNs;
  its.it_interval.tv_nsec = kTickNs;
  if (timer_settime(*out, 0, &its, nullptr) != 0) {
    timer_delete(*out);
    return false;
  }
  return true;
}

VmCalibration g_calibration;
std::once_flag g_calibrate_once;

constexpr char kCalibrationLoop[] =
    "local x = 0 for i = 1, 200000 do x = x + i end return x";
constexpr double kCalibrationInstructions = 2.0 * 200'000;  // ADD + FORLOOP

// Sampling as Hook() does it: a count hook every kSampleInstructions, the
// clock read at the end of one call and the start of the next.
std::vector<int64_t>* g_samples = nullptr;
int64_t g_sample_start = 0;
void CalibrationHook(lua_State*, lua_Debug*) {
  const int64_t now = ThreadCpuNs();
  if (g_sample_start != 0) g_samples->push_back(now - g_sample_start);
  g_sample_start = ThreadCpuNs();
}

// ns per instruction of one run of the loop, untraced or sampled (median
// sample); 0 on failure.
double TimeLoop(lua_State* L, bool sampled) {
  std::vector<int64_t> samples;
  if (sampled) {
    g_samples = &samples;
    g_sample_start = 0;
    lua_sethook(L, CalibrationHook, LUA_MASKCOUNT, kSampleInstructions);
  }
  double ns = 0;
  if (luaL_loadstring(L, kCalibrationLoop) == LUA_OK) {
    const int64_t t0 = ThreadCpuNs();
    const int rc = lua_pcall(L, 0, 1, 0);
    const int64_t dt = ThreadCpuNs() - t0;
    if (rc == LUA_OK && !sampled && dt > 0) ns = static_cast<double>(dt) / kCalibrationInstructions;
    if (rc == LUA_OK && sampled && !samples.empty()) {
      std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
      ns = static_cast<double>(samples[samples.size() / 2]) / kSampleInstructions;
    }
  }
  lua_settop(L, 0);
  if (sampled) {
    lua_sethook(L, nullptr, 0, 0);
    g_samples = nullptr;
  }
  return ns;
}

// The fastest simple loop we know (ADD + FORLOOP, ~540 M instructions/s on
// a 2026 Xeon vs ~415 M/s for fannkuch): the fastest the VM goes, so an
// estimate at this rate errs high; and the same loop sampled, for what an
// instruction costs while a sample traces it. Five interleaved rounds, the
// least disturbed (fastest) of each kind, so a noisy neighbour during one
// round skews neither the rate nor the ratio between the two.
void Calibrate() {
  double best_ns = 0;
  double traced_ns = 0;
  lua_State* L = luaL_newstate();
  if (L != nullptr) {
    for (int round = 0; round < 5; ++round) {
      const double u = TimeLoop(L, false);
      const double t = TimeLoop(L, true);
      if (u > 0 && (best_ns == 0 || u < best_ns)) best_ns = u;
      if (t > 0 && (traced_ns == 0 || t < traced_ns)) traced_ns = t;
    }
    lua_close(L);
  }
  // Floor: a failed or absurdly slow calibration must not make a limit
  // meaningless (100 ns per instruction = 10 M instructions/s).
  if (best_ns <= 0 || best_ns > 100) best_ns = 100;
  g_calibration.min_ns_per_instr = best_ns;
  g_calibration.traced_ns_per_instr = std::max(traced_ns, best_ns);
}

}  // namespace

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

const VmCalibration& Calibration() {
  std::call_once(g_calibrate_once, Calibrate);
  return g_calibration;
}

TickScope::TickScope(Context* c) : ctx_(c) {
  if (c->exact) return;  // the count hook checks everything itself
  InstallHandler();
  t_ctx = c;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (g_process_ticker) return;
  unblocked_ = UnblockTick();
  timer_t t{};
  has_timer_ = CreateTimer(static_cast<pid_t>(syscall(SYS_gettid)), &t);
  if (has_timer_) {
    timer_ = t;
  } else {
    // No timer (e.g. out of kernel timers): never run unwatched; fall back
    // to exact counting for this run.
    c->exact = true;
    lua_sethook(c->main, Hook, LUA_MASKCOUNT, c->hook_interval);
  }
}

TickScope::~TickScope() {
  if (has_timer_) timer_delete(static_cast<timer_t>(timer_));
  // A tick already queued is delivered now or finds t_ctx null: either way
  // it never touches a closed state (the scope ends before lua_close).
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_ctx = nullptr;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (unblocked_) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, kTickSignal);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
}

void PrepareForFork() {
  Calibration();
  InstallHandler();
}

Status StartProcessTicker() {
  InstallHandler();
  UnblockTick();
  timer_t t{};
  if (!CreateTimer(static_cast<pid_t>(syscall(SYS_gettid)), &t))
    return Internal("cannot create the sandbox tick timer", "SANDBOX_SETUP_FAILED");
  g_process_ticker = true;  // the timer lives until the child exits
  return OkStatus();
}

}  // namespace cloister::functions::lua::sys
