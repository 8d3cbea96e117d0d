// API-key scope validation and its stored text; see api_key_scope.h.
#include "services/auth/api_key_scope.h"

#include <algorithm>
#include <set>

#include "proto/method_table.h"

namespace cloister::auth {
namespace {

constexpr size_t kMaxMethodName = 64;

bool IsMethodName(std::string_view s) {
  if (s.empty() || s.size() > kMaxMethodName) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

Result<api::ApiKeyScope> CanonicalScope(const api::ApiKeyScope& scope) {
  if (scope.methods_size() > kMaxScopeMethods)
    return InvalidArgument("scope.methods: at most " + std::to_string(kMaxScopeMethods) +
                               " methods",
                           kScopeInvalid);
  std::set<std::string> names;
  for (int i = 0; i < scope.methods_size(); ++i) {
    const std::string& m = scope.methods(i);
    const std::string field = "scope.methods[" + std::to_string(i) + "]";
    if (!IsMethodName(m))
      return InvalidArgument(field + ": not a method name", kScopeInvalid);
    if (rpc::MethodTable::Get().FindPublic(m) == nullptr)
      return InvalidArgument(field + ": no public method '" + m + "'", kScopeInvalid);
    names.insert(m);
  }
  api::ApiKeyScope out;
  out.set_read_only(scope.read_only());
  for (const auto& n : names) out.add_methods(n);
  return out;
}

std::string ScopeToText(const api::ApiKeyScope& scope) {
  std::string out = scope.read_only() ? std::string(kReadOnlyScopeName) : "";
  for (const auto& m : scope.methods()) out += (out.empty() ? "" : ",") + m;
  return out;
}

Result<api::ApiKeyScope> ScopeFromText(std::string_view text) {
  api::ApiKeyScope out;
  if (text.empty()) return out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    if (item == kReadOnlyScopeName && start == 0) {
      out.set_read_only(true);
    } else if (IsMethodName(item) && out.methods_size() < kMaxScopeMethods) {
      out.add_methods(std::string(item));
    } else {
      return DataLoss("stored API key scope is corrupt", kScopeInvalid);
    }
    start = comma + 1;
  }
  return out;
}

}  // namespace cloister::auth
