// Wraps the libseccomp C API: the forked sandbox child's allowlist; see
// seccomp_filter.h for the policy and why each group is allowed.
#include "functions/lua/sys/seccomp_filter.h"

#include <seccomp.h>
#include <sys/mman.h>

#include <cstdlib>
#include <memory>

namespace cloister::functions::lua::sys {
namespace {

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(static_cast<scmp_filter_ctx>(ctx)); }
};
using FilterPtr = std::unique_ptr<void, CtxDeleter>;

Error SeccompError(int rc, std::string_view what) {
  return Internal("seccomp " + std::string(what) + " failed (" + std::to_string(rc) + ")",
                  "SANDBOX_SETUP_FAILED");
}

}  // namespace

Status InstallChildFilter(const ChildFilterPolicy& policy) {
  FilterPtr ctx(seccomp_init(SCMP_ACT_TRAP));
  if (!ctx) return SeccompError(-1, "init");
  scmp_filter_ctx f = ctx.get();
  int rc = 0;
  auto allow = [&](int nr) {
    if (rc == 0) rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
  };
  auto kill = [&](int nr) {
    if (rc == 0) rc = seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, nr, 0);
  };
  // Results go to one fd only.
  if (rc == 0)
    rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
                          SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(policy.output_fd)));
  // malloc and Lua's allocator; never executable memory.
  if (rc == 0)
    rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  if (rc == 0)
    rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  for (int nr : {SCMP_SYS(munmap), SCMP_SYS(brk), SCMP_SYS(mremap), SCMP_SYS(madvise),
                 // glibc locks, the clock (vDSO fallback), OpenSSL's RNG and
                 // its fork detection, the exit path.
                 SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
                 SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(getrandom), SCMP_SYS(getpid),
                 SCMP_SYS(gettid), SCMP_SYS(sched_yield), SCMP_SYS(rt_sigreturn),
                 SCMP_SYS(exit), SCMP_SYS(exit_group)})
    allow(nr);
  if (policy.sanitizer_runtime) {
    // ASan/UBSan builds only: the runtime reports on stderr, and probes
    // whether memory is readable by write()ing it into a pipe of its own
    // (sanitizer_common's IsAccessibleMemoryRange, used while unwinding).
    for (int nr : {SCMP_SYS(write), SCMP_SYS(pipe2), SCMP_SYS(pipe), SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
                   SCMP_SYS(prctl), SCMP_SYS(sched_getaffinity), SCMP_SYS(prlimit64),
                   SCMP_SYS(getrlimit), SCMP_SYS(readlink), SCMP_SYS(openat), SCMP_SYS(read),
                   SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat)})
      allow(nr);
  }
  for (int nr : {SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork), SCMP_SYS(vfork),
                 SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
                 SCMP_SYS(process_vm_writev)})
    kill(nr);
  if (rc != 0) return SeccompError(rc, "rule_add");
  rc = seccomp_load(f);
  if (rc != 0) return SeccompError(rc, "load");
  return OkStatus();
}

std::string SyscallName(long nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, static_cast<int>(nr));
  if (name == nullptr) return "#" + std::to_string(nr);
  std::string out(name);
  std::free(name);  // libseccomp returns a malloc'd copy
  return out;
}

}  // namespace cloister::functions::lua::sys
