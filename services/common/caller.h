// Caller: who is calling, the one identity type of the code base (the
// gateway's filters, every service handler and every service core see
// this type and nothing else). It is built only by verification:
//   - IdentityVerifier, from an auth proof (a token auth signed, checked
//     against auth's attested token keys, expiry and revocations): a user;
//   - GrantVerifier, from the attested peer of an internal call: a service;
//   - Caller::Anonymous(): nobody (no privilege at all).
// Tests that drive a core directly use MakeCallerForTesting.
//
//   if (!caller.is_admin() && key.owner != caller.user_id()) return NotOwner();
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proto/cloister.pb.h"

namespace cloister::services {

struct TestCallerSpec;

class Caller {
 public:
  enum class Kind { kAnonymous, kUser, kService };

  // Anonymous (no user, no role): the only Caller anyone may make.
  Caller() = default;
  static Caller Anonymous() { return Caller(); }

  Kind kind() const { return kind_; }
  bool anonymous() const { return kind_ == Kind::kAnonymous; }
  bool is_service() const { return kind_ == Kind::kService; }
  // A user id (kUser), "service:<role>" (kService), "" (kAnonymous).
  const std::string& user_id() const { return user_id_; }
  const std::string& username() const { return username_; }
  const std::vector<api::Role>& roles() const { return roles_; }
  bool HasRole(api::Role r) const {
    for (auto x : roles_)
      if (x == r) return true;
    return false;
  }
  bool is_admin() const { return HasRole(api::ROLE_ADMIN); }
  // The token the proof was ("" for anonymous and services); an API key's
  // proof has token id "apikey:<key id>".
  const std::string& token_id() const { return token_id_; }
  // "token" | "api-key" | "service" | "anonymous": how it was established.
  const std::string& via() const { return via_; }
  // The request this caller made (set by GrantVerifier; "" at the gateway
  // before it assigns one).
  const std::string& request_id() const { return request_id_; }
  // An API key's scope, from its signed proof (unset: unrestricted).
  const api::ApiKeyScope& scope() const { return scope_; }
  bool scoped() const { return scope_.read_only() || scope_.methods_size() > 0; }
  // Whether the scope lets this caller call public method `name` (whose
  // table entry says `read_only`); always true when unscoped. The roles
  // are checked separately: a scope only narrows them.
  bool InScope(std::string_view name, bool read_only) const;

 private:
  friend class IdentityVerifier;
  friend class GrantVerifier;
  friend Caller MakeCallerForTesting(struct TestCallerSpec spec);

  Kind kind_ = Kind::kAnonymous;
  std::string user_id_, username_, token_id_, request_id_;
  std::string via_ = "anonymous";
  std::vector<api::Role> roles_;
  api::ApiKeyScope scope_;
};

// A user caller for unit tests and benches that drive a core directly
// (roles: user, plus admin when `admin`). Never used by a service path.
struct TestCallerSpec {
  std::string user_id;
  bool admin = false;
  std::string username;  // default: user_id
  std::string token_id;
  std::string request_id;
  std::vector<api::Role> roles;  // default: user (+ admin when `admin`)
  api::ApiKeyScope scope;        // an API key's (token_id "apikey:…" makes via "api-key")
};
Caller MakeCallerForTesting(TestCallerSpec spec);

}  // namespace cloister::services
