// Wraps OpenSSL 3's C API: the error-queue bridge.
#include "common/crypto/sys/openssl.h"

namespace cloister::crypto::sys {

Error OpenSslError(std::string_view context, Code code) {
  std::string detail;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (detail.empty()) detail = buf;  // the first error is the root cause
  }
  std::string msg(context);
  if (!detail.empty()) msg += " (" + detail + ")";
  return Error(code, std::move(msg));
}

void ClearErrors() { ERR_clear_error(); }

}  // namespace cloister::crypto::sys
