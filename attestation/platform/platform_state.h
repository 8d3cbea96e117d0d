// The platform's on-disk state: what `cloister platform init` creates and
// what cloister-platform loads at start.
//
//   DIR/ca/root.key              0600  attestation root CA key (PKCS#8 PEM)
//   DIR/ca/root.pem              0644  attestation root CA certificate
//   DIR/platform/device-secret   0600  32 random bytes: the emulated fused key
//   DIR/platform/attestation.key 0600  the node's attestation key (P-256)
//   DIR/platform/attestation.pem 0644  its certificate, issued by the root
//   DIR/platform/root.pem        0644  copy of the root: what the node chains to
//   DIR/platform/counters        0600  monotonic counters (absent until the first
//                                      advance). Text, "cloister-counters v1", one
//                                      "<signer hex> <product> <name> <value>" line
//                                      per counter, then "end <count>"; the exact
//                                      grammar and bounds are in counters.h.
//                                      Replaced atomically (fsync of file and
//                                      directory) on each advance that changes a
//                                      value. The daemon refuses to start on a
//                                      malformed one [PLATFORM_STATE_INVALID].
//
// Directories are 0700. In a dev cluster the root key stays in DIR/ca; in
// production the root CA is kept offline (an HSM or an air-gapped machine)
// and only DIR/platform/ is provisioned on the node — the daemon never reads
// DIR/ca/.
//
//   CLOISTER_ASSIGN_OR_RETURN(auto made, InitPlatform(dir, {}));
//   CLOISTER_ASSIGN_OR_RETURN(PlatformState st, LoadPlatformState(dir));
#pragma once

#include <string>
#include <vector>

#include "common/crypto/hash.h"
#include "common/crypto/keys.h"
#include "common/crypto/x509.h"
#include "common/secret.h"

namespace cloister::attestation {

inline constexpr size_t kDeviceSecretSize = 32;
inline constexpr const char* kPlatformAlreadyInitialized = "PLATFORM_ALREADY_INITIALIZED";
inline constexpr const char* kPlatformStateInvalid = "PLATFORM_STATE_INVALID";

struct PlatformPaths {
  std::string dir;
  std::string ca_dir, root_key, root_cert;
  std::string platform_dir, device_secret, attestation_key, attestation_cert, platform_root_cert;
  std::string counters;
  static PlatformPaths For(const std::string& dir);
};

struct PlatformInitOptions {
  bool force = false;          // overwrite existing state (destroys sealed data!)
  std::string node_name;       // attestation certificate CN; default: hostname
  int64_t root_validity_days = 3650;
  int64_t attestation_validity_days = 730;
};

struct PlatformInitResult {
  PlatformPaths paths;
  std::vector<std::string> created;   // files written
  std::string platform_id_hex;        // SHA-256(attestation key SPKI)
  std::string root_fingerprint_hex;   // SHA-256(root certificate DER)
};

// Creates everything listed above but the counters. With force, also
// deletes the counters file: a new device secret loses every sealed
// database, and counters of the old ones would read as rollbacks.
// AlreadyExists [PLATFORM_ALREADY_INITIALIZED]
// if any of the files exists and !options.force. Not safe to run twice
// concurrently on one DIR.
Result<PlatformInitResult> InitPlatform(const std::string& dir, const PlatformInitOptions& options);

// The loaded node secrets. Move-only in practice (holds the device secret).
struct PlatformState {
  SecretBytes device_secret;
  crypto::PrivateKey attestation_key;
  crypto::Certificate attestation_cert;
  crypto::Certificate root_cert;
  crypto::Digest platform_id{};
};

// Loads DIR/platform/*. Refuses (FailedPrecondition [INSECURE_PERMISSIONS])
// when the device secret or attestation key is readable by group/other, and
// FailedPrecondition [PLATFORM_STATE_INVALID] when the secret is not 32
// bytes, the certificate does not match the key, is a CA, or does not chain
// to root.pem at the current time.
Result<PlatformState> LoadPlatformState(const std::string& dir);

}  // namespace cloister::attestation
