// Keyed-hash set intersection for `psi`; see psi_engine.h for the method.
#include "functions/builtin/psi_engine.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>

#include "common/crypto/random.h"

namespace cloister::functions::builtin {
namespace {

// SipHash-1-3 (Aumasson & Bernstein): a keyed PRF fast on short inputs, the
// standard defence against hash-flooding. One compression round is enough
// for flooding resistance (as in Rust's and Python's hash tables).
class SipHash13 {
 public:
  SipHash13(uint64_t k0, uint64_t k1) : k0_(k0), k1_(k1) {}

  uint64_t operator()(std::string_view s) const {
    uint64_t v0 = k0_ ^ 0x736f6d6570736575ull, v1 = k1_ ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0_ ^ 0x6c7967656e657261ull, v3 = k1_ ^ 0x7465646279746573ull;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    const size_t whole = n & ~size_t{7};
    for (size_t i = 0; i < whole; i += 8) {
      uint64_t m;
      std::memcpy(&m, p + i, 8);  // little-endian hosts only (x86-64, aarch64)
      v3 ^= m;
      Round(v0, v1, v2, v3);
      v0 ^= m;
    }
    uint64_t b = static_cast<uint64_t>(n) << 56;
    for (size_t i = whole; i < n; ++i) b |= static_cast<uint64_t>(p[i]) << (8 * (i - whole));
    v3 ^= b;
    Round(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    Round(v0, v1, v2, v3);
    Round(v0, v1, v2, v3);
    Round(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
  }

 private:
  static void Round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
    v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
    v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
  }
  uint64_t k0_, k1_;
};

// Open-addressing slot: the hash's high 32 bits (a cheap pre-filter before
// the byte comparison) and entry index + 1 (0 = empty).
struct Slot {
  uint32_t tag;
  uint32_t entry_plus_one;
};
constexpr uint64_t kSlotBytes = sizeof(Slot);
// Per identifier: its view (16) + its entry index (4).
constexpr uint64_t kPerIdBytes = sizeof(std::string_view) + sizeof(uint32_t);
// Per distinct id of the smallest set: 2 slots (load ≤ 1/2), its view, its count.
constexpr uint64_t kPerEntryBytes = 2 * kSlotBytes + sizeof(std::string_view) + sizeof(uint32_t);

}  // namespace

uint64_t PsiWorkingMemory(std::span<const size_t> set_sizes) {
  if (set_sizes.empty()) return 0;
  uint64_t total = 0;
  for (size_t n : set_sizes) total += n * kPerIdBytes;
  const size_t smallest = *std::min_element(set_sizes.begin(), set_sizes.end());
  return total + static_cast<uint64_t>(smallest) * kPerEntryBytes + 16 * kSlotBytes;
}

size_t PsiMembership::intersection_size() const {
  return static_cast<size_t>(std::count(count_.begin(), count_.end(), parties_));
}

Result<PsiMembership> Intersect(std::span<const std::vector<std::string_view>> sets,
                                const PsiLimits& limits) {
  const size_t k = sets.size();
  if (k < 2 || k > 64)
    return InvalidArgument("psi needs 2..64 parties, got " + std::to_string(k), "BAD_INPUT");
  std::vector<size_t> sizes;
  for (const auto& s : sets) {
    if (s.size() >= PsiMembership::kNone)
      return ResourceExhausted("psi set with " + std::to_string(s.size()) +
                                   " identifiers exceeds the per-set cap",
                               "PSI_MEMORY_LIMIT");
    sizes.push_back(s.size());
  }
  const uint64_t need = PsiWorkingMemory(sizes);
  if (need > limits.max_memory_bytes)
    return ResourceExhausted("psi needs about " + std::to_string(need >> 20) +
                                 " MiB of working memory, limit is " +
                                 std::to_string(limits.max_memory_bytes >> 20) + " MiB",
                             "PSI_MEMORY_LIMIT");

  // Smallest set first: the table (the only random-access structure) is as
  // small as possible and every other set is one sequential probe pass.
  std::vector<size_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sets[a].size() < sets[b].size(); });

  uint64_t key[2];
  crypto::FillRandom({reinterpret_cast<uint8_t*>(key), sizeof key});
  const SipHash13 hash(key[0], key[1]);

  PsiMembership m;
  m.parties_ = static_cast<uint32_t>(k);
  m.entry_.resize(k);
  const auto& base = sets[order[0]];
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, base.size() * 2));
  const size_t mask = capacity - 1;
  std::vector<Slot> table(capacity, Slot{0, 0});
  std::vector<std::string_view> ids;
  ids.reserve(base.size());
  m.count_.reserve(base.size());

  // Finds the slot holding `id` or the empty slot where it would go,
  // starting at `i`: h & mask, or a slot an earlier look at the same id
  // reached (slots are never emptied, so every slot before it still holds
  // another id).
  auto probe_from = [&](std::string_view id, uint64_t h, size_t i) -> Slot& {
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (;; i = (i + 1) & mask) {
      Slot& s = table[i];
      if (s.entry_plus_one == 0) return s;
      if (s.tag == tag && ids[s.entry_plus_one - 1] == id) return s;
    }
  };

  // The table, the entries' views and their bytes are all far larger than
  // cache and each lookup touches one of each at random: a batch is looked
  // up in stages, each prefetching what the next reads, so the misses of
  // a batch overlap instead of stalling one after another.
  constexpr size_t kBatch = 64;
  uint64_t hashes[kBatch];
  size_t start_at[kBatch];
  auto look_ahead = [&](const std::vector<std::string_view>& set, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const uint64_t h = set[i].empty() ? 0 : hash(set[i]);
      hashes[i - begin] = h;
      __builtin_prefetch(&table[h & mask]);
    }
    // The first slot that is empty or carries the tag: where probe_from
    // starts. A tag match's view is fetched next, then its bytes.
    for (size_t i = begin; i < end; ++i) {
      const uint64_t h = hashes[i - begin];
      const uint32_t tag = static_cast<uint32_t>(h >> 32);
      size_t j = h & mask;
      while (table[j].entry_plus_one != 0 && table[j].tag != tag) j = (j + 1) & mask;
      start_at[i - begin] = j;
      if (table[j].entry_plus_one != 0) __builtin_prefetch(&ids[table[j].entry_plus_one - 1]);
    }
    for (size_t i = begin; i < end; ++i) {
      const Slot& s = table[start_at[i - begin]];
      if (s.entry_plus_one != 0) __builtin_prefetch(ids[s.entry_plus_one - 1].data());
    }
  };

  {
    auto& out = m.entry_[order[0]];
    out.resize(base.size());
    for (size_t b = 0; b < base.size(); b += kBatch) {
      const size_t e = std::min(base.size(), b + kBatch);
      look_ahead(base, b, e);
      for (size_t i = b; i < e; ++i) {
        const std::string_view id = base[i];
        if (id.empty()) {
          out[i] = PsiMembership::kNone;
          continue;
        }
        const uint64_t h = hashes[i - b];
        // An insert earlier in this batch may have filled the slot
        // look_ahead found empty: probe_from goes on past it.
        Slot& s = probe_from(id, h, start_at[i - b]);
        if (s.entry_plus_one == 0) {
          ids.push_back(id);
          m.count_.push_back(1);
          s = Slot{static_cast<uint32_t>(h >> 32), static_cast<uint32_t>(ids.size())};
        }
        out[i] = s.entry_plus_one - 1;
      }
    }
  }
  // count_[e] == j after the j-th set means "in all sets so far"; a
  // duplicate within a set sees j + 1 and leaves it alone.
  for (size_t j = 1; j < k; ++j) {
    const auto& set = sets[order[j]];
    auto& out = m.entry_[order[j]];
    out.resize(set.size());
    const uint32_t before = static_cast<uint32_t>(j);
    for (size_t b = 0; b < set.size(); b += kBatch) {
      const size_t end = std::min(set.size(), b + kBatch);
      look_ahead(set, b, end);
      for (size_t i = b; i < end; ++i) {
        const std::string_view id = set[i];
        uint32_t e = PsiMembership::kNone;
        if (!id.empty()) {
          const Slot& s = probe_from(id, hashes[i - b], start_at[i - b]);
          if (s.entry_plus_one != 0) {
            e = s.entry_plus_one - 1;
            if (m.count_[e] == before) m.count_[e] = before + 1;
          }
        }
        out[i] = e;
      }
    }
  }
  return m;
}

}  // namespace cloister::functions::builtin
