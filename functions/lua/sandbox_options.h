// Options and report of one sandboxed Lua invocation, shared by the
// in-process executor (sys/lua_state.h) and the forked runner.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "functions/lua/limits.h"
#include "functions/runtime.h"

namespace cloister::functions::lua {

// Finds a built-in function by name; nullptr when there is none. The exec
// service passes the built-in registry; the returned Function must outlive
// the invocation (registry entries are static).
using BuiltinLookup = std::function<const Function*(std::string_view name)>;

struct SandboxOptions {
  // Effective limits; callers clamp them with Clamp(…, ClusterMaxima()).
  LuaLimits limits;
  // Run in a forked child under seccomp + rlimits (security level >= 3).
  bool forked = false;
  // Count VM instructions exactly (a count hook every 1000 instructions, as
  // before the watchdog) instead of estimating them from the thread's CPU
  // time. Deterministic usage figures, but VM-bound code runs ~2x slower
  // (docs/perf/lua.md). Default: estimated.
  bool exact_instruction_count = false;
  // Backs cloister.builtin(); empty: cloister.builtin raises an error.
  BuiltinLookup builtins;
  // TEST ONLY. When set, Lua sees `cloister._test_syscall()`, which calls it.
  // It lets tests make a sandboxed child issue a forbidden system call; no
  // production caller sets it, so production sandboxes have no such entry.
  std::function<void()> unsafe_test_syscall_fn;
};

// Resources one invocation used, reported on success and failure alike.
struct Usage {
  uint64_t instructions = 0;
  uint64_t peak_memory_bytes = 0;
  double wall_ms = 0;
};

struct RunReport {
  std::string log;  // cloister.log()/print() lines, bounded by limits.log_bytes
  Usage usage;
};

}  // namespace cloister::functions::lua
