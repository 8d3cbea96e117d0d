// The catalogue of built-in functions: every C++ function a task may name
// (echo, psi, linreg_*, rsa_*, aes_*, gbdt_*), looked up by name.
//
//   const Function* fn = Builtins().Find("psi");
//   if (fn == nullptr) return NotFound(...);
//   for (const FunctionSpec* s : Builtins().List()) Print(*s);
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "functions/runtime.h"

namespace cloister::functions::builtin {

// An immutable-after-construction name → Function map. Thread-safe for
// concurrent reads once built.
class Registry {
 public:
  // AlreadyExists when the name is taken; InvalidArgument on a null function
  // or an empty name.
  Status Add(std::unique_ptr<Function> fn);
  // nullptr when absent. The pointer lives as long as the registry.
  const Function* Find(std::string_view name) const;
  // Specs sorted by name.
  std::vector<const FunctionSpec*> List() const;
  size_t size() const { return functions_.size(); }

 private:
  std::vector<std::unique_ptr<Function>> functions_;  // sorted by spec().name
};

// The process-wide registry of built-ins, built on first use (thread-safe
// static initialisation). Aborts at startup if two built-ins share a name:
// that is a build error, not a runtime condition.
const Registry& Builtins();

}  // namespace cloister::functions::builtin
