// The release's security version, baked in at build time from release/svn
// and release/min_svn (CMake CLOISTER_SVN / CLOISTER_MIN_SVN): what `cloister
// cluster init` and `cluster manifest` write into every enclave's manifest
// entry (svn, min_svn) for the auditors to sign.
#pragma once

#include <cstdint>

namespace cloister::cli {

uint32_t ReleaseSvn();
uint32_t ReleaseMinSvn();

}  // namespace cloister::cli
