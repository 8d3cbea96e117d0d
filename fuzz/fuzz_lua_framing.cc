// Fuzzes what the parent of a forked Lua sandbox reads from its child's pipe
// (functions/lua/framing.h, read by forked_runner.cc): DecodeChildMessages
// on arbitrary bytes under a field cap the selector byte picks, and the
// system-call name the parent looks up for a reported violation. A
// transcript that decodes must encode (with the child's own encoders) into
// one that decodes to the same messages. Seeded with the transcripts a
// child writes: outputs + log + usage + status, an error status, a
// violation.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "functions/lua/framing.h"
#include "functions/lua/sys/seccomp_filter.h"
#include "fuzz/fuzz_seed.h"

using namespace cloister;
using namespace cloister::functions::lua;

namespace {

std::string Encode(const ChildMessages& m) {
  std::string w;
  for (const auto& [name, bytes] : m.outputs) w += EncodeOutput(name, bytes);
  if (!m.log.empty()) w += EncodeLog(m.log);
  // The child encodes its own measured wall time; a decoded one beyond 2^53
  // microseconds does not survive the double it is kept in.
  if (m.usage && m.usage->wall_ms < 9e12) w += EncodeUsage(*m.usage);
  if (m.status) w += EncodeStatus(*m.status);
  if (m.violation) {
    char v[kViolationFrameSize];
    EncodeViolation(*m.violation, v);
    w.append(v, sizeof(v));
  }
  return w;
}

bool SameStatus(const Status& a, const Status& b) {
  if (a.ok() || b.ok()) return a.ok() == b.ok();
  return a.code() == b.code() && a.error().reason() == b.error().reason() &&
         a.error().message() == b.error().message();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::QuietLogs();
  const Usage u{.instructions = 12345, .peak_memory_bytes = 1 << 20, .wall_ms = 3.5};
  fuzz::WriteSeed("ok-run", fuzz::Seed(0xff, EncodeOutput("result", "{\"sum\":3}") +
                                               EncodeOutput("log.csv", "a,b\n1,2\n") +
                                               EncodeLog("hello from lua\n") + EncodeUsage(u) +
                                               EncodeStatus(OkStatus())));
  fuzz::WriteSeed("error-run",
                  fuzz::Seed(0x40, EncodeLog("oops") + EncodeUsage(u) +
                                       EncodeStatus(InvalidArgument("bad argument", "LUA_ERROR"))));
  char v[kViolationFrameSize];
  EncodeViolation(59, v);  // execve
  fuzz::WriteSeed("violation", fuzz::Seed(0x10, EncodeLog("x") + std::string(v, sizeof(v))));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  const fuzz::Input in(data, size);
  // The parent caps every field at its output limit; small caps reach the
  // "longer than allowed" refusals, 0xff is effectively no cap.
  const uint64_t max_field = in.selector == 0xff ? (1u << 24) : uint64_t{in.selector} * 16;
  auto m = DecodeChildMessages(in.payload, max_field);
  if (!m.ok()) return 0;
  if (m->violation) (void)sys::SyscallName(*m->violation);
  auto back = DecodeChildMessages(Encode(*m), std::numeric_limits<uint32_t>::max());
  if (!back.ok()) __builtin_trap();
  if (back->outputs != m->outputs || back->log != m->log || back->violation != m->violation ||
      back->status.has_value() != m->status.has_value() ||
      (m->status && !SameStatus(*back->status, *m->status)))
    __builtin_trap();
  if (m->usage && m->usage->wall_ms < 9e12) {
    if (!back->usage || back->usage->instructions != m->usage->instructions ||
        back->usage->peak_memory_bytes != m->usage->peak_memory_bytes ||
        std::fabs(back->usage->wall_ms - m->usage->wall_ms) > 0.002)
      __builtin_trap();
  }
  return 0;
}
