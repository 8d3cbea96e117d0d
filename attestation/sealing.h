// Sealed storage (docs/design.md §2): data encrypted under a key only the
// platform can derive for this binary (MRENCLAVE) or for this signer and
// product at this or a newer svn (MRSIGNER).
//
// Sealed blob, version 1 (all integers big-endian):
//   offset  size  field
//   0       4     magic "CLSL"
//   4       1     version = 1
//   5       1     policy (1 = MRENCLAVE, 2 = MRSIGNER)
//   6       4     svn the key was derived for (MRENCLAVE: the sealer's svn, informational)
//   10      1     L = key_id length, 16..64
//   11      L     key_id (random per blob; input of the key derivation)
//   11+L    12    AES-GCM nonce (random)
//   23+L    n+16  AES-256-GCM ciphertext ‖ tag
// The AES-GCM associated data is header (bytes 0 .. 23+L) ‖ caller's aad,
// so no header field can be changed without failing authentication. The
// header is self-delimiting, so the concatenation is unambiguous.
//
//   CLOISTER_ASSIGN_OR_RETURN(Bytes blob, Seal(pc, SEAL_POLICY_MRSIGNER, secret, AsBytes("db-key")));
//   CLOISTER_ASSIGN_OR_RETURN(Bytes back, Unseal(pc, blob, AsBytes("db-key")));
#pragma once

#include "attestation/platform/platform_client.h"
#include "common/bytes.h"

namespace cloister::attestation {

inline constexpr char kSealMagic[4] = {'C', 'L', 'S', 'L'};
inline constexpr uint8_t kSealVersion = 1;
inline constexpr const char* kSealAuthFailed = "SEAL_AUTH_FAILED";
inline constexpr const char* kSealBlobMalformed = "SEAL_BLOB_MALFORMED";

// Seals `plaintext`. MRSIGNER uses the caller's current svn (from the
// platform's Identity, never from the caller). Fails with the platform's
// error, e.g. PermissionDenied [PLATFORM_UNKNOWN_ENCLAVE] for MRSIGNER from
// a binary not in the manifest. Thread-safe if `client` is.
Result<Bytes> Seal(PlatformClient& client, SealPolicy policy, ByteView plaintext, ByteView aad);

// Opens a blob made by Seal. InvalidArgument [SEAL_BLOB_MALFORMED] on a
// malformed header; DataLoss [SEAL_AUTH_FAILED] when the derived key does
// not open it (another binary/signer, another node, tampering, wrong aad);
// PermissionDenied [SEAL_SVN_TOO_HIGH] when it was sealed by a newer svn.
Result<Bytes> Unseal(PlatformClient& client, ByteView blob, ByteView aad);

}  // namespace cloister::attestation
