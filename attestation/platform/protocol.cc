// Framing and error mapping of the platform socket protocol; see protocol.h.
#include "attestation/platform/protocol.h"

#include <array>

#include "attestation/platform/sys/unix_socket.h"
#include "common/secret.h"

namespace cloister::attestation {

Status WriteFrame(int fd, ByteView payload) {
  if (payload.size() > kMaxFrameBytes)
    return InvalidArgument("platform frame of " + std::to_string(payload.size()) +
                               " bytes exceeds 1 MiB",
                           kFrameTooLarge);
  const auto n = static_cast<uint32_t>(payload.size());
  Bytes frame;
  frame.reserve(kFrameHeaderBytes + payload.size());
  frame.push_back(static_cast<uint8_t>(n >> 24));
  frame.push_back(static_cast<uint8_t>(n >> 16));
  frame.push_back(static_cast<uint8_t>(n >> 8));
  frame.push_back(static_cast<uint8_t>(n));
  frame.insert(frame.end(), payload.begin(), payload.end());
  // One send per frame: the header and body never interleave with another
  // writer's (callers hold a per-connection lock anyway).
  Status s = sys::WriteAll(fd, frame);
  // Frames may carry sealing keys.
  Cleanse(frame);
  return s;
}

Result<Bytes> ReadFrame(int fd, int idle_timeout_ms, int body_timeout_ms, pid_t expected_sender) {
  std::array<uint8_t, kFrameHeaderBytes> header{};
  size_t got = 0;
  // First byte: may legitimately take forever (an idle session).
  auto foreign = [](const Status& st) { return st.error().reason() == sys::kSenderNotPeer; };
  Status s = sys::ReadExact(fd, std::span<uint8_t>(header).first(1), idle_timeout_ms, &got,
                            expected_sender);
  if (!s.ok()) return s.error();
  s = sys::ReadExact(fd, std::span<uint8_t>(header).subspan(1), body_timeout_ms, &got,
                     expected_sender);
  if (!s.ok() && foreign(s)) return s.error();
  if (!s.ok()) return InvalidArgument("truncated platform frame header", kFrameTruncated);
  const uint32_t n = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                     (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (n > kMaxFrameBytes)
    return InvalidArgument("platform frame length " + std::to_string(n) + " exceeds 1 MiB",
                           kFrameTooLarge);
  Bytes body(n);
  s = sys::ReadExact(fd, body, body_timeout_ms, &got, expected_sender);
  if (!s.ok() && foreign(s)) return s.error();
  if (!s.ok())
    return InvalidArgument("truncated platform frame (" + std::to_string(got) + " of " +
                               std::to_string(n) + " bytes)",
                           kFrameTruncated);
  return body;
}

PlatformError ErrorToProto(const Error& e) {
  PlatformError p;
  p.set_code(static_cast<int32_t>(e.code()));
  p.set_reason(e.reason());
  p.set_message(e.message());
  return p;
}

Error ErrorFromProto(const PlatformError& e) {
  Code code = Code::kUnknown;
  if (e.code() > 0 && e.code() <= static_cast<int32_t>(Code::kUnauthenticated))
    code = static_cast<Code>(e.code());
  // Bound what a (possibly confused) peer can make us log or print.
  constexpr size_t kMaxText = 1024;
  return Error(code, e.message().substr(0, kMaxText), e.reason().substr(0, 128));
}

}  // namespace cloister::attestation
