// AuthCore: sessions, users, throttling, revocation and signing key
// lifecycle (the API keys are in auth_api_keys.cc). See auth_core.h for the
// contract and reasons.
//
// Longer than ~600 lines on purpose: every method is one transaction over
// the same AuthStore and shares the validation and token helpers of the
// anonymous namespace below; the few that the API keys share are in
// auth_core_detail.h.
#include "services/auth/auth_core.h"

#include <algorithm>
#include <chrono>

#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/logging.h"
#include "common/secret.h"
#include "services/auth/auth_core_detail.h"

namespace cloister::auth {
namespace {

constexpr size_t kMaxUsernameLength = 64;
constexpr size_t kMaxRefreshTokenLength = 128;
constexpr int kMaxRoles = 8;
constexpr std::string_view kRefreshPrefix = "rt1.";
// Revocations(since) answers with a "now" this far in the past, so a
// revocation committing concurrently with the query is fetched next time
// (a repeated revocation is harmless; a missed one is not).
constexpr int64_t kRevocationOverlapMs = 2000;
constexpr std::string_view kKeyAadPrefix = "cloister-auth/token-signing-key/v1/";

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Bytes KeyAad(std::string_view key_id) { return ToBytes(std::string(kKeyAadPrefix) + std::string(key_id)); }

Error InvalidCredentials() {
  return Unauthenticated("invalid username or password", auth_reason::kInvalidCredentials);
}

Error AdminRequired() {
  return PermissionDenied("this operation needs the admin role", auth_reason::kAdminRequired);
}

// RAII slot of the bounded password-hash pool.
class HashSlot {
 public:
  explicit HashSlot(std::counting_semaphore<64>& s) : s_(s) { s_.acquire(); }
  ~HashSlot() { s_.release(); }

 private:
  std::counting_semaphore<64>& s_;
};

}  // namespace

namespace detail {

Bytes HashSecret(std::string_view secret) { return crypto::DigestBytes(crypto::Sha256(secret)); }

int64_t IssuedAfter(int64_t now, int64_t before) {
  return before == 0 ? now : std::max(now, before + 1);
}

}  // namespace detail

int64_t ThrottleLockMs(const AuthOptions& o, int64_t failures) {
  if (failures < o.throttle_free_failures) return 0;
  int64_t exp = failures - o.throttle_free_failures;
  if (exp >= 40) return o.throttle_max_ms;  // avoid shifting past 63 bits
  return std::min(o.throttle_max_ms, o.throttle_base_ms << exp);
}

Status ValidateUsername(std::string_view name, std::string_view field) {
  if (name.empty()) return InvalidArgument(std::string(field) + " is required");
  if (name.size() > kMaxUsernameLength)
    return InvalidArgument(std::string(field) + ": at most 64 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return InvalidArgument(std::string(field) + ": only [a-z0-9._-] allowed");
  }
  return OkStatus();
}

Status ValidateNewPassword(std::string_view password, std::string_view field) {
  if (password.empty()) return InvalidArgument(std::string(field) + " is required");
  if (password.size() < kMinPasswordLength)
    return InvalidArgument(std::string(field) + ": at least 12 characters");
  if (password.size() > kMaxPasswordLength)
    return InvalidArgument(std::string(field) + ": at most 1024 bytes");
  return OkStatus();
}

AuthCore::AuthCore(Key, std::unique_ptr<AuthStore> store, std::shared_ptr<SecretSealer> sealer,
                   AuthOptions options)
    : store_(std::move(store)),
      sealer_(std::move(sealer)),
      options_(std::move(options)),
      hasher_(options_.password),
      hash_slots_(std::clamp(options_.concurrent_hashes, 1, 64)) {}

Result<std::unique_ptr<AuthCore>> AuthCore::Create(std::unique_ptr<AuthStore> store,
                                                   std::shared_ptr<SecretSealer> sealer,
                                                   AuthOptions options) {
  if (!options.now_ms) options.now_ms = SystemNowMs;
  if (options.token_lifetime_s <= 0 || options.refresh_lifetime_s <= 0)
    return InvalidArgument("token lifetimes must be positive");
  if (options.api_key_default_expiry_s <= 0 ||
      options.api_key_max_expiry_s < options.api_key_default_expiry_s)
    return InvalidArgument("API key expiry: need 0 < default (" +
                           std::to_string(options.api_key_default_expiry_s) + " s) <= maximum (" +
                           std::to_string(options.api_key_max_expiry_s) + " s)");
  auto core = std::make_unique<AuthCore>(Key(), std::move(store), std::move(sealer),
                                         std::move(options));
  CLOISTER_RETURN_IF_ERROR(core->LoadSigningKeys());
  CLOISTER_RETURN_IF_ERROR(core->Prune());
  return core;
}

// ---- signing keys ----

Result<AuthCore::SigningKey> AuthCore::GenerateSigningKey(storage::Executor& ex, int64_t now) {
  CLOISTER_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                            crypto::PrivateKey::Generate(crypto::KeyType::kEd25519));
  std::string key_id = "tk-" + crypto::RandomId();
  SecretBytes der = key.Pkcs8Der();
  CLOISTER_ASSIGN_OR_RETURN(Bytes sealed, sealer_->Seal(der.view(), KeyAad(key_id)));
  CLOISTER_RETURN_IF_ERROR(store_->InsertSigningKey(
      ex, {.key_id = key_id, .sealed_pkcs8 = sealed, .spki = key.public_key().SpkiDer(),
           .created_unix = now}));
  LOG_INFO("token signing key generated", {{"key_id", key_id}});
  return SigningKey{key_id, std::move(key), now, std::nullopt};
}

Status AuthCore::LoadSigningKeys() {
  int64_t now = NowS();
  // A retired key verifies until every token it signed has expired.
  int64_t keep_s = options_.token_lifetime_s + kTokenClockSkewSeconds;
  std::vector<SigningKey> loaded;
  Status st = store_->db().Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(auto records, store_->ListSigningKeys(tx));
    bool have_current = false;
    for (const SigningKeyRecord& r : records) {
      if (r.retired_unix && *r.retired_unix + keep_s < now) {
        CLOISTER_RETURN_IF_ERROR(store_->DeleteSigningKey(tx, r.key_id));
        continue;
      }
      auto der = sealer_->Unseal(r.sealed_pkcs8, KeyAad(r.key_id));
      if (!der.ok())
        return DataLoss("cannot unseal token signing key " + r.key_id + " (" +
                            der.error().ToString() +
                            "); was the database moved to another node or signer?",
                        auth_reason::kKeyUnsealable);
      CLOISTER_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::FromPkcs8Der(der->view()));
      if (key.type() != crypto::KeyType::kEd25519 || key.public_key().SpkiDer() != r.spki)
        return DataLoss("token signing key " + r.key_id + " does not match its public key",
                        auth_reason::kKeyUnsealable);
      if (!r.retired_unix) {
        if (have_current) {
          // Two current keys (an interrupted rotation): keep the newest.
          CLOISTER_RETURN_IF_ERROR(store_->RetireSigningKey(tx, r.key_id, now));
          loaded.push_back({r.key_id, std::move(key), r.created_unix, now});
          continue;
        }
        have_current = true;
        if (r.created_unix + options_.signing_key_max_age_s <= now) {
          CLOISTER_RETURN_IF_ERROR(store_->RetireSigningKey(tx, r.key_id, now));
          loaded.push_back({r.key_id, std::move(key), r.created_unix, now});
          CLOISTER_ASSIGN_OR_RETURN(SigningKey fresh, GenerateSigningKey(tx, now));
          loaded.insert(loaded.begin(), std::move(fresh));
          continue;
        }
        loaded.insert(loaded.begin(), {r.key_id, std::move(key), r.created_unix, std::nullopt});
      } else {
        loaded.push_back({r.key_id, std::move(key), r.created_unix, r.retired_unix});
      }
    }
    if (!have_current) {
      CLOISTER_ASSIGN_OR_RETURN(SigningKey fresh, GenerateSigningKey(tx, now));
      loaded.insert(loaded.begin(), std::move(fresh));
    }
    return OkStatus();
  });
  if (!st.ok()) return st;
  std::unique_lock lock(keys_mu_);
  keys_ = std::move(loaded);
  return OkStatus();
}

Status AuthCore::RotateSigningKey() {
  int64_t now = NowS();
  if (Status tx_status = store_->db().Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(auto records, store_->ListSigningKeys(tx));
    for (const auto& r : records)
      if (!r.retired_unix) CLOISTER_RETURN_IF_ERROR(store_->RetireSigningKey(tx, r.key_id, now));
    return GenerateSigningKey(tx, now).status();
  }); !tx_status.ok()) return tx_status;
  return LoadSigningKeys();
}

internal::TokenKeysResponse AuthCore::TokenKeys() const {
  internal::TokenKeysResponse resp;
  std::shared_lock lock(keys_mu_);
  for (const SigningKey& k : keys_) {
    Bytes spki = k.key.public_key().SpkiDer();
    resp.add_ed25519_spki(std::string(AsChars(spki)));
  }
  return resp;
}

TokenVerifier AuthCore::MakeVerifier() const {
  std::vector<crypto::PublicKey> pubs;
  std::shared_lock lock(keys_mu_);
  for (const SigningKey& k : keys_) pubs.push_back(k.key.public_key());
  return TokenVerifier(std::move(pubs));
}

// ---- tokens ----

api::User AuthCore::ToApiUser(const UserRecord& u) {
  api::User out;
  out.set_user_id(u.user_id);
  out.set_username(u.username);
  if (u.roles & kRoleUserBit) out.add_roles(api::ROLE_USER);
  if (u.roles & kRoleAdminBit) out.add_roles(api::ROLE_ADMIN);
  out.set_disabled(u.disabled);
  out.set_created_unix(u.created_unix);
  return out;
}

Result<std::pair<std::string, int64_t>> AuthCore::IssueAccessToken(storage::Executor& ex,
                                                                   const UserRecord& user,
                                                                   std::string_view session_id) {
  int64_t now = NowS();
  // A user-wide revocation covers tokens issued before `before_unix` (which
  // may be up to 1 s ahead); a token issued right after it must not fall
  // under it.
  CLOISTER_ASSIGN_OR_RETURN(int64_t before, store_->LatestUserRevocation(ex, user.user_id, now));
  internal::TokenBody body;
  body.set_version(kTokenVersion);
  body.set_token_id(crypto::RandomId());
  body.set_user_id(user.user_id);
  body.set_username(user.username);
  if (user.roles & kRoleUserBit) body.add_roles(api::ROLE_USER);
  if (user.roles & kRoleAdminBit) body.add_roles(api::ROLE_ADMIN);
  body.set_audience(kTokenAudience);
  body.set_issued_unix(detail::IssuedAfter(now, before));
  body.set_expires_unix(body.issued_unix() + options_.token_lifetime_s);
  CLOISTER_ASSIGN_OR_RETURN(std::string token, SignToken(body));
  CLOISTER_RETURN_IF_ERROR(
      store_->InsertAccessToken(ex, body.token_id(), session_id, body.expires_unix()));
  return std::make_pair(std::move(token), body.expires_unix());
}

Result<std::string> AuthCore::SignToken(const internal::TokenBody& body) const {
  std::shared_lock lock(keys_mu_);
  if (keys_.empty()) return Internal("no token signing key loaded");
  CLOISTER_ASSIGN_OR_RETURN(TokenSigner signer, TokenSigner::Create(keys_.front().key));
  return signer.Sign(body);
}

Result<std::string> AuthCore::IssueRefreshToken(storage::Executor& ex,
                                                std::string_view session_id) {
  SecretBytes raw = SecretBytes::Random(32);
  std::string token = std::string(kRefreshPrefix) + Base64UrlEncode(raw.view());
  CLOISTER_RETURN_IF_ERROR(store_->InsertRefreshToken(ex, detail::HashSecret(token), session_id,
                                                      NowS() + options_.refresh_lifetime_s));
  return token;
}

Status AuthCore::RevokeUserWide(storage::Executor& ex, std::string_view user_id) {
  int64_t now_ms = NowMs();
  // +1: tokens issued earlier in this same second are covered too.
  int64_t before = now_ms / 1000 + 1;
  // Kept until every token it covers has expired: access tokens and the
  // (longer-lived) proofs issued for API keys.
  CLOISTER_RETURN_IF_ERROR(store_->InsertRevocation(
      ex, {.user_id = std::string(user_id), .before_unix = before, .revoked_unix_ms = now_ms},
      before + std::max(options_.token_lifetime_s, kApiKeyProofLifetimeS) + kTokenClockSkewSeconds));
  // A stolen session must not outlive a password change through an API key
  // it minted (issue 11): the user's API keys go with every token.
  CLOISTER_RETURN_IF_ERROR(store_->DeleteApiKeysOfUser(ex, user_id));
  return store_->RevokeAllSessions(ex, user_id);
}

// ---- sessions ----

Status AuthCore::RecordFailure(std::string_view username, std::string_view source) {
  int64_t now = NowMs();
  return store_->db().Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(ThrottleRecord t, store_->GetThrottle(tx, username, source));
    if (now - t.last_failure_ms > options_.throttle_window_ms) t.failures = 0;
    t.failures++;
    t.last_failure_ms = now;
    int64_t lock = ThrottleLockMs(options_, t.failures);
    t.locked_until_ms = lock > 0 ? now + lock : 0;
    return store_->PutThrottle(tx, username, source, t);
  });
}

Result<api::LoginResponse> AuthCore::Login(std::string_view username, std::string_view password,
                                           std::string_view source) {
  CLOISTER_RETURN_IF_ERROR(ValidateUsername(username));
  if (password.empty()) return InvalidArgument("password is required");
  if (password.size() > kMaxPasswordLength) return InvalidArgument("password: at most 1024 bytes");
  // One attempt per (username, source) at a time: parallel guesses would
  // otherwise all pass the throttle check before any failure is recorded.
  // Per pair, so a stranger's parallel attempts never refuse the user's own.
  const std::string pair = std::string(username) + '\n' + std::string(source);
  {
    std::lock_guard lock(inflight_mu_);
    if (!inflight_logins_.emplace(pair).second)
      return ResourceExhausted("another login for this user is in progress",
                               auth_reason::kThrottled);
  }
  struct Done {
    AuthCore* self;
    std::string name;
    ~Done() {
      std::lock_guard lock(self->inflight_mu_);
      self->inflight_logins_.erase(name);
    }
  } done{this, pair};
  return LoginLocked(username, password, source);
}

Result<api::LoginResponse> AuthCore::LoginLocked(std::string_view username,
                                                 std::string_view password,
                                                 std::string_view source) {
  int64_t now_ms = NowMs();
  CLOISTER_ASSIGN_OR_RETURN(ThrottleRecord t,
                            store_->GetThrottle(store_->db(), username, source));
  if (t.locked_until_ms > now_ms) {
    int64_t wait_s = (t.locked_until_ms - now_ms + 999) / 1000;
    return ResourceExhausted("too many failed logins for this user from this address; retry in " +
                                 std::to_string(wait_s) + " s",
                             auth_reason::kThrottled);
  }
  CLOISTER_ASSIGN_OR_RETURN(auto user, store_->FindUserByName(store_->db(), username));
  bool match = false;
  {
    HashSlot slot(hash_slots_);
    if (!user) {
      hasher_.BurnVerify(password);  // same cost as a wrong password
    } else {
      auto v = hasher_.Verify(password, user->password_hash);
      if (!v.ok())
        LOG_ERROR("stored password hash unusable", {{"user_id", user->user_id},
                                                    {"error", v.error().ToString()}});
      match = v.ok() && *v;
    }
  }
  if (!match) {
    CLOISTER_RETURN_IF_ERROR(RecordFailure(username, source));
    LOG_INFO("login refused", {{"known_user", user ? 1 : 0}, {"source", std::string(source)}});
    return InvalidCredentials();
  }
  if (user->disabled) return PermissionDenied("user is disabled", auth_reason::kUserDisabled);
  if (t.failures > 0)
    CLOISTER_RETURN_IF_ERROR(store_->ClearThrottle(store_->db(), username, source));

  std::optional<std::string> rehash;
  if (hasher_.NeedsRehash(user->password_hash)) {
    HashSlot slot(hash_slots_);
    auto h = hasher_.Hash(password);
    if (h.ok()) rehash = std::move(*h);
  }

  api::LoginResponse resp;
  if (Status tx_status = store_->db().Transaction([&](storage::Tx& tx) -> Status {
    int64_t now = NowS();
    if (rehash) CLOISTER_RETURN_IF_ERROR(store_->SetPasswordHash(tx, user->user_id, *rehash, now));
    std::string session_id = "s-" + crypto::RandomId();
    CLOISTER_RETURN_IF_ERROR(store_->InsertSession(tx, session_id, user->user_id, now));
    CLOISTER_ASSIGN_OR_RETURN(auto access, IssueAccessToken(tx, *user, session_id));
    CLOISTER_ASSIGN_OR_RETURN(std::string refresh, IssueRefreshToken(tx, session_id));
    resp.set_token(std::move(access.first));
    resp.set_expires_unix(access.second);
    resp.set_refresh_token(std::move(refresh));
    *resp.mutable_user() = ToApiUser(*user);
    return OkStatus();
  }); !tx_status.ok()) return tx_status;
  LOG_INFO("login", {{"user_id", user->user_id}});
  return resp;
}

Result<api::RefreshTokenResponse> AuthCore::Refresh(std::string_view refresh_token) {
  if (refresh_token.empty()) return InvalidArgument("refresh_token is required");
  if (refresh_token.size() > kMaxRefreshTokenLength)
    return InvalidArgument("refresh_token: too long");
  Bytes hash = detail::HashSecret(refresh_token);
  Error invalid = Unauthenticated("refresh token is invalid or expired", auth_reason::kInvalidRefresh);
  std::optional<Error> outcome;
  api::RefreshTokenResponse resp;
  if (Status tx_status = store_->db().Transaction([&](storage::Tx& tx) -> Status {
    int64_t now = NowS();
    CLOISTER_ASSIGN_OR_RETURN(auto rec, store_->FindRefreshToken(tx, hash));
    if (!rec || rec->session_revoked) return invalid;
    CLOISTER_ASSIGN_OR_RETURN(bool first_use, store_->MarkRefreshUsed(tx, hash));
    if (rec->used || !first_use) {
      // Reuse of a rotated refresh token means it was copied: revoke the whole
      // session (OAuth 2.0 Security BCP §4.14) and commit that, then refuse.
      CLOISTER_ASSIGN_OR_RETURN(auto tokens, store_->RevokeSession(tx, rec->session_id, now));
      for (const auto& [id, exp] : tokens)
        CLOISTER_RETURN_IF_ERROR(store_->InsertRevocation(
            tx, {.token_id = id, .revoked_unix_ms = NowMs()}, exp + kTokenClockSkewSeconds));
      LOG_WARN("refresh token reused; session revoked", {{"user_id", rec->user_id}});
      outcome = Unauthenticated("refresh token was already used; the session is revoked",
                                auth_reason::kRefreshReused);
      return OkStatus();
    }
    if (now >= rec->expires_unix) return invalid;
    CLOISTER_ASSIGN_OR_RETURN(auto user, store_->FindUserById(tx, rec->user_id));
    if (!user) return invalid;
    if (user->disabled) return PermissionDenied("user is disabled", auth_reason::kUserDisabled);
    CLOISTER_ASSIGN_OR_RETURN(auto access, IssueAccessToken(tx, *user, rec->session_id));
    CLOISTER_ASSIGN_OR_RETURN(std::string refresh, IssueRefreshToken(tx, rec->session_id));
    resp.set_token(std::move(access.first));
    resp.set_expires_unix(access.second);
    resp.set_refresh_token(std::move(refresh));
    return OkStatus();
  }); !tx_status.ok()) return tx_status;
  if (outcome) return *outcome;
  return resp;
}

Status AuthCore::Logout(const Caller& caller) {
  if (caller.token_id().empty())
    return FailedPrecondition("logout needs a token session (API keys are not sessions)");
  return store_->db().Transaction([&](storage::Tx& tx) -> Status {
    int64_t now = NowS();
    int64_t now_ms = NowMs();
    bool covered = false;
    CLOISTER_ASSIGN_OR_RETURN(auto session, store_->SessionOfAccessToken(tx, caller.token_id()));
    if (session) {
      CLOISTER_ASSIGN_OR_RETURN(auto tokens, store_->RevokeSession(tx, *session, now));
      for (const auto& [id, exp] : tokens) {
        covered |= id == caller.token_id();
        CLOISTER_RETURN_IF_ERROR(store_->InsertRevocation(
            tx, {.token_id = id, .revoked_unix_ms = now_ms}, exp + kTokenClockSkewSeconds));
      }
    }
    if (!covered)
      CLOISTER_RETURN_IF_ERROR(store_->InsertRevocation(
          tx, {.token_id = caller.token_id(), .revoked_unix_ms = now_ms},
          now + options_.token_lifetime_s + 2 * kTokenClockSkewSeconds));
    return OkStatus();
  });
}

Result<api::WhoAmIResponse> AuthCore::WhoAmI(const Caller& caller) {
  CLOISTER_ASSIGN_OR_RETURN(auto user, store_->FindUserById(store_->db(), caller.user_id()));
  if (!user) return NotFound("the calling principal is not a user", auth_reason::kUserNotFound);
  api::WhoAmIResponse resp;
  *resp.mutable_user() = ToApiUser(*user);
  return resp;
}

// ---- users ----

Result<UserRecord> AuthCore::RequireUser(storage::Executor& ex, std::string_view username) {
  CLOISTER_ASSIGN_OR_RETURN(auto user, store_->FindUserByName(ex, username));
  if (!user) return NotFound("no user named '" + std::string(username) + "'", auth_reason::kUserNotFound);
  return *std::move(user);
}

Result<api::CreateUserResponse> AuthCore::CreateUser(const Caller& caller,
                                                     const api::CreateUserRequest& req) {
  CLOISTER_RETURN_IF_ERROR(ValidateUsername(req.username()));
  CLOISTER_RETURN_IF_ERROR(ValidateNewPassword(req.password()));
  if (req.roles_size() > kMaxRoles) return InvalidArgument("roles: at most 8 entries");
  // Every account is a user; admin is an additional role.
  uint32_t roles = kRoleUserBit;
  for (int i = 0; i < req.roles_size(); ++i) {
    int r = req.roles(i);
    if (r == api::ROLE_USER) roles |= kRoleUserBit;
    else if (r == api::ROLE_ADMIN) roles |= kRoleAdminBit;
    else
      return InvalidArgument("roles[" + std::to_string(i) + "]: must be ROLE_USER or ROLE_ADMIN");
  }
  std::string hash;
  {
    HashSlot slot(hash_slots_);
    CLOISTER_ASSIGN_OR_RETURN(hash, hasher_.Hash(req.password()));
  }
  UserRecord u{.user_id = "u-" + crypto::RandomId(), .username = req.username(),
               .password_hash = std::move(hash), .roles = roles, .created_unix = NowS()};
  CLOISTER_RETURN_IF_ERROR(store_->InsertUser(store_->db(), u, u.created_unix));
  LOG_INFO("user created", {{"user_id", u.user_id}, {"by", caller.user_id()},
                            {"admin", (roles & kRoleAdminBit) ? 1 : 0}});
  api::CreateUserResponse resp;
  *resp.mutable_user() = ToApiUser(u);
  return resp;
}

Result<api::ListUsersResponse> AuthCore::ListUsers(const Caller& caller) {
  CLOISTER_ASSIGN_OR_RETURN(auto users, store_->ListUsers(store_->db()));
  api::ListUsersResponse resp;
  for (const auto& u : users) *resp.add_users() = ToApiUser(u);
  return resp;
}

Result<api::LookupUsersResponse> AuthCore::LookupUsers(const api::LookupUsersRequest& req) {
  constexpr int kMaxLookups = 64;
  if (req.usernames_size() == 0 || req.usernames_size() > kMaxLookups)
    return InvalidArgument("usernames: give 1 to 64 usernames", auth_reason::kLookupInvalid);
  api::LookupUsersResponse resp;
  for (const std::string& name : req.usernames()) {
    CLOISTER_RETURN_IF_ERROR(ValidateUsername(name, "usernames"));
    CLOISTER_ASSIGN_OR_RETURN(auto user, store_->FindUserByName(store_->db(), name));
    if (!user || user->disabled)
      return NotFound("no user named '" + name + "'", auth_reason::kUserNotFound);
    auto* ref = resp.add_users();
    ref->set_user_id(user->user_id);
    ref->set_username(user->username);
  }
  return resp;
}

Result<api::DisableUserResponse> AuthCore::DisableUser(const Caller& caller,
                                                       const api::DisableUserRequest& req) {
  CLOISTER_RETURN_IF_ERROR(ValidateUsername(req.username()));
  api::DisableUserResponse resp;
  if (Status tx_status = store_->db().Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(UserRecord u, RequireUser(tx, req.username()));
    if (req.disabled() && (u.roles & kRoleAdminBit)) {
      CLOISTER_ASSIGN_OR_RETURN(int64_t others, store_->CountEnabledAdmins(tx, u.user_id));
      if (others == 0)
        return FailedPrecondition("cannot disable the last enabled admin", auth_reason::kLastAdmin);
    }
    CLOISTER_RETURN_IF_ERROR(store_->SetDisabled(tx, u.user_id, req.disabled(), NowS()));
    if (req.disabled()) CLOISTER_RETURN_IF_ERROR(RevokeUserWide(tx, u.user_id));
    u.disabled = req.disabled();
    *resp.mutable_user() = ToApiUser(u);
    return OkStatus();
  }); !tx_status.ok()) return tx_status;
  LOG_INFO(req.disabled() ? "user disabled" : "user enabled",
           {{"user_id", resp.user().user_id()}, {"by", caller.user_id()}});
  return resp;
}

Status AuthCore::DeleteUser(const Caller& caller, std::string_view username) {
  CLOISTER_RETURN_IF_ERROR(ValidateUsername(username));
  std::string deleted_id;
  if (Status tx_status = store_->db().Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(UserRecord u, RequireUser(tx, username));
    if (u.roles & kRoleAdminBit) {
      CLOISTER_ASSIGN_OR_RETURN(int64_t others, store_->CountEnabledAdmins(tx, u.user_id));
      if (others == 0)
        return FailedPrecondition("cannot delete the last enabled admin", auth_reason::kLastAdmin);
    }
    // The revocation row has no foreign key, so it outlives the user.
    CLOISTER_RETURN_IF_ERROR(RevokeUserWide(tx, u.user_id));
    deleted_id = u.user_id;
    return store_->DeleteUser(tx, u.user_id);
  }); !tx_status.ok()) return tx_status;
  LOG_INFO("user deleted", {{"user_id", deleted_id}, {"by", caller.user_id()}});
  return OkStatus();
}

Status AuthCore::ChangePassword(const Caller& caller, const api::ChangePasswordRequest& req,
                                std::string_view source) {
  if (!req.username().empty()) CLOISTER_RETURN_IF_ERROR(ValidateUsername(req.username()));
  CLOISTER_RETURN_IF_ERROR(ValidateNewPassword(req.new_password(), "new_password"));
  if (req.old_password().size() > kMaxPasswordLength)
    return InvalidArgument("old_password: at most 1024 bytes");
  CLOISTER_ASSIGN_OR_RETURN(auto self, store_->FindUserById(store_->db(), caller.user_id()));
  bool is_self = req.username().empty() || (self && self->username == req.username());
  UserRecord target;
  if (is_self) {
    if (!self) return NotFound("the calling principal is not a user", auth_reason::kUserNotFound);
    // Even an admin proves the old password for their own account: a stolen
    // token alone must not be enough to take the account over.
    if (req.old_password().empty()) return InvalidArgument("old_password is required");
    CLOISTER_ASSIGN_OR_RETURN(ThrottleRecord t,
                              store_->GetThrottle(store_->db(), self->username, source));
    if (t.locked_until_ms > NowMs())
      return ResourceExhausted("too many failed attempts for this user", auth_reason::kThrottled);
    bool match = false;
    {
      HashSlot slot(hash_slots_);
      auto v = hasher_.Verify(req.old_password(), self->password_hash);
      match = v.ok() && *v;
    }
    if (!match) {
      CLOISTER_RETURN_IF_ERROR(RecordFailure(self->username, source));
      return Unauthenticated("old password is wrong", auth_reason::kInvalidCredentials);
    }
    target = *self;
  } else {
    if (!caller.is_admin()) return AdminRequired();
    CLOISTER_ASSIGN_OR_RETURN(target, RequireUser(store_->db(), req.username()));
  }
  std::string hash;
  {
    HashSlot slot(hash_slots_);
    CLOISTER_ASSIGN_OR_RETURN(hash, hasher_.Hash(req.new_password()));
  }
  if (Status tx_status = store_->db().Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_RETURN_IF_ERROR(store_->SetPasswordHash(tx, target.user_id, hash, NowS()));
    CLOISTER_RETURN_IF_ERROR(store_->ClearThrottles(tx, target.username));
    return RevokeUserWide(tx, target.user_id);
  }); !tx_status.ok()) return tx_status;
  LOG_INFO("password changed", {{"user_id", target.user_id}, {"by", caller.user_id()}});
  return OkStatus();
}

Result<bool> BootstrapAdmin(AuthStore& store, const PasswordHasher& hasher,
                            std::string_view password, int64_t now_unix) {
  CLOISTER_RETURN_IF_ERROR(ValidateNewPassword(password));
  CLOISTER_ASSIGN_OR_RETURN(int64_t admins, store.CountEnabledAdmins(store.db()));
  if (admins > 0) return false;
  CLOISTER_ASSIGN_OR_RETURN(std::string hash, hasher.Hash(password));
  bool created = false;
  if (Status tx_status = store.db().Transaction([&](storage::Tx& tx) -> Status {
    CLOISTER_ASSIGN_OR_RETURN(int64_t n, store.CountEnabledAdmins(tx));
    if (n > 0) return OkStatus();
    CLOISTER_ASSIGN_OR_RETURN(auto existing, store.FindUserByName(tx, "admin"));
    if (existing)
      return FailedPrecondition("a user named 'admin' exists but is not an enabled admin");
    UserRecord u{.user_id = "u-" + crypto::RandomId(), .username = "admin",
                 .password_hash = hash, .roles = kRoleUserBit | kRoleAdminBit,
                 .created_unix = now_unix};
    CLOISTER_RETURN_IF_ERROR(store.InsertUser(tx, u, now_unix));
    created = true;
    return OkStatus();
  }); !tx_status.ok()) return tx_status;
  if (created) LOG_INFO("bootstrap admin created", {{"username", "admin"}});
  return created;
}

// ---- revocations ----

Result<internal::RevocationsResponse> AuthCore::Revocations(int64_t since_unix_ms) {
  if (since_unix_ms < 0) return InvalidArgument("since_unix_ms: must not be negative");
  int64_t now_ms = NowMs();
  CLOISTER_ASSIGN_OR_RETURN(auto records,
                            store_->RevocationsSince(store_->db(), since_unix_ms, now_ms / 1000));
  internal::RevocationsResponse resp;
  for (const auto& r : records) {
    auto* out = resp.add_revocations();
    out->set_token_id(r.token_id);
    out->set_user_id(r.user_id);
    out->set_before_unix(r.before_unix);
    out->set_revoked_unix_ms(r.revoked_unix_ms);
  }
  resp.set_now_unix_ms(std::max<int64_t>(0, now_ms - kRevocationOverlapMs));
  return resp;
}

Status AuthCore::Prune() {
  int64_t now = NowS();
  return store_->db().Transaction(
      [&](storage::Tx& tx) -> Status { return store_->Prune(tx, now); });
}

}  // namespace cloister::auth
