// The set-intersection core of `psi`: which of each party's identifiers are
// held by every party. Inside the enclave all sets are visible, so this is a
// plain (but hostile-input-safe) hash join; privacy comes from what psi.cc
// lets each party see.
//
//   std::vector<std::vector<std::string_view>> sets = ...;
//   CLOISTER_ASSIGN_OR_RETURN(PsiMembership m, Intersect(sets, {}));
//   bool shared = m.InIntersection(party, i);
//
// Method: identifiers are hashed with SipHash-1-3 under a fresh random
// 128-bit key per call (so no party can pre-compute colliding ids to force
// quadratic probing), the smallest set is put in an open-addressing table,
// every other set is probed, and a hash match is confirmed by comparing the
// exact bytes, so hash collisions never produce false members.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloister::functions::builtin {

struct PsiLimits {
  // Working memory of Intersect() itself (tables and per-id state, not the
  // inputs). Past it: ResourceExhausted [PSI_MEMORY_LIMIT] before allocating.
  uint64_t max_memory_bytes = 4ull << 30;
};

// Bytes of working memory Intersect() needs for these set sizes.
uint64_t PsiWorkingMemory(std::span<const size_t> set_sizes);

class PsiMembership {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  // Whether identifier i of `party` is in every set.
  bool InIntersection(size_t party, size_t i) const {
    const uint32_t e = entry_[party][i];
    return e != kNone && count_[e] == parties_;
  }
  // Dense id of the distinct identifier (same across parties), or kNone if
  // it is not in the intersection. Used to de-duplicate output.
  uint32_t EntryOf(size_t party, size_t i) const {
    return InIntersection(party, i) ? entry_[party][i] : kNone;
  }
  size_t entries() const { return count_.size(); }
  size_t intersection_size() const;

 private:
  friend Result<PsiMembership> Intersect(std::span<const std::vector<std::string_view>>,
                                         const PsiLimits&);
  uint32_t parties_ = 0;
  std::vector<std::vector<uint32_t>> entry_;  // per party, per id
  std::vector<uint32_t> count_;               // per entry: parties holding it
};

// `sets[p]` are party p's identifiers in input order; duplicates allowed.
// An empty identifier is never a member. 2..64 parties (InvalidArgument
// otherwise); each set below 2^32 - 1 identifiers.
Result<PsiMembership> Intersect(std::span<const std::vector<std::string_view>> sets,
                                const PsiLimits& limits);

}  // namespace cloister::functions::builtin
