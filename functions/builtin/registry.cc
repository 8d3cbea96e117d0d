// Builds the built-in registry. GBDT lives in functions/gbdt/ and is linked
// in when present, so this folder builds on its own.
#include "functions/builtin/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "functions/builtin/aes.h"
#include "functions/builtin/echo.h"
#include "functions/builtin/linreg.h"
#include "functions/builtin/psi.h"
#include "functions/builtin/rsa.h"

#if __has_include("functions/gbdt/gbdt_functions.h")
#include "functions/gbdt/gbdt_functions.h"
#define CLOISTER_HAVE_GBDT 1
#endif

namespace cloister::functions::builtin {
namespace {

auto ByName(std::string_view name) {
  return [name](const std::unique_ptr<Function>& f) { return f->spec().name < name; };
}

}  // namespace

Status Registry::Add(std::unique_ptr<Function> fn) {
  if (fn == nullptr) return InvalidArgument("registry: null function");
  const std::string& name = fn->spec().name;
  if (name.empty()) return InvalidArgument("registry: function without a name");
  auto it = std::partition_point(functions_.begin(), functions_.end(), ByName(name));
  if (it != functions_.end() && (*it)->spec().name == name)
    return AlreadyExists("registry: function '" + name + "' is already registered");
  functions_.insert(it, std::move(fn));
  return OkStatus();
}

const Function* Registry::Find(std::string_view name) const {
  auto it = std::partition_point(functions_.begin(), functions_.end(), ByName(name));
  if (it == functions_.end() || (*it)->spec().name != name) return nullptr;
  return it->get();
}

std::vector<const FunctionSpec*> Registry::List() const {
  std::vector<const FunctionSpec*> out;
  out.reserve(functions_.size());
  for (const auto& f : functions_) out.push_back(&f->spec());
  return out;
}

namespace {

Registry BuildBuiltins() {
  std::vector<std::unique_ptr<Function>> all;
  all.push_back(MakeEcho());
  all.push_back(MakePsi());
  all.push_back(MakeLinregTrain());
  all.push_back(MakeLinregPredict());
  all.push_back(MakeRsaSign());
  all.push_back(MakeRsaVerify());
  all.push_back(MakeAesEncrypt());
  all.push_back(MakeAesDecrypt());
#ifdef CLOISTER_HAVE_GBDT
  for (auto& fn : MakeGbdtFunctions()) all.push_back(std::move(fn));
#endif
  Registry r;
  for (auto& fn : all) {
    Status s = r.Add(std::move(fn));
    if (!s.ok()) {
      std::fprintf(stderr, "fatal: %s\n", s.ToString().c_str());
      std::abort();
    }
  }
  return r;
}

}  // namespace

const Registry& Builtins() {
  static const Registry registry = BuildBuiltins();
  return registry;
}

}  // namespace cloister::functions::builtin
