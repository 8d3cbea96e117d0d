// The measured-launch event log (DESIGN.md §2, level 3+): a PCR-style digest
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
// Bounds the platform and verifiers agree on.
inline constexpr size_t kMaxLaunchEvents = 4096;
inline constexpr size_t kMaxLaunchEventTypeSize = 64;
inline constexpr size_t kMaxLaunchEventDescriptionSize = 256;

// One step of the chain. Pure; thread-safe.
crypto::Digest ExtendDigest(const crypto::Digest& prev, const LaunchEvent& event);

// Checks that the log is well formed (indices 0..n-1 in order, at most
// kMaxLaunchEvents, 32-byte data_digest and extender, type 1..64 bytes,
// description ≤ 256 bytes) and returns its final digest.
// InvalidArgument [LAUNCH_LOG_MALFORMED] otherwise. Whether the digest is
// the quoted one, and whether each event is a reference value, is the
// verifier's check, not this function's.
Result<crypto::Digest> Replay(const LaunchLog& log);

// The per-event checks of Replay (the platform applies them on Extend).
Status CheckLaunchEvent(const LaunchEvent& event, uint64_t expected_index);

}  // namespace cloister::attestation
