// FunctionSpec from the JSON a submitter (or `cloister lua run --spec`)
// provides for a Lua function: typed args with defaults and bounds, input
// and output slots. Untrusted input: sizes and names are bounded.
//
//   {"name": "wordcount",
//    "args":    [{"name": "top", "type": "int", "default": 10, "min": 0}],
//    "inputs":  [{"name": "text"}],
//    "outputs": [{"name": "counts"}, {"name": "set", "variadic": true, "max_count": 8}]}
#pragma once

#include <string_view>

#include "common/result.h"
#include "functions/runtime.h"

namespace cloister::functions::lua {

// InvalidArgument [BAD_FUNCTION_SPEC] naming the offending field.
Result<FunctionSpec> ParseFunctionSpecJson(std::string_view json);

}  // namespace cloister::functions::lua
