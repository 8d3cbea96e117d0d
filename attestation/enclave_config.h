// EnclaveConfig: the security-relevant configuration of one enclave as a
// canonical text, and its digest, the config id that the platform puts in
// every quote of the enclave (QuoteBody.config_id, like SGX's CONFIGID).
// A genuine binary started with other flags, another database, another
// peer or another cluster has another config id, so it is refused by its
// own start-up check, by every peer and by `cloister attest` unless the
// auditor-signed manifest lists that config for its role.
//
//   EnclaveConfig c = BaseConfig(trust, "auth");
//   c.Set("db", "sqlite:///var/lib/cloister/auth/auth.db");
//   crypto::Digest id = c.Id();         // what the quote carries
//   std::string text = c.Text();        // what the auditors read and sign
//
// Canonical text: one "key=value\n" line per setting, sorted by key; keys
// are [a-z0-9._-]{1,64}; a value's '\\' and newline are escaped as "\\\\"
// and "\\n". Id = SHA-256("cloister-config-v1\n" ‖ text).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "attestation/trust.h"
#include "common/crypto/hash.h"

namespace cloister::attestation {

inline constexpr const char* kConfigNotInManifest = "CONFIG_NOT_IN_MANIFEST";
inline constexpr const char* kConfigMalformed = "CONFIG_MALFORMED";
inline constexpr size_t kMaxConfigTextBytes = 16 * 1024;

class EnclaveConfig {
 public:
  // Replaces any earlier value of `key`. InvalidArgument [CONFIG_MALFORMED]
  // for a key outside the alphabet above.
  Status Set(std::string_view key, std::string_view value);
  // Sets every value of `other` (its values win on a clash).
  void Merge(const EnclaveConfig& other);
  // The value of `key`, or nullptr.
  const std::string* Find(std::string_view key) const;

  std::string Text() const;
  crypto::Digest Id() const;

  // Parses a canonical text (bounds-checked: at most kMaxConfigTextBytes,
  // sorted unique keys). InvalidArgument [CONFIG_MALFORMED] otherwise.
  static Result<EnclaveConfig> Parse(std::string_view text);

  const std::map<std::string, std::string, std::less<>>& values() const { return values_; }

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

// The id of a canonical text (no parsing).
crypto::Digest ConfigIdOfText(std::string_view text);

// The keys whose values differ between two configurations, or that only
// one has, sorted: what an error message names.
std::vector<std::string> DifferingKeys(const EnclaveConfig& a, const EnclaveConfig& b);

// What every enclave's configuration holds whatever its flags: its role,
// the cluster instance (manifest cluster_id), and the trust it verifies
// peers with (attestation root, auditor set, security level, debug and
// quote-age policy, platform socket). The manifest's own digest is not in
// it: the manifest lists configs, so it cannot be part of one.
EnclaveConfig BaseConfig(const TrustConfig& trust, std::string_view role);

}  // namespace cloister::attestation
