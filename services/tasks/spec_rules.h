// Function specs in cloister-tasks: checking and normalizing a submitted
// Lua spec (untrusted, bounded), the built-in registry's spec as a proto,
// the conversions to functions::FunctionSpec (what Args and LuaFunction
// take) and between api::ArgumentValue and functions::ArgValue.
//
//   CLOISTER_ASSIGN_OR_RETURN(tasks::FunctionSpec spec, NormalizeLuaSpec(req.spec()));
//   functions::FunctionSpec fs = SpecFromProto(spec);
#pragma once

#include "common/result.h"
#include "functions/runtime.h"
#include "proto/cloister.pb.h"
#include "proto/tasks.pb.h"

namespace cloister::tasks_service {

inline constexpr int kMaxSpecEntries = 256;   // args, inputs, outputs each
inline constexpr int kMaxVariadicCount = 1024;
inline constexpr int kDefaultVariadicMax = 64;

// Checks a submitted spec and returns it normalized: non-variadic slots get
// min_count = optional ? 0 : 1 and max_count = 1, a variadic max_count of 0
// becomes 64. InvalidArgument [FUNCTION_SPEC_INVALID] naming the field
// ("spec.args[2].default_value"): names IsName and unique, a known type,
// a default of that type (finite), bounds only on numbers with min ≤ max,
// help ≤ 1 KiB, ≤ 256 entries per list, 0 ≤ min_count ≤ max_count ≤ 1024.
Result<tasks::FunctionSpec> NormalizeLuaSpec(const tasks::FunctionSpec& in);

// A built-in's registry spec as a normalized proto (no limits).
tasks::FunctionSpec SpecToProto(const functions::FunctionSpec& s);
// The runtime's view of a (normalized) proto spec.
functions::FunctionSpec SpecFromProto(const tasks::FunctionSpec& p);

// InvalidArgument [ARGS_INVALID] naming `field` when no value is set or a
// double is not finite.
Result<functions::ArgValue> ArgFromProto(std::string_view field, const api::ArgumentValue& v);
api::ArgumentValue ArgToProto(const functions::ArgValue& v);

}  // namespace cloister::tasks_service
