// GrantVerifier: runs before any handler of an internal service (docs/design.md
// §4). A call is admitted only if ALL hold:
//   - the TLS peer is an attested enclave of a role the method table
//     allows for this method: "gateway" for public methods, the rule's
//     `callers` for internal ones;
//   - metadata "cloister-grant-bin" holds a SignedGrant whose signature
//     verifies with the public key of that same attested peer certificate
//     (level 1, no attestation: whose HMAC under the cluster secret
//     verifies, see grant_mac.h);
//   - grant.audience == this service's own manifest role (enclave role);
//   - grant.method == the method being served;
//   - grant.body_sha256 == SHA-256 of the request's deterministic encoding;
//   - issued ≤ now < expires ≤ issued + 30 s;
//   - the request id was not seen before (replay cache until expiry);
//   - WHO is calling is proven, not taken from the gateway (issue 9):
//     a grant naming a user carries that user's auth proof (a token auth
//     signed), which this service verifies itself (IdentityVerifier,
//     against auth's attested token keys and revocations); the proof's
//     user must be the grant's principal, and the Caller the handler sees
//     is built from the proof alone. An internal method's principal must
//     be "service:<the attested peer's role>"; an empty principal is
//     accepted only on methods the table opens to "anonymous";
//   - the caller holds one of the roles the method table declares for the
//     method (proto (cloister.options.rule).roles: the one place a
//     role × method rule is written; the gateway policy may narrow it);
//   - a caller with an API key's scope (from the signed proof) calls a
//     method inside it, so a gateway cannot widen a key.
// Every refusal, and every admitted call made for a user or anonymously, is
// audited (a service's own admitted internal polls are not); refusals are
// returned as PermissionDenied with a reason:
// GRANT_MISSING, GRANT_MALFORMED, GRANT_SIGNATURE_INVALID, GRANT_MAC_INVALID,
// GRANT_AUDIENCE_MISMATCH, GRANT_METHOD_MISMATCH, GRANT_BODY_MISMATCH, GRANT_EXPIRED,
// GRANT_REPLAYED, PEER_NOT_ALLOWED, AUTH_PROOF_MISSING, AUTH_PROOF_INVALID,
// AUTH_PROOF_PRINCIPAL_MISMATCH, PRINCIPAL_NOT_ALLOWED, ROLE_REQUIRED,
// API_KEY_SCOPE (Unavailable AUTH_UNAVAILABLE before auth's keys were loaded).
//
//   CLOISTER_ASSIGN_OR_RETURN(auto authz, verifier.Admit(*ctx, *req, kCreateUserMethod));
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <mutex>
#include <string>

#include "attestation/enclave.h"
#include "common/crypto/hash.h"
#include "services/common/audit_log.h"
#include "services/common/authorized.h"
#include "services/common/deterministic.h"
#include "services/common/identity_verifier.h"
#include "proto/method_table.h"

namespace cloister::services {

inline constexpr const char* kGrantMetadataKey = "cloister-grant-bin";
inline constexpr int64_t kMaxGrantLifetimeMs = 30'000;
// Bound on AccessGrant.client_source (GRANT_MALFORMED beyond).
inline constexpr size_t kMaxClientSourceBytes = 96;

namespace grant_reason {
inline constexpr const char* kMissing = "GRANT_MISSING";
inline constexpr const char* kMalformed = "GRANT_MALFORMED";
inline constexpr const char* kSignature = "GRANT_SIGNATURE_INVALID";
inline constexpr const char* kMac = "GRANT_MAC_INVALID";
inline constexpr const char* kAudience = "GRANT_AUDIENCE_MISMATCH";
inline constexpr const char* kMethod = "GRANT_METHOD_MISMATCH";
inline constexpr const char* kBody = "GRANT_BODY_MISMATCH";
inline constexpr const char* kExpired = "GRANT_EXPIRED";
inline constexpr const char* kReplayed = "GRANT_REPLAYED";
inline constexpr const char* kPeer = "PEER_NOT_ALLOWED";
inline constexpr const char* kProofMissing = "AUTH_PROOF_MISSING";
inline constexpr const char* kProofInvalid = "AUTH_PROOF_INVALID";
inline constexpr const char* kProofPrincipal = "AUTH_PROOF_PRINCIPAL_MISMATCH";
inline constexpr const char* kPrincipal = "PRINCIPAL_NOT_ALLOWED";
inline constexpr const char* kRole = "ROLE_REQUIRED";
inline constexpr const char* kApiKeyScope = "API_KEY_SCOPE";
}  // namespace grant_reason

class GrantVerifier {
 public:
  // `audit` may be null only in unit tests; `identity` verifies auth
  // proofs (kept current by an AuthFollower). Thread-safe.
  GrantVerifier(attestation::Enclave* enclave, AuditLog* audit, const IdentityVerifier* identity);

  template <typename Req>
  Result<Authorized<Req>> Admit(const grpc::ServerContext& ctx, const Req& req,
                                std::string_view method) {
    CLOISTER_ASSIGN_OR_RETURN(Admission a, Check(ctx, DeterministicSerialize(req), method));
    return Authorized<Req>(req, std::move(a.grant), std::move(a.caller));
  }

  uint64_t admitted() const { return admitted_; }

 private:
  struct Admission {
    internal::AccessGrant grant;
    Caller caller;
  };
  // Verifies everything except constructing the Authorized<>; audits refusals.
  Result<Admission> Check(const grpc::ServerContext& ctx, const std::string& body,
                          std::string_view method);
  Result<Admission> CheckInner(const grpc::ServerContext& ctx, const std::string& body,
                               std::string_view method);
  // Who the grant's principal is, proven (see the file comment).
  Result<Caller> Identify(const internal::AccessGrant& g, const rpc::MethodEntry& m,
                          const attestation::VerifiedPeer& peer,
                          const std::vector<std::string>& allowed) const;
  Status NoteRequestId(const std::string& id, int64_t expires_ms, int64_t now_ms);

  attestation::Enclave* enclave_;
  AuditLog* audit_;
  const IdentityVerifier* identity_;
  std::mutex mu_;
  std::map<std::string, int64_t> seen_;  // request id → expiry; guarded by mu_
  std::atomic<uint64_t> admitted_{0};
};

// The method table's role rule for `m` (proto (cloister.options.rule).roles,
// default user/admin): OK if `c` holds one of them or the method is open to
// "anonymous"; PermissionDenied [ROLE_REQUIRED] otherwise. The one check of
// a role × method rule in the services.
Status CheckMethodRoles(const rpc::MethodEntry& m, const Caller& c);

// An API key's scope (Caller::scope, from the signed proof) for `m`: OK
// if unscoped or `m` is in it; PermissionDenied [API_KEY_SCOPE] otherwise.
// The one scope check, run by the gateway's authorize filter and by every
// service's Identify.
Status CheckApiKeyScope(const rpc::MethodEntry& m, const Caller& c);

// The gateway's proof over serialized grant bytes: its attested key's
// signature (level ≥ 2) or the level-1 cluster-secret HMAC. Fails if the
// enclave has neither (a level-1 gateway started without the secret).
Result<Bytes> SignGrant(attestation::Enclave& gateway, ByteView grant_bytes);

// Gateway side: signs a grant for `req` to `method` of the service whose
// manifest role is `audience` with the gateway's attested key and attaches
// it to `ctx`. An empty audience is refused (a grant always names its target).
// A grant for a user carries the user's auth proof (grant.auth_proof).
Status AttachGrant(grpc::ClientContext& ctx, attestation::Enclave& gateway,
                   std::string_view audience, const google::protobuf::Message& req,
                   std::string_view method, internal::AccessGrant grant);

}  // namespace cloister::services
