// Wraps the Lua 5.4 C API: the per-invocation accounting context shared by
// the sandbox's C functions (allocator, hook, wrapped libraries, bindings).
// Internal to functions/lua/sys; nothing outside sees lua_State.
//
// Errors: liblua5.4-c++ is linked (Lua compiled as C++), so lua_error throws
// a C++ exception instead of longjmp; RAII objects in lua_CFunctions are
// destroyed correctly when an error unwinds them. C++ exceptions must still
// not escape a lua_CFunction (Lua would turn them into a broken error status),
// so bindings catch std::exception and convert it to a Lua error.
#pragma once

#include <lua.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "functions/builtin/csv.h"
#include "functions/lua/sandbox_options.h"
#include "functions/runtime.h"

namespace cloister::functions::lua::sys {

// Why the invocation must end. Once set it never goes back to kNone: the
// hook then fires on every instruction and raises again, so pcall cannot
// swallow a limit.
enum class Fatal { kNone, kMemory, kInstructions, kTime, kOutput, kCallDepth, kClosing };

// Instruction accounting (docs/lua.md "Limits", docs/perf/lua.md):
//  * estimated (default): no hook while Lua runs. A 1 ms timer signal to the
//    running thread (lua_ticker.cc) arms a count-1 hook. That hook accounts
//    the thread CPU time since the last sample at the cost per instruction
//    measured by the last sample, checks the limits, and opens a sample: a
//    count hook of kSampleInstructions, whose second call measures what
//    those instructions cost (minus the calibrated tracing overhead) and
//    clears the hook. Instructions = max(charged C work, that estimate).
//  * exact (SandboxOptions::exact_instruction_count): the old count hook
//    every kHookInterval instructions; instructions = counted + charged.
//    Costs ~2x on VM-bound code (Lua 5.4 traces every instruction while a
//    count hook is set).
// Instructions per sample (estimated mode): ~1-10 us of VM per 1 ms tick.
constexpr int kSampleInstructions = 2048;

struct Context {
  lua_State* main = nullptr;
  // The thread the VM is running now (main or a resumed coroutine): the one
  // the tick arms. Written by this thread only (coroutine wrappers); read by
  // the tick signal handler on the same thread, hence atomic, not locked.
  std::atomic<lua_State*> current{nullptr};
  // Set by the tick handler, with the thread CPU time of the first tick
  // since the hook last ran: CPU time after it went to the C call the tick
  // interrupted (the hook runs at the next VM instruction), not to the VM.
  std::atomic<bool> tick{false};
  std::atomic<int64_t> tick_cpu_ns{0};
  bool exact = false;
  // Allocator accounting.
  uint64_t mem_used = 0;
  uint64_t mem_peak = 0;
  uint64_t mem_limit = 0;
  // A growth was refused; if the very next growth is not Lua's retry of the
  // same size after its emergency GC, the refusal becomes fatal.
  bool refused_pending = false;
  size_t refused_size = 0;
  // Instruction accounting. exact: hook ticks * interval; estimated: unused.
  uint64_t counted = 0;
  uint64_t charged = 0;         // C work charged by the wrapped libraries
  uint64_t instr_limit = 0;
  int hook_interval = 1000;
  uint64_t charge_pending = 0;  // charged work not yet checked
  // Estimated mode. Thread CPU times exclude trusted built-ins
  // (cpu_excluded_ns); `estimate` covers CPU time up to mark_cpu_ns.
  int64_t cpu_start_ns = 0;
  int64_t cpu_excluded_ns = 0;
  double estimate = 0;
  int64_t mark_cpu_ns = 0;
  int64_t mark_excluded_ns = 0;
  double ns_per_instr = 1;      // from the last sample, >= the fastest VM rate
  double min_ns_per_instr = 0;  // calibrated fastest VM rate
  double trace_ratio = 1;       // traced / untraced cost, upper bound
  double trace_extra_ns = 0;    // traced - untraced cost, upper bound
  bool sample_open = false;
  int64_t sample_cpu_ns = 0;
  int64_t sample_excluded_ns = 0;
  int64_t start_ns = 0;
  int64_t deadline_ns = 0;
  int max_depth = 0;
  Fatal fatal = Fatal::kNone;
  // Host side.
  Runtime* rt = nullptr;
  const SandboxOptions* opts = nullptr;
  std::string* log = nullptr;
  bool log_truncated = false;
  uint64_t output_bytes = 0;
  std::set<std::string, std::less<>> output_names;
  // CSV iterators live here (not in Lua userdata) so no __gc is needed.
  std::vector<std::unique_ptr<builtin::CsvReader>> csv_readers;
};

inline Context* Ctx(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return static_cast<Context*>(ud);
}

int64_t MonotonicNs();
// CPU time consumed by the calling thread.
int64_t ThreadCpuNs();
const char* FatalMessage(Fatal f);

// Instructions used so far (exact count, or the estimate; see Context).
uint64_t InstructionsUsed(const Context& c);
// Arms a count-1 hook on the running thread: the next VM instruction runs
// the limit checks. Async-signal-safe (lua_sethook on this thread's state).
void ArmHook(Context* c);
// The hook (exported for the tick handler, which arms it).
void Hook(lua_State* L, lua_Debug* ar);

// RAII: delivers ticks to this thread while a state of `c` runs
// (lua_ticker.cc). Without a working timer it switches `c` to exact mode, so
// limits are never left unenforced.
class TickScope {
 public:
  explicit TickScope(Context* c);
  ~TickScope();
  TickScope(const TickScope&) = delete;
  TickScope& operator=(const TickScope&) = delete;

 private:
  Context* ctx_;
  bool has_timer_ = false;
  bool unblocked_ = false;
  void* timer_ = nullptr;  // timer_t
};

// RAII: time spent inside (trusted built-ins) is not charged as instructions.
class CpuExcluded {
 public:
  explicit CpuExcluded(Context* c) : c_(c), t0_(ThreadCpuNs()) {}
  ~CpuExcluded() { c_->cpu_excluded_ns += ThreadCpuNs() - t0_; }
  CpuExcluded(const CpuExcluded&) = delete;
  CpuExcluded& operator=(const CpuExcluded&) = delete;

 private:
  Context* c_;
  int64_t t0_;
};

// Sets `f` (if none yet), makes the hook fire on every instruction, raises.
[[noreturn]] void RaiseFatal(lua_State* L, Fatal f);
// Raises if a limit has already fired; call at every C entry point.
void CheckAlive(lua_State* L);
// Charges `units` of C work to the instruction budget; checks limits and the
// clock every few thousand units (and raises when exceeded).
void Charge(lua_State* L, uint64_t units);

// Bytes the allocator would still grant. With `collect`, first runs a full
// GC so garbage does not count (call only where a GC step is allowed).
uint64_t MemoryLeft(lua_State* L, bool collect);

// Library installers (each leaves the stack balanced).
// Replaces find/match/gmatch/gsub/rep with budgeted versions, removes dump,
// wraps linear-time string/utf8 functions with per-byte charging.
void InstallStringLib(lua_State* L);
// Replaces table.insert/remove/move/concat/unpack/sort with charged versions.
void InstallTableLib(lua_State* L);
// Replaces load/collectgarbage/print/setmetatable in the global table at
// `g` with the sandbox's versions and removes dofile/loadfile/warn/require.
void InstallBaseLib(lua_State* L, int g);
// Replaces coroutine.resume/wrap/close with versions that keep ctx.current
// the thread the VM runs.
void InstallCoroutineLib(lua_State* L);
// Pushes the `cloister` table (read-only proxy).
void PushCloisterApi(lua_State* L);
// Pushes the `cloister.json` table.
void PushJsonLib(lua_State* L);
// Pushes a read-only proxy of the table at `idx`.
void PushReadOnlyProxy(lua_State* L, int idx, const char* name);

// Error as text without running any metamethod (__tostring is user code).
std::string SafeErrorText(lua_State* L, int idx);

}  // namespace cloister::functions::lua::sys

namespace cloister::functions::lua::sys {
// print()/cloister.log(): appends a line to the bounded task log.
int LuaLog(lua_State* L);
}  // namespace cloister::functions::lua::sys
