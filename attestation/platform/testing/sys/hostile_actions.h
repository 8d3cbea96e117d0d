// Wraps the raw calls the platform test client makes to act like an
// attacker's process (tests only): anonymous executable memory, dlopen of a
// library, exec and fork+exec that keep a platform connection open.
//
//   CLOISTER_RETURN_IF_ERROR(sys::MapAnonymousExec());
//   sys::ExecKeepingFd(bin, {bin, socket, "inherited-quote", "7"}, fd);  // returns only on failure
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace cloister::attestation::testing::sys {

// mmap(PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS) of one page, kept.
Status MapAnonymousExec();
// dlopen(path, RTLD_NOW), kept loaded.
Status LoadLibrary(const std::string& path);
// Makes a copy of `fd` that survives exec and returns its number.
Result<int> InheritableCopy(int fd);
// execv(argv[0], argv). Returns only on failure.
Status Exec(const std::vector<std::string>& argv);
// fork(); the child execs argv, the parent waits for it and returns its
// exit code (so the parent — the process that connected — is still alive
// while the child uses the inherited connection).
Result<int> ForkExecWait(const std::vector<std::string>& argv);
// Writes our pid to `path`, then waits (polling) until `path`.go exists.
Status SignalAndWait(const std::string& path, int timeout_ms);

}  // namespace cloister::attestation::testing::sys
