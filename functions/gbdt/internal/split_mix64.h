// SplitMix64: a tiny, fully specified generator, so a seed gives the same
// model (the trainer's row and feature sampling) and the same synthetic
// test data on every platform and standard library (std:: distributions
// are not specified bit for bit).
#pragma once

#include <cstdint>

namespace cloister::functions::gbdt::internal {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_;
};

}  // namespace cloister::functions::gbdt::internal
