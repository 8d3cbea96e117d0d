// The runtime interface every function sees — built-in C++ functions and Lua
// user functions alike (docs/design.md §6): typed arguments, named inputs, named
// outputs. Pure library: no gRPC, no I/O beyond the bytes handed in.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto rt, Runtime::Create(fn.spec(), raw_args, inputs, limits));
//   CLOISTER_RETURN_IF_ERROR(fn.Run(*rt));
//   Outputs out = std::move(*rt).TakeOutputs();   // only after Run succeeded
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace cloister::functions {

enum class ArgType { kString, kInt, kDouble, kBool };
std::string_view ArgTypeName(ArgType t);

using ArgValue = std::variant<std::string, int64_t, double, bool>;

struct ArgSpec {
  std::string name;
  ArgType type = ArgType::kString;
  // nullopt: the argument is required.
  std::optional<ArgValue> default_value;
  std::string help;
  // Inclusive numeric bounds, checked for kInt and kDouble.
  std::optional<double> min;
  std::optional<double> max;
};

// An input or output slot. A variadic slot named "set" accepts "set.<party>"
// names (e.g. "set.alice", "set.bob"); min/max bound how many.
struct SlotSpec {
  std::string name;
  std::string help;
  bool optional = false;
  bool variadic = false;
  int min_count = 1;
  int max_count = 1;
};

struct FunctionSpec {
  std::string name;
  std::string description;
  std::vector<ArgSpec> args;
  std::vector<SlotSpec> inputs;
  std::vector<SlotSpec> outputs;
};

// Typed argument values, validated against a FunctionSpec.
class Args {
 public:
  Args() = default;
  // Parses textual values ("--arg k=v") by the spec's types, fills defaults,
  // rejects unknown names, missing required ones, bad numbers and bounds.
  // Errors are InvalidArgument naming the argument.
  static Result<Args> FromStrings(const FunctionSpec& spec,
                                  const std::map<std::string, std::string>& raw);
  // Same for already-typed values (an int may be given for a double).
  static Result<Args> FromValues(const FunctionSpec& spec,
                                 const std::map<std::string, ArgValue>& raw);

  Result<std::string> GetString(std::string_view name) const;
  Result<int64_t> GetInt(std::string_view name) const;
  Result<double> GetDouble(std::string_view name) const;
  Result<bool> GetBool(std::string_view name) const;
  const std::map<std::string, ArgValue, std::less<>>& values() const { return values_; }

 private:
  std::map<std::string, ArgValue, std::less<>> values_;
};

// Resource caps for one invocation; the cluster config caps these further.
struct Limits {
  uint64_t max_output_bytes = 256ull << 20;  // all outputs together
  int max_outputs = 64;
};

using Inputs = std::map<std::string, std::string, std::less<>>;   // name → bytes
using Outputs = std::map<std::string, std::string, std::less<>>;  // name → bytes

// One invocation's view of the world. Not thread-safe; owned by the caller
// for the duration of Run(). Outputs accumulate in memory and are handed
// out only by TakeOutputs(), so a failed function publishes nothing.
class Runtime {
 public:
  // Validates args and inputs against the spec: every required input slot
  // present, no input that no slot names, variadic counts in range.
  static Result<std::unique_ptr<Runtime>> Create(
      const FunctionSpec& spec, const std::map<std::string, std::string>& raw_args,
      Inputs inputs, Limits limits = {});
  static Result<std::unique_ptr<Runtime>> CreateTyped(
      const FunctionSpec& spec, const std::map<std::string, ArgValue>& args,
      Inputs inputs, Limits limits = {});

  const FunctionSpec& spec() const { return spec_; }
  const Args& args() const { return args_; }
  const Limits& limits() const { return limits_; }

  bool HasInput(std::string_view name) const;
  // NotFound naming the slot when absent. The view lives as long as *this.
  Result<std::string_view> Input(std::string_view name) const;
  // Names of the inputs bound to a variadic slot, sorted ("set.alice", …).
  std::vector<std::string> InputsOf(std::string_view slot) const;
  const Inputs& inputs() const { return inputs_; }

  // Appends to output `name` (created on first write). Rejects names no
  // output slot allows, and ResourceExhausted past the limits.
  Status Write(std::string_view name, std::string_view bytes);
  uint64_t output_bytes() const { return output_bytes_; }

  // Call only after the function returned OK.
  Outputs TakeOutputs() && { return std::move(outputs_); }

 private:
  // Passkey: only Create()/CreateTyped() can construct, yet make_unique works.
  struct Key {
    explicit Key() = default;
  };

 public:
  Runtime(Key, FunctionSpec spec, Args args, Inputs inputs, Limits limits);

 private:
  Status CheckInputs() const;

  FunctionSpec spec_;
  Args args_;
  Inputs inputs_;
  Limits limits_;
  Outputs outputs_;
  uint64_t output_bytes_ = 0;
};

// Whether `name` is allowed by one of `slots` (exact or variadic "slot.x").
const SlotSpec* MatchSlot(const std::vector<SlotSpec>& slots, std::string_view name);

// A function: its spec plus code. Implementations are stateless and
// thread-safe; all per-call state lives in the Runtime.
class Function {
 public:
  virtual ~Function() = default;
  virtual const FunctionSpec& spec() const = 0;
  virtual Status Run(Runtime& rt) const = 0;
};

// Validates, runs and returns outputs only when the function succeeded.
Result<Outputs> Invoke(const Function& fn, const std::map<std::string, std::string>& raw_args,
                       Inputs inputs, Limits limits = {});

}  // namespace cloister::functions
