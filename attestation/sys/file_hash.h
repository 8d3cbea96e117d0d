// The ONE content hash of a file that Cloister uses as a measurement: the
// build hashes binaries and libraries into the signed manifest with it, and
// cloister-platform hashes what a caller has mapped with it, so the two can
// never disagree on what "the hash of a file" means. Wraps open/pread.
//
//   CLOISTER_ASSIGN_OR_RETURN(crypto::Digest d, sys::HashFile("/usr/bin/x"));
//   CLOISTER_ASSIGN_OR_RETURN(crypto::Digest d, sys::HashFd(fd));  // from offset 0
#pragma once

#include <cstdint>
#include <string>

#include "common/crypto/hash.h"

namespace cloister::attestation::sys {

// Files larger than this are refused rather than hashed for minutes.
inline constexpr uint64_t kMaxHashedFileBytes = 1ull << 30;
inline constexpr const char* kFileTooLarge = "MEASURE_FILE_TOO_LARGE";

// SHA-256 of the whole content of `fd`, read with pread from offset 0 (the
// file offset is not used or moved). ResourceExhausted [MEASURE_FILE_TOO_LARGE]
// beyond `max_bytes`.
Result<crypto::Digest> HashFd(int fd, uint64_t max_bytes = kMaxHashedFileBytes);

// Opens `path` read-only and hashes it with HashFd.
Result<crypto::Digest> HashFile(const std::string& path, uint64_t max_bytes = kMaxHashedFileBytes);

}  // namespace cloister::attestation::sys
