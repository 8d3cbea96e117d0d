// Wraps OpenSSL's C API (RAND_bytes) for secure randomness.
#include "common/crypto/random.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>

namespace cloister::crypto {

void FillRandom(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    size_t n = std::min<size_t>(out.size() - done, 1u << 30);
    if (RAND_bytes(out.data() + done, static_cast<int>(n)) != 1) std::abort();
    done += n;
  }
}

Bytes RandomBytes(size_t n) {
  Bytes b(n);
  FillRandom(b);
  return b;
}

uint64_t RandomU64() {
  uint8_t b[8];
  FillRandom(b);
  uint64_t v;
  std::memcpy(&v, b, sizeof v);
  return v;
}

std::string RandomId() { return HexEncode(RandomBytes(16)); }

}  // namespace cloister::crypto
