// Anti-debug hardening an enclave applies at start (security level >= 2):
// not dumpable, no core files, refuse to run under a tracer.
//
//   CLOISTER_RETURN_IF_ERROR(ApplyAntiDebug());
#pragma once

#include "common/result.h"

namespace cloister {

// PR_SET_DUMPABLE 0 and RLIMIT_CORE 0. After this, non-root processes can
// no longer ptrace us or read /proc/self/mem.
Status ApplyAntiDebug();

// FailedPrecondition [TRACER_ATTACHED] if /proc/self/status shows a tracer.
Status CheckNoTracer();

// The TracerPid of a process from /proc/<pid>/status (0 = none).
Result<int> TracerPidOf(int pid);

// mlock + MADV_DONTDUMP on a range holding secrets (security level 4).
Status LockSecretMemory(void* p, size_t n);

}  // namespace cloister
