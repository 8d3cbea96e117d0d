// The emulated CPU's operations (DESIGN.md §2) for one already-measured
// caller: quotes, sealing keys (SGX EGETKEY-style), the measured-launch log
// and identity. Transport-free so it can be tested without sockets; the
// server (platform_server.h) binds a CallerIdentity to each connection.
//
//   PlatformService svc(std::move(state), trust.manifest, {.security_level = 2}, self);
//   CallerIdentity who = svc.Identify(peer.pid, peer.uid, measured);
//   PlatformResponse resp = svc.Handle(who, request);
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>

#include "attestation/manifest.h"
#include "attestation/platform/measurement.h"
#include "attestation/platform/platform_state.h"
#include "common/crypto/hash.h"
#include "common/secret.h"
#include "proto/attestation.pb.h"

namespace cloister::attestation {

// Reasons of refused requests.
inline constexpr const char* kPlatformBadRequest = "PLATFORM_BAD_REQUEST";
inline constexpr const char* kPlatformUnknownEnclave = "PLATFORM_UNKNOWN_ENCLAVE";
inline constexpr const char* kSealSvnTooHigh = "SEAL_SVN_TOO_HIGH";
inline constexpr const char* kLaunchLogFull = "LAUNCH_LOG_FULL";

// Who the caller is, as the platform determined it at connect. Nothing here
// comes from the caller.
struct CallerIdentity {
  pid_t pid = 0;
  uid_t uid = 0;
  crypto::Digest measurement{};
  bool in_manifest = false;
  std::string name;     // manifest role; "" if unknown
  Bytes signer;         // manifest signer (MRSIGNER); empty if unknown
  uint32_t product_id = 0;
  uint32_t svn = 0;
  bool debug = false;   // traced at connect, or the platform runs in debug mode
};

// HKDF-SHA256 sealing-key derivation, exposed so the encoding is testable:
//   ikm  = device secret
//   salt = "cloister-seal-v1"
//   info = u32be(policy) ‖ identity ‖ u32be(svn) ‖ key_id
//   identity = MRENCLAVE: measurement (32 bytes)
//              MRSIGNER:  signer (32 bytes) ‖ u32be(product_id)
// Every part but key_id has a fixed length for a given policy, so the
// encoding is unambiguous. Returns 32 bytes.
Result<SecretBytes> DeriveSealingKey(ByteView device_secret, SealPolicy policy, ByteView identity,
                                     uint32_t svn, ByteView key_id);

class PlatformService {
 public:
  struct Options {
    int security_level = 2;   // 1..5, copied into every quote
    bool debug_mode = false;  // marks every quote debug
  };

  // `self` is the daemon's own measurement; the first launch event
  // ("platform.start") records it, as a TPM's first PCR measures firmware.
  PlatformService(PlatformState state, Manifest manifest, Options options,
                  const crypto::Digest& self);

  // Maps a measurement to its manifest entry. Unknown binaries get an
  // identity too (empty name/signer, product 0, svn 0): they still get
  // quotes, which a verifier will refuse.
  CallerIdentity Identify(pid_t pid, uid_t uid, const ProcessMeasurement& m) const;

  // One request. Errors come back as a PlatformError response; never throws.
  // Thread-safe.
  PlatformResponse Handle(const CallerIdentity& caller, const PlatformRequest& request);

  // The operations behind Handle (same checks), for tests and benchmarks.
  // InvalidArgument [PLATFORM_BAD_REQUEST] on out-of-range fields.
  Result<Quote> MakeQuote(const CallerIdentity& caller, ByteView report_data, ByteView nonce);
  // PermissionDenied [PLATFORM_UNKNOWN_ENCLAVE] for MRSIGNER from a binary
  // not in the manifest; PermissionDenied [SEAL_SVN_TOO_HIGH] for an svn
  // above the caller's (that is the downgrade protection).
  Result<SecretBytes> SealingKey(const CallerIdentity& caller, SealPolicy policy, ByteView key_id,
                                 uint32_t svn) const;
  // Appends one event; extender = the caller's measurement. Only manifest
  // binaries may extend (PermissionDenied [PLATFORM_UNKNOWN_ENCLAVE]): an
  // unlisted extender would make every later quote on this node fail
  // verification, a denial of service open to any local user.
  // ResourceExhausted [LAUNCH_LOG_FULL] after kMaxLaunchEvents.
  Result<LaunchLog> Extend(const CallerIdentity& caller, std::string_view type,
                           ByteView data_digest, std::string_view description);
  LaunchLog ReadLog() const;
  IdentityResponse Identity(const CallerIdentity& caller) const;

  const crypto::Digest& platform_id() const { return state_.platform_id; }
  const crypto::Digest& self_measurement() const { return self_.measurement; }

 private:
  Status AppendEvent(const crypto::Digest& extender, std::string_view type, ByteView data_digest,
                     std::string_view description);

  const PlatformState state_;
  const Manifest manifest_;
  const Options options_;
  const Bytes attestation_cert_der_;
  const Bytes root_der_;
  CallerIdentity self_;

  mutable std::mutex log_mu_;
  LaunchLog log_;                 // guarded by log_mu_
  crypto::Digest log_digest_{};  // guarded by log_mu_
};

}  // namespace cloister::attestation
