// Role and resource checks; see authorize_filter.h.
#include "gateway/filters/authorize/authorize_filter.h"

namespace cloister::gateway {

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
    const auto* req = dynamic_cast<const api::ChangePasswordRequest*>(ctx.body);
    std::string target = req ? req->username() : "";
    if (target.empty()) target = ctx.principal.username();
    if (target != ctx.principal.username() && !ctx.principal.HasRole(api::ROLE_ADMIN)) {
      denied_.fetch_add(1);
      return PermissionDenied("only an admin may act on another user's account",
                              "NOT_RESOURCE_OWNER");
    }
    ctx.resources.push_back("user:" + target);
  }
  return OkStatus();
}

}  // namespace cloister::gateway
