// LuaFunction: compile check, identity and dispatch to the in-process or
// forked sandbox; see lua_function.h.
#include "functions/lua/lua_function.h"

#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "functions/lua/forked_runner.h"
#include "functions/lua/sys/lua_state.h"

namespace cloister::functions::lua {

std::string LuaFunctionId(std::string_view source) {
  return HexEncode(crypto::Sha256(source));
}

Result<std::unique_ptr<LuaFunction>> LuaFunction::Create(FunctionSpec spec, std::string source,
                                                         SandboxOptions opts) {
  CLOISTER_RETURN_IF_ERROR(sys::CheckSyntax(source));
  std::string id = LuaFunctionId(source);
  return std::make_unique<LuaFunction>(Key(), std::move(spec), std::move(source),
                                       std::move(opts), std::move(id));
}

Status LuaFunction::Run(Runtime& rt) const {
  RunReport report;
  return RunWithReport(rt, &report);
}

Status LuaFunction::RunWithReport(Runtime& rt, RunReport* report) const {
  *report = RunReport{};
  if (opts_.forked) return RunForked(source_, rt, opts_, report);
  return sys::Execute(source_, rt, opts_, report);
}

}  // namespace cloister::functions::lua
