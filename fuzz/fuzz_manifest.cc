// Fuzzes signed-manifest parsing and N-of-M signature verification.
#include <cstddef>
#include <cstdint>

#include "attestation/testing/fake_platform.h"

using namespace cloister;
using namespace cloister::attestation;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static testing::FakePlatform* platform = [] {
    static testing::FakePlatform p({"gateway", "auth"});
    return &p;
  }();
  auto m = Manifest::Verify(ByteView(data, size), platform->auditors());
  if (m.ok()) {
    (void)m->FindByName("gateway");
    (void)m->IsReferenceValue("config", Bytes(32));
  }
  return 0;
}
