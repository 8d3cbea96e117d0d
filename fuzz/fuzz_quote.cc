// Fuzzes quote parsing and verification (and the launch-log replay behind
// it) with arbitrary bytes as the serialized Quote and LaunchLog.
#include <cstddef>
#include <cstdint>

#include "attestation/launch_log.h"
#include "attestation/testing/fake_platform.h"

using namespace cloister;
using namespace cloister::attestation;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static testing::FakePlatform* platform = [] {
    static testing::FakePlatform p({"gateway"});
    return &p;
  }();
  static auto trust = platform->MakeTrust(3);
  VerifyPolicy policy = VerifyPolicy::FromTrust(*trust, {"gateway"});
  size_t split = size > 0 ? data[0] % (size + 1) : 0;
  Quote q;
  LaunchLog log;
  if (!q.ParseFromArray(data, static_cast<int>(split))) return 0;
  bool has_log = log.ParseFromArray(data + split, static_cast<int>(size - split));
  Bytes binding(32, 0);
  (void)VerifyQuote(q, binding, has_log ? &log : nullptr, policy, NowUnixMs());
  if (has_log) (void)Replay(log);
  return 0;
}
