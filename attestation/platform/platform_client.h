// PlatformClient: an enclave's session with cloister-platform. The
// connection IS the measured identity (the daemon measures the executable
// at connect, holds a pidfd of the process, and re-inspects it on every
// quote, sealing-key and extend request). Harden first (ApplyAntiDebug),
// then connect, and keep the session for the process lifetime; only the
// process that connected may use it (not a child it is inherited by).
// There is no reconnect: a broken session returns Unavailable and the
// process should restart.
//
//   CLOISTER_RETURN_IF_ERROR(ApplyAntiDebug());
//   CLOISTER_ASSIGN_OR_RETURN(PlatformClient pc, PlatformClient::Connect(trust.platform_socket));
//   CLOISTER_ASSIGN_OR_RETURN(Quote q, pc.GetQuote(report_data, nonce));
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "attestation/platform/counters.h"
#include "common/bytes.h"
#include "common/secret.h"
#include "proto/attestation.pb.h"

namespace cloister::attestation {

class PlatformClient final : public MonotonicCounters {
 public:
  // Connects and completes one Identity round trip, so when this returns the
  // daemon has measured us.
  // Unavailable [PLATFORM_UNAVAILABLE] if no daemon listens at the path;
  // otherwise the daemon's error (e.g. ResourceExhausted
  // [PLATFORM_TOO_MANY_CONNECTIONS], PermissionDenied
  // [PLATFORM_MEASUREMENT_FAILED]).
  static Result<PlatformClient> Connect(const std::string& socket_path);

  PlatformClient(PlatformClient&&) noexcept;
  PlatformClient& operator=(PlatformClient&&) noexcept;
  ~PlatformClient() override;

  // All methods are thread-safe (one mutex around the one connection).
  // Daemon-side failures return the daemon's code and reason unchanged;
  // transport failures return Unavailable [PLATFORM_UNAVAILABLE], after
  // which every call fails the same way.

  // report_data: exactly 64 bytes; nonce: at most 64 bytes.
  Result<Quote> GetQuote(ByteView report_data, ByteView nonce);
  // 32-byte key. key_id: 16..64 bytes. svn: MRSIGNER only (≤ our svn).
  Result<SecretBytes> GetSealingKey(SealPolicy policy, ByteView key_id, uint32_t svn);
  // Appends a launch event (digest: 32 bytes); returns the log after it.
  Result<LaunchLog> Extend(std::string_view type, ByteView digest, std::string_view description);
  Result<LaunchLog> ReadLog();
  Result<IdentityResponse> Identity();
  // Declares this session's config id (32 bytes), once, before any quote.
  Result<IdentityResponse> SetConfig(ByteView config_id);
  // Monotonic counters of our signer + product id (proto CounterRequest is
  // the contract): PermissionDenied [PLATFORM_UNKNOWN_ENCLAVE] outside the
  // manifest; InvalidArgument [PLATFORM_BAD_REQUEST] unless name is 1..64
  // bytes of [A-Za-z0-9._:-]; ResourceExhausted [PLATFORM_COUNTERS_FULL]
  // beyond 64 counters per product (4096 per node).
  // The caller's monotonic counter `name` (0 if never advanced).
  Result<uint64_t> ReadCounter(std::string_view name) override;
  // Sets the counter to max(current, to) and returns the new value. The value is durable
  // (fsynced by the platform) before this returns. Never decreases.
  Result<uint64_t> AdvanceCounter(std::string_view name, uint64_t to) override;
  // The identity learned at Connect (no round trip).
  const IdentityResponse& cached_identity() const;

  // Sends raw bytes as one frame and returns the parsed reply: only for
  // protocol robustness tests.
  Result<PlatformResponse> CallRawForTesting(ByteView frame_payload);

 private:
  struct Impl;
  explicit PlatformClient(std::unique_ptr<Impl> impl);
  Result<PlatformResponse> Call(const PlatformRequest& request,
                                PlatformResponse::KindCase expected);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloister::attestation
