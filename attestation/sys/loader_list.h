// Runs the system's dynamic loader (through common/sys/process.h) in list
// mode (`ld.so --list BINARY`): it resolves and maps the binary's shared
// libraries like a real start and prints where each came from, but does
// not run the program. The build uses it to find the libraries whose
// hashes go into the signed manifest. The loader runs with an EMPTY
// environment, so what it finds is what a clean start finds.
//
//   CLOISTER_ASSIGN_OR_RETURN(std::string listing, sys::RunLoaderList("/usr/bin/x"));
#pragma once

#include <string>

#include "common/result.h"

namespace cloister::attestation::sys {

inline constexpr size_t kMaxLoaderListBytes = 1u << 20;
inline constexpr const char* kLoaderListFailed = "MANIFEST_LIBRARY_LIST_FAILED";

// The loader of this platform (the first of the known ELF interpreter paths
// that exists). NotFound [MANIFEST_LIBRARY_LIST_FAILED] if none does.
Result<std::string> SystemLoader();

// stdout of `SystemLoader() --list binary`, at most kMaxLoaderListBytes.
// FailedPrecondition [MANIFEST_LIBRARY_LIST_FAILED] if it exits non-zero,
// unless it says the binary is not dynamic (then the output is returned).
Result<std::string> RunLoaderList(const std::string& binary);

}  // namespace cloister::attestation::sys
