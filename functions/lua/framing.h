// The framing a forked sandbox child uses to send its results to the parent
// over a pipe: [type u8][length u32 LE][payload]. The parent treats every
// byte as untrusted: Decode() checks every length against the bytes present
// and against caps, and rejects unknown types.
//
//   std::string wire = EncodeOutput("result", bytes) + EncodeStatus(OkStatus());
//   CLOISTER_ASSIGN_OR_RETURN(ChildMessages m, DecodeChildMessages(wire));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "functions/lua/sandbox_options.h"

namespace cloister::functions::lua {

enum class FrameType : uint8_t {
  kOutput = 1,     // [u32 name length][name][bytes]
  kLog = 2,        // log text
  kUsage = 3,      // u64 instructions, u64 peak memory, u64 wall microseconds
  kStatus = 4,     // [u32 code][u32 reason length][reason][message]; last frame
  kViolation = 5,  // u32 system call number (sent by the SIGSYS handler)
};

inline constexpr size_t kFrameHeaderSize = 5;
inline constexpr size_t kViolationFrameSize = kFrameHeaderSize + 4;

std::string EncodeOutput(std::string_view name, std::string_view bytes);
std::string EncodeLog(std::string_view log);
std::string EncodeUsage(const Usage& usage);
std::string EncodeStatus(const Status& status);
// Async-signal-safe: writes exactly kViolationFrameSize bytes into `out`.
void EncodeViolation(uint32_t syscall_nr, char* out);

struct ChildMessages {
  std::vector<std::pair<std::string, std::string>> outputs;  // in write order
  std::string log;
  std::optional<Usage> usage;
  std::optional<Status> status;
  std::optional<uint32_t> violation;
};

// Parses a whole child transcript. DataLoss [SANDBOX_PROTOCOL_ERROR] on a
// truncated or malformed frame, an unknown type, a bad status code, or any
// field longer than `max_field` bytes.
Result<ChildMessages> DecodeChildMessages(std::string_view wire, uint64_t max_field);

}  // namespace cloister::functions::lua
