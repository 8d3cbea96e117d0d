// Real logins for tests that play the gateway; see gateway_sessions.h.
#include "tests/support/gateway_sessions.h"

#include <thread>

#include "common/grpc_status.h"
#include "common/crypto/random.h"
#include "common/fs.h"
#include "services/common/grant_verifier.h"
#include "tests/support/attested_node.h"
#include "tests/support/subprocess.h"

namespace cloister::testing {

internal::AccessGrant GrantFor(const UserSession& s) {
  internal::AccessGrant g;
  g.set_principal(s.user_id);
  g.set_username(s.username);
  for (auto r : s.roles) g.add_roles(r);
  g.set_auth_proof(s.token);
  return g;
}

GatewaySessions::GatewaySessions(attestation::Enclave* gateway,
                                 std::shared_ptr<grpc::Channel> auth)
    : gateway_(gateway), stub_(api::Auth::NewStub(std::move(auth))) {}

Result<UserSession> GatewaySessions::Login(const std::string& username,
                                           const std::string& password) {
  api::LoginRequest req;
  req.set_username(username);
  req.set_password(password);
  api::LoginResponse resp;
  Status last = Unavailable("not tried");
  // Auth may still be loading its keys right after it started.
  for (int attempt = 0; attempt < 50; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    internal::AccessGrant anonymous;
    anonymous.set_principal("anonymous");
    CLOISTER_RETURN_IF_ERROR(services::AttachGrant(ctx, *gateway_, "auth", req,
                                                   "/cloister.api.Auth/Login", anonymous));
    last = FromGrpcStatus(stub_->Login(&ctx, req, &resp));
    if (last.ok() || last.error().code() != Code::kUnavailable) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CLOISTER_RETURN_IF_ERROR(last);
  UserSession s;
  s.user_id = resp.user().user_id();
  s.username = resp.user().username();
  s.token = resp.token();
  for (int r : resp.user().roles()) s.roles.push_back(static_cast<api::Role>(r));
  return s;
}

Result<UserSession> GatewaySessions::AddUser(const UserSession& admin, const std::string& username,
                                             const std::string& password) {
  api::CreateUserRequest req;
  req.set_username(username);
  req.set_password(password);
  req.add_roles(api::ROLE_USER);
  api::CreateUserResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  CLOISTER_RETURN_IF_ERROR(services::AttachGrant(ctx, *gateway_, "auth", req,
                                                 "/cloister.api.Auth/CreateUser", GrantFor(admin)));
  CLOISTER_RETURN_IF_ERROR(FromGrpcStatus(stub_->CreateUser(&ctx, req, &resp)));
  return Login(username, password);
}

Result<std::unique_ptr<RealAuth>> RealAuth::Start(AttestedNode& node, const std::string& auth_bin,
                                                  attestation::Enclave* gateway,
                                                  std::vector<std::string> extra) {
  auto a = std::make_unique<RealAuth>();
  const std::string password = "admin-" + crypto::RandomId();
  const std::string pw_file = node.dir() + "/real-auth-admin-password";
  CLOISTER_RETURN_IF_ERROR(WriteFileAtomic(pw_file, password + "\n", 0600));
  const std::string port_file = node.dir() + "/real-auth.port";
  std::vector<std::string> argv = {auth_bin, "--trust", node.trust_path(), "--data-dir",
                                   node.dir() + "/real-auth-data", "--port-file", port_file,
                                   "--bootstrap-admin-password-file", pw_file};
  argv.insert(argv.end(), extra.begin(), extra.end());
  CLOISTER_ASSIGN_OR_RETURN(Subprocess p,
                            Subprocess::Start(argv, {.log_prefix = node.dir() + "/real-auth"}));
  a->proc_ = std::make_unique<Subprocess>(std::move(p));
  if (!WaitForFile(port_file, std::chrono::seconds(20)))
    return Unavailable("cloister-auth did not start: " + a->proc_->Stderr());
  CLOISTER_ASSIGN_OR_RETURN(std::string port, ReadFile(port_file));
  a->address_ = "127.0.0.1:" + port;
  a->sessions_ = std::make_unique<GatewaySessions>(
      gateway, grpc::CreateChannel(a->address_, gateway->ChannelCredentials({"auth"})));
  CLOISTER_ASSIGN_OR_RETURN(a->admin_, a->sessions_->Login("admin", password));
  return a;
}

RealAuth::RealAuth() = default;
RealAuth::~RealAuth() = default;

Result<UserSession> RealAuth::User(const std::string& name) {
  if (auto it = users_.find(name); it != users_.end()) return it->second;
  CLOISTER_ASSIGN_OR_RETURN(UserSession s,
                            sessions_->AddUser(admin_, name, name + "'s long test password"));
  users_.emplace(name, s);
  return s;
}

}  // namespace cloister::testing
