// `cloister function create`'s spec file: the shared Lua spec format plus
// "limits", as the tasks service takes it; see task_format.h.
#include "cli/task_format.h"

#include <set>
#include <string>
#include <type_traits>
#include <variant>

#include "cli/task_format_internal.h"
#include "functions/lua/spec_json.h"

namespace cloister::cli {
namespace {

using nlohmann::json;
using task_format_internal::Shown;

Error BadSpec(const std::string& what) {
  return InvalidArgument("function spec: " + what, kBadFunctionSpec);
}

tasks::ArgType ToProto(functions::ArgType t) {
  switch (t) {
    case functions::ArgType::kString: return tasks::ARG_TYPE_STRING;
    case functions::ArgType::kInt: return tasks::ARG_TYPE_INT;
    case functions::ArgType::kDouble: return tasks::ARG_TYPE_DOUBLE;
    case functions::ArgType::kBool: return tasks::ARG_TYPE_BOOL;
  }
  return tasks::ARG_TYPE_UNSPECIFIED;
}

api::ArgumentValue ToProto(const functions::ArgValue& v) {
  api::ArgumentValue out;
  std::visit(
      [&out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) out.set_string_value(x);
        else if constexpr (std::is_same_v<T, int64_t>) out.set_int_value(x);
        else if constexpr (std::is_same_v<T, double>) out.set_double_value(x);
        else out.set_bool_value(x);
      },
      v);
  return out;
}

void ToProto(const functions::SlotSpec& s, tasks::SlotSpec* out) {
  out->set_name(s.name);
  out->set_help(s.help);
  out->set_optional(s.optional);
  out->set_variadic(s.variadic);
  out->set_min_count(s.min_count);
  out->set_max_count(s.max_count);
}

// "limits": {"memory_bytes": N, …}: every field a non-negative integer.
Status ParseLimits(const json& j, tasks::LuaLimits* out) {
  if (!j.is_object()) return BadSpec("limits must be an object");
  for (const auto& [key, value] : j.items()) {
    if (!value.is_number_unsigned())  // nlohmann reads 0, 1, … as unsigned, -1 as signed
      return BadSpec("limits." + Shown(key) + " must be a non-negative integer");
    const uint64_t v = value.get<uint64_t>();
    if (key == "memory_bytes") out->set_memory_bytes(v);
    else if (key == "instructions") out->set_instructions(v);
    else if (key == "wall_time_ms") out->set_wall_time_ms(v);
    else if (key == "output_bytes") out->set_output_bytes(v);
    else if (key == "max_outputs") {
      if (v > UINT32_MAX) return BadSpec("limits.max_outputs is too large");
      out->set_max_outputs(static_cast<uint32_t>(v));
    } else {
      return BadSpec("unknown field limits." + Shown(key) +
                     " (memory_bytes, instructions, wall_time_ms, output_bytes, max_outputs)");
    }
  }
  return OkStatus();
}

}  // namespace

Result<SpecFile> ParseSpecFile(std::string_view text) {
  // The shared parser (the format of `cloister lua run --spec`) for names,
  // args and slots; the keys it does not know are checked here.
  CLOISTER_ASSIGN_OR_RETURN(functions::FunctionSpec fs, functions::lua::ParseFunctionSpecJson(text));
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return BadSpec("must be a JSON object");
  static const std::set<std::string> kKnown = {"name",   "description", "args",
                                               "inputs", "outputs",     "limits"};
  for (const auto& [key, value] : j.items())
    if (!kKnown.count(key))
      return BadSpec("unknown field '" + Shown(key) +
                     "' (name, description, args, inputs, outputs, limits)");
  if (!j.contains("name")) return BadSpec("name is required");
  if (j.contains("description") && !j["description"].is_string())
    return BadSpec("description must be a string");

  SpecFile out;
  out.description = fs.description;
  tasks::FunctionSpec& p = out.spec;
  p.set_name(fs.name);
  for (const auto& a : fs.args) {
    tasks::ArgSpec* pa = p.add_args();
    pa->set_name(a.name);
    pa->set_type(ToProto(a.type));
    if (a.default_value) *pa->mutable_default_value() = ToProto(*a.default_value);
    pa->set_help(a.help);
    if (a.min) pa->mutable_min()->set_value(*a.min);
    if (a.max) pa->mutable_max()->set_value(*a.max);
  }
  // The shared parser ignores a bound that is not a number: refuse it here.
  if (j.contains("args") && j["args"].is_array()) {
    for (size_t i = 0; i < j["args"].size(); ++i) {
      const json& a = j["args"][i];
      for (const char* bound : {"min", "max"})
        if (a.contains(bound) && !a[bound].is_number())
          return BadSpec("args[" + std::to_string(i) + "]." + bound + " must be a number");
    }
  }
  for (const auto& s : fs.inputs) ToProto(s, p.add_inputs());
  for (const auto& s : fs.outputs) ToProto(s, p.add_outputs());
  if (j.contains("limits")) CLOISTER_RETURN_IF_ERROR(ParseLimits(j["limits"], p.mutable_limits()));
  return out;
}

}  // namespace cloister::cli
