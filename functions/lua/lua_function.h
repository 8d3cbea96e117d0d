// A user-submitted Lua 5.4 function: its spec, source and content hash, run
// in the sandbox in-process or in a forked, seccomp-confined child
// (docs/design.md §6; docs/lua.md is the user guide).
//
//   CLOISTER_ASSIGN_OR_RETURN(auto fn, LuaFunction::Create(spec, source, opts));
//   Result<Outputs> out = Invoke(*fn, raw_args, inputs);       // as any Function
//   Status s = fn->RunWithReport(*rt, &report);                // + log and usage
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "functions/lua/sandbox_options.h"
#include "functions/runtime.h"

namespace cloister::functions::lua {

class LuaFunction final : public Function {
 public:
  // Compiles `source` (text only) to check it. InvalidArgument
  // [LUA_SYNTAX_ERROR] "line N: <message>" on a syntax error. `opts.limits`
  // should already be clamped by the caller (Clamp(…, ClusterMaxima())).
  static Result<std::unique_ptr<LuaFunction>> Create(FunctionSpec spec, std::string source,
                                                     SandboxOptions opts = {});

  const FunctionSpec& spec() const override { return spec_; }
  // Lowercase hex SHA-256 of the source: what participants approve.
  const std::string& id() const { return id_; }
  const std::string& source() const { return source_; }
  const SandboxOptions& options() const { return opts_; }

  // Runs once; see sys/lua_state.h for the error reasons, plus, in forked
  // mode, PermissionDenied [SANDBOX_VIOLATION] and Internal [SANDBOX_CRASHED,
  // SANDBOX_PROTOCOL_ERROR]. Thread-safe (no per-call state in *this).
  Status Run(Runtime& rt) const override;
  // Same, and fills `report` (log, usage) even when the run failed.
  Status RunWithReport(Runtime& rt, RunReport* report) const;

 private:
  // Passkey: only Create() constructs, yet std::make_unique works.
  struct Key {
    explicit Key() = default;
  };

 public:
  LuaFunction(Key, FunctionSpec spec, std::string source, SandboxOptions opts, std::string id)
      : spec_(std::move(spec)), source_(std::move(source)), opts_(std::move(opts)),
        id_(std::move(id)) {}

 private:

  FunctionSpec spec_;
  std::string source_;
  SandboxOptions opts_;
  std::string id_;
};

// Hex SHA-256 of a Lua source: the function's identity.
std::string LuaFunctionId(std::string_view source);

}  // namespace cloister::functions::lua
