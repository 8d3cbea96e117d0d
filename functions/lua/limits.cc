// Cluster maxima and clamping of Lua invocation limits; see limits.h.
#include "functions/lua/limits.h"

#include <algorithm>

namespace cloister::functions::lua {

LuaLimits ClusterMaxima() {
  LuaLimits l;
  l.memory_bytes = 1ull << 30;
  l.instructions = 10'000'000'000ull;
  l.wall_time_ms = 600'000;
  l.output_bytes = 1ull << 30;
  l.max_outputs = 1024;
  l.call_depth = 10'000;
  l.log_bytes = 1ull << 20;
  return l;
}

LuaLimits MinimumLimits() {
  LuaLimits l;
  // A bare sandboxed state with the libraries open takes ~40 KiB.
  l.memory_bytes = 256ull << 10;
  l.instructions = 1'000;
  l.wall_time_ms = 1;
  l.output_bytes = 0;
  l.max_outputs = 0;
  l.call_depth = 16;
  l.log_bytes = 0;
  return l;
}

LuaLimits Clamp(const LuaLimits& r, const LuaLimits& caps) {
  const LuaLimits lo = MinimumLimits();
  auto clamp = [](auto v, auto cap, auto min) { return std::max(std::min(v, cap), min); };
  LuaLimits out;
  out.memory_bytes = clamp(r.memory_bytes, caps.memory_bytes, lo.memory_bytes);
  out.instructions = clamp(r.instructions, caps.instructions, lo.instructions);
  out.wall_time_ms = clamp(r.wall_time_ms, caps.wall_time_ms, lo.wall_time_ms);
  out.output_bytes = clamp(r.output_bytes, caps.output_bytes, lo.output_bytes);
  out.max_outputs = clamp(r.max_outputs, caps.max_outputs, lo.max_outputs);
  out.call_depth = clamp(r.call_depth, caps.call_depth, lo.call_depth);
  out.log_bytes = clamp(r.log_bytes, caps.log_bytes, lo.log_bytes);
  return out;
}

}  // namespace cloister::functions::lua
