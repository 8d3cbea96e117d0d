// Release svn baked in by cli/CMakeLists.txt; see release_svn.h.
#include "cli/release_svn.h"

#ifndef CLOISTER_SVN
#error "CLOISTER_SVN must be defined by the build (release/svn)"
#endif
#ifndef CLOISTER_MIN_SVN
#error "CLOISTER_MIN_SVN must be defined by the build (release/min_svn)"
#endif

namespace cloister::cli {

uint32_t ReleaseSvn() { return CLOISTER_SVN; }
uint32_t ReleaseMinSvn() { return CLOISTER_MIN_SVN; }

}  // namespace cloister::cli
