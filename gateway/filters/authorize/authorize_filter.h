// Authorize: role × method from the policy (default deny), then resource
// predicates (e.g. a user may change only their own password, or list only
// their own API keys), then an API key's scope (the same check every
// service repeats from the signed proof: services::CheckApiKeyScope).
// Rejects with PermissionDenied [ROLE_NOT_PERMITTED | NOT_RESOURCE_OWNER |
// API_KEY_SCOPE].
#pragma once

#include <atomic>

#include "gateway/filter.h"
#include "gateway/filters/authorize/policy.h"

namespace cloister::gateway {

class AuthorizeFilter final : public Filter {
 public:
  explicit AuthorizeFilter(Policy policy) : policy_(std::move(policy)) {}
  std::string_view name() const override { return "authorize"; }
  Status OnRequest(RequestContext& ctx) override;
  uint64_t denied() const { return denied_; }

 private:
  Policy policy_;
  std::atomic<uint64_t> denied_{0};
};

}  // namespace cloister::gateway
