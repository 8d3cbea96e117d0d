// Audit: records every public request's outcome in the gateway's
// hash-chained audit log — allowed ones before they are forwarded, denied
// ones with the refusing filter's reason. Fails closed: if the entry cannot
// be written the request is refused (Unavailable [AUDIT_UNAVAILABLE]).
#pragma once

#include "gateway/filter.h"
#include "services/common/audit_log.h"

namespace cloister::gateway {

class AuditFilter final : public Filter {
 public:
  explicit AuditFilter(services::AuditLog* log) : log_(log) {}
  std::string_view name() const override { return "audit"; }
  // Records an allow.
  Status OnRequest(RequestContext& ctx) override { return Record(ctx, nullptr); }
  // Records a deny with `why`.
  Status Record(const RequestContext& ctx, const Error* why);

 private:
  services::AuditLog* log_;
};

}  // namespace cloister::gateway
