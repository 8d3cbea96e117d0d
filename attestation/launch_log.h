// The measured-launch event log (docs/design.md §2, level 3+): a PCR-style digest
// chain over LaunchEvents. The platform extends it; a verifier replays a log
// it received and compares the result with the digest in the quote.
//
//   digest_{-1} = 32 zero bytes (kInitialLaunchDigest)
//   digest_i    = SHA-256(digest_{i-1} ‖ SHA-256(deterministic serialization of event_i))
//
//   CLOISTER_ASSIGN_OR_RETURN(crypto::Digest d, Replay(log));
//   if (!ConstantTimeEqual(d, body.launch_digest())) ...refuse...
#pragma once

#include "common/crypto/hash.h"
#include "proto/attestation.pb.h"

namespace cloister::attestation {

// The digest of an empty log (like a PCR after reset).
inline constexpr crypto::Digest kInitialLaunchDigest{};
inline constexpr const char* kLaunchLogMalformed = "LAUNCH_LOG_MALFORMED";
// Bounds the platform and verifiers agree on. The log a quote covers is the
// node's events (only the platform writes them, at start) followed by ONE
// enclave session's own events, so a session can only ever fill its own
// log, and every certificate stays far below TLS/OpenSSL size limits
// (OpenSSL refuses a peer certificate list above 100 KiB by default):
// at most kMaxLaunchEvents * kMaxLaunchEventBytes = 40 KiB of log.
inline constexpr size_t kMaxNodeLaunchEvents = 8;
inline constexpr size_t kMaxSessionLaunchEvents = 32;
inline constexpr size_t kMaxLaunchEvents = kMaxNodeLaunchEvents + kMaxSessionLaunchEvents;
inline constexpr size_t kMaxLaunchEventBytes = 1024;  // serialized LaunchEvent
inline constexpr size_t kMaxLaunchEventTypeSize = 64;
inline constexpr size_t kMaxLaunchEventDescriptionSize = 256;
static_assert(kMaxLaunchEvents * kMaxLaunchEventBytes <= 64 * 1024,
              "a full launch log must fit comfortably in a certificate");

// One step of the chain. Pure; thread-safe.
crypto::Digest ExtendDigest(const crypto::Digest& prev, const LaunchEvent& event);

// Checks that the log is well formed (indices 0..n-1 in order, at most
// kMaxLaunchEvents, 32-byte data_digest and extender, type 1..64 bytes,
// description ≤ 256 bytes, each event ≤ kMaxLaunchEventBytes serialized) and returns its final digest.
// InvalidArgument [LAUNCH_LOG_MALFORMED] otherwise. Whether the digest is
// the quoted one, and whether each event is a reference value, is the
// verifier's check, not this function's.
Result<crypto::Digest> Replay(const LaunchLog& log);

// The per-event checks of Replay (the platform applies them on Extend).
Status CheckLaunchEvent(const LaunchEvent& event, uint64_t expected_index);

}  // namespace cloister::attestation
