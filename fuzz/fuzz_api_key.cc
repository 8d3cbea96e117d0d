// Fuzzes the credential a client puts in "authorization" as the gateway and
// cloister-auth parse it: the gateway's AuthenticateFilter on the whole
// header ("Bearer <token>" | "ApiKey <id>.<secret>"), whose API keys go to
// the real AuthCore::VerifyApiKey (services/auth/auth_api_keys.cc) over a
// scratch SQLite store holding real users and keys, and whose tokens and
// API-key proofs the gateway's CredentialCache verifies against that auth's
// own token keys; and the scope text auth stores per key (ScopeFromText /
// ScopeToText). Input: selector byte, then
//   0: the whole header;  1: "ApiKey " + payload;  2: a stored scope text.
// No header may authenticate unless it carries a live credential this
// process issued: an API key is accepted only if it is exactly a live key's
// text (the revoked key, the disabled user's key and every other string are
// refused), and the caller is then that key's user with its scope.
#include <google/protobuf/stubs/logging.h>
#include <cstddef>
#include <cstdint>
#include <map>

#include "attestation/sealer.h"
#include "common/crypto/aead.h"
#include "fuzz/fuzz_seed.h"
#include "gateway/filters/authenticate/authenticate_filter.h"
#include "services/auth/api_key_scope.h"
#include "services/auth/auth_core.h"

using namespace cloister;

namespace {

constexpr char kPassword[] = "fuzz password 1234";

using LocalSealer = attestation::AeadSealer;

struct Live {
  std::string user_id;
  api::ApiKeyScope scope;
};

struct Auth {
  fuzz::ScratchDir dir;
  std::unique_ptr<auth::AuthCore> core;
  gateway::CredentialCache cache;
  std::unique_ptr<gateway::AuthenticateFilter> filter;
  std::map<std::string, Live> live_keys;  // key text → its user and scope
  std::vector<std::string> dead_keys;     // revoked, or of a disabled user
  std::string token;                      // alice's login token

  Auth() {
    auto store = auth::AuthStore::Open("sqlite://" + dir.path() + "/auth.db");
    if (!store.ok()) std::abort();
    auth::AuthOptions o;
    o.password.scrypt_log2_n = 10;  // seeding only; no login is fuzzed
    auto c = auth::AuthCore::Create(*std::move(store), std::make_shared<LocalSealer>(), o);
    if (!c.ok()) std::abort();
    core = *std::move(c);
    if (!core->BootstrapAdmin(kPassword).ok()) std::abort();
    const services::Caller admin = CallerFor("admin");
    for (const char* name : {"alice", "bob"}) {
      api::CreateUserRequest r;
      r.set_username(name);
      r.set_password(kPassword);
      if (!core->CreateUser(admin, r).ok()) std::abort();
    }
    const services::Caller alice = CallerFor("alice"), bob = CallerFor("bob");
    api::ApiKeyScope read_only;
    read_only.set_read_only(true);
    api::ApiKeyScope call_only;
    call_only.add_methods("Call");
    AddKey(alice, {}, true);
    AddKey(alice, read_only, true);
    AddKey(alice, call_only, true);
    const std::string revoked = AddKey(alice, {}, false);
    api::RevokeApiKeyRequest rv;
    rv.set_key_id(revoked.substr(0, revoked.find('.')));
    if (!core->RevokeApiKey(alice, rv).ok()) std::abort();
    AddKey(bob, {}, false);
    api::DisableUserRequest d;
    d.set_username("bob");
    d.set_disabled(true);
    if (!core->DisableUser(admin, d).ok()) std::abort();
    auto login = core->Login("alice", kPassword);
    if (!login.ok()) std::abort();
    token = login->token();

    std::vector<crypto::PublicKey> keys;
    const internal::TokenKeysResponse token_keys = core->TokenKeys();
    for (const auto& spki : token_keys.ed25519_spki())
      keys.push_back(*crypto::PublicKey::FromSpkiDer(AsBytes(spki)));
    cache.identity().SetKeys(std::move(keys));
    // What the gateway does with auth's VerifyApiKey answer (gateway.cc).
    filter = std::make_unique<gateway::AuthenticateFilter>(
        &cache, [this](const std::string& key) -> Result<gateway::ApiKeyProof> {
          CLOISTER_ASSIGN_OR_RETURN(auto resp, core->VerifyApiKey(key));
          return gateway::ApiKeyProof{resp.proof(), resp.user().user_id(),
                                      resp.proof_expires_unix()};
        });
  }

  services::Caller CallerFor(const std::string& name) {
    auto users = core->store().ListUsers(core->store().db());
    if (!users.ok()) std::abort();
    for (const auto& u : *users)
      if (u.username == name)
        return services::MakeCallerForTesting(
            {.user_id = u.user_id, .admin = (u.roles & auth::kRoleAdminBit) != 0,
             .username = u.username});
    std::abort();
  }

  std::string AddKey(const services::Caller& who, const api::ApiKeyScope& scope, bool live) {
    api::CreateApiKeyRequest req;
    *req.mutable_scope() = scope;
    auto k = core->CreateApiKey(who, req);
    if (!k.ok()) std::abort();
    if (live) live_keys[k->api_key()] = {who.user_id(), scope};
    else dead_keys.push_back(k->api_key());
    return k->api_key();
  }
};
Auth& A() {
  static Auth a;
  return a;
}

void Header(const std::string& header) {
  gateway::RequestContext ctx;
  ctx.authorization = header;
  const Status st = A().filter->OnRequest(ctx);
  if (!st.ok()) return;
  const services::Caller& c = ctx.principal;
  if (header.empty()) {
    if (!c.anonymous() || !ctx.auth_proof.empty()) __builtin_trap();
    return;
  }
  if (c.anonymous() || ctx.auth_proof.empty()) __builtin_trap();
  if (header.starts_with("ApiKey ")) {
    auto it = A().live_keys.find(header.substr(7));
    if (it == A().live_keys.end()) __builtin_trap();  // an API key nobody issued
    if (c.user_id() != it->second.user_id || c.via() != "api-key" ||
        c.scope().SerializeAsString() != it->second.scope.SerializeAsString())
      __builtin_trap();
  } else if (header.starts_with("Bearer ")) {
    if (c.via() != "token" && c.via() != "api-key") __builtin_trap();
  } else {
    __builtin_trap();  // neither scheme, yet authenticated
  }
}

void Scope(std::string_view text) {
  auto s = auth::ScopeFromText(text);
  if (!s.ok()) return;
  if (auth::ScopeToText(*s) != text) __builtin_trap();
  if (auto c = auth::CanonicalScope(*s); c.ok()) {
    auto back = auth::ScopeFromText(auth::ScopeToText(*c));
    if (!back.ok() || back->SerializeAsString() != c->SerializeAsString()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::QuietLogs();
  google::protobuf::SetLogHandler(nullptr);
  int i = 0;
  for (const auto& [key, live] : A().live_keys) {
    fuzz::WriteSeed("api-key-" + std::to_string(++i), fuzz::Seed(0, "ApiKey " + key));
    fuzz::WriteSeed("key-" + std::to_string(i), fuzz::Seed(1, key));
  }
  for (const auto& key : A().dead_keys) fuzz::WriteSeed("dead-key-" + std::to_string(++i), fuzz::Seed(1, key));
  fuzz::WriteSeed("bearer", fuzz::Seed(0, "Bearer " + A().token));
  fuzz::WriteSeed("scope", fuzz::Seed(2, "read-only,Call,ListFiles"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  const fuzz::Input in(data, size);
  switch (in.selector % 3) {
    case 0: Header(std::string(in.payload)); break;
    case 1: Header("ApiKey " + std::string(in.payload)); break;
    default: Scope(in.payload); break;
  }
  return 0;
}
