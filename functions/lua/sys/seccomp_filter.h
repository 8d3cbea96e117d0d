// Wraps the libseccomp C API: the system-call allowlist of a forked Lua
// sandbox child, and syscall number → name for reports.
//
//   CLOISTER_RETURN_IF_ERROR(sys::InstallChildFilter({.output_fd = 3}));
#pragma once

#include <string>

#include "common/result.h"

namespace cloister::functions::lua::sys {

struct ChildFilterPolicy {
  // The only fd the child may write to (its result pipe).
  int output_fd = 3;
  // Sanitizer builds: ASan/UBSan report to stderr and need a few more calls.
  bool sanitizer_runtime = false;
};

// Installs the filter on the calling thread (the child is single-threaded):
//  * allowed: write(output_fd), memory management without PROT_EXEC (mmap,
//    mprotect, munmap, brk, mremap, madvise), futex, clock reads, getrandom,
//    getpid/gettid, sched_yield, rt_sigreturn, exit/exit_group;
//  * SCMP_ACT_KILL_PROCESS: process creation/inspection (execve*, fork, vfork,
//    clone*, ptrace, process_vm_*) — nothing may run for them;
//  * everything else: SCMP_ACT_TRAP, so the child's SIGSYS handler can tell
//    the parent which call it was before it dies.
// Requires PR_SET_NO_NEW_PRIVS to be set already. Internal on failure.
Status InstallChildFilter(const ChildFilterPolicy& policy);

// "socket" for 41 on x86-64; the number as text if unknown.
std::string SyscallName(long nr);

}  // namespace cloister::functions::lua::sys
