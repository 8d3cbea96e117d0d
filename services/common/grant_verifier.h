// GrantVerifier: runs before any handler of an internal service (docs/design.md
// §4). A call is admitted only if ALL hold:
//   - the TLS peer is an attested enclave of an allowed caller role
//     (normally "gateway");
//   - metadata "cloister-grant-bin" holds a SignedGrant whose signature
//     verifies with the public key of that same attested peer certificate
//     (level 1, no attestation: whose HMAC under the cluster secret
//     verifies, see grant_mac.h);
//   - grant.audience == this service's own manifest role (enclave role);
//   - grant.method == the method being served;
//   - grant.body_sha256 == SHA-256 of the request's deterministic encoding;
//   - issued ≤ now < expires ≤ issued + 30 s;
//   - the request id was not seen before (replay cache until expiry).
// Every refusal is audited and returned as PermissionDenied with a reason:
// GRANT_MISSING, GRANT_MALFORMED, GRANT_SIGNATURE_INVALID, GRANT_MAC_INVALID,
// GRANT_AUDIENCE_MISMATCH, GRANT_METHOD_MISMATCH, GRANT_BODY_MISMATCH, GRANT_EXPIRED,
// GRANT_REPLAYED, PEER_NOT_ALLOWED.
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

namespace cloister::services {

inline constexpr const char* kGrantMetadataKey = "cloister-grant-bin";
inline constexpr int64_t kMaxGrantLifetimeMs = 30'000;

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
}  // namespace grant_reason

class GrantVerifier {
 public:
  // `audit` may be null only in unit tests. Thread-safe.
  GrantVerifier(attestation::Enclave* enclave, std::vector<std::string> allowed_callers,
                AuditLog* audit);

  template <typename Req>
  Result<Authorized<Req>> Admit(const grpc::ServerContext& ctx, const Req& req,
                                std::string_view method) {
    CLOISTER_ASSIGN_OR_RETURN(internal::AccessGrant grant,
                              Check(ctx, DeterministicSerialize(req), method));
    return Authorized<Req>(req, std::move(grant));
  }

  uint64_t admitted() const { return admitted_; }

 private:
  // Verifies everything except constructing the Authorized<>; audits refusals.
  Result<internal::AccessGrant> Check(const grpc::ServerContext& ctx, const std::string& body,
                                      std::string_view method);
  Result<internal::AccessGrant> CheckInner(const grpc::ServerContext& ctx,
                                           const std::string& body, std::string_view method);
  Status NoteRequestId(const std::string& id, int64_t expires_ms, int64_t now_ms);

  attestation::Enclave* enclave_;
  std::vector<std::string> allowed_callers_;
  AuditLog* audit_;
  std::mutex mu_;
  std::map<std::string, int64_t> seen_;  // request id → expiry
  std::atomic<uint64_t> admitted_{0};
};

// The gateway's proof over serialized grant bytes: its attested key's
// signature (level ≥ 2) or the level-1 cluster-secret HMAC. Fails if the
// enclave has neither (a level-1 gateway started without the secret).
Result<Bytes> SignGrant(attestation::Enclave& gateway, ByteView grant_bytes);

// Gateway side: signs a grant for `req` to `method` of the service whose
// manifest role is `audience` with the gateway's attested key and attaches
// it to `ctx`. An empty audience is refused (a grant always names its target).
Status AttachGrant(grpc::ClientContext& ctx, attestation::Enclave& gateway,
                   std::string_view audience, const google::protobuf::Message& req,
                   std::string_view method, internal::AccessGrant grant);

}  // namespace cloister::services
