// Hashes, MACs and key derivation over OpenSSL 3: SHA-256, HMAC-SHA256,
// HKDF-SHA256, PBKDF2-SHA512 and scrypt.
//
//   Bytes d = crypto::Sha256(data);
//   SecretBytes k = *crypto::HkdfSha256(ikm, salt, info, 32);
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "common/bytes.h"
#include "common/secret.h"

namespace cloister::crypto {

inline constexpr size_t kSha256Size = 32;
using Digest = std::array<uint8_t, kSha256Size>;

Digest Sha256(ByteView data);
inline Digest Sha256(std::string_view data) { return Sha256(AsBytes(data)); }
inline Bytes DigestBytes(const Digest& d) { return Bytes(d.begin(), d.end()); }

// Incremental SHA-256 (for files and chained logs). Not thread-safe.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&&) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept;
  void Update(ByteView data);
  void Update(std::string_view data) { Update(AsBytes(data)); }
  // Finishes; the hasher must not be reused afterwards.
  Digest Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest HmacSha256(ByteView key, ByteView data);
// Constant-time check of an HMAC-SHA256 tag.
bool HmacSha256Verify(ByteView key, ByteView data, ByteView tag);

// RFC 5869. `length` ≤ 255*32. InvalidArgument if out of range.
Result<SecretBytes> HkdfSha256(ByteView ikm, ByteView salt, ByteView info, size_t length);

// Password hashing. InvalidArgument on silly parameters.
Result<SecretBytes> Pbkdf2Sha512(std::string_view password, ByteView salt,
                                 uint32_t iterations, size_t length);
Result<SecretBytes> Scrypt(std::string_view password, ByteView salt, uint64_t n,
                           uint32_t r, uint32_t p, size_t length);

}  // namespace cloister::crypto
