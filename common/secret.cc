// SecretBytes storage with guaranteed zeroization; wraps OPENSSL_cleanse.
#include "common/secret.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdlib>

namespace cloister {

void Cleanse(void* p, size_t n) {
  if (p != nullptr && n > 0) OPENSSL_cleanse(p, n);
}

SecretBytes::SecretBytes(size_t n) : data_(n) {}
SecretBytes::SecretBytes(ByteView b) : data_(b.begin(), b.end()) {}

SecretBytes SecretBytes::Adopt(Bytes&& b) {
  SecretBytes s{ByteView(b)};
  Cleanse(b);
  b.clear();
  return s;
}

SecretBytes SecretBytes::Random(size_t n) {
  SecretBytes s(n);
  if (n > 0 && RAND_bytes(s.data(), static_cast<int>(n)) != 1) std::abort();
  return s;
}

SecretBytes& SecretBytes::operator=(const SecretBytes& o) {
  if (this != &o) {
    Clear();
    data_.assign(o.data_.begin(), o.data_.end());
  }
  return *this;
}

SecretBytes::SecretBytes(SecretBytes&& o) noexcept : data_(std::move(o.data_)) {
  o.data_.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    Clear();
    data_ = std::move(o.data_);
    o.data_.clear();
  }
  return *this;
}

SecretBytes::~SecretBytes() { Clear(); }

void SecretBytes::Clear() {
  // Cleanse the whole capacity-backed range we wrote, then drop it.
  Cleanse(data_.data(), data_.size());
  data_.clear();
}

}  // namespace cloister
