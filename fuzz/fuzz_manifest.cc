// Fuzzes signed-manifest parsing and N-of-M signature verification.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_common.h"

using namespace cloister;
using namespace cloister::attestation;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto& p = fuzz::Platform();
  auto m = SignManifest(p.manifest_body(), std::span(p.auditor_keys()).first(2));
  if (m.ok()) fuzz::WriteSeed("valid-manifest", AsChars(*m));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  auto m = Manifest::Verify(ByteView(data, size), fuzz::Platform().auditors());
  if (m.ok()) {
    (void)m->FindByName("gateway");
    (void)m->IsReferenceValue("config", Bytes(32));
  }
  return 0;
}
