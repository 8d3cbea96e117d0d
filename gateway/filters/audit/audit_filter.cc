// Audit recording of gateway decisions; see audit_filter.h.
#include "gateway/filters/audit/audit_filter.h"

namespace cloister::gateway {

Status AuditFilter::Record(const RequestContext& ctx, const Error* why) {
  services::AuditEntry e;
  e.principal = ctx.principal.anonymous() ? "anonymous" : ctx.principal.user_id();
  e.method = ctx.method;
  e.decision = why == nullptr ? "allow" : "deny";
  e.reason = why == nullptr ? "" : why->reason();
  e.request_id = ctx.request_id;
  e.resources = ctx.resources;
  e.peer = ctx.peer;
  if (auto st = log_->Append(e); !st.ok())
    return Unavailable("audit log unavailable; request refused", "AUDIT_UNAVAILABLE");
  return OkStatus();
}

}  // namespace cloister::gateway
