// The Cloister C++ client SDK: one attested connection to a cluster's
// gateway (services Auth, Exec, Gateway of proto/{auth,exec,gateway}.proto;
// documented in docs/api.md).
//
// Connect() verifies the gateway's RA-TLS quote against the cluster's signed
// manifest (role "gateway") and completes the TLS handshake BEFORE any
// credential is sent; a gateway that is not a genuine, expected enclave is
// refused with the verifier's reason (e.g. MEASUREMENT_NOT_IN_MANIFEST).
//
//   CLOISTER_ASSIGN_OR_RETURN(auto client, sdk::Client::Connect({"127.0.0.1:7443", trust_path}));
//   CLOISTER_RETURN_IF_ERROR(client->Login("alice", password).status());
//   CLOISTER_ASSIGN_OR_RETURN(auto r, client->Call("echo", {}, {{"data", "hello"}}));
//
// Thread-safety: a Client may be used from many threads at once; the token
// is refreshed under a mutex (refresh tokens are single use, so exactly one
// thread refreshes). Errors are the server's: code + stable reason
// (Error::reason(), e.g. "TOKEN_REVOKED") + a message without secrets.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "proto/auth.grpc.pb.h"
#include "proto/exec.grpc.pb.h"
#include "proto/gateway.grpc.pb.h"
#include "proto/cloister.pb.h"

namespace cloister::attestation {
struct TrustConfig;
}

namespace cloister::sdk {

// Reasons the SDK itself produces (the server's reasons pass through).
inline constexpr const char* kGatewayUnreachable = "GATEWAY_UNREACHABLE";
inline constexpr const char* kGatewayAttestationRefused = "GATEWAY_ATTESTATION_REFUSED";
inline constexpr const char* kNotLoggedIn = "NOT_LOGGED_IN";

struct ClientOptions {
  std::string gateway_address;  // "host:port" of the gateway's public port
  std::string trust_path;       // the cluster's trust.toml (root CA, auditors, manifest)
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds call_timeout{60'000};
  // A token is refreshed when it has less than this left.
  std::chrono::seconds refresh_margin{60};
};

// What an authenticated client holds. Contains secrets: never log it.
struct Session {
  std::string token;
  int64_t expires_unix = 0;
  std::string refresh_token;   // empty for API-key sessions
  std::string api_key;         // "<id>.<secret>" when logged in with an API key
  api::User user;
};

// Argument values: typed (api::ArgumentValue) or plain strings.
using Arguments = std::map<std::string, api::ArgumentValue>;
using StringArguments = std::map<std::string, std::string>;
// Input slot name → bytes.
using Inputs = std::map<std::string, std::string>;

// CreateApiKey's choices (proto/cloister.proto CreateApiKeyRequest).
struct ApiKeyOptions {
  std::string description;
  int64_t expires_in_s = 0;  // 0: the cluster's default (90 days unless configured)
  api::ApiKeyScope scope;    // unset: whatever the user may call
};

// The outcome of Connect()'s attestation of the gateway, for display.
struct GatewayIdentity {
  std::string address;
  std::string role;          // the gateway's manifest role ("gateway")
  int security_level = 0;    // the trust file's cluster level
  bool attested = false;     // false only at security level 1 (plaintext)
};

class Client {
 public:
  // Loads `trust_path`, opens an attested channel and forces the handshake.
  // PermissionDenied [GATEWAY_ATTESTATION_REFUSED] with the verifier's reason
  // in the message when the gateway's quote is refused; Unavailable
  // [GATEWAY_UNREACHABLE] when nothing answers within connect_timeout;
  // errors of TrustConfig::Load for a bad trust file.
  static Result<std::unique_ptr<Client>> Connect(ClientOptions options);

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Password login. The password is sent only over the attested channel and
  // not kept. Unauthenticated [LOGIN_FAILED]-style reasons come from the server.
  Result<api::User> Login(std::string_view username, std::string_view password);
  // Authenticates every call with "ApiKey <id>.<secret>"; checks it with
  // WhoAmI (an empty User when the key's scope leaves WhoAmI out).
  Result<api::User> LoginWithApiKey(std::string_view api_key);
  // Adopts a saved session (the CLI's session.json). No RPC.
  void Resume(Session session);
  // A copy of the current session (for saving). Contains secrets.
  std::optional<Session> session() const;
  // Revokes the token server-side (and forgets it locally in any case).
  Status Logout();

  Result<api::User> WhoAmI();
  Result<api::HealthResponse> Health();  // no login needed

  // One-shot call: runs `function` in the execution enclave at once.
  Result<api::CallResponse> Call(std::string_view function, const Arguments& args,
                                 const Inputs& inputs);
  Result<api::CallResponse> Call(std::string_view function, const StringArguments& args,
                                 const Inputs& inputs);
  Result<std::vector<api::FunctionInfo>> ListFunctions();

  // User administration (admin role, except ChangePassword of oneself and
  // CreateApiKey for oneself).
  Result<api::User> CreateUser(std::string_view username, std::string_view password,
                               std::vector<api::Role> roles = {api::ROLE_USER});
  Result<std::vector<api::User>> ListUsers();
  // Usernames → user ids for any signed-in user (1..64 names, request
  // order); NOT_FOUND USER_NOT_FOUND naming the first unknown one.
  Result<std::vector<api::UserRef>> LookupUsers(const std::vector<std::string>& usernames);
  // `disabled` = false re-enables. Disabling revokes the user's tokens.
  Result<api::User> DisableUser(std::string_view username, bool disabled = true);
  Status DeleteUser(std::string_view username);
  // `old_password` may be empty when an admin sets another user's password.
  Status ChangePassword(std::string_view username, std::string_view old_password,
                        std::string_view new_password);
  // Returns {api_key ("<id>.<secret>", shown once), key_id, expires_unix}.
  // `expires_unix` 0: the cluster's default expiry (keys always expire).
  // A client logged in with an API key cannot create keys
  // (PERMISSION_DENIED [API_KEY_CANNOT_MINT]).
  Result<api::CreateApiKeyResponse> CreateApiKey(std::string_view description,
                                                 int64_t expires_unix = 0);
  Result<api::CreateApiKeyResponse> CreateApiKey(const ApiKeyOptions& options);
  // One's own keys (never their secrets), or (admin) `username`'s.
  Result<std::vector<api::ApiKeyInfo>> ListApiKeys(std::string_view username = {});
  // The key as it was. Refused everywhere within a second (the gateway's
  // and the services' revocation poll).
  Result<api::ApiKeyInfo> RevokeApiKey(std::string_view key_id);

  const GatewayIdentity& gateway() const { return gateway_; }

  // Forces the next authenticated call to refresh first (tests).
  void ExpireTokenForTesting();

  // Only Connect() can make a Key (it is private to it in practice).
  struct Key {
    explicit Key() = default;
  };
  Client(Key, ClientOptions options, std::shared_ptr<grpc::Channel> channel,
         GatewayIdentity gateway);

 private:

  // Adds the deadline and (when `authenticated`) the authorization header,
  // refreshing the token first when it is close to expiry.
  Result<std::unique_ptr<grpc::ClientContext>> NewContext(bool authenticated);
  Status RefreshLocked();

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  // One stub per service proto, all over the one attested channel.
  std::unique_ptr<api::Auth::Stub> auth_;
  std::unique_ptr<api::Exec::Stub> exec_;
  std::unique_ptr<api::Gateway::Stub> gateway_stub_;
  GatewayIdentity gateway_;

  mutable std::mutex mu_;
  std::optional<Session> session_;  // guarded by mu_
};

// An ArgumentValue from command-line text and a type name: "" or "string"
// (as is), "int", "double", "bool" (true/false/1/0). InvalidArgument when
// the text is not of that type (bounds-checked, no partial parses).
Result<api::ArgumentValue> ParseArgumentValue(std::string_view text, std::string_view type);
std::string RoleName(api::Role role);

// An API-key scope from text: "read-only", "Call,ListFunctions" (public
// method short names) or both ("read-only,Call"); "" or "all":
// unrestricted. InvalidArgument on anything else (auth checks the names).
Result<api::ApiKeyScope> ParseApiKeyScope(std::string_view text);
// The inverse ("" for unrestricted).
std::string ApiKeyScopeText(const api::ApiKeyScope& scope);
// A duration: "3600" or "3600s", "30m", "12h", "90d", "2w", or a sum such as
// "1d12h"; in seconds, > 0. InvalidArgument on anything else or overflow.
Result<int64_t> ParseDurationSeconds(std::string_view text);

}  // namespace cloister::sdk
