// Shared fixture of the attestation fuzzers: one in-process fake platform
// per process, and seeding — with CLOISTER_FUZZ_SEED_DIR set, each fuzzer
// writes fully valid inputs from THIS process's platform into its corpus,
// so mutation starts from inputs that pass every check.
#pragma once

#include <cstdlib>
#include <string>

#include "attestation/testing/fake_platform.h"
#include "common/fs.h"

namespace cloister::fuzz {

inline attestation::testing::FakePlatform& Platform() {
  static attestation::testing::FakePlatform p({"gateway", "auth"});
  return p;
}

inline void WriteSeed(const std::string& name, std::string_view bytes) {
  const char* dir = std::getenv("CLOISTER_FUZZ_SEED_DIR");
  if (dir == nullptr) return;
  (void)WriteFileAtomic(std::string(dir) + "/" + name, bytes, 0644);
}

}  // namespace cloister::fuzz
