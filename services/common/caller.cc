// The test constructor of Caller; see caller.h.
#include "services/common/caller.h"

namespace cloister::services {

Caller MakeCallerForTesting(TestCallerSpec spec) {
  Caller c;
  c.kind_ = Caller::Kind::kUser;
  c.user_id_ = std::move(spec.user_id);
  c.username_ = spec.username.empty() ? c.user_id_ : std::move(spec.username);
  c.roles_ = {api::ROLE_USER};
  if (spec.admin) c.roles_.push_back(api::ROLE_ADMIN);
  if (!spec.roles.empty()) c.roles_ = spec.roles;
  c.token_id_ = std::move(spec.token_id);
  c.request_id_ = std::move(spec.request_id);
  c.via_ = "token";
  return c;
}

}  // namespace cloister::services
