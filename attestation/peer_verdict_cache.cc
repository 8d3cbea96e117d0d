// Cache of accepted RA-TLS peers; see peer_verdict_cache.h.
#include "attestation/peer_verdict_cache.h"

#include <algorithm>

#include "common/crypto/hash.h"
#include "common/bytes.h"

namespace cloister::attestation {

std::string PeerVerdictCache::KeyOf(std::string_view cert_pem,
                                    const std::vector<std::string>& roles) {
  // Roles cannot contain '|' or '\n' (manifest names), so the key is unambiguous.
  std::string key = HexEncode(crypto::Sha256(AsBytes(cert_pem)));
  for (const auto& r : roles) key.append("|").append(r);
  return key;
}

std::optional<VerifiedPeer> PeerVerdictCache::Find(std::string_view cert_pem,
                                                   const std::vector<std::string>& roles,
                                                   int64_t now_ms) {
  const std::string key = KeyOf(cert_pem, roles);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.until_ms <= now_ms) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.peer;
}

void PeerVerdictCache::Insert(std::string_view cert_pem, const std::vector<std::string>& roles,
                              const crypto::Certificate& cert, const VerifyPolicy& policy,
                              const VerifiedPeer& peer, int64_t now_ms) {
  if (policy.expected_nonce) return;
  int64_t until = now_ms + kTtlMs;
  until = std::min(until, cert.not_after() * 1000);
  until = std::min(until, peer.quote_timestamp_ms + policy.max_age_ms);
  if (until <= now_ms) return;
  const std::string key = KeyOf(cert_pem, roles);
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= kMaxEntries) {
    std::erase_if(entries_, [now_ms](const auto& kv) { return kv.second.until_ms <= now_ms; });
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  entries_[key] = Entry{peer, until};
}

size_t PeerVerdictCache::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace cloister::attestation
