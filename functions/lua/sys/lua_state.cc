// Wraps the Lua 5.4 C API: the sandboxed state (allocator, limit hook),
// compile check and one invocation; see lua_state.h. The safe base library
// is in lua_baselib.cc, the tracked coroutines in lua_corolib.cc.
//
// Invariants that keep the sandbox closed (docs/design.md §6 "known traps"):
//  * Every byte Lua allocates goes through Alloc(), which refuses growth past
//    the cap; shrinks never fail; a NULL ptr's osize is a type tag.
//  * The limit hook runs at least every 1 ms of a run: a timer signal to the
//    running thread arms it (count 1) and it clears itself after its checks
//    (lua_ticker.cc; in exact mode it is a count hook every kHookInterval
//    instructions). Once any limit fired (ctx.fatal), it stays armed to fire
//    on EVERY instruction and raises again, so pcall/coroutine.resume cannot
//    swallow the limit.
//  * ctx.current is the thread the VM runs: coroutine.resume/wrap/close are
//    replaced by versions that set it (lua_corolib.cc), so a tick interrupts
//    a loop inside a coroutine too.
//  * No user finalizers: setmetatable refuses __gc (lua_baselib.cc), because
//    Lua runs finalizers with hooks disabled (GCTM clears allowhook).
//  * The host never calls user metamethods after the run: error objects are
//    converted by SafeErrorText(); only functions we wrote touch the state.
#include "functions/lua/sys/lua_state.h"

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "functions/lua/sys/lua_context.h"

namespace cloister::functions::lua::sys {
namespace {

// Exact mode: instructions between two hook calls. Note: in Lua 5.4 any count
// hook sets the per-frame 'trap', so luaG_traceexec runs on EVERY instruction
// whatever the interval (measured ~1.8-2.5x on fannkuch, docs/perf/lua.md);
// that is why the default mode runs without a hook between ticks.
constexpr int kHookInterval = 1000;
constexpr size_t kMaxErrorText = 4096;
// Margins over the calibrated tracing cost (docs/perf/lua.md, measured on 9
// loop kinds and fannkuch): traced/untraced ratio 1.06-1.98 vs 1.85 for the
// calibration loop, extra ns 0.5-3.2 vs 1.6.
constexpr double kTraceRatioMargin = 1.1;
constexpr double kTraceExtraMargin = 2.5;
constexpr char kChunkName[] = "=function";

// Deeper than the call-depth limit right now (on the running thread)?
bool DepthExceeded(Context* c) {
  lua_State* L = c->current.load(std::memory_order_relaxed);
  lua_Debug probe;
  return L != nullptr && c->max_depth > 0 && lua_getstack(L, c->max_depth, &probe) != 0;
}

// A limit fired inside the allocator, which cannot raise: make the next VM
// instruction do it (estimated mode has no periodic hook to notice).
void SetAllocFatal(Context* c) {
  if (c->fatal != Fatal::kNone) return;
  // Memory that runs out under a too-deep stack is the depth limit's doing
  // (between two ticks a runaway recursion can fill the memory budget).
  c->fatal = DepthExceeded(c) ? Fatal::kCallDepth : Fatal::kMemory;
  if (!c->exact) ArmHook(c);
}

void* Alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* c = static_cast<Context*>(ud);
  // With ptr == NULL, osize is the Lua type tag of the new object, not a size.
  const size_t old = ptr != nullptr ? osize : 0;
  if (nsize == 0) {
    std::free(ptr);
    c->mem_used -= old;
    return nullptr;
  }
  if (nsize > old) {
    if (c->mem_used + (nsize - old) > c->mem_limit && c->fatal != Fatal::kClosing) {
      // A second refusal in a row means Lua's emergency GC did not help.
      if (c->refused_pending) SetAllocFatal(c);
      c->refused_pending = true;
      c->refused_size = nsize;
      // The hook decides at the next instruction whether the refusal stuck.
      if (!c->exact && c->fatal == Fatal::kNone) ArmHook(c);
      return nullptr;
    }
    void* p = std::realloc(ptr, nsize);
    if (p == nullptr) {
      SetAllocFatal(c);
      return nullptr;
    }
    if (c->refused_pending) {
      // The retry of the refused size after an emergency GC succeeded: the
      // function is within its limit after all. Anything else is fatal.
      if (nsize == c->refused_size) c->refused_pending = false;
      else SetAllocFatal(c);
    }
    c->mem_used += nsize - old;
    if (c->mem_used > c->mem_peak) c->mem_peak = c->mem_used;
    return p;
  }
  // Shrink: Lua assumes it cannot fail, so keep the old block if realloc
  // does (the block is still large enough).
  void* p = std::realloc(ptr, nsize);
  c->mem_used -= old - nsize;
  return p != nullptr ? p : ptr;
}

// The hook's limit checks, on the running thread L; kNone when all hold.
Fatal CheckLimits(lua_State* L, Context* c) {
  lua_Debug probe;
  // O(min(depth, max_depth)) walk over CallInfos, once per tick.
  if (lua_getstack(L, c->max_depth, &probe) != 0) return Fatal::kCallDepth;
  if (c->refused_pending) return Fatal::kMemory;
  if (InstructionsUsed(*c) >= c->instr_limit) return Fatal::kInstructions;
  if (MonotonicNs() >= c->deadline_ns) return Fatal::kTime;
  return Fatal::kNone;
}

// CPU time of the function (built-ins excluded) since a mark.
double CpuSince(const Context& c, int64_t now, int64_t mark_cpu, int64_t mark_excluded) {
  const int64_t d = (now - mark_cpu) - (c.cpu_excluded_ns - mark_excluded);
  return d > 0 ? static_cast<double>(d) : 0.0;
}

// Estimated mode's bookkeeping at a hook call; returns whether the call
// came from a tick (and the caller should open a new sample).
bool AccountSample(Context* c) {
  // tick_cpu_ns is stable while tick is set (the handler only writes it
  // before setting tick), so read it first.
  const int64_t tick_cpu = c->tick_cpu_ns.load(std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const bool ticked = c->tick.exchange(false, std::memory_order_relaxed);
  const int64_t now = ThreadCpuNs();
  if (c->sample_open) {
    // Closed by its count (exactly kSampleInstructions ran) or cut short by
    // a tick (fewer ran): counting the full sample errs high either way, and
    // elapsed / kSampleInstructions is then a lower bound of the cost.
    const double traced =
        CpuSince(*c, now, c->sample_cpu_ns, c->sample_excluded_ns) / kSampleInstructions;
    // Untraced cost: tracing adds a roughly constant time per instruction
    // to slow instructions and roughly doubles fast ones; both bounds are
    // calibrated with margins (kTrace*) so the result errs low, i.e. the
    // instruction count errs high. Never faster than the fastest VM loop.
    c->ns_per_instr = std::max({traced / c->trace_ratio, traced - c->trace_extra_ns,
                                c->min_ns_per_instr});
    c->estimate += kSampleInstructions;
    c->sample_open = false;
  } else {
    // Untraced stretch since the last mark, at the last sample's cost, up to
    // the tick: after it the thread was in the one C call the tick landed
    // in (or ran one instruction), which the VM rate would overcount;
    // charged C work is counted by Charge() instead.
    const int64_t end = ticked ? std::min(std::max(tick_cpu, c->mark_cpu_ns), now) : now;
    c->estimate += CpuSince(*c, end, c->mark_cpu_ns, c->mark_excluded_ns) / c->ns_per_instr;
  }
  c->mark_cpu_ns = now;
  c->mark_excluded_ns = c->cpu_excluded_ns;
  return ticked;
}

void OpenSample(lua_State* L, Context* c) {
  lua_sethook(L, Hook, LUA_MASKCOUNT, kSampleInstructions);
  c->sample_open = true;
  c->sample_excluded_ns = c->cpu_excluded_ns;
  c->sample_cpu_ns = ThreadCpuNs();  // after our own work
  c->mark_cpu_ns = c->sample_cpu_ns;
}

}  // namespace

void Hook(lua_State* L, lua_Debug*) {
  Context* c = Ctx(L);
  if (c->exact) {
    if (c->fatal == Fatal::kNone) {
      c->counted += static_cast<uint64_t>(c->hook_interval);
      c->fatal = CheckLimits(L, c);
    }
    if (c->fatal != Fatal::kNone) RaiseFatal(L, c->fatal);
    return;
  }
  if (c->fatal != Fatal::kNone) RaiseFatal(L, c->fatal);
  const bool ticked = AccountSample(c);
  c->fatal = CheckLimits(L, c);
  if (c->fatal != Fatal::kNone) RaiseFatal(L, c->fatal);
  // A tick opens a sample; the sample's end (or a stray hook, e.g. one a
  // new coroutine copied from its creator) goes back to full speed.
  if (ticked) OpenSample(L, c);
  else lua_sethook(L, nullptr, 0, 0);
}

void ArmHook(Context* c) {
  lua_State* L = c->current.load(std::memory_order_relaxed);
  if (L != nullptr) lua_sethook(L, Hook, LUA_MASKCOUNT, 1);
}

uint64_t InstructionsUsed(const Context& c) {
  if (c.exact) return c.counted + c.charged;
  double est = c.estimate;
  if (c.sample_open) {
    est += kSampleInstructions;
  } else {
    int64_t end = ThreadCpuNs();
    if (c.tick.load(std::memory_order_relaxed))
      end = std::min(std::max(c.tick_cpu_ns.load(std::memory_order_relaxed), c.mark_cpu_ns), end);
    est += CpuSince(c, end, c.mark_cpu_ns, c.mark_excluded_ns) / c.ns_per_instr;
  }
  // The charged C work is a lower bound of the same CPU time; never less.
  return std::max(static_cast<uint64_t>(est), c.charged);
}

int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

const char* FatalMessage(Fatal f) {
  switch (f) {
    case Fatal::kMemory: return "memory limit exceeded";
    case Fatal::kInstructions: return "instruction limit exceeded";
    case Fatal::kTime: return "time limit exceeded";
    case Fatal::kOutput: return "output limit exceeded";
    case Fatal::kCallDepth: return "call depth exceeded";
    case Fatal::kClosing: return "function has returned";
    case Fatal::kNone: break;
  }
  return "sandbox error";
}

void RaiseFatal(lua_State* L, Fatal f) {
  Context* c = Ctx(L);
  if (c->fatal == Fatal::kNone) c->fatal = f;
  // Fire on every instruction from now on, in this thread and in the main
  // thread (new coroutines copy the hook settings of their creator).
  lua_sethook(L, Hook, LUA_MASKCOUNT, 1);
  if (c->main != nullptr && c->main != L) lua_sethook(c->main, Hook, LUA_MASKCOUNT, 1);
  // The messages are interned at setup (kept in the registry), so pushing
  // them does not allocate even when memory is exhausted.
  lua_pushstring(L, FatalMessage(c->fatal));
  lua_error(L);
  std::abort();  // unreachable: lua_error does not return
}

void CheckAlive(lua_State* L) {
  Context* c = Ctx(L);
  if (c->fatal != Fatal::kNone) RaiseFatal(L, c->fatal);
  if (c->refused_pending) RaiseFatal(L, Fatal::kMemory);
}

void Charge(lua_State* L, uint64_t units) {
  Context* c = Ctx(L);
  c->charged += units;
  c->charge_pending += units;
  if (c->charged + c->counted >= c->instr_limit) RaiseFatal(L, Fatal::kInstructions);
  if (c->charge_pending >= 4096) {
    c->charge_pending = 0;
    if (MonotonicNs() >= c->deadline_ns) RaiseFatal(L, Fatal::kTime);
    CheckAlive(L);
  }
}

uint64_t MemoryLeft(lua_State* L, bool collect) {
  Context* c = Ctx(L);
  if (collect) {
    Charge(L, c->mem_used / 64);
    lua_gc(L, LUA_GCCOLLECT);
  }
  return c->mem_limit > c->mem_used ? c->mem_limit - c->mem_used : 0;
}

std::string SafeErrorText(lua_State* L, int idx) {
  std::string out;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(L, idx, &len);
      out.assign(s, std::min(len, kMaxErrorText));
      break;
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) out = std::to_string(lua_tointeger(L, idx));
      else out = std::to_string(lua_tonumber(L, idx));
      break;
    case LUA_TNIL:
      out = "error (nil)";
      break;
    default:
      // Never luaL_tolstring: it would run the object's __tostring.
      out = std::string("(error object is a ") + lua_typename(L, lua_type(L, idx)) + " value)";
  }
  return out;
}

int ReadOnlyNewIndex(lua_State* L) {
  return luaL_error(L, "attempt to modify read-only table '%s'",
                    lua_tostring(L, lua_upvalueindex(1)));
}

// __pairs of a proxy: iterate the real table (upvalue 1) with next().
int ReadOnlyPairs(lua_State* L) {
  CheckAlive(L);
  lua_getglobal(L, "next");
  if (!lua_isfunction(L, -1)) return luaL_error(L, "next is not available");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushnil(L);
  return 3;
}

void PushReadOnlyProxy(lua_State* L, int idx, const char* name) {
  idx = lua_absindex(L, idx);
  lua_newtable(L);                  // proxy
  lua_createtable(L, 0, 4);         // its metatable
  lua_pushvalue(L, idx);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_pushcclosure(L, ReadOnlyNewIndex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushvalue(L, idx);
  lua_pushcclosure(L, ReadOnlyPairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");  // getmetatable(proxy) == false
  lua_setmetatable(L, -2);
}

namespace {

// Builds the sandbox inside a protected call (it allocates, so it may fail
// on a tiny memory limit). Upvalue 1: light userdata of the Context.
int SetupState(lua_State* L) {
  // Keep the limit messages alive so raising them never allocates.
  for (Fatal f : {Fatal::kMemory, Fatal::kInstructions, Fatal::kTime, Fatal::kOutput,
                  Fatal::kCallDepth, Fatal::kClosing}) {
    lua_pushstring(L, FatalMessage(f));
    luaL_ref(L, LUA_REGISTRYINDEX);
  }
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  lua_pop(L, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  lua_pop(L, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  lua_pop(L, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  lua_pop(L, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_pop(L, 1);
  luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 1);
  lua_pop(L, 1);

  lua_pushglobaltable(L);
  const int g = lua_gettop(L);
  InstallBaseLib(L, g);

  InstallStringLib(L);  // also locks the string metatable
  InstallTableLib(L);
  InstallCoroutineLib(L);
  PushCloisterApi(L);
  lua_setfield(L, g, "cloister");
  lua_pop(L, 1);
  // Drop package.loaded entries (registry._LOADED) nobody can reach anyway,
  // so the originals of replaced functions are garbage.
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  return 0;
}

Error FatalError(const Context& c) {
  const LuaLimits& l = c.opts->limits;
  switch (c.fatal == Fatal::kNone ? Fatal::kMemory : c.fatal) {
    case Fatal::kMemory:
      return ResourceExhausted("memory limit exceeded (" + std::to_string(l.memory_bytes) +
                                   " bytes)",
                               "MEMORY_LIMIT_EXCEEDED");
    case Fatal::kInstructions:
      return ResourceExhausted("instruction limit exceeded (" +
                                   std::to_string(l.instructions) + ")",
                               "INSTRUCTION_LIMIT_EXCEEDED");
    case Fatal::kTime:
      return DeadlineExceeded("time limit exceeded (" + std::to_string(l.wall_time_ms) + " ms)",
                              "TIME_LIMIT_EXCEEDED");
    case Fatal::kOutput:
      return ResourceExhausted("output limit exceeded (" + std::to_string(l.output_bytes) +
                                   " bytes, " + std::to_string(l.max_outputs) + " outputs)",
                               "OUTPUT_LIMIT_EXCEEDED");
    case Fatal::kCallDepth:
      return ResourceExhausted("call depth exceeded (" + std::to_string(l.call_depth) + ")",
                               "CALL_DEPTH_EXCEEDED");
    default:
      return Internal("sandbox closed unexpectedly", "SANDBOX_INTERNAL");
  }
}

// "function:12: boom" -> line 12, "boom".
Error SyntaxError(std::string_view msg) {
  std::string_view rest = msg;
  const std::string_view prefix = "function:";
  if (rest.substr(0, prefix.size()) == prefix) rest.remove_prefix(prefix.size());
  size_t colon = rest.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    std::string line(rest.substr(0, colon));
    std::string text(rest.substr(colon + 1));
    if (!text.empty() && text[0] == ' ') text.erase(0, 1);
    return InvalidArgument("line " + line + ": " + text, "LUA_SYNTAX_ERROR");
  }
  return InvalidArgument(std::string(msg), "LUA_SYNTAX_ERROR");
}

struct StateCloser {
  Context* ctx;
  void operator()(lua_State* L) const {
    // Any Lua code that still runs (there should be none: no finalizers)
    // hits the hook on its first instruction and errors out.
    if (ctx->fatal == Fatal::kNone) ctx->fatal = Fatal::kClosing;
    ctx->current.store(nullptr, std::memory_order_relaxed);
    lua_sethook(L, Hook, LUA_MASKCOUNT, 1);
    lua_close(L);
  }
};
using StatePtr = std::unique_ptr<lua_State, StateCloser>;

}  // namespace

Status CheckSyntax(std::string_view source) {
  SandboxOptions opts;
  Context ctx;
  ctx.opts = &opts;
  ctx.mem_limit = opts.limits.memory_bytes;
  ctx.instr_limit = opts.limits.instructions;
  StatePtr L(lua_newstate(Alloc, &ctx), StateCloser{&ctx});
  if (!L) return ResourceExhausted("cannot create Lua state", "MEMORY_LIMIT_EXCEEDED");
  if (luaL_loadbufferx(L.get(), source.data(), source.size(), kChunkName, "t") != LUA_OK)
    return SyntaxError(SafeErrorText(L.get(), -1));
  return OkStatus();
}

Status Execute(std::string_view source, Runtime& rt, const SandboxOptions& opts,
               RunReport* report) {
  Context ctx;
  ctx.opts = &opts;
  ctx.rt = &rt;
  ctx.log = &report->log;
  ctx.mem_limit = opts.limits.memory_bytes;
  ctx.instr_limit = opts.limits.instructions;
  ctx.hook_interval = static_cast<int>(
      std::min<uint64_t>(kHookInterval, std::max<uint64_t>(1, opts.limits.instructions)));
  ctx.max_depth = opts.limits.call_depth;
  ctx.exact = opts.exact_instruction_count;
  if (!ctx.exact) {
    const VmCalibration& cal = Calibration();
    ctx.min_ns_per_instr = cal.min_ns_per_instr;
    ctx.trace_ratio = kTraceRatioMargin * cal.traced_ns_per_instr / cal.min_ns_per_instr;
    ctx.trace_extra_ns = kTraceExtraMargin * (cal.traced_ns_per_instr - cal.min_ns_per_instr);
    ctx.ns_per_instr = cal.min_ns_per_instr;  // until the first sample
  }
  ctx.start_ns = MonotonicNs();
  ctx.deadline_ns = ctx.start_ns + static_cast<int64_t>(opts.limits.wall_time_ms) * 1'000'000;
  ctx.cpu_start_ns = ThreadCpuNs();
  ctx.mark_cpu_ns = ctx.cpu_start_ns;

  Status result = OkStatus();
  uint64_t used = 0;
  {
    StatePtr state(lua_newstate(Alloc, &ctx), StateCloser{&ctx});
    lua_State* L = state.get();
    if (L == nullptr) {
      result = FatalError(ctx);
    } else {
      ctx.main = L;
      ctx.current.store(L, std::memory_order_relaxed);
      if (ctx.exact) lua_sethook(L, Hook, LUA_MASKCOUNT, ctx.hook_interval);
      // Ticks from here until just before lua_close (this scope ends before
      // `state`'s).
      TickScope ticks(&ctx);
      lua_pushcfunction(L, SetupState);
      int rc = lua_pcall(L, 0, 0, 0);
      if (rc == LUA_OK) {
        rc = luaL_loadbufferx(L, source.data(), source.size(), kChunkName, "t");
        if (rc == LUA_OK) {
          // The estimate covers the function itself, not the sandbox setup.
          ctx.cpu_start_ns = ThreadCpuNs();
          ctx.estimate = 0;
          ctx.sample_open = false;
          ctx.mark_cpu_ns = ctx.cpu_start_ns;
          ctx.mark_excluded_ns = ctx.cpu_excluded_ns;
          rc = lua_pcall(L, 0, 0, 0);
        } else if (rc == LUA_ERRSYNTAX && ctx.fatal == Fatal::kNone && !ctx.refused_pending) {
          result = SyntaxError(SafeErrorText(L, -1));
        }
      }
      if (ctx.fatal != Fatal::kNone || ctx.refused_pending || rc == LUA_ERRMEM) {
        result = FatalError(ctx);
      } else if (rc != LUA_OK && result.ok()) {
        std::string text = SafeErrorText(L, -1);
        // Lua's own recursion guards ("stack overflow" for Lua frames, "C
        // stack overflow" for metamethod/C nesting) are call-depth limits too.
        if (text.find("stack overflow") != std::string::npos) {
          ctx.fatal = Fatal::kCallDepth;
          result = FatalError(ctx);
          result = Error(result.error().code(), result.error().message() + ": " + text,
                         result.error().reason());
        } else {
          result = Aborted(text, "LUA_RUNTIME_ERROR");
        }
      }
      used = InstructionsUsed(ctx);
    }
  }  // lua_close with the limits still armed
  if (ctx.log_truncated && report->log.empty()) report->log = "[log truncated]\n";
  report->usage.instructions = used;
  report->usage.peak_memory_bytes = ctx.mem_peak;
  report->usage.wall_ms = static_cast<double>(MonotonicNs() - ctx.start_ns) / 1e6;
  return result;
}

}  // namespace cloister::functions::lua::sys