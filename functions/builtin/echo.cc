// The `echo` built-in; see echo.h and docs/functions.md.
#include "functions/builtin/echo.h"

#include "functions/builtin/spec_util.h"

namespace cloister::functions::builtin {
namespace {

class Echo final : public Function {
 public:
  Echo() {
    spec_.name = "echo";
    spec_.description = "Copies input 'data' to output 'data' byte for byte.";
    spec_.inputs = {Slot("data", "any bytes")};
    spec_.outputs = {Slot("data", "the same bytes")};
  }
  const FunctionSpec& spec() const override { return spec_; }
  Status Run(Runtime& rt) const override {
    CLOISTER_ASSIGN_OR_RETURN(std::string_view data, rt.Input("data"));
    // Create the output even when empty so callers always find it.
    return rt.Write("data", data);
  }

 private:
  FunctionSpec spec_;
};

}  // namespace

std::unique_ptr<Function> MakeEcho() { return std::make_unique<Echo>(); }

}  // namespace cloister::functions::builtin
