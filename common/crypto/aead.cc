// Wraps OpenSSL 3's C API (EVP_CIPHER AES-256-GCM); see aead.h.
#include "common/crypto/aead.h"

#include <cstdlib>

#include "common/crypto/random.h"
#include "common/crypto/sys/openssl.h"

namespace cloister::crypto {
using namespace sys;

namespace {
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (c == nullptr) std::abort();
  return c;
}
int Len(size_t n) { return static_cast<int>(n); }
}  // namespace

struct AesGcm::Impl {
  // Two contexts keyed once; per message only the IV is set, which skips
  // the AES key schedule (the dominant cost for small messages).
  EvpCipherCtxPtr enc{EVP_CIPHER_CTX_new()};
  EvpCipherCtxPtr dec{EVP_CIPHER_CTX_new()};
};

AesGcm::AesGcm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AesGcm::AesGcm(AesGcm&&) noexcept = default;
AesGcm& AesGcm::operator=(AesGcm&&) noexcept = default;
AesGcm::~AesGcm() = default;

Result<AesGcm> AesGcm::Create(ByteView key) {
  if (key.size() != kAesGcmKeySize)
    return InvalidArgument("AES-256-GCM key must be 32 bytes, got " + std::to_string(key.size()));
  auto impl = std::make_unique<Impl>();
  if (!impl->enc || !impl->dec) return OpenSslError("EVP_CIPHER_CTX_new");
  if (EVP_EncryptInit_ex2(impl->enc.get(), Aes256Gcm(), key.data(), nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex2(impl->dec.get(), Aes256Gcm(), key.data(), nullptr, nullptr) != 1)
    return OpenSslError("AES-GCM key setup");
  return AesGcm(std::move(impl));
}

Status AesGcm::SealInto(ByteView nonce, ByteView aad, ByteView pt, std::span<uint8_t> out) {
  if (nonce.size() != kAesGcmNonceSize) return InvalidArgument("AES-GCM nonce must be 12 bytes");
  if (out.size() != pt.size() + kAesGcmTagSize)
    return InvalidArgument("AES-GCM output buffer has the wrong size");
  if (pt.size() > (1ull << 31)) return InvalidArgument("AES-GCM plaintext too large");
  EVP_CIPHER_CTX* c = impl_->enc.get();
  int len = 0;
  if (EVP_EncryptInit_ex2(c, nullptr, nullptr, nonce.data(), nullptr) != 1)
    return OpenSslError("AES-GCM set nonce");
  if (!aad.empty() && EVP_EncryptUpdate(c, nullptr, &len, aad.data(), Len(aad.size())) != 1)
    return OpenSslError("AES-GCM aad");
  if (!pt.empty() && EVP_EncryptUpdate(c, out.data(), &len, pt.data(), Len(pt.size())) != 1)
    return OpenSslError("AES-GCM encrypt");
  if (EVP_EncryptFinal_ex(c, out.data() + pt.size(), &len) != 1)
    return OpenSslError("AES-GCM final");
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kAesGcmTagSize, out.data() + pt.size()) != 1)
    return OpenSslError("AES-GCM tag");
  return OkStatus();
}

Result<Bytes> AesGcm::Seal(ByteView nonce, ByteView aad, ByteView pt) {
  Bytes out(pt.size() + kAesGcmTagSize);
  CLOISTER_RETURN_IF_ERROR(SealInto(nonce, aad, pt, out));
  return out;
}

Result<Bytes> AesGcm::Open(ByteView nonce, ByteView aad, ByteView ct) {
  if (nonce.size() != kAesGcmNonceSize) return InvalidArgument("AES-GCM nonce must be 12 bytes");
  if (ct.size() < kAesGcmTagSize)
    return InvalidArgument("AES-GCM ciphertext shorter than its tag", kAeadAuthFailed);
  if (ct.size() > (1ull << 31)) return InvalidArgument("AES-GCM ciphertext too large");
  const size_t n = ct.size() - kAesGcmTagSize;
  EVP_CIPHER_CTX* c = impl_->dec.get();
  Bytes out(n);
  int len = 0;
  if (EVP_DecryptInit_ex2(c, nullptr, nullptr, nonce.data(), nullptr) != 1)
    return OpenSslError("AES-GCM set nonce");
  if (!aad.empty() && EVP_DecryptUpdate(c, nullptr, &len, aad.data(), Len(aad.size())) != 1)
    return OpenSslError("AES-GCM aad");
  if (n > 0 && EVP_DecryptUpdate(c, out.data(), &len, ct.data(), Len(n)) != 1)
    return OpenSslError("AES-GCM decrypt");
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kAesGcmTagSize,
                          const_cast<uint8_t*>(ct.data() + n)) != 1)
    return OpenSslError("AES-GCM set tag");
  if (EVP_DecryptFinal_ex(c, out.data() + n, &len) != 1) {
    ClearErrors();
    Cleanse(out);  // never hand out unauthenticated plaintext
    return InvalidArgument("AES-GCM authentication failed (wrong key, AAD or tampered data)",
                           kAeadAuthFailed);
  }
  return out;
}

Result<Bytes> AesGcm::SealWithRandomNonce(ByteView aad, ByteView pt) {
  Bytes out(kAesGcmNonceSize + pt.size() + kAesGcmTagSize);
  FillRandom(std::span<uint8_t>(out.data(), kAesGcmNonceSize));
  CLOISTER_RETURN_IF_ERROR(SealInto(ByteView(out.data(), kAesGcmNonceSize), aad, pt,
                                    std::span<uint8_t>(out).subspan(kAesGcmNonceSize)));
  return out;
}

Result<Bytes> AesGcm::OpenWithNonce(ByteView aad, ByteView blob) {
  if (blob.size() < kAesGcmNonceSize + kAesGcmTagSize)
    return InvalidArgument("AES-GCM blob too short", kAeadAuthFailed);
  return Open(blob.first(kAesGcmNonceSize), aad, blob.subspan(kAesGcmNonceSize));
}

}  // namespace cloister::crypto
