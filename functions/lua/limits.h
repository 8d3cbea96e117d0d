// Resource limits of one Lua invocation and the cluster maxima that cap them
// (docs/design.md §6). A function asks for limits; Clamp() never lets it exceed
// what the operator allows.
//
//   LuaLimits eff = Clamp(fn_requested, ClusterMaxima());
#pragma once

#include <cstdint>

namespace cloister::functions::lua {

struct LuaLimits {
  // Bytes the Lua allocator may hold at once (state, strings, tables).
  uint64_t memory_bytes = 64ull << 20;
  // VM instructions, plus work charged by wrapped C functions (patterns,
  // string.rep, table functions): one unit ~ one VM instruction.
  uint64_t instructions = 100'000'000;
  // Wall-clock time of the whole invocation.
  uint64_t wall_time_ms = 5'000;
  // All outputs together, and how many distinct outputs.
  uint64_t output_bytes = 64ull << 20;
  int max_outputs = 64;
  // Lua call depth (frames on one coroutine's stack).
  int call_depth = 1'000;
  // The task log; further log lines are dropped with a marker.
  uint64_t log_bytes = 64ull << 10;
};

// What a cluster allows at most. Values chosen so that one invocation cannot
// starve a worker: 1 GiB, 10^10 instructions (~1 min of VM), 10 min wall.
LuaLimits ClusterMaxima();

// Smallest sensible values: below them the sandbox cannot even start.
LuaLimits MinimumLimits();

// Each field: min(requested, caps), then raised to MinimumLimits().
LuaLimits Clamp(const LuaLimits& requested, const LuaLimits& caps);

}  // namespace cloister::functions::lua
