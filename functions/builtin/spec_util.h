// Terse builders for FunctionSpec pieces, so each built-in's spec reads as a
// table of its arguments and slots.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "functions/runtime.h"

namespace cloister::functions::builtin {

// Built member by member: brace-initialising ArgSpec with a temporary
// variant trips GCC 12's -Wmaybe-uninitialized under ASan (a false positive).
inline ArgSpec MakeArg(std::string name, ArgType type, std::string help) {
  ArgSpec a;
  a.name = std::move(name);
  a.type = type;
  a.help = std::move(help);
  return a;
}
inline ArgSpec StringArg(std::string name, std::optional<std::string> def, std::string help) {
  ArgSpec a = MakeArg(std::move(name), ArgType::kString, std::move(help));
  if (def) a.default_value.emplace(std::in_place_type<std::string>, std::move(*def));
  return a;
}
inline ArgSpec IntArg(std::string name, int64_t def, int64_t min, int64_t max, std::string help) {
  ArgSpec a = MakeArg(std::move(name), ArgType::kInt, std::move(help));
  a.default_value.emplace(std::in_place_type<int64_t>, def);
  a.min = static_cast<double>(min);
  a.max = static_cast<double>(max);
  return a;
}
inline ArgSpec DoubleArg(std::string name, double def, double min, double max,
                         std::string help) {
  ArgSpec a = MakeArg(std::move(name), ArgType::kDouble, std::move(help));
  a.default_value.emplace(std::in_place_type<double>, def);
  a.min = min;
  a.max = max;
  return a;
}
inline ArgSpec BoolArg(std::string name, bool def, std::string help) {
  ArgSpec a = MakeArg(std::move(name), ArgType::kBool, std::move(help));
  a.default_value.emplace(std::in_place_type<bool>, def);
  return a;
}

inline SlotSpec Slot(std::string name, std::string help) {
  return {std::move(name), std::move(help), false, false, 1, 1};
}
inline SlotSpec OptionalSlot(std::string name, std::string help) {
  return {std::move(name), std::move(help), true, false, 0, 1};
}
inline SlotSpec VariadicSlot(std::string name, int min, int max, std::string help) {
  return {std::move(name), std::move(help), false, true, min, max};
}

}  // namespace cloister::functions::builtin
