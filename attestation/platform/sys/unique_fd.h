// The platform's wrappers use the one RAII fd owner of the code base
// (common/sys/unique_fd.h); this name keeps their includes short.
#pragma once

#include "common/sys/unique_fd.h"

namespace cloister::attestation::sys {

using UniqueFd = cloister::sys::UniqueFd;

}  // namespace cloister::attestation::sys
