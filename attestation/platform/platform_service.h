// The emulated CPU's operations (docs/design.md §2) for one already-measured
// caller: quotes, sealing keys (SGX EGETKEY-style), the measured-launch log
// and identity. Transport-free so it can be tested without sockets; the
// server (platform_server.h) binds a CallerIdentity to each connection.
//
//   PlatformService svc(std::move(state), trust.manifest, {.security_level = 2}, self);
//   CallerIdentity who = svc.Identify(peer.pid, peer.uid, measured);
//   PlatformResponse resp = svc.Handle(who, request);
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "attestation/manifest.h"
#include "attestation/platform/counters.h"
#include "attestation/platform/measurement.h"
#include "attestation/platform/platform_state.h"
#include "attestation/platform/protocol.h"
#include "attestation/platform/session_launch_log.h"
#include "common/crypto/hash.h"
#include "common/secret.h"
#include "proto/attestation.pb.h"

namespace cloister::attestation {

// Reasons of refused requests (kPlatformBadRequest, kPlatformUnknownEnclave
// are in protocol.h; the counters' in counters.h).
inline constexpr const char* kSealSvnTooHigh = "SEAL_SVN_TOO_HIGH";
inline constexpr const char* kPlatformConfigFixed = "PLATFORM_CONFIG_FIXED";
inline constexpr const char* kLaunchLogFull = "LAUNCH_LOG_FULL";
inline constexpr const char* kLaunchLogSealed = "LAUNCH_LOG_SEALED";
inline constexpr const char* kLaunchEventTooLarge = "LAUNCH_EVENT_TOO_LARGE";

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
  // From the latest inspection (measurement.h Inspect) before a quote: the
  // exe and every mapped library. Zero until inspected.
  crypto::Digest code_digest{};
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
  // `counters`: the node's monotonic counters (CounterTable::Open of
  // DIR/platform/counters); null keeps them in memory only.
  PlatformService(PlatformState state, Manifest manifest, Options options,
                  const crypto::Digest& self, std::unique_ptr<CounterTable> counters = nullptr);

  // Maps a measurement to its manifest entry. Unknown binaries get an
  // identity too (empty name/signer, product 0, svn 0): they still get
  // quotes, which a verifier will refuse.
  CallerIdentity Identify(pid_t pid, uid_t uid, const ProcessMeasurement& m) const;

  // One request of one session. Errors come back as a PlatformError
  // response; never throws. Thread-safe across sessions; one session's
  // requests are serialized by its connection.
  PlatformResponse Handle(const CallerIdentity& caller, SessionLaunchLog& session,
                          const PlatformRequest& request);

  // The operations behind Handle (same checks), for tests and benchmarks.
  // InvalidArgument [PLATFORM_BAD_REQUEST] on out-of-range fields. The
  // quote covers the node's events and this session's; it seals the
  // session's log.
  Result<Quote> MakeQuote(const CallerIdentity& caller, SessionLaunchLog& session,
                          ByteView report_data, ByteView nonce);
  // PermissionDenied [PLATFORM_UNKNOWN_ENCLAVE] for MRSIGNER from a binary
  // not in the manifest; PermissionDenied [SEAL_SVN_TOO_HIGH] for an svn
  // above the caller's (that is the downgrade protection).
  Result<SecretBytes> SealingKey(const CallerIdentity& caller, SealPolicy policy, ByteView key_id,
                                 uint32_t svn) const;
  // Appends one event to the caller's session; extender = the caller's
  // measurement. Only manifest binaries may extend (PermissionDenied
  // [PLATFORM_UNKNOWN_ENCLAVE]); only before the session's first quote
  // (FailedPrecondition [LAUNCH_LOG_SEALED]); at most
  // kMaxSessionLaunchEvents (ResourceExhausted [LAUNCH_LOG_FULL]) of at
  // most kMaxLaunchEventBytes each (InvalidArgument [LAUNCH_EVENT_TOO_LARGE]).
  // Returns the session's whole log (node events first).
  // Declares the session's config id (QuoteBody.config_id); once, before
  // the first quote [PLATFORM_CONFIG_FIXED], manifest binaries only.
  Status SetConfig(const CallerIdentity& caller, SessionLaunchLog& session,
                   ByteView config_id) const;
  Result<LaunchLog> Extend(const CallerIdentity& caller, SessionLaunchLog& session,
                           std::string_view type, ByteView data_digest,
                           std::string_view description);
  // The node's events followed by the session's.
  LaunchLog ReadLog(const SessionLaunchLog& session) const;
  // The node's events only (what a fresh session starts from).
  LaunchLog ReadNodeLog() const { return ReadLog(SessionLaunchLog{}); }
  IdentityResponse Identity(const CallerIdentity& caller) const;
  // The caller's monotonic counters (proto CounterRequest is the contract).
  // Owner = the caller's signer + product id; only manifest binaries
  // (PermissionDenied [PLATFORM_UNKNOWN_ENCLAVE]). Name and limit errors as
  // CounterTable's. Advance is durable before it returns.
  Result<uint64_t> ReadCounter(const CallerIdentity& caller, std::string_view name) const;
  Result<uint64_t> AdvanceCounter(const CallerIdentity& caller, std::string_view name,
                                  uint64_t to);

  const crypto::Digest& platform_id() const { return state_.platform_id; }
  // Is this file hash a library reference value of the manifest in force?
  bool IsLibraryReference(const crypto::Digest& d) const {
    return manifest_.IsLibraryReference(ByteView(d));
  }
  const crypto::Digest& self_measurement() const { return self_.measurement; }

 private:
  // Builds and checks one event at `index`.
  static Result<LaunchEvent> MakeEvent(uint64_t index, const crypto::Digest& extender,
                                       std::string_view type, ByteView data_digest,
                                       std::string_view description);

  const PlatformState state_;
  const Manifest manifest_;
  const Options options_;
  const Bytes attestation_cert_der_;
  const Bytes root_der_;
  CallerIdentity self_;

  // Written only in the constructor (platform events), so it needs no lock.
  LaunchLog node_log_;
  // Never null; thread-safe itself (its own mutex).
  const std::unique_ptr<CounterTable> counters_;
};

}  // namespace cloister::attestation
