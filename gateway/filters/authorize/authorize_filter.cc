// Role, resource and API-key scope checks; see authorize_filter.h.
#include "gateway/filters/authorize/authorize_filter.h"

#include "proto/method_table.h"
#include "services/common/grant_verifier.h"

namespace cloister::gateway {
namespace {

// The account a self_or_admin method acts on: the request's `username`
// string field (ChangePassword, ListApiKeys, ...); empty or absent: the
// caller's own.
std::string TargetUsername(const google::protobuf::Message* body) {
  if (body == nullptr) return "";
  const auto* field = body->GetDescriptor()->FindFieldByName("username");
  if (field == nullptr || field->is_repeated() ||
      field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING)
    return "";
  return body->GetReflection()->GetString(*body, field);
}

}  // namespace

Status AuthorizeFilter::OnRequest(RequestContext& ctx) {
  auto it = policy_.allowed.find(ctx.method);
  bool ok = false;
  if (it != policy_.allowed.end()) {
    const auto& roles = it->second;
    if (roles.count("anonymous")) ok = true;
    if (!ctx.principal.anonymous()) {
      if (roles.count("user") && ctx.principal.HasRole(api::ROLE_USER)) ok = true;
      if (roles.count("admin") && ctx.principal.HasRole(api::ROLE_ADMIN)) ok = true;
    }
  }
  if (!ok) {
    denied_.fetch_add(1);
    if (ctx.principal.anonymous())
      return Unauthenticated("method " + ctx.method + " requires login", "LOGIN_REQUIRED");
    return PermissionDenied("user '" + ctx.principal.username() + "' may not call " + ctx.method,
                            "ROLE_NOT_PERMITTED");
  }
  auto pred = policy_.predicates.find(ctx.method);
  if (pred != policy_.predicates.end() && pred->second == Predicate::kSelfOrAdmin) {
    std::string target = TargetUsername(ctx.body);
    if (target.empty()) target = ctx.principal.username();
    if (target != ctx.principal.username() && !ctx.principal.HasRole(api::ROLE_ADMIN)) {
      denied_.fetch_add(1);
      return PermissionDenied("only an admin may act on another user's account",
                              "NOT_RESOURCE_OWNER");
    }
    ctx.resources.push_back("user:" + target);
  }
  if (ctx.principal.scoped()) {
    const rpc::MethodEntry* m = rpc::MethodTable::Get().FindPublic(ctx.method);
    // A method the table does not know is outside every scope.
    Status st = m != nullptr ? services::CheckApiKeyScope(*m, ctx.principal)
                             : PermissionDenied("this API key's scope does not include " +
                                                    ctx.method,
                                                services::grant_reason::kApiKeyScope);
    if (!st.ok()) {
      denied_.fetch_add(1);
      return st;
    }
  }
  return OkStatus();
}

}  // namespace cloister::gateway
