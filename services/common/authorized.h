// Authorized<Req>: a request that passed the grant verifier. Service logic
// takes only Authorized<Req>, and only GrantVerifier can construct one, so
// no handler can run on a request the gateway did not authorize.
//
//   Result<CreateUserResponse> AuthCore::CreateUser(const Authorized<CreateUserRequest>& req);
#pragma once

#include <string>
#include <vector>

#include "proto/internal.pb.h"

namespace cloister::services {

class GrantVerifier;

template <typename Req>
class Authorized {
 public:
  const Req& request() const { return *request_; }
  const Req* operator->() const { return request_; }
  const internal::AccessGrant& grant() const { return grant_; }
  // The user the gateway authenticated ("" for service-originated calls).
  const std::string& user_id() const { return grant_.principal(); }
  const std::string& username() const { return grant_.username(); }
  bool is_admin() const {
    for (int r : grant_.roles())
      if (r == api::ROLE_ADMIN) return true;
    return false;
  }

 private:
  friend class GrantVerifier;
  Authorized(const Req& req, internal::AccessGrant grant)
      : request_(&req), grant_(std::move(grant)) {}
  const Req* request_;  // lives as long as the gRPC call
  internal::AccessGrant grant_;
};

}  // namespace cloister::services
