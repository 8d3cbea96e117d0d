// Wraps OpenSSL 3's C API: the opaque handles behind PublicKey/PrivateKey
// and Certificate. Only common/crypto/*.cc and attestation/sys/ include it.
#pragma once

#include "common/crypto/sys/openssl.h"

namespace cloister::crypto {

struct KeyHandle {
  sys::EvpPkeyPtr pkey;
};

struct CertHandle {
  sys::X509Ptr x509;
};

}  // namespace cloister::crypto
