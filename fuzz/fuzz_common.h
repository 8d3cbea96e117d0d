// Shared fixture of the attestation fuzzers: one in-process fake platform
// per process, whose valid quotes, certificates and manifests they write as
// seeds (WriteSeed, fuzz_seed.h) so mutation starts from inputs that pass
// every check.
#pragma once

#include "attestation/testing/fake_platform.h"
#include "fuzz/fuzz_seed.h"

namespace cloister::fuzz {

inline attestation::testing::FakePlatform& Platform() {
  static attestation::testing::FakePlatform p({"gateway", "auth"});
  return p;
}

}  // namespace cloister::fuzz
