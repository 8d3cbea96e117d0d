// Runs `ld.so --list` through common/sys/process.h; see loader_list.h.
#include "attestation/sys/loader_list.h"

#include <unistd.h>

#include "common/sys/process.h"

namespace cloister::attestation::sys {

Result<std::string> SystemLoader() {
  // x86_64 and aarch64 glibc interpreter paths (the ELF PT_INTERP values).
  for (const char* p : {"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"})
    if (::access(p, X_OK) == 0) return std::string(p);
  return NotFound("no known dynamic loader on this system", kLoaderListFailed);
}

Result<std::string> RunLoaderList(const std::string& binary) {
  CLOISTER_ASSIGN_OR_RETURN(std::string loader, SystemLoader());
  ::cloister::sys::SpawnOptions options;
  options.clear_env = true;  // no LD_* or anything else of ours influences the list
  auto run = ::cloister::sys::RunCapturingStdout({loader, "--list", binary}, options,
                                                 kMaxLoaderListBytes);
  if (!run.ok()) {
    if (run.error().code() == Code::kResourceExhausted)
      return ResourceExhausted("ld.so --list output too large", kLoaderListFailed);
    return run.error();
  }
  if (!run->status.success()) {
    if (run->out.find("not a dynamic executable") != std::string::npos) return run->out;
    return FailedPrecondition(loader + " --list " + binary + " failed (" +
                                  run->status.ToString() + ")",
                              kLoaderListFailed);
  }
  return std::move(run->out);
}

}  // namespace cloister::attestation::sys
