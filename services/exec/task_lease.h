// From a claimed lease (proto/tasks.proto TaskLease) to what the runtime
// interface runs (functions/runtime.h): the function spec, the typed
// arguments, the effective Lua limits, and the function itself — a
// built-in from the registry, or the lease's Lua source compiled into a
// fresh sandboxed LuaFunction (a new one for every task, so nothing of one
// task's state can reach the next).
//
// The lease comes from the attested cloister-tasks, but it is still parsed
// like any input: a malformed one is InvalidArgument [LEASE_INVALID] naming
// the field, never a crash.
//
//   CLOISTER_ASSIGN_OR_RETURN(PreparedFunction f, PrepareFunction(lease, opts));
//   CLOISTER_ASSIGN_OR_RETURN(auto args, ArgsFromLease(lease.args()));
//   CLOISTER_ASSIGN_OR_RETURN(auto rt, Runtime::CreateTyped(f.fn->spec(), args, inputs, f.limits));
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "functions/lua/limits.h"
#include "functions/lua/lua_function.h"
#include "functions/runtime.h"
#include "proto/tasks.pb.h"

namespace cloister::exec {

namespace reason {
inline constexpr const char* kLeaseInvalid = "LEASE_INVALID";
inline constexpr const char* kBuiltinUnknown = "BUILTIN_UNKNOWN";
}  // namespace reason

// The runtime's spec for a lease's (normalized) function spec.
Result<functions::FunctionSpec> SpecFromLease(const tasks::FunctionSpec& spec);

// The lease's typed arguments (defaults already filled in by tasks).
Result<std::map<std::string, functions::ArgValue>> ArgsFromLease(
    const google::protobuf::Map<std::string, api::ArgumentValue>& args);

// What a Lua function asked for (0: the sandbox default), clamped to `caps`
// (functions/lua/limits.h Clamp: never above a cap, never below the minimum).
functions::lua::LuaLimits LuaLimitsFromLease(const tasks::LuaLimits& requested,
                                             const functions::lua::LuaLimits& caps);

struct PrepareOptions {
  // Run Lua in the forked seccomp sandbox (security level >= 3).
  bool forked_lua = false;
  functions::lua::LuaLimits lua_caps = functions::lua::ClusterMaxima();
  // TEST ONLY (functions/lua/sandbox_options.h): lets a test's Lua issue a
  // forbidden system call. Production never sets it.
  std::function<void()> unsafe_test_syscall_fn;
};

struct PreparedFunction {
  const functions::Function* fn = nullptr;  // the registry's, or `lua`
  std::unique_ptr<functions::lua::LuaFunction> lua;
  functions::Limits limits;                 // the Runtime's output caps
  std::optional<functions::lua::LuaLimits> lua_limits;  // Lua only: effective
};

// The function of `lease`: NotFound [BUILTIN_UNKNOWN] for a built-in this
// exec does not have, InvalidArgument [LUA_SYNTAX_ERROR] for a source that
// does not compile, [LEASE_INVALID] for an unknown kind or a bad spec.
Result<PreparedFunction> PrepareFunction(const tasks::TaskLease& lease,
                                         const PrepareOptions& opts);

}  // namespace cloister::exec
