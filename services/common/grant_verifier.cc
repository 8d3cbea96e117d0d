// Verifies the gateway's access grant before any handler; see
// grant_verifier.h.
#include "services/common/grant_verifier.h"

#include <algorithm>

#include "common/crypto/random.h"
#include "common/logging.h"
#include "services/common/grant_mac.h"
#include "services/topology/service_spec.h"

namespace cloister::services {
namespace {

Error Deny(const char* reason, std::string msg) { return PermissionDenied(std::move(msg), reason); }

// The enclave roles that may call `m` (method table): the gateway for
// public methods, the rule's callers for internal ones ("*": every
// enclave service of the topology).
std::vector<std::string> AllowedCallers(const rpc::MethodEntry& m) {
  if (!m.internal || m.callers.empty()) return {"gateway"};
  std::vector<std::string> out;
  for (const auto& c : m.callers) {
    if (c != "*") {
      out.push_back(c);
      continue;
    }
    for (const auto& s : topology::Topology())
      if (!s.is_platform()) out.push_back(std::string(s.name));
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

GrantVerifier::GrantVerifier(attestation::Enclave* enclave, AuditLog* audit,
                             const IdentityVerifier* identity)
    : enclave_(enclave), audit_(audit), identity_(identity) {}

Result<GrantVerifier::Admission> GrantVerifier::Check(const grpc::ServerContext& ctx,
                                                      const std::string& body,
                                                      std::string_view method) {
  auto grant = CheckInner(ctx, body, method);
  AuditEntry e;
  e.method = std::string(method);
  e.peer = ctx.peer();
  if (grant.ok()) {
    // The proven caller, not the grant's claim.
    e.principal = grant->caller.anonymous() ? "anonymous" : grant->caller.user_id();
    e.decision = "allow";
    e.request_id = grant->grant.request_id();
    for (const auto& r : grant->grant.resource_ids()) e.resources.push_back(r);
  } else {
    e.principal = "unknown";
    e.decision = "deny";
    e.reason = grant.error().reason();
  }
  // A service's own allowed polls of internal methods (token keys,
  // revocations, health: several a second cluster-wide) are not user
  // decisions and would drown the log; every refusal, and every call made
  // for a user, is recorded.
  const bool routine = grant.ok() && grant->caller.is_service();
  if (audit_ != nullptr && !routine) {
    // Audit fails closed: an unrecorded request is refused.
    if (auto st = audit_->Append(e); !st.ok()) {
      LOG_ERROR("audit append failed; refusing request", {{"error", st.ToString()}});
      return Unavailable("audit log unavailable", "AUDIT_UNAVAILABLE");
    }
  }
  if (!grant.ok()) {
    LOG_WARN("request refused by grant verifier",
             {{"method", std::string(method)}, {"reason", grant.error().reason()},
              {"peer", ctx.peer()}});
    return grant.error();
  }
  admitted_.fetch_add(1);
  return grant;
}

Result<GrantVerifier::Admission> GrantVerifier::CheckInner(const grpc::ServerContext& ctx,
                                                           const std::string& body,
                                                           std::string_view method) {
  const rpc::MethodEntry* entry = rpc::MethodTable::Get().Find(method);
  if (entry == nullptr)
    return Deny(grant_reason::kMethod, "method " + std::string(method).substr(0, 128) +
                                           " is not in the method table");
  // The method's request cap, as at the gateway (issue 11): what reached
  // this enclave anyway is refused before any handler works on it.
  if (body.size() > entry->max_request_bytes)
    return ResourceExhausted("a " + entry->name + " request is limited to " +
                                 std::to_string(entry->max_request_bytes) + " bytes",
                             "REQUEST_TOO_LARGE");
  const std::vector<std::string> allowed = AllowedCallers(*entry);
  // 1. The caller is an attested enclave of a role allowed for this method.
  CLOISTER_ASSIGN_OR_RETURN(attestation::VerifiedPeer peer, enclave_->PeerOf(ctx, allowed));
  const bool attested = enclave_->ratls() != nullptr;

  // 2. The grant is present and well formed.
  const auto& md = ctx.client_metadata();
  auto it = md.find(kGrantMetadataKey);
  if (it == md.end())
    return Deny(grant_reason::kMissing, "request carries no gateway access grant");
  if (md.count(kGrantMetadataKey) != 1)
    return Deny(grant_reason::kMalformed, "request carries more than one grant");
  if (it->second.size() > 16 * 1024) return Deny(grant_reason::kMalformed, "grant too large");
  internal::SignedGrant sg;
  if (!sg.ParseFromArray(it->second.data(), static_cast<int>(it->second.size())))
    return Deny(grant_reason::kMalformed, "grant does not parse");
  internal::AccessGrant g;
  if (!g.ParseFromString(sg.grant()) || g.request_id().empty() || g.request_id().size() > 128)
    return Deny(grant_reason::kMalformed, "grant body does not parse");
  // A source is an address, at most "xxxx:xxxx:xxxx:xxxx::/64" or a short
  // fallback; anything longer is not what a gateway writes.
  if (g.client_source().size() > kMaxClientSourceBytes)
    return Deny(grant_reason::kMalformed, "grant's client source is too long");

  // 3. Signed by the attested gateway on THIS connection. At level 1 there
  // is no attested key: MACed under the cluster secret instead, which only
  // the service accounts can read.
  if (attested) {
    if (!peer.public_key)
      return Deny(grant_reason::kSignature, "no attested peer key to check the grant");
    if (!peer.public_key->Verify(AsBytes(sg.grant()), AsBytes(sg.signature())).ok())
      return Deny(grant_reason::kSignature, "grant signature is not the attested gateway's");
  } else {
    const SecretBytes* secret = enclave_->cluster_secret();
    if (secret == nullptr)
      return Deny(grant_reason::kMac, "level 1: this service has no cluster secret to check "
                                      "grants with, so it accepts none");
    if (!Level1GrantMacValid(*secret, AsBytes(sg.grant()), AsBytes(sg.signature())))
      return Deny(grant_reason::kMac, "level 1: grant MAC is not under this cluster's secret");
  }

  // 4. For this service, exactly this method and this body.
  if (g.audience() != enclave_->role())
    return Deny(grant_reason::kAudience,
                "grant is for service '" + g.audience().substr(0, 64) + "', not '" +
                    enclave_->role() + "'");
  if (g.method() != method)
    return Deny(grant_reason::kMethod, "grant is for " + g.method().substr(0, 128) + ", not " +
                                           std::string(method));
  auto digest = crypto::Sha256(AsBytes(body));
  if (!ConstantTimeEqual(digest, AsBytes(g.body_sha256())))
    return Deny(grant_reason::kBody, "request body differs from the one the gateway authorized");

  // 5. Fresh and never seen before.
  const int64_t now = attestation::NowUnixMs();
  if (g.expires_unix_ms() <= now)
    return Deny(grant_reason::kExpired, "grant expired " +
                                            std::to_string((now - g.expires_unix_ms()) / 1000) +
                                            " s ago");
  if (g.expires_unix_ms() - g.issued_unix_ms() > kMaxGrantLifetimeMs ||
      g.issued_unix_ms() > now + attestation::kMaxClockSkewMs)
    return Deny(grant_reason::kExpired, "grant lifetime out of bounds");
  // 6. Who is calling, proven; and a role the method allows.
  CLOISTER_ASSIGN_OR_RETURN(Caller caller, Identify(g, *entry, peer, allowed));
  CLOISTER_RETURN_IF_ERROR(NoteRequestId(g.request_id(), g.expires_unix_ms(), now));
  caller.request_id_ = g.request_id();
  return Admission{std::move(g), std::move(caller)};
}

Result<Caller> GrantVerifier::Identify(const internal::AccessGrant& g, const rpc::MethodEntry& m,
                                       const attestation::VerifiedPeer& peer,
                                       const std::vector<std::string>& allowed) const {
  const std::string& principal = g.principal();
  if (m.internal) {
    // A service calls for itself and names itself; attested, its name
    // must be the role its quote proves.
    const std::string prefix = "service:";
    const std::string role = principal.rfind(prefix, 0) == 0 ? principal.substr(prefix.size()) : "";
    const bool attested = enclave_->ratls() != nullptr;
    if (role.empty() || !Contains(allowed, role) || (attested && role != peer.role))
      return Deny(grant_reason::kPrincipal,
                  "internal method " + m.name + " is called by services for themselves; the "
                  "grant names '" + principal.substr(0, 64) + "'");
    Caller c;
    c.kind_ = Caller::Kind::kService;
    c.user_id_ = principal;
    c.username_ = principal;
    c.via_ = "service";
    return c;
  }
  const auto& roles = m.default_roles();
  if (principal.empty() || principal == "anonymous") {
    if (!Contains(roles, "anonymous"))
      return Deny(grant_reason::kProofMissing,
                  m.name + " needs a signed-in user and the grant names none");
    return Caller::Anonymous();
  }
  if (principal.rfind("service:", 0) == 0)
    return Deny(grant_reason::kPrincipal, "a service principal may call internal methods only");
  if (g.auth_proof().empty())
    return Deny(grant_reason::kProofMissing,
                "the grant names user '" + principal.substr(0, 64) +
                    "' without auth's proof of who the user is");
  if (identity_ == nullptr)
    return Unavailable("this service verifies no auth proofs", "AUTH_UNAVAILABLE");
  auto caller = identity_->Verify(g.auth_proof(), attestation::NowUnixMs() / 1000);
  if (!caller.ok()) {
    if (caller.error().code() == Code::kUnavailable) return caller.error();
    return Deny(grant_reason::kProofInvalid,
                "auth proof refused (" + caller.error().reason() + "): " + caller.error().message());
  }
  if (caller->user_id() != principal)
    return Deny(grant_reason::kProofPrincipal,
                "the grant names user '" + principal.substr(0, 64) +
                    "' but auth's proof is for '" + caller->user_id().substr(0, 64) + "'");
  CLOISTER_RETURN_IF_ERROR(CheckMethodRoles(m, *caller));
  CLOISTER_RETURN_IF_ERROR(CheckApiKeyScope(m, *caller));
  return *std::move(caller);
}

Status CheckApiKeyScope(const rpc::MethodEntry& m, const Caller& c) {
  if (c.InScope(m.name, m.read_only)) return OkStatus();
  return Deny(grant_reason::kApiKeyScope,
              "this API key's scope does not include " + m.name +
                  (c.scope().read_only() ? " (the key is read-only)" : ""));
}

Status CheckMethodRoles(const rpc::MethodEntry& m, const Caller& c) {
  const auto& roles = m.default_roles();
  const bool ok = Contains(roles, "anonymous") ||
                  (!c.anonymous() && ((Contains(roles, "user") && c.HasRole(api::ROLE_USER)) ||
                                      (Contains(roles, "admin") && c.is_admin())));
  if (ok) return OkStatus();
  std::string need;
  for (const auto& r : roles) need += (need.empty() ? "" : " or ") + r;
  return Deny(grant_reason::kRole, m.name + " needs role " + need);
}

Status GrantVerifier::NoteRequestId(const std::string& id, int64_t expires_ms, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (seen_.size() > 4096) {
    for (auto it = seen_.begin(); it != seen_.end();) {
      if (it->second < now_ms) it = seen_.erase(it);
      else ++it;
    }
  }
  if (seen_.size() > 1'000'000)
    return ResourceExhausted("replay cache full", grant_reason::kReplayed);
  if (!seen_.emplace(id, expires_ms).second)
    return Deny(grant_reason::kReplayed, "grant " + id.substr(0, 32) + " was already used");
  return OkStatus();
}

Result<Bytes> SignGrant(attestation::Enclave& gateway, ByteView grant_bytes) {
  if (gateway.ratls() != nullptr) return gateway.ratls()->SignWithIdentityKey(grant_bytes);
  if (gateway.cluster_secret() != nullptr)
    return Level1GrantMac(*gateway.cluster_secret(), grant_bytes);
  return FailedPrecondition("level 1: no cluster secret to MAC grants with",
                            attestation::kClusterSecretInvalid);
}

Status AttachGrant(grpc::ClientContext& ctx, attestation::Enclave& gateway,
                   std::string_view audience, const google::protobuf::Message& req,
                   std::string_view method, internal::AccessGrant grant) {
  if (audience.empty()) return InvalidArgument("a grant needs an audience", grant_reason::kAudience);
  const int64_t now = attestation::NowUnixMs();
  grant.set_audience(std::string(audience));
  if (grant.request_id().empty()) grant.set_request_id(crypto::RandomId());
  grant.set_method(std::string(method));
  auto digest = crypto::Sha256(AsBytes(DeterministicSerialize(req)));
  grant.set_body_sha256(digest.data(), digest.size());
  grant.set_issued_unix_ms(now);
  if (grant.expires_unix_ms() == 0 || grant.expires_unix_ms() > now + kMaxGrantLifetimeMs)
    grant.set_expires_unix_ms(now + kMaxGrantLifetimeMs);
  internal::SignedGrant sg;
  sg.set_grant(grant.SerializeAsString());
  CLOISTER_ASSIGN_OR_RETURN(Bytes sig, SignGrant(gateway, AsBytes(sg.grant())));
  sg.set_signature(sig.data(), sig.size());
  ctx.AddMetadata(kGrantMetadataKey, sg.SerializeAsString());
  return OkStatus();
}

}  // namespace cloister::services
