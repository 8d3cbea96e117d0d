// The platform socket protocol's wire layer (proto/attestation.proto):
// frames of a 4-byte big-endian length followed by a serialized message, at
// most 1 MiB, and the mapping of Error <-> PlatformError. Shared by
// cloister-platform and PlatformClient so both bound-check identically.
//
//   CLOISTER_RETURN_IF_ERROR(WriteFrame(fd, AsBytes(request.SerializeAsString())));
//   CLOISTER_ASSIGN_OR_RETURN(Bytes reply, ReadFrame(fd, kClientReplyTimeoutMs, kClientReplyTimeoutMs));
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "common/bytes.h"
#include "proto/attestation.pb.h"

namespace cloister::attestation {

inline constexpr size_t kMaxFrameBytes = 1u << 20;
inline constexpr size_t kFrameHeaderBytes = 4;

// Request limits (proto comments are the contract; the daemon enforces them).
inline constexpr size_t kReportDataSize = 64;
inline constexpr size_t kMaxNonceSize = 64;
inline constexpr size_t kMinKeyIdSize = 16;
inline constexpr size_t kMaxKeyIdSize = 64;
inline constexpr size_t kSealingKeySize = 32;
inline constexpr uint32_t kQuoteVersion = 1;

// Reasons of the protocol layer.
inline constexpr const char* kFrameTooLarge = "PLATFORM_FRAME_TOO_LARGE";
inline constexpr const char* kFrameTruncated = "PLATFORM_FRAME_TRUNCATED";
inline constexpr const char* kMessageMalformed = "PLATFORM_MESSAGE_MALFORMED";
inline constexpr const char* kPlatformUnavailable = "PLATFORM_UNAVAILABLE";
// Reasons of refused requests (the daemon's; here so the client library's
// counter table and PlatformService share them).
inline constexpr const char* kPlatformBadRequest = "PLATFORM_BAD_REQUEST";
inline constexpr const char* kPlatformUnknownEnclave = "PLATFORM_UNKNOWN_ENCLAVE";

// Writes one frame. InvalidArgument [PLATFORM_FRAME_TOO_LARGE] if the payload
// exceeds kMaxFrameBytes (nothing is written then).
Status WriteFrame(int fd, ByteView payload);

// Reads one frame. Waits up to `idle_timeout_ms` for its first byte and then
// `body_timeout_ms` for the rest (-1: forever), so a peer that stalls
// mid-frame cannot hold a connection thread indefinitely.
//   Unavailable [PLATFORM_CONNECTION_CLOSED]: clean EOF before any byte.
//   InvalidArgument [PLATFORM_FRAME_TRUNCATED]: EOF or timeout inside a frame.
//   InvalidArgument [PLATFORM_FRAME_TOO_LARGE]: length prefix > 1 MiB (the
//     body is not read; the caller must close the connection).
//   DeadlineExceeded [PLATFORM_IO_TIMEOUT]: no first byte in time.
//   PermissionDenied [PLATFORM_SENDER_NOT_PEER]: with `expected_sender` > 0,
//     some byte was written by another process (sys::ReadExact).
Result<Bytes> ReadFrame(int fd, int idle_timeout_ms, int body_timeout_ms,
                        pid_t expected_sender = 0);

// Error <-> wire. Codes outside cloister::Code become kUnknown.
PlatformError ErrorToProto(const Error& e);
Error ErrorFromProto(const PlatformError& e);

}  // namespace cloister::attestation
