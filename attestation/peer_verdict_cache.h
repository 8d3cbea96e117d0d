// PeerVerdictCache: RA-TLS certificates already accepted, by the SHA-256 of
// their exact bytes and the roles they were checked against, so a peer that
// reconnects (a new channel, a new call's PeerOf) is not re-verified within
// a few seconds. A hit is only as good as the full check it replaces: the
// entry ends when the certificate's validity or the quote's allowed age
// would end, and after kTtlMs regardless; other bytes, other roles or a
// policy that demands a per-connection nonce always take the full check.
// The TLS handshake itself still proves the peer holds the certificate's
// key (CertificateVerify), so replaying certificate bytes gains nothing.
//
//   if (auto hit = cache.Find(pem, roles, now)) return *hit;
//   ... full verification ...
//   cache.Insert(pem, roles, peer, until);
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attestation/quote_verifier.h"
#include "common/crypto/x509.h"

namespace cloister::attestation {

class PeerVerdictCache {
 public:
  // A verdict lives at most this long, so a change of what the platform
  // would quote (a re-measured binary, a revoked platform) is seen within it.
  static constexpr int64_t kTtlMs = 10'000;
  // Past this many live entries the cache starts over (only attested peers
  // get in, so this bounds memory rather than fending off strangers).
  static constexpr size_t kMaxEntries = 4096;

  // The peer accepted for exactly these bytes and roles, if still live.
  std::optional<VerifiedPeer> Find(std::string_view cert_pem,
                                   const std::vector<std::string>& roles, int64_t now_ms);
  // Records an accepted peer. `cert` and `policy` bound the entry's life by
  // the certificate's not-after and the quote's max age; a policy with an
  // expected nonce is never cached (each connection has its own).
  void Insert(std::string_view cert_pem, const std::vector<std::string>& roles,
              const crypto::Certificate& cert, const VerifyPolicy& policy,
              const VerifiedPeer& peer, int64_t now_ms);

  size_t size();

 private:
  struct Entry {
    VerifiedPeer peer;
    int64_t until_ms = 0;
  };
  static std::string KeyOf(std::string_view cert_pem, const std::vector<std::string>& roles);

  std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace cloister::attestation
