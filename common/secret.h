// SecretBytes: a byte buffer for key material that is zeroized (with
// OPENSSL_cleanse, which the optimiser cannot elide) whenever it is destroyed,
// moved from or resized, and that never prints its contents.
//
//   SecretBytes key = SecretBytes::Random(32);
//   Use(key.view());   // ByteView; do not copy into a plain Bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/bytes.h"

namespace cloister {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t n);
  // Copies `b` (the caller should cleanse its own copy).
  explicit SecretBytes(ByteView b);
  // Takes ownership and cleanses the source vector's storage.
  static SecretBytes Adopt(Bytes&& b);
  // `n` bytes from the OpenSSL CSPRNG; aborts only if the CSPRNG fails.
  static SecretBytes Random(size_t n);

  SecretBytes(const SecretBytes& o) : SecretBytes(o.view()) {}
  SecretBytes& operator=(const SecretBytes& o);
  SecretBytes(SecretBytes&& o) noexcept;
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  ~SecretBytes();

  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  ByteView view() const { return data_; }
  std::span<uint8_t> mutable_view() { return data_; }
  void Clear();

  // Deliberately no operator<< and no implicit conversion to string.
  std::string DebugString() const { return "<secret " + std::to_string(size()) + " bytes>"; }

 private:
  Bytes data_;
};

// Cleanses any byte range (wrapper over OPENSSL_cleanse).
void Cleanse(void* p, size_t n);
inline void Cleanse(Bytes& b) { Cleanse(b.data(), b.size()); }
inline void Cleanse(std::string& s) { Cleanse(s.data(), s.size()); }

}  // namespace cloister
