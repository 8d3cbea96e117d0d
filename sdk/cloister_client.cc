// The Cloister C++ client SDK; see cloister_client.h. Every RPC goes through
// Invoke(), which builds the context (deadline, authorization) and maps the
// gRPC status with the one mapping, FromGrpcStatus.
#include "sdk/cloister_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <thread>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"
#include "common/grpc_status.h"

namespace cloister::sdk {
namespace {

// Large enough for function inputs/outputs sent inline; matches the
// services' kMaxMessageBytes.
constexpr int kMaxMessageBytes = 64 << 20;

int64_t NowUnix() { return static_cast<int64_t>(::time(nullptr)); }

// The verifier's verdict on the gateway, written by the credentials'
// observer (a gRPC thread) and read by Connect().
struct HandshakeProbe {
  std::mutex mu;
  bool refused = false;               // guarded by mu
  bool accepted = false;              // guarded by mu
  std::string reason, message, role;  // guarded by mu
};

// Runs one unary RPC with a prepared context; maps the status.
template <typename Req, typename Resp, typename Fn>
Result<Resp> Unary(Result<std::unique_ptr<grpc::ClientContext>> ctx, const Req& req, Fn fn) {
  if (!ctx.ok()) return ctx.error();
  Resp resp;
  grpc::Status st = fn(ctx->get(), req, &resp);
  if (!st.ok()) return FromGrpcStatus(st).error();
  return resp;
}

}  // namespace

Result<std::unique_ptr<Client>> Client::Connect(ClientOptions options) {
  if (options.gateway_address.empty())
    return InvalidArgument("no gateway address given");
  CLOISTER_ASSIGN_OR_RETURN(attestation::TrustConfig trust,
                            attestation::TrustConfig::Load(options.trust_path));
  GatewayIdentity gw;
  gw.address = options.gateway_address;
  gw.security_level = trust.security_level;

  auto probe = std::make_shared<HandshakeProbe>();
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (trust.security_level <= 1) {
    // Level 1 is "no protection" by definition (docs/design.md §3): plaintext,
    // loopback only. The gateway has no quote to check.
    creds = grpc::InsecureChannelCredentials();
  } else {
    creds = attestation::AttestingChannelCredentials(
        std::make_shared<const attestation::TrustConfig>(std::move(trust)), {"gateway"},
        [probe](const attestation::VerifyEvent& ev) {
          std::lock_guard<std::mutex> lock(probe->mu);
          if (ev.accepted) {
            probe->accepted = true;
            probe->role = ev.peer_role;
          } else {
            probe->refused = true;
            probe->reason = ev.reason;
            probe->message = ev.message;
          }
        });
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // A private subchannel pool: a channel to the same address made by an
  // earlier Client (maybe with another trust file) must not be reused.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(options.gateway_address, creds, args);

  // Force the handshake now, so the quote is checked before any credential
  // is ever put on this channel. Poll in short steps to report a refusal
  // at once instead of retrying until the deadline.
  const auto deadline = std::chrono::system_clock::now() + options.connect_timeout;
  for (;;) {
    grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) break;
    {
      std::lock_guard<std::mutex> lock(probe->mu);
      if (probe->refused)
        return PermissionDenied("the gateway at " + options.gateway_address +
                                    " failed attestation: " + probe->reason + ": " +
                                    probe->message,
                                kGatewayAttestationRefused);
    }
    auto now = std::chrono::system_clock::now();
    if (now >= deadline)
      return Unavailable("no attested gateway answered at " + options.gateway_address +
                             " within " + std::to_string(options.connect_timeout.count()) + " ms",
                         kGatewayUnreachable);
    channel->WaitForStateChange(state, std::min(deadline, now + std::chrono::milliseconds(100)));
  }
  {
    std::lock_guard<std::mutex> lock(probe->mu);
    gw.attested = probe->accepted;
    gw.role = probe->accepted ? probe->role : "unattested";
  }
  return std::make_unique<Client>(Key(), std::move(options), std::move(channel), gw);
}

Client::Client(Key, ClientOptions options, std::shared_ptr<grpc::Channel> channel,
               GatewayIdentity gateway)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      auth_(api::Auth::NewStub(channel_)),
      exec_(api::Exec::NewStub(channel_)),
      gateway_stub_(api::Gateway::NewStub(channel_)),
      gateway_(std::move(gateway)) {}

Client::~Client() = default;

Result<std::unique_ptr<grpc::ClientContext>> Client::NewContext(bool authenticated) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
  if (!authenticated) return ctx;
  std::lock_guard<std::mutex> lock(mu_);
  if (!session_) return Unauthenticated("not logged in", kNotLoggedIn);
  if (!session_->refresh_token.empty() &&
      session_->expires_unix - NowUnix() < options_.refresh_margin.count()) {
    Status st = RefreshLocked();
    // A failed refresh is fatal only once the old token is really expired;
    // before that the server still accepts it.
    if (!st.ok() && session_ && session_->expires_unix <= NowUnix()) return st.error();
    if (!session_) return Unauthenticated("session ended", kNotLoggedIn);
  }
  if (!session_->api_key.empty())
    ctx->AddMetadata("authorization", "ApiKey " + session_->api_key);
  else
    ctx->AddMetadata("authorization", "Bearer " + session_->token);
  return ctx;
}

Status Client::RefreshLocked() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
  api::RefreshTokenRequest req;
  req.set_refresh_token(session_->refresh_token);
  api::RefreshTokenResponse resp;
  grpc::Status st = auth_->RefreshToken(&ctx, req, &resp);
  if (!st.ok()) return FromGrpcStatus(st);
  session_->token = resp.token();
  session_->expires_unix = resp.expires_unix();
  // Refresh tokens are single use: the new one replaces the spent one.
  if (!resp.refresh_token().empty()) session_->refresh_token = resp.refresh_token();
  return OkStatus();
}

Result<api::User> Client::Login(std::string_view username, std::string_view password) {
  api::LoginRequest req;
  req.set_username(std::string(username));
  req.set_password(std::string(password));
  auto resp = Unary<api::LoginRequest, api::LoginResponse>(
      NewContext(false), req, [this](auto* c, const auto& q, auto* r) { return auth_->Login(c, q, r); });
  if (!resp.ok()) return resp.error();
  Session s;
  s.token = resp->token();
  s.expires_unix = resp->expires_unix();
  s.refresh_token = resp->refresh_token();
  s.user = resp->user();
  std::lock_guard<std::mutex> lock(mu_);
  session_ = std::move(s);
  return session_->user;
}

Result<api::User> Client::LoginWithApiKey(std::string_view api_key) {
  if (api_key.find('.') == std::string_view::npos)
    return InvalidArgument("an API key looks like <id>.<secret>");
  {
    std::lock_guard<std::mutex> lock(mu_);
    Session s;
    s.api_key = std::string(api_key);
    session_ = std::move(s);
  }
  auto who = WhoAmI();
  std::lock_guard<std::mutex> lock(mu_);
  // A key whose scope leaves out WhoAmI was still accepted (the gateway
  // authenticated it before refusing the method): keep it, user unknown.
  if (!who.ok() && who.error().reason() == "API_KEY_SCOPE") return api::User();
  if (!who.ok()) {
    session_.reset();
    return who.error();
  }
  session_->user = *who;
  return *who;
}

void Client::Resume(Session session) {
  std::lock_guard<std::mutex> lock(mu_);
  session_ = std::move(session);
}

std::optional<Session> Client::session() const {
  std::lock_guard<std::mutex> lock(mu_);
  return session_;
}

Status Client::Logout() {
  auto resp = Unary<api::LogoutRequest, api::LogoutResponse>(
      NewContext(true), api::LogoutRequest(),
      [this](auto* c, const auto& q, auto* r) { return auth_->Logout(c, q, r); });
  std::lock_guard<std::mutex> lock(mu_);
  session_.reset();
  return resp.status();
}

Result<api::User> Client::WhoAmI() {
  auto resp = Unary<api::WhoAmIRequest, api::WhoAmIResponse>(
      NewContext(true), api::WhoAmIRequest(),
      [this](auto* c, const auto& q, auto* r) { return auth_->WhoAmI(c, q, r); });
  if (!resp.ok()) return resp.error();
  return resp->user();
}

Result<api::HealthResponse> Client::Health() {
  return Unary<api::HealthRequest, api::HealthResponse>(
      NewContext(false), api::HealthRequest(),
      [this](auto* c, const auto& q, auto* r) { return gateway_stub_->Health(c, q, r); });
}

Result<api::CallResponse> Client::Call(std::string_view function, const Arguments& args,
                                       const Inputs& inputs) {
  api::CallRequest req;
  req.set_function(std::string(function));
  for (const auto& [k, v] : args) (*req.mutable_args())[k] = v;
  for (const auto& [k, v] : inputs) (*req.mutable_inputs())[k] = v;
  return Unary<api::CallRequest, api::CallResponse>(
      NewContext(true), req, [this](auto* c, const auto& q, auto* r) { return exec_->Call(c, q, r); });
}

Result<api::CallResponse> Client::Call(std::string_view function, const StringArguments& args,
                                       const Inputs& inputs) {
  Arguments typed;
  for (const auto& [k, v] : args) typed[k].set_string_value(v);
  return Call(function, typed, inputs);
}

Result<std::vector<api::FunctionInfo>> Client::ListFunctions() {
  auto resp = Unary<api::ListFunctionsRequest, api::ListFunctionsResponse>(
      NewContext(true), api::ListFunctionsRequest(),
      [this](auto* c, const auto& q, auto* r) { return exec_->ListFunctions(c, q, r); });
  if (!resp.ok()) return resp.error();
  return std::vector<api::FunctionInfo>(resp->functions().begin(), resp->functions().end());
}

Result<api::User> Client::CreateUser(std::string_view username, std::string_view password,
                                     std::vector<api::Role> roles) {
  api::CreateUserRequest req;
  req.set_username(std::string(username));
  req.set_password(std::string(password));
  for (api::Role r : roles) req.add_roles(r);
  auto resp = Unary<api::CreateUserRequest, api::CreateUserResponse>(
      NewContext(true), req,
      [this](auto* c, const auto& q, auto* r) { return auth_->CreateUser(c, q, r); });
  if (!resp.ok()) return resp.error();
  return resp->user();
}

Result<std::vector<api::User>> Client::ListUsers() {
  auto resp = Unary<api::ListUsersRequest, api::ListUsersResponse>(
      NewContext(true), api::ListUsersRequest(),
      [this](auto* c, const auto& q, auto* r) { return auth_->ListUsers(c, q, r); });
  if (!resp.ok()) return resp.error();
  return std::vector<api::User>(resp->users().begin(), resp->users().end());
}

Result<std::vector<api::UserRef>> Client::LookupUsers(
    const std::vector<std::string>& usernames) {
  api::LookupUsersRequest req;
  for (const auto& n : usernames) req.add_usernames(n);
  auto resp = Unary<api::LookupUsersRequest, api::LookupUsersResponse>(
      NewContext(true), req,
      [this](auto* c, const auto& q, auto* r) { return auth_->LookupUsers(c, q, r); });
  if (!resp.ok()) return resp.error();
  return std::vector<api::UserRef>(resp->users().begin(), resp->users().end());
}

Result<api::User> Client::DisableUser(std::string_view username, bool disabled) {
  api::DisableUserRequest req;
  req.set_username(std::string(username));
  req.set_disabled(disabled);
  auto resp = Unary<api::DisableUserRequest, api::DisableUserResponse>(
      NewContext(true), req,
      [this](auto* c, const auto& q, auto* r) { return auth_->DisableUser(c, q, r); });
  if (!resp.ok()) return resp.error();
  return resp->user();
}

Status Client::DeleteUser(std::string_view username) {
  api::DeleteUserRequest req;
  req.set_username(std::string(username));
  return Unary<api::DeleteUserRequest, api::DeleteUserResponse>(
             NewContext(true), req,
             [this](auto* c, const auto& q, auto* r) { return auth_->DeleteUser(c, q, r); })
      .status();
}

Status Client::ChangePassword(std::string_view username, std::string_view old_password,
                              std::string_view new_password) {
  api::ChangePasswordRequest req;
  req.set_username(std::string(username));
  req.set_old_password(std::string(old_password));
  req.set_new_password(std::string(new_password));
  return Unary<api::ChangePasswordRequest, api::ChangePasswordResponse>(
             NewContext(true), req,
             [this](auto* c, const auto& q, auto* r) { return auth_->ChangePassword(c, q, r); })
      .status();
}

Result<api::CreateApiKeyResponse> Client::CreateApiKey(std::string_view description,
                                                       int64_t expires_unix) {
  api::CreateApiKeyRequest req;
  req.set_description(std::string(description));
  req.set_expires_unix(expires_unix);
  return Unary<api::CreateApiKeyRequest, api::CreateApiKeyResponse>(
      NewContext(true), req,
      [this](auto* c, const auto& q, auto* r) { return auth_->CreateApiKey(c, q, r); });
}

Result<api::CreateApiKeyResponse> Client::CreateApiKey(const ApiKeyOptions& options) {
  api::CreateApiKeyRequest req;
  req.set_description(options.description);
  req.set_expires_in_s(options.expires_in_s);
  if (options.scope.read_only() || options.scope.methods_size() > 0)
    *req.mutable_scope() = options.scope;
  return Unary<api::CreateApiKeyRequest, api::CreateApiKeyResponse>(
      NewContext(true), req,
      [this](auto* c, const auto& q, auto* r) { return auth_->CreateApiKey(c, q, r); });
}

Result<std::vector<api::ApiKeyInfo>> Client::ListApiKeys(std::string_view username) {
  api::ListApiKeysRequest req;
  req.set_username(std::string(username));
  auto resp = Unary<api::ListApiKeysRequest, api::ListApiKeysResponse>(
      NewContext(true), req,
      [this](auto* c, const auto& q, auto* r) { return auth_->ListApiKeys(c, q, r); });
  if (!resp.ok()) return resp.error();
  return std::vector<api::ApiKeyInfo>(resp->keys().begin(), resp->keys().end());
}

Result<api::ApiKeyInfo> Client::RevokeApiKey(std::string_view key_id) {
  api::RevokeApiKeyRequest req;
  req.set_key_id(std::string(key_id));
  auto resp = Unary<api::RevokeApiKeyRequest, api::RevokeApiKeyResponse>(
      NewContext(true), req,
      [this](auto* c, const auto& q, auto* r) { return auth_->RevokeApiKey(c, q, r); });
  if (!resp.ok()) return resp.error();
  return resp->key();
}

void Client::ExpireTokenForTesting() {
  std::lock_guard<std::mutex> lock(mu_);
  if (session_) session_->expires_unix = 0;
}

Result<api::ArgumentValue> ParseArgumentValue(std::string_view text, std::string_view type) {
  api::ArgumentValue v;
  if (type.empty() || type == "string" || type == "str") {
    v.set_string_value(std::string(text));
  } else if (type == "int") {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
      return InvalidArgument("'" + std::string(text) + "' is not a 64-bit integer");
    v.set_int_value(n);
  } else if (type == "double" || type == "float") {
    // from_chars for double is complete in GCC 12's libstdc++.
    double d = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || !std::isfinite(d))
      return InvalidArgument("'" + std::string(text) + "' is not a finite number");
    v.set_double_value(d);
  } else if (type == "bool") {
    if (text == "true" || text == "1") v.set_bool_value(true);
    else if (text == "false" || text == "0") v.set_bool_value(false);
    else return InvalidArgument("'" + std::string(text) + "' is not true/false");
  } else {
    return InvalidArgument("unknown argument type '" + std::string(type) +
                           "' (string, int, double, bool)");
  }
  return v;
}

std::string RoleName(api::Role role) {
  switch (role) {
    case api::ROLE_ADMIN: return "admin";
    case api::ROLE_USER: return "user";
    default: return "unspecified";
  }
}

Result<api::ApiKeyScope> ParseApiKeyScope(std::string_view text) {
  api::ApiKeyScope out;
  if (text.empty() || text == "all") return out;
  if (text.size() > 64 * 65) return InvalidArgument("scope: too long");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = std::min(text.find(',', start), text.size());
    std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    if (item == "read-only") {
      out.set_read_only(true);
      continue;
    }
    const bool name = !item.empty() && item.size() <= 64 &&
                      std::all_of(item.begin(), item.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                      });
    if (!name)
      return InvalidArgument("scope: '" + std::string(item.substr(0, 64)) +
                             "' is neither read-only nor a method name (e.g. ListFunctions)");
    out.add_methods(std::string(item));
  }
  return out;
}

std::string ApiKeyScopeText(const api::ApiKeyScope& scope) {
  std::string out = scope.read_only() ? "read-only" : "";
  for (const auto& m : scope.methods()) out += (out.empty() ? "" : ",") + m;
  return out;
}

Result<int64_t> ParseDurationSeconds(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("'" + std::string(text.substr(0, 64)) +
                           "' is not a duration (e.g. 3600, 30m, 12h, 90d, 1d12h)");
  };
  if (text.empty() || text.size() > 64) return bad();
  constexpr int64_t kMax = int64_t{100} * 365 * 86400;  // far beyond any key's lifetime
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec != std::errc() || end == text.data() + i || n < 0) return bad();
    i = static_cast<size_t>(end - text.data());
    int64_t unit = 1;
    if (i < text.size()) {
      switch (text[i]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return bad();
      }
      ++i;
    } else if (total != 0) {
      return bad();  // "1h30": a bare number only on its own
    }
    if (n > kMax / unit || total > kMax - n * unit) return bad();
    total += n * unit;
  }
  if (total <= 0) return bad();
  return total;
}

}  // namespace cloister::sdk
