// Wraps OpenSSL 3's C API (EVP digest, EVP_MAC, EVP_KDF) for hashing, MACs
// and key derivation; see hash.h.
#include "common/crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include <cstdlib>

#include "common/crypto/sys/openssl.h"

namespace cloister::crypto {
using namespace sys;

namespace {
// A fetched SHA-256 implementation shared by all threads (EVP_MD fetches are
// expensive; the object is immutable).
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) std::abort();
  return md;
}
}  // namespace

Digest Sha256(ByteView data) {
  Digest d;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), d.data(), &len, Sha256Md(), nullptr) != 1)
    std::abort();
  return d;
}

struct Sha256Hasher::Impl {
  EvpMdCtxPtr ctx{EVP_MD_CTX_new()};
};

Sha256Hasher::Sha256Hasher() : impl_(std::make_unique<Impl>()) {
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx.get(), Sha256Md(), nullptr) != 1)
    std::abort();
}
Sha256Hasher::~Sha256Hasher() = default;
Sha256Hasher::Sha256Hasher(Sha256Hasher&&) noexcept = default;
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&&) noexcept = default;

void Sha256Hasher::Update(ByteView data) {
  if (EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1) std::abort();
}

Digest Sha256Hasher::Finish() {
  Digest d;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), d.data(), &len) != 1) std::abort();
  return d;
}

Digest HmacSha256(ByteView key, ByteView data) {
  Digest d;
  size_t len = d.size();
  // EVP_Q_mac with an empty key needs a non-null pointer.
  static const uint8_t kEmpty = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr,
                key.empty() ? &kEmpty : key.data(), key.size(), data.data(), data.size(),
                d.data(), d.size(), &len) == nullptr)
    std::abort();
  return d;
}

bool HmacSha256Verify(ByteView key, ByteView data, ByteView tag) {
  Digest d = HmacSha256(key, data);
  return ConstantTimeEqual(d, tag);
}

namespace {
Result<SecretBytes> Derive(const char* kdf_name, OSSL_PARAM* params, size_t length) {
  EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, kdf_name, nullptr));
  if (!kdf) return OpenSslError(std::string("fetch ") + kdf_name);
  EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return OpenSslError("EVP_KDF_CTX_new");
  SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
    return OpenSslError(std::string(kdf_name) + " derive", Code::kInvalidArgument);
  return out;
}
}  // namespace

Result<SecretBytes> HkdfSha256(ByteView ikm, ByteView salt, ByteView info, size_t length) {
  if (length == 0 || length > 255 * kSha256Size)
    return InvalidArgument("HKDF output length must be in 1..8160");
  static const uint8_t kZero = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.empty() ? &kZero : ikm.data()),
          ikm.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.empty() ? &kZero : salt.data()),
          salt.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.empty() ? &kZero : info.data()),
          info.size()),
      OSSL_PARAM_construct_end()};
  if (ikm.empty()) return InvalidArgument("HKDF input key material is empty");
  return Derive("HKDF", params, length);
}

Result<SecretBytes> Pbkdf2Sha512(std::string_view password, ByteView salt,
                                 uint32_t iterations, size_t length) {
  if (iterations < 1000 || iterations > 10'000'000)
    return InvalidArgument("PBKDF2 iterations must be in 1000..10000000");
  if (salt.size() < 16) return InvalidArgument("PBKDF2 salt must be at least 16 bytes");
  if (length == 0 || length > 1024) return InvalidArgument("PBKDF2 length must be 1..1024");
  static char kEmpty = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA512"), 0),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_PASSWORD,
          password.empty() ? &kEmpty : const_cast<char*>(password.data()), password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_ITER, &iterations),
      OSSL_PARAM_construct_end()};
  return Derive("PBKDF2", params, length);
}

Result<SecretBytes> Scrypt(std::string_view password, ByteView salt, uint64_t n, uint32_t r,
                           uint32_t p, size_t length) {
  if (n < 2 || (n & (n - 1)) != 0 || n > (1u << 22))
    return InvalidArgument("scrypt N must be a power of two in 2..2^22");
  if (r == 0 || r > 32 || p == 0 || p > 16) return InvalidArgument("scrypt r/p out of range");
  if (salt.size() < 16) return InvalidArgument("scrypt salt must be at least 16 bytes");
  if (length == 0 || length > 1024) return InvalidArgument("scrypt length must be 1..1024");
  static char kEmpty = 0;
  uint64_t maxmem = 1ull << 30;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_PASSWORD,
          password.empty() ? &kEmpty : const_cast<char*>(password.data()), password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end()};
  return Derive("SCRYPT", params, length);
}

}  // namespace cloister::crypto
