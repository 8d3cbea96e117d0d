// Which environment variables make a genuine binary run code or behave in
// ways its measurement does not cover, so the platform refuses a caller
// that has one set in /proc/<pid>/environ (reason MEASURE_LOADER_ENV).
//
// The list starts from glibc's UNSECURE_ENVVARS (elf/dl-support / unsecvars.h:
// what the loader strips for setuid programs, because each lets the caller
// inject code or redirect what the program reads) and adds:
//   - every LD_* name: all of them belong to the dynamic loader and no
//     service needs one (LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH are the code
//     injection routes; the rest change loading or debugging behaviour);
//   - MALLOC_* (glibc tunable aliases) and GLIBC_TUNABLES;
//   - OPENSSL_CONF / OPENSSL_MODULES / OPENSSL_ENGINES: OpenSSL loads
//     provider and engine shared objects from them.
// TMPDIR is on glibc's list but is not refused: it moves temporary files,
// it does not load code, and services have no secret temporary files.
//
//   CLOISTER_RETURN_IF_ERROR(CheckLoaderEnvironment(environ_bytes));
#pragma once

#include <string_view>

#include "common/result.h"

namespace cloister::attestation {

inline constexpr const char* kMeasureLoaderEnv = "MEASURE_LOADER_ENV";
inline constexpr const char* kMeasureEnvMalformed = "MEASURE_ENVIRON_MALFORMED";
// /proc/<pid>/environ larger than this is refused (Linux caps argv+envp at
// a quarter of the stack limit; 4 MiB is far above any service's).
inline constexpr size_t kMaxEnvironBytes = 4u << 20;

// True if `name` (no '=') is one of the refused variables.
bool IsLoaderInjectionVariable(std::string_view name);

// `environ` is the NUL-separated NAME=VALUE list of /proc/<pid>/environ.
// PermissionDenied [MEASURE_LOADER_ENV] naming the first refused variable
// (its name only: a value may be secret); InvalidArgument
// [MEASURE_ENVIRON_MALFORMED] beyond kMaxEnvironBytes.
Status CheckLoaderEnvironment(std::string_view environ);

}  // namespace cloister::attestation
