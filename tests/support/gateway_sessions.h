// GatewaySessions: for integration tests that play the gateway toward real
// backends (an enclave registered as role "gateway" signs the grants):
// logs users in at the real cloister-auth and creates users, so that each
// grant the test sends carries a real auth proof — the user's token —
// as the real gateway's do. Backends verify that proof themselves
// (services/common/identity_verifier.h), so a test that names a user
// without a proof, or with another user's, is refused like an attacker.
//
//   GatewaySessions s(enclave.get(), auth_channel);
//   auto admin = *s.Login("admin", password);
//   auto alice = *s.AddUser(admin, "alice", "alice's long password");
//   internal::AccessGrant g = GrantFor(alice);
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attestation/enclave.h"
#include "proto/auth.grpc.pb.h"
#include "proto/internal.pb.h"

namespace cloister::testing {

struct UserSession {
  std::string user_id, username, token;
  std::vector<api::Role> roles;
};

// A grant for requests of `s`: principal, username, roles, token id and
// the token as auth proof (AttachGrant fills in the rest).
internal::AccessGrant GrantFor(const UserSession& s);

class GatewaySessions {
 public:
  GatewaySessions(attestation::Enclave* gateway, std::shared_ptr<grpc::Channel> auth);
  Result<UserSession> Login(const std::string& username, const std::string& password);
  // As `admin`: creates `username` (role user), then logs it in.
  Result<UserSession> AddUser(const UserSession& admin, const std::string& username,
                              const std::string& password);

 private:
  attestation::Enclave* gateway_;
  std::unique_ptr<api::Auth::Stub> stub_;
};

}  // namespace cloister::testing

namespace cloister::testing {

class AttestedNode;
class Subprocess;

// The real cloister-auth on an AttestedNode (bootstrap admin with a fresh
// password), and sessions of users created on demand, for tests whose own
// process plays the gateway.
class RealAuth {
 public:
  // Starts `auth_bin` on `node` (extra flags appended) and logs admin in
  // through `gateway` (an enclave of role "gateway").
  static Result<std::unique_ptr<RealAuth>> Start(AttestedNode& node, const std::string& auth_bin,
                                                 attestation::Enclave* gateway,
                                                 std::vector<std::string> extra = {});
  RealAuth();
  ~RealAuth();
  const std::string& address() const { return address_; }
  const UserSession& admin() const { return admin_; }
  // A user named `name` (role user), created and logged in at first use.
  Result<UserSession> User(const std::string& name);

 private:
  std::unique_ptr<Subprocess> proc_;
  std::unique_ptr<GatewaySessions> sessions_;
  std::string address_;
  UserSession admin_;
  std::map<std::string, UserSession> users_;
};

}  // namespace cloister::testing
