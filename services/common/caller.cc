// The test constructor of Caller and its API-key scope check; see caller.h.
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
  // As IdentityVerifier decides it: an API key's proof has token id "apikey:…".
  c.via_ = c.token_id_.rfind("apikey:", 0) == 0 ? "api-key" : "token";
  c.scope_ = std::move(spec.scope);
  return c;
}

bool Caller::InScope(std::string_view name, bool read_only) const {
  if (!scoped()) return true;
  if (read_only && scope_.read_only()) return true;
  for (const auto& m : scope_.methods())
    if (m == name) return true;
  return false;
}

}  // namespace cloister::services
