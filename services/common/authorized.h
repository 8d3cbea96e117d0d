// Authorized<Req>: a request that passed the grant verifier. Service logic
// takes only Authorized<Req>, and only GrantVerifier can construct one, so
// no handler can run on a request the gateway did not authorize.
//
//   Result<CreateUserResponse> AuthCore::CreateUser(const Authorized<CreateUserRequest>& req);
#pragma once

#include <string>
#include <vector>

#include "proto/internal.pb.h"
#include "services/common/caller.h"

namespace cloister::services {

class GrantVerifier;

template <typename Req>
class Authorized {
 public:
  const Req& request() const { return *request_; }
  const Req* operator->() const { return request_; }
  const internal::AccessGrant& grant() const { return grant_; }
  // Who is calling, proven by the auth proof (not by the grant's say-so).
  const Caller& caller() const { return caller_; }
  const std::string& user_id() const { return caller_.user_id(); }
  const std::string& username() const { return caller_.username(); }
  bool is_admin() const { return caller_.is_admin(); }
  // The public client's source from the verified grant (AccessGrant
  // client_source: an IPv4 address or an IPv6 /64, no port); "" when a
  // service called for itself. For per-source throttling, not identity.
  const std::string& source() const { return grant_.client_source(); }

 private:
  friend class GrantVerifier;
  Authorized(const Req& req, internal::AccessGrant grant, Caller caller)
      : request_(&req), grant_(std::move(grant)), caller_(std::move(caller)) {}
  const Req* request_;  // lives as long as the gRPC call
  internal::AccessGrant grant_;
  Caller caller_;
};

}  // namespace cloister::services
