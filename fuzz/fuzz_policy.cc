// Fuzzes the gateway's policy file (gateway/filters/authorize/policy.h) and
// the TOML reader under it (common/config.h): Policy::Parse on arbitrary
// text must not crash, and a policy it accepts must write out (ToToml) as a
// file that parses back to the same roles and predicates (rate limits: to
// the 6 decimals ToToml prints). Seeded with the file `cloister cluster
// init` writes (the default policy) and an operator-edited one.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_seed.h"
#include "gateway/filters/authorize/policy.h"
#include "proto/method_table.h"

using namespace cloister;
using namespace cloister::gateway;

namespace {

const std::vector<std::string>& Known() {
  static const std::vector<std::string> k = rpc::MethodTable::Get().PublicNames();
  return k;
}

bool Near(double a, double b) { return std::fabs(a - b) <= 5e-7 + 1e-12 * std::fabs(a); }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::QuietLogs();
  fuzz::WriteSeed("default-policy", Policy::ToToml(Policy::Default()));
  fuzz::WriteSeed("edited-policy",
                  "[methods]\nLogin = [\"anonymous\"]\nCall = ['user', \"admin\"]\n"
                  "ChangePassword = [\"user\"]\n[predicates]\nChangePassword = \"self_or_admin\"\n"
                  "[rate_limit]\nper_principal_rps = 12.5\nper_principal_burst = 1e3\n"
                  "anonymous_per_ip_rps = 0.25\nanonymous_per_ip_burst = 40\n");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::ClearCryptoErrors clear_errors;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = Policy::Parse(text, "policy.toml", Known());
  if (!p.ok()) return 0;
  const std::string written = Policy::ToToml(*p);
  auto back = Policy::Parse(written, "policy.toml", Known());
  if (!back.ok()) __builtin_trap();
  if (back->allowed != p->allowed || back->predicates != p->predicates) __builtin_trap();
  const RateLimitPolicy &a = p->rate_limit, &b = back->rate_limit;
  if (!Near(a.per_principal_rps, b.per_principal_rps) ||
      !Near(a.per_principal_burst, b.per_principal_burst) ||
      !Near(a.anonymous_per_ip_rps, b.anonymous_per_ip_rps) ||
      !Near(a.anonymous_per_ip_burst, b.anonymous_per_ip_burst))
    __builtin_trap();
  return 0;
}
