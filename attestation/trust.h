// TrustConfig: everything an enclave or verifier needs to decide whom to
// trust, loaded from one TOML file (the cluster's trust.toml):
//
//   [attestation]
//   root_ca = "attestation-root.pem"      # paths relative to the file
//   manifest = "manifest.bin"
//   auditor_keys = ["auditors/auditor-1.pub", "auditors/auditor-2.pub"]
//   auditor_threshold = 2
//   security_level = 2                    # the cluster's minimum, 1..5
//   allow_debug = false
//   quote_max_age_s = 600
//   platform_socket = "/run/cloister/platform.sock"
#pragma once

#include <optional>
#include <string>

#include "attestation/manifest.h"
#include "common/crypto/x509.h"

namespace cloister::attestation {

struct TrustConfig {
  crypto::Certificate attestation_root;
  AuditorSet auditors;
  Manifest manifest;              // verified against `auditors`
  int security_level = 2;
  bool allow_debug = false;
  int64_t quote_max_age_s = 600;
  std::string platform_socket;
  std::string source;             // the file it came from

  // Loads and verifies (manifest signatures included). Errors name the file.
  static Result<TrustConfig> Load(const std::string& path);
};

}  // namespace cloister::attestation
