// Parses a Lua function's spec from JSON; see spec_json.h.
#include "functions/lua/spec_json.h"

#include <cctype>

#include <nlohmann/json.hpp>

namespace cloister::functions::lua {
namespace {

using nlohmann::json;

Error Bad(const std::string& what) { return InvalidArgument("function spec: " + what, "BAD_FUNCTION_SPEC"); }

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

Result<ArgType> ParseType(const std::string& t) {
  if (t == "string") return ArgType::kString;
  if (t == "int") return ArgType::kInt;
  if (t == "double") return ArgType::kDouble;
  if (t == "bool") return ArgType::kBool;
  return Bad("unknown argument type '" + t.substr(0, 32) + "'");
}

Result<ArgValue> ParseDefault(const ArgSpec& a, const json& v) {
  switch (a.type) {
    case ArgType::kString:
      if (v.is_string()) return ArgValue(v.get<std::string>());
      break;
    case ArgType::kInt:
      if (v.is_number_integer()) return ArgValue(v.get<int64_t>());
      break;
    case ArgType::kDouble:
      if (v.is_number()) return ArgValue(v.get<double>());
      break;
    case ArgType::kBool:
      if (v.is_boolean()) return ArgValue(v.get<bool>());
      break;
  }
  return Bad("default of argument '" + a.name + "' has the wrong type");
}

Result<std::vector<SlotSpec>> ParseSlots(const json& j, const char* field) {
  std::vector<SlotSpec> out;
  if (!j.contains(field)) return out;
  const json& arr = j.at(field);
  if (!arr.is_array() || arr.size() > 256) return Bad(std::string(field) + " must be an array (<= 256)");
  for (const json& s : arr) {
    if (!s.is_object() || !s.contains("name") || !s["name"].is_string())
      return Bad(std::string(field) + ": each slot needs a name");
    SlotSpec slot;
    slot.name = s["name"].get<std::string>();
    if (!ValidName(slot.name)) return Bad("bad slot name '" + slot.name.substr(0, 64) + "'");
    slot.help = s.value("help", "");
    slot.optional = s.value("optional", false);
    slot.variadic = s.value("variadic", false);
    slot.min_count = s.value("min_count", 1);
    slot.max_count = s.value("max_count", slot.variadic ? 64 : 1);
    if (slot.min_count < 0 || slot.max_count < slot.min_count || slot.max_count > 1024)
      return Bad("slot '" + slot.name + "': bad min_count/max_count");
    out.push_back(std::move(slot));
  }
  return out;
}

Result<FunctionSpec> Parse(const json& j) {
  if (!j.is_object()) return Bad("must be a JSON object");
  FunctionSpec spec;
  spec.name = j.value("name", "lua");
  spec.description = j.value("description", "");
  if (j.contains("args")) {
    const json& args = j["args"];
    if (!args.is_array() || args.size() > 256) return Bad("args must be an array (<= 256)");
    for (const json& a : args) {
      if (!a.is_object() || !a.contains("name") || !a["name"].is_string())
        return Bad("each argument needs a name");
      ArgSpec arg;
      arg.name = a["name"].get<std::string>();
      if (!ValidName(arg.name)) return Bad("bad argument name '" + arg.name.substr(0, 64) + "'");
      CLOISTER_ASSIGN_OR_RETURN(arg.type, ParseType(a.value("type", "string")));
      if (a.contains("default")) {
        CLOISTER_ASSIGN_OR_RETURN(ArgValue v, ParseDefault(arg, a["default"]));
        arg.default_value = std::move(v);
      }
      arg.help = a.value("help", "");
      if (a.contains("min") && a["min"].is_number()) arg.min = a["min"].get<double>();
      if (a.contains("max") && a["max"].is_number()) arg.max = a["max"].get<double>();
      spec.args.push_back(std::move(arg));
    }
  }
  CLOISTER_ASSIGN_OR_RETURN(spec.inputs, ParseSlots(j, "inputs"));
  CLOISTER_ASSIGN_OR_RETURN(spec.outputs, ParseSlots(j, "outputs"));
  return spec;
}

}  // namespace

Result<FunctionSpec> ParseFunctionSpecJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad("not valid JSON");
  try {
    return Parse(j);
  } catch (const json::exception& e) {  // type errors from value()/get()
    return Bad(e.what());
  }
}

}  // namespace cloister::functions::lua
