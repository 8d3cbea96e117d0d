// Helpers shared by the Lua sandbox tests: run a snippet with small limits,
// in-process or forked, and collect status, outputs and the report.
#pragma once

#include <string>
#include <string_view>

#include "functions/lua/lua_function.h"

namespace cloister::functions::lua::testing {

// Small limits so that every abuse test ends in milliseconds.
inline LuaLimits TestLimits() {
  LuaLimits l;
  l.memory_bytes = 16ull << 20;
  l.instructions = 10'000'000;
  l.wall_time_ms = 3'000;
  l.output_bytes = 1ull << 20;
  l.max_outputs = 8;
  l.call_depth = 200;
  l.log_bytes = 4096;
  return l;
}

// Slots every test snippet may use: inputs "in", "left", "right"; outputs
// "out", "a", "b" and the variadic "o.<x>"; args n (int, default 3) and
// name (string, default "world").
inline FunctionSpec TestSpec() {
  FunctionSpec spec;
  spec.name = "test";
  spec.args = {{"n", ArgType::kInt, ArgValue(int64_t{3}), "", {}, {}},
               {"name", ArgType::kString, ArgValue(std::string("world")), "", {}, {}}};
  for (const char* in : {"in", "left", "right"}) {
    SlotSpec s;
    s.name = in;
    s.optional = true;
    spec.inputs.push_back(s);
  }
  for (const char* out : {"out", "a", "b"}) {
    SlotSpec s;
    s.name = out;
    spec.outputs.push_back(s);
  }
  SlotSpec var;
  var.name = "o";
  var.variadic = true;
  var.max_count = 1000;
  spec.outputs.push_back(var);
  return spec;
}

struct RunResult {
  Status status;
  Outputs outputs;  // only filled on success
  RunReport report;
  std::string reason() const { return status.ok() ? "" : status.error().reason(); }
  std::string message() const { return status.ok() ? "" : status.error().message(); }
};

inline RunResult RunLua(std::string_view source, SandboxOptions opts, Inputs inputs = {},
                        std::map<std::string, std::string> args = {},
                        FunctionSpec spec = TestSpec()) {
  RunResult r;
  auto fn = LuaFunction::Create(spec, std::string(source), std::move(opts));
  if (!fn.ok()) {
    r.status = fn.error();
    return r;
  }
  auto rt = Runtime::Create(spec, args, std::move(inputs));
  if (!rt.ok()) {
    r.status = rt.error();
    return r;
  }
  r.status = (*fn)->RunWithReport(**rt, &r.report);
  if (r.status.ok()) r.outputs = std::move(**rt).TakeOutputs();
  return r;
}

}  // namespace cloister::functions::lua::testing
