// Runs one Lua invocation in a forked child process confined by seccomp,
// rlimits and no_new_privs (security level >= 3, docs/design.md §3/§6). The
// parent enforces wall time from outside (SIGKILL at the deadline), so even
// work stuck inside a C function ends; it reads the child's results through
// a pipe and trusts none of its bytes (framing.h).
//
// fork() in a multi-threaded host: the child only runs code that is safe
// after fork in practice — glibc's malloc (fork-safe by design), Lua with a
// fresh allocator state, and the pipe. A lock another host thread held at
// fork time (e.g. inside OpenSSL, used by cloister.crypto) could deadlock the
// child; the parent's deadline then kills it (TIME_LIMIT_EXCEEDED), so the
// host never hangs. Inputs are already in the child's copy-on-write memory,
// so they are not re-sent over a pipe; results come back framed.
#pragma once

#include <string_view>

#include "common/result.h"
#include "functions/lua/sandbox_options.h"
#include "functions/runtime.h"

namespace cloister::functions::lua {

// Same contract as sys::Execute() plus:
//   PermissionDenied [SANDBOX_VIOLATION] "forbidden system call <name> (<nr>)"
//   DeadlineExceeded [TIME_LIMIT_EXCEEDED] the parent killed the child
//   Internal [SANDBOX_CRASHED] the child died otherwise
//   DataLoss [SANDBOX_PROTOCOL_ERROR] the child sent malformed results
// Outputs are written to `rt` only when the child reported success.
Status RunForked(std::string_view source, Runtime& rt, const SandboxOptions& opts,
                 RunReport* report);

}  // namespace cloister::functions::lua
