// Anti-debug hardening; wraps prctl/setrlimit/madvise/mlock.
#include "common/hardening.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "common/fs.h"

namespace cloister {

Status ApplyAntiDebug() {
  struct rlimit no_core {0, 0};
  if (::setrlimit(RLIMIT_CORE, &no_core) != 0) return ErrnoError(errno, "setrlimit(RLIMIT_CORE)");
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return ErrnoError(errno, "prctl(PR_SET_DUMPABLE)");
  return CheckNoTracer();
}

Result<int> TracerPidOf(int pid) {
  CLOISTER_ASSIGN_OR_RETURN(std::string status,
                            ReadFile("/proc/" + std::to_string(pid) + "/status", 1 << 16));
  auto pos = status.find("TracerPid:");
  if (pos == std::string::npos) return Internal("no TracerPid in /proc status");
  pos += 10;
  while (pos < status.size() && (status[pos] == ' ' || status[pos] == '\t')) ++pos;
  int v = 0;
  while (pos < status.size() && status[pos] >= '0' && status[pos] <= '9') {
    v = v * 10 + (status[pos] - '0');
    if (v > 1 << 24) return Internal("bad TracerPid");
    ++pos;
  }
  return v;
}

Status CheckNoTracer() {
  CLOISTER_ASSIGN_OR_RETURN(int tracer, TracerPidOf(static_cast<int>(::getpid())));
  if (tracer != 0)
    return FailedPrecondition("refusing to run under a tracer (pid " + std::to_string(tracer) + ")",
                              "TRACER_ATTACHED");
  return OkStatus();
}

Status LockSecretMemory(void* p, size_t n) {
  if (p == nullptr || n == 0) return OkStatus();
  long page = ::sysconf(_SC_PAGESIZE);
  auto start = reinterpret_cast<uintptr_t>(p) & ~static_cast<uintptr_t>(page - 1);
  auto end = reinterpret_cast<uintptr_t>(p) + n;
  size_t len = end - start;
  if (::mlock(reinterpret_cast<void*>(start), len) != 0) return ErrnoError(errno, "mlock");
  if (::madvise(reinterpret_cast<void*>(start), len, MADV_DONTDUMP) != 0)
    return ErrnoError(errno, "madvise(MADV_DONTDUMP)");
  return OkStatus();
}

}  // namespace cloister
