// Loader-injection environment check; see loader_env.h for the list and why.
#include "attestation/platform/loader_env.h"

#include <array>

namespace cloister::attestation {
namespace {

// glibc 2.36 UNSECURE_ENVVARS minus LD_* (covered by the prefix) and TMPDIR.
constexpr std::array<std::string_view, 13> kExact = {
    "GCONV_PATH",  "GETCONF_DIR", "GLIBC_TUNABLES",   "HOSTALIASES", "LOCALDOMAIN",
    "LOCPATH",     "NIS_PATH",    "NLSPATH",          "RESOLV_HOST_CONF", "RES_OPTIONS",
    "TZDIR",       "OPENSSL_CONF", "OPENSSL_MODULES",
};
constexpr std::array<std::string_view, 3> kPrefixes = {"LD_", "MALLOC_", "OPENSSL_ENGINES"};

}  // namespace

bool IsLoaderInjectionVariable(std::string_view name) {
  for (auto e : kExact)
    if (name == e) return true;
  for (auto p : kPrefixes)
    if (name.substr(0, p.size()) == p) return true;
  return false;
}

Status CheckLoaderEnvironment(std::string_view environ) {
  if (environ.size() > kMaxEnvironBytes)
    return InvalidArgument("process environment larger than " + std::to_string(kMaxEnvironBytes) +
                               " bytes",
                           kMeasureEnvMalformed);
  size_t pos = 0;
  while (pos < environ.size()) {
    size_t end = environ.find('\0', pos);
    if (end == std::string_view::npos) end = environ.size();
    std::string_view entry = environ.substr(pos, end - pos);
    std::string_view name = entry.substr(0, entry.find('='));
    if (IsLoaderInjectionVariable(name))
      return PermissionDenied("process has " + std::string(name.substr(0, 64)) +
                                  " in its environment (code the measurement does not cover "
                                  "could be loaded)",
                              kMeasureLoaderEnv);
    pos = end + 1;
  }
  return OkStatus();
}

}  // namespace cloister::attestation
