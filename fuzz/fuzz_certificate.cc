// Fuzzes X.509 parsing (OpenSSL's ASN.1 decoder) and RA-TLS certificate
// verification with arbitrary DER.
#include <cstddef>
#include <cstdint>

#include "attestation/testing/fake_platform.h"

using namespace cloister;
using namespace cloister::attestation;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static testing::FakePlatform* platform = [] {
    static testing::FakePlatform p({"gateway"});
    return &p;
  }();
  static auto trust = platform->MakeTrust(2);
  auto cert = crypto::Certificate::FromDer(ByteView(data, size));
  if (!cert.ok()) return 0;
  (void)VerifyRaTlsCertificate(*cert, VerifyPolicy::FromTrust(*trust, {"gateway"}), NowUnixMs());
  (void)cert->Pem();
  return 0;
}
