// Fuzzes X.509 parsing (OpenSSL's ASN.1 decoder) and RA-TLS certificate
// verification with arbitrary DER.
#include <cstddef>
#include <cstdint>

#include "attestation/ratls.h"
#include "fuzz/fuzz_common.h"

using namespace cloister;
using namespace cloister::attestation;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto key = crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
  auto cert = IssueRaTlsCertificate(fuzz::Platform(), *key, "gateway", 3600, {});
  if (cert.ok()) fuzz::WriteSeed("valid-ratls-cert", AsChars(cert->Der()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  static auto trust = fuzz::Platform().MakeTrust(2);
  auto cert = crypto::Certificate::FromDer(ByteView(data, size));
  if (!cert.ok()) return 0;
  (void)VerifyRaTlsCertificate(*cert, VerifyPolicy::FromTrust(*trust, {"gateway"}), NowUnixMs());
  (void)cert->Pem();
  return 0;
}
