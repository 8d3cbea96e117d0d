// Wraps the Lua 5.4 C API: compiles and runs one Lua function in a fresh,
// sandboxed lua_State (docs/design.md §6). The only entry points the rest of
// Cloister uses; lua_State never leaves functions/lua/sys.
//
//   CLOISTER_RETURN_IF_ERROR(sys::CheckSyntax(source));
//   Status s = sys::Execute(source, rt, opts, &report);
#pragma once

#include <string_view>

#include "common/result.h"
#include "functions/lua/sandbox_options.h"
#include "functions/runtime.h"

namespace cloister::functions::lua::sys {

// Compiles `source` as text (never binary) without running it.
// InvalidArgument [LUA_SYNTAX_ERROR] "line N: <message>" on a syntax error.
Status CheckSyntax(std::string_view source);

// Runs `source` once in a new state with opts.limits enforced, reading
// inputs from and writing outputs to `rt`. Fills `report` (log, usage)
// whether or not the run succeeded. Thread-safe for distinct `rt`s: nothing
// is shared between states. Errors (reason in brackets):
//   ResourceExhausted [MEMORY_LIMIT_EXCEEDED | INSTRUCTION_LIMIT_EXCEEDED |
//                      OUTPUT_LIMIT_EXCEEDED | CALL_DEPTH_EXCEEDED]
//   DeadlineExceeded  [TIME_LIMIT_EXCEEDED]
//   Aborted           [LUA_RUNTIME_ERROR]  the function raised an error
//   InvalidArgument   [LUA_SYNTAX_ERROR]
Status Execute(std::string_view source, Runtime& rt, const SandboxOptions& opts,
               RunReport* report);

// The forked runner's parent calls this before fork(): calibrates the VM
// rate (once per process) and installs the tick signal handler, so the child
// inherits both instead of redoing them.
void PrepareForFork();

// Forked child only, before its seccomp filter: a 1 ms process timer that
// ticks this (single) thread for the rest of the child's life; Execute()
// then creates no timer of its own. Internal [SANDBOX_SETUP_FAILED].
Status StartProcessTicker();

// The VM costs the instruction estimate is based on, calibrated once per
// process (docs/perf/lua.md): ns of thread CPU per instruction of the
// fastest simple loop, untraced and traced (while sampling).
struct VmCalibration {
  double min_ns_per_instr = 0;
  double traced_ns_per_instr = 0;
};
const VmCalibration& Calibration();

}  // namespace cloister::functions::lua::sys
