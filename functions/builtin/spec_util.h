// Terse builders for FunctionSpec pieces, so each built-in's spec reads as a
// table of its arguments and slots.
#pragma once

#include <optional>
#include <string>

#include "functions/runtime.h"

namespace cloister::functions::builtin {

inline ArgSpec StringArg(std::string name, std::optional<std::string> def, std::string help) {
  ArgSpec a{std::move(name), ArgType::kString, std::nullopt, std::move(help), std::nullopt,
            std::nullopt};
  if (def) a.default_value = ArgValue(std::move(*def));
  return a;
}
inline ArgSpec IntArg(std::string name, int64_t def, int64_t min, int64_t max, std::string help) {
  return {std::move(name), ArgType::kInt, ArgValue(def), std::move(help),
          static_cast<double>(min), static_cast<double>(max)};
}
inline ArgSpec DoubleArg(std::string name, double def, double min, double max,
                         std::string help) {
  return {std::move(name), ArgType::kDouble, ArgValue(def), std::move(help), min, max};
}
inline ArgSpec BoolArg(std::string name, bool def, std::string help) {
  return {std::move(name), ArgType::kBool, ArgValue(def), std::move(help), std::nullopt,
          std::nullopt};
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
