// Fuzzes quote parsing and verification (and the launch-log replay behind
// it). Input: 2-byte little-endian quote length, serialized Quote, then a
// serialized LaunchLog.
#include <cstddef>
#include <cstdint>

#include "attestation/launch_log.h"
#include "fuzz/fuzz_common.h"

using namespace cloister;
using namespace cloister::attestation;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto& p = fuzz::Platform();
  // report_data[0..32] = 0 matches the fixed binding used below.
  auto q = p.GetQuote(Bytes(64, 0), {});
  std::string qb = q->SerializeAsString();
  std::string lb = p.ReadLaunchLog()->SerializeAsString();
  std::string seed;
  seed.push_back(static_cast<char>(qb.size() & 0xff));
  seed.push_back(static_cast<char>(qb.size() >> 8));
  fuzz::WriteSeed("valid-quote", seed + qb + lb);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  static auto trust = fuzz::Platform().MakeTrust(3);
  static VerifyPolicy policy = [] {
    auto pol = VerifyPolicy::FromTrust(*trust, {"gateway"});
    pol.min_security_level = 2;
    return pol;
  }();
  if (size < 2) return 0;
  size_t qlen = data[0] | (static_cast<size_t>(data[1]) << 8);
  if (qlen > size - 2) return 0;
  Quote q;
  LaunchLog log;
  if (!q.ParseFromArray(data + 2, static_cast<int>(qlen))) return 0;
  bool has_log = log.ParseFromArray(data + 2 + qlen, static_cast<int>(size - 2 - qlen));
  (void)VerifyQuote(q, Bytes(32, 0), has_log ? &log : nullptr, policy, NowUnixMs());
  if (has_log) (void)Replay(log);
  return 0;
}
