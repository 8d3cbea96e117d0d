// Argument typing, slot matching and output accounting; see runtime.h.
#include "functions/runtime.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace cloister::functions {
namespace {

const ArgSpec* FindArg(const FunctionSpec& spec, std::string_view name) {
  for (const auto& a : spec.args)
    if (a.name == name) return &a;
  return nullptr;
}

Result<ArgValue> ParseValue(const ArgSpec& spec, std::string_view text) {
  const std::string where = "argument '" + spec.name + "'";
  switch (spec.type) {
    case ArgType::kString:
      return ArgValue(std::string(text));
    case ArgType::kInt: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty())
        return InvalidArgument(where + ": '" + std::string(text.substr(0, 64)) +
                               "' is not an integer");
      return ArgValue(v);
    }
    case ArgType::kDouble: {
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || p != text.data() + text.size() || text.empty() ||
          !std::isfinite(v))
        return InvalidArgument(where + ": '" + std::string(text.substr(0, 64)) +
                               "' is not a finite number");
      return ArgValue(v);
    }
    case ArgType::kBool:
      if (text == "true" || text == "1" || text == "yes") return ArgValue(true);
      if (text == "false" || text == "0" || text == "no") return ArgValue(false);
      return InvalidArgument(where + ": '" + std::string(text.substr(0, 64)) +
                             "' is not a boolean (true/false)");
  }
  return Internal("unreachable arg type");
}

Result<ArgValue> CoerceValue(const ArgSpec& spec, const ArgValue& v) {
  const std::string where = "argument '" + spec.name + "'";
  switch (spec.type) {
    case ArgType::kString:
      if (auto* s = std::get_if<std::string>(&v)) return ArgValue(*s);
      break;
    case ArgType::kInt:
      if (auto* i = std::get_if<int64_t>(&v)) return ArgValue(*i);
      if (auto* d = std::get_if<double>(&v)) {
        if (std::isfinite(*d) && std::floor(*d) == *d && std::fabs(*d) < 9.0e15)
          return ArgValue(static_cast<int64_t>(*d));
      }
      break;
    case ArgType::kDouble:
      if (auto* d = std::get_if<double>(&v)) {
        if (!std::isfinite(*d)) return InvalidArgument(where + ": not a finite number");
        return ArgValue(*d);
      }
      if (auto* i = std::get_if<int64_t>(&v)) return ArgValue(static_cast<double>(*i));
      break;
    case ArgType::kBool:
      if (auto* b = std::get_if<bool>(&v)) return ArgValue(*b);
      break;
  }
  return InvalidArgument(where + ": expected " + std::string(ArgTypeName(spec.type)));
}

Status CheckBounds(const ArgSpec& spec, const ArgValue& v) {
  double x = 0;
  if (auto* i = std::get_if<int64_t>(&v)) x = static_cast<double>(*i);
  else if (auto* d = std::get_if<double>(&v)) x = *d;
  else return OkStatus();
  if (spec.min && x < *spec.min)
    return InvalidArgument("argument '" + spec.name + "' must be >= " +
                           std::to_string(*spec.min));
  if (spec.max && x > *spec.max)
    return InvalidArgument("argument '" + spec.name + "' must be <= " +
                           std::to_string(*spec.max));
  return OkStatus();
}

template <typename Raw, typename Conv>
Result<Args> Build(const FunctionSpec& spec, const std::map<std::string, Raw>& raw, Conv conv,
                   std::map<std::string, ArgValue, std::less<>>& out) {
  for (const auto& [name, value] : raw) {
    const ArgSpec* a = FindArg(spec, name);
    if (a == nullptr)
      return InvalidArgument("function '" + spec.name + "' has no argument '" +
                             name.substr(0, 64) + "'");
    CLOISTER_ASSIGN_OR_RETURN(ArgValue v, conv(*a, value));
    CLOISTER_RETURN_IF_ERROR(CheckBounds(*a, v));
    out[name] = std::move(v);
  }
  for (const auto& a : spec.args) {
    if (out.count(a.name)) continue;
    if (!a.default_value)
      return InvalidArgument("function '" + spec.name + "' requires argument '" +
                             a.name + "' (" + std::string(ArgTypeName(a.type)) + ")");
    out[a.name] = *a.default_value;
  }
  return Args();
}

}  // namespace

std::string_view ArgTypeName(ArgType t) {
  switch (t) {
    case ArgType::kString: return "string";
    case ArgType::kInt: return "int";
    case ArgType::kDouble: return "double";
    case ArgType::kBool: return "bool";
  }
  return "?";
}

Result<Args> Args::FromStrings(const FunctionSpec& spec,
                               const std::map<std::string, std::string>& raw) {
  Args args;
  CLOISTER_RETURN_IF_ERROR(
      Build(spec, raw, [](const ArgSpec& a, const std::string& s) { return ParseValue(a, s); },
            args.values_));
  return args;
}

Result<Args> Args::FromValues(const FunctionSpec& spec,
                              const std::map<std::string, ArgValue>& raw) {
  Args args;
  CLOISTER_RETURN_IF_ERROR(
      Build(spec, raw, [](const ArgSpec& a, const ArgValue& v) { return CoerceValue(a, v); },
            args.values_));
  return args;
}

namespace {
template <typename T>
Result<T> GetTyped(const std::map<std::string, ArgValue, std::less<>>& values,
                   std::string_view name, std::string_view type) {
  auto it = values.find(name);
  if (it == values.end())
    return InvalidArgument("no argument '" + std::string(name) + "'");
  if (auto* v = std::get_if<T>(&it->second)) return *v;
  return InvalidArgument("argument '" + std::string(name) + "' is not " + std::string(type));
}
}  // namespace

Result<std::string> Args::GetString(std::string_view n) const {
  return GetTyped<std::string>(values_, n, "a string");
}
Result<int64_t> Args::GetInt(std::string_view n) const {
  return GetTyped<int64_t>(values_, n, "an int");
}
Result<double> Args::GetDouble(std::string_view n) const {
  return GetTyped<double>(values_, n, "a double");
}
Result<bool> Args::GetBool(std::string_view n) const {
  return GetTyped<bool>(values_, n, "a bool");
}

const SlotSpec* MatchSlot(const std::vector<SlotSpec>& slots, std::string_view name) {
  for (const auto& s : slots) {
    if (!s.variadic) {
      if (name == s.name) return &s;
      continue;
    }
    if (name.size() > s.name.size() + 1 && name.substr(0, s.name.size()) == s.name &&
        name[s.name.size()] == '.')
      return &s;
  }
  return nullptr;
}

Runtime::Runtime(Key, FunctionSpec spec, Args args, Inputs inputs, Limits limits)
    : spec_(std::move(spec)), args_(std::move(args)), inputs_(std::move(inputs)),
      limits_(limits) {}

Result<std::unique_ptr<Runtime>> Runtime::Create(
    const FunctionSpec& spec, const std::map<std::string, std::string>& raw_args,
    Inputs inputs, Limits limits) {
  CLOISTER_ASSIGN_OR_RETURN(Args args, Args::FromStrings(spec, raw_args));
  auto rt = std::make_unique<Runtime>(Key(), spec, std::move(args), std::move(inputs), limits);
  CLOISTER_RETURN_IF_ERROR(rt->CheckInputs());
  return rt;
}

Result<std::unique_ptr<Runtime>> Runtime::CreateTyped(
    const FunctionSpec& spec, const std::map<std::string, ArgValue>& raw_args, Inputs inputs,
    Limits limits) {
  CLOISTER_ASSIGN_OR_RETURN(Args args, Args::FromValues(spec, raw_args));
  auto rt = std::make_unique<Runtime>(Key(), spec, std::move(args), std::move(inputs), limits);
  CLOISTER_RETURN_IF_ERROR(rt->CheckInputs());
  return rt;
}

Status Runtime::CheckInputs() const {
  std::map<const SlotSpec*, int> counts;
  for (const auto& [name, bytes] : inputs_) {
    const SlotSpec* s = MatchSlot(spec_.inputs, name);
    if (s == nullptr)
      return InvalidArgument("function '" + spec_.name + "' has no input slot '" +
                             name.substr(0, 64) + "'");
    ++counts[s];
  }
  for (const auto& s : spec_.inputs) {
    int n = counts[&s];
    if (n == 0 && !s.optional)
      return InvalidArgument("function '" + spec_.name + "' requires input '" + s.name +
                             (s.variadic ? ".<name>'" : "'"));
    if (s.variadic && n > 0 && (n < s.min_count || n > s.max_count))
      return InvalidArgument("function '" + spec_.name + "' takes " +
                             std::to_string(s.min_count) + ".." + std::to_string(s.max_count) +
                             " inputs '" + s.name + ".<name>', got " + std::to_string(n));
  }
  return OkStatus();
}

bool Runtime::HasInput(std::string_view name) const { return inputs_.count(name) > 0; }

Result<std::string_view> Runtime::Input(std::string_view name) const {
  auto it = inputs_.find(name);
  if (it == inputs_.end())
    return NotFound("no input '" + std::string(name.substr(0, 64)) + "'");
  return std::string_view(it->second);
}

std::vector<std::string> Runtime::InputsOf(std::string_view slot) const {
  std::vector<std::string> out;
  for (const auto& [name, bytes] : inputs_) {
    if (name.size() > slot.size() + 1 && name.compare(0, slot.size(), slot) == 0 &&
        name[slot.size()] == '.')
      out.push_back(name);
    else if (name == slot)
      out.push_back(name);
  }
  return out;
}

Status Runtime::Write(std::string_view name, std::string_view bytes) {
  if (MatchSlot(spec_.outputs, name) == nullptr)
    return InvalidArgument("function '" + spec_.name + "' has no output slot '" +
                           std::string(name.substr(0, 64)) + "'");
  auto it = outputs_.find(name);
  if (it == outputs_.end()) {
    if (static_cast<int>(outputs_.size()) >= limits_.max_outputs)
      return ResourceExhausted("output count limit exceeded (" +
                                   std::to_string(limits_.max_outputs) + ")",
                               "OUTPUT_LIMIT_EXCEEDED");
    it = outputs_.emplace(std::string(name), std::string()).first;
  }
  if (bytes.size() > limits_.max_output_bytes - output_bytes_)
    return ResourceExhausted("output size limit exceeded (" +
                                 std::to_string(limits_.max_output_bytes) + " bytes)",
                             "OUTPUT_LIMIT_EXCEEDED");
  it->second.append(bytes);
  output_bytes_ += bytes.size();
  return OkStatus();
}

Result<Outputs> Invoke(const Function& fn, const std::map<std::string, std::string>& raw_args,
                       Inputs inputs, Limits limits) {
  CLOISTER_ASSIGN_OR_RETURN(auto rt, Runtime::Create(fn.spec(), raw_args, std::move(inputs), limits));
  CLOISTER_RETURN_IF_ERROR(fn.Run(*rt));
  return std::move(*rt).TakeOutputs();
}

}  // namespace cloister::functions
