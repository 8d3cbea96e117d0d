// Lease → runtime conversion; see task_lease.h.
#include "services/exec/task_lease.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "functions/builtin/registry.h"

namespace cloister::exec {
namespace {

// Bounds of a normalized spec (services/tasks/spec_rules.h); a lease past
// them is not one tasks would have produced.
constexpr int kMaxEntries = 256;
constexpr int kMaxVariadic = 1024;

Error Bad(const std::string& field, std::string_view what) {
  return InvalidArgument("lease " + field + ": " + std::string(what), reason::kLeaseInvalid);
}

Result<functions::ArgType> TypeFromLease(const std::string& field, tasks::ArgType t) {
  switch (t) {
    case tasks::ARG_TYPE_STRING: return functions::ArgType::kString;
    case tasks::ARG_TYPE_INT: return functions::ArgType::kInt;
    case tasks::ARG_TYPE_DOUBLE: return functions::ArgType::kDouble;
    case tasks::ARG_TYPE_BOOL: return functions::ArgType::kBool;
    default: break;
  }
  return Bad(field, "unknown argument type");
}

Result<functions::ArgValue> ValueFromLease(const std::string& field, const api::ArgumentValue& v) {
  switch (v.value_case()) {
    case api::ArgumentValue::kStringValue: return functions::ArgValue(v.string_value());
    case api::ArgumentValue::kIntValue: return functions::ArgValue(int64_t{v.int_value()});
    case api::ArgumentValue::kDoubleValue:
      if (!std::isfinite(v.double_value())) return Bad(field, "not a finite number");
      return functions::ArgValue(v.double_value());
    case api::ArgumentValue::kBoolValue: return functions::ArgValue(v.bool_value());
    case api::ArgumentValue::VALUE_NOT_SET: break;
  }
  return Bad(field, "no value");
}

Result<std::vector<functions::SlotSpec>> SlotsFromLease(
    std::string_view list, const google::protobuf::RepeatedPtrField<tasks::SlotSpec>& slots) {
  if (slots.size() > kMaxEntries) return Bad("spec." + std::string(list), "too many slots");
  std::vector<functions::SlotSpec> out;
  out.reserve(slots.size());
  for (int i = 0; i < slots.size(); ++i) {
    const tasks::SlotSpec& p = slots[i];
    const std::string field = "spec." + std::string(list) + "[" + std::to_string(i) + "]";
    if (p.name().empty()) return Bad(field, "no name");
    functions::SlotSpec s;
    s.name = p.name();
    s.help = p.help();
    s.optional = p.optional();
    s.variadic = p.variadic();
    if (s.variadic) {
      if (p.min_count() < 0 || p.min_count() > p.max_count() || p.max_count() > kMaxVariadic)
        return Bad(field, "variadic counts out of range");
      s.min_count = p.min_count();
      s.max_count = p.max_count();
    }
    out.push_back(std::move(s));
  }
  return out;
}

uint64_t OrDefault(uint64_t requested, uint64_t fallback) {
  return requested == 0 ? fallback : requested;
}

}  // namespace

Result<functions::FunctionSpec> SpecFromLease(const tasks::FunctionSpec& p) {
  functions::FunctionSpec s;
  if (p.name().empty()) return Bad("spec.name", "empty");
  s.name = p.name();
  if (p.args_size() > kMaxEntries) return Bad("spec.args", "too many arguments");
  for (int i = 0; i < p.args_size(); ++i) {
    const tasks::ArgSpec& pa = p.args(i);
    const std::string field = "spec.args[" + std::to_string(i) + "]";
    if (pa.name().empty()) return Bad(field, "no name");
    functions::ArgSpec a;
    a.name = pa.name();
    CLOISTER_ASSIGN_OR_RETURN(a.type, TypeFromLease(field, pa.type()));
    a.help = pa.help();
    if (pa.has_default_value()) {
      CLOISTER_ASSIGN_OR_RETURN(a.default_value,
                                ValueFromLease(field + ".default_value", pa.default_value()));
    }
    if (pa.has_min()) {
      if (!std::isfinite(pa.min().value())) return Bad(field + ".min", "not a finite number");
      a.min = pa.min().value();
    }
    if (pa.has_max()) {
      if (!std::isfinite(pa.max().value())) return Bad(field + ".max", "not a finite number");
      a.max = pa.max().value();
    }
    s.args.push_back(std::move(a));
  }
  CLOISTER_ASSIGN_OR_RETURN(s.inputs, SlotsFromLease("inputs", p.inputs()));
  CLOISTER_ASSIGN_OR_RETURN(s.outputs, SlotsFromLease("outputs", p.outputs()));
  return s;
}

Result<std::map<std::string, functions::ArgValue>> ArgsFromLease(
    const google::protobuf::Map<std::string, api::ArgumentValue>& args) {
  if (args.size() > static_cast<size_t>(kMaxEntries)) return Bad("args", "too many arguments");
  std::map<std::string, functions::ArgValue> out;
  for (const auto& [name, value] : args) {
    CLOISTER_ASSIGN_OR_RETURN(functions::ArgValue v,
                              ValueFromLease("args['" + name.substr(0, 64) + "']", value));
    out.emplace(name, std::move(v));
  }
  return out;
}

functions::lua::LuaLimits LuaLimitsFromLease(const tasks::LuaLimits& r,
                                             const functions::lua::LuaLimits& caps) {
  const functions::lua::LuaLimits defaults;
  functions::lua::LuaLimits want = defaults;
  want.memory_bytes = OrDefault(r.memory_bytes(), defaults.memory_bytes);
  want.instructions = OrDefault(r.instructions(), defaults.instructions);
  want.wall_time_ms = OrDefault(r.wall_time_ms(), defaults.wall_time_ms);
  want.output_bytes = OrDefault(r.output_bytes(), defaults.output_bytes);
  want.max_outputs = r.max_outputs() == 0
                         ? defaults.max_outputs
                         : static_cast<int>(std::min<uint32_t>(r.max_outputs(), INT_MAX));
  return functions::lua::Clamp(want, caps);
}

Result<PreparedFunction> PrepareFunction(const tasks::TaskLease& lease,
                                         const PrepareOptions& opts) {
  PreparedFunction out;
  switch (lease.kind()) {
    case tasks::FUNCTION_KIND_BUILTIN: {
      // The registry's own spec is what its code was written against; the
      // lease's is tasks' copy of it.
      out.fn = functions::builtin::Builtins().Find(lease.builtin_name());
      if (out.fn == nullptr)
        return NotFound("this exec has no built-in function '" +
                            lease.builtin_name().substr(0, 64) + "'",
                        reason::kBuiltinUnknown);
      return out;
    }
    case tasks::FUNCTION_KIND_LUA: {
      CLOISTER_ASSIGN_OR_RETURN(functions::FunctionSpec spec, SpecFromLease(lease.spec()));
      functions::lua::SandboxOptions sandbox;
      sandbox.limits = LuaLimitsFromLease(lease.spec().limits(), opts.lua_caps);
      sandbox.forked = opts.forked_lua;
      sandbox.builtins = [](std::string_view name) {
        return functions::builtin::Builtins().Find(name);
      };
      sandbox.unsafe_test_syscall_fn = opts.unsafe_test_syscall_fn;
      out.limits.max_output_bytes = sandbox.limits.output_bytes;
      out.limits.max_outputs = sandbox.limits.max_outputs;
      out.lua_limits = sandbox.limits;
      // A new function object (and, when it runs, a new Lua state or a new
      // sandbox process) per task: nothing survives from one task to the next.
      CLOISTER_ASSIGN_OR_RETURN(out.lua, functions::lua::LuaFunction::Create(
                                             std::move(spec), lease.lua_source(),
                                             std::move(sandbox)));
      out.fn = out.lua.get();
      return out;
    }
    default: break;
  }
  return Bad("kind", "not BUILTIN or LUA");
}

}  // namespace cloister::exec
