// Task grants: signing (cloister-tasks) and verification (cloister-storage,
// cloister-keyvault); see task_grant.h.
#include "services/common/task_grant.h"

#include "attestation/quote_verifier.h"
#include "common/crypto/hash.h"
#include "common/crypto/x509.h"

namespace cloister::services {
namespace {

constexpr std::string_view kLevel1Label = "cloister level-1 task grant v1";
constexpr int64_t kSignerCacheMs = 60'000;
constexpr size_t kSignerCacheEntries = 16;
constexpr int64_t kClockSkewMs = 5'000;

Bytes Level1Input(std::string_view grant) {
  Bytes in(kLevel1Label.begin(), kLevel1Label.end());
  in.push_back(0);
  in.insert(in.end(), grant.begin(), grant.end());
  return in;
}

Error Denied(std::string msg, const char* reason) {
  return PermissionDenied("task grant: " + std::move(msg), reason);
}

}  // namespace

Result<std::string> SignTaskGrant(attestation::Enclave& tasks, internal::TaskGrant grant) {
  const int64_t now = attestation::NowUnixMs();
  grant.set_issued_unix_ms(now);
  if (grant.expires_unix_ms() <= now || grant.expires_unix_ms() > now + kMaxTaskGrantLifetimeMs)
    grant.set_expires_unix_ms(now + kMaxTaskGrantLifetimeMs);
  internal::SignedTaskGrant sg;
  sg.set_grant(grant.SerializeAsString());
  if (tasks.ratls() != nullptr) {
    CLOISTER_ASSIGN_OR_RETURN(Bytes sig, tasks.ratls()->SignWithIdentityKey(AsBytes(sg.grant())));
    sg.set_signature(sig.data(), sig.size());
    Bytes der = tasks.ratls()->current_certificate().Der();
    sg.set_certificate_der(der.data(), der.size());
  } else if (tasks.cluster_secret() != nullptr) {
    crypto::Digest mac = crypto::HmacSha256(tasks.cluster_secret()->view(), Level1Input(sg.grant()));
    sg.set_signature(mac.data(), mac.size());
  } else {
    return FailedPrecondition("level 1: no cluster secret to MAC task grants with",
                              attestation::kClusterSecretInvalid);
  }
  return sg.SerializeAsString();
}

Status TaskGrantVerifier::CheckSigner(const internal::SignedTaskGrant& sg, int64_t now_ms) {
  if (self_->ratls() == nullptr) {
    // Level 1: no attestation; the cluster secret is the proof, as for
    // access grants (grant_mac.h).
    const SecretBytes* secret = self_->cluster_secret();
    if (secret == nullptr || !crypto::HmacSha256Verify(secret->view(), Level1Input(sg.grant()),
                                                       AsBytes(sg.signature())))
      return Denied("the MAC does not verify under the cluster secret", task_grant_reason::kSignature);
    return OkStatus();
  }
  if (sg.certificate_der().empty() || sg.certificate_der().size() > 64 * 1024)
    return Denied("no signer certificate", task_grant_reason::kSigner);
  const crypto::Digest d = crypto::Sha256(AsBytes(sg.certificate_der()));
  const std::string cert_key(reinterpret_cast<const char*>(d.data()), d.size());
  std::optional<crypto::PublicKey> key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = verified_.find(cert_key);
    if (it != verified_.end() && it->second.second > now_ms) key = it->second.first;
  }
  if (!key) {
    auto cert = crypto::Certificate::FromDer(AsBytes(sg.certificate_der()));
    if (!cert.ok()) return Denied("the signer certificate does not parse", task_grant_reason::kSigner);
    // The same judgement as a TLS peer of role "tasks": its quote, its
    // measurement and configuration in the manifest, its svn and age.
    auto peer = attestation::VerifyRaTlsCertificate(
        *cert, attestation::VerifyPolicy::FromTrust(self_->trust(), {"tasks"}), now_ms);
    if (!peer.ok())
      return Denied("the signer is not an attested cloister-tasks of this cluster: " +
                        peer.error().message(),
                    task_grant_reason::kSigner);
    if (peer->role != "tasks" || !peer->public_key)
      return Denied("the signer is not cloister-tasks", task_grant_reason::kSigner);
    key = *peer->public_key;
    std::lock_guard<std::mutex> lock(mu_);
    if (verified_.size() >= kSignerCacheEntries) verified_.clear();
    verified_.insert_or_assign(cert_key, std::make_pair(*key, now_ms + kSignerCacheMs));
  }
  if (!key->Verify(AsBytes(sg.grant()), AsBytes(sg.signature())).ok())
    return Denied("the signature does not verify with the signer's attested key",
                  task_grant_reason::kSignature);
  return OkStatus();
}

Result<internal::TaskGrant> TaskGrantVerifier::Verify(std::string_view signed_bytes,
                                                      std::string_view peer_role) {
  if (signed_bytes.empty()) return Denied("none presented", task_grant_reason::kMissing);
  if (signed_bytes.size() > kMaxTaskGrantBytes)
    return Denied("larger than 256 KiB", task_grant_reason::kMalformed);
  internal::SignedTaskGrant sg;
  if (!sg.ParseFromArray(signed_bytes.data(), static_cast<int>(signed_bytes.size())) ||
      sg.grant().empty() || sg.signature().empty())
    return Denied("does not parse", task_grant_reason::kMalformed);
  const int64_t now = attestation::NowUnixMs();
  CLOISTER_RETURN_IF_ERROR(CheckSigner(sg, now));
  internal::TaskGrant g;
  if (!g.ParseFromString(sg.grant()) || g.task_id().empty())
    return Denied("the signed grant does not parse", task_grant_reason::kMalformed);
  if (g.issued_unix_ms() > now + kClockSkewMs || g.expires_unix_ms() <= now ||
      g.expires_unix_ms() > g.issued_unix_ms() + kMaxTaskGrantLifetimeMs)
    return Denied("expired (the task's lease ended); claim or heartbeat again",
                  task_grant_reason::kExpired);
  if (g.worker_role() != peer_role)
    return Denied("issued to a '" + g.worker_role() + "' worker, presented by '" +
                      std::string(peer_role) + "'",
                  task_grant_reason::kWorker);
  return g;
}

const internal::TaskGrantInput* GrantedInput(const internal::TaskGrant& grant,
                                             std::string_view file_id, std::string_view owner) {
  for (const auto& in : grant.inputs())
    if (in.file_id() == file_id && in.owner_user_id() == owner) return &in;
  return nullptr;
}

bool GrantsOutput(const internal::TaskGrant& grant, std::string_view slot, std::string_view owner) {
  for (const auto& out : grant.outputs()) {
    if (out.slot() != slot) continue;
    for (const auto& o : out.owner_user_ids())
      if (o == owner) return true;
  }
  return false;
}

}  // namespace cloister::services
