// `rsa_sign` / `rsa_verify`: RSA 2048–4096 signatures over SHA-256 with PSS
// (salt length 32) or PKCS#1 v1.5 padding, through common/crypto only.
// Reference: docs/functions.md.
#pragma once

#include <memory>

#include "functions/runtime.h"

namespace cloister::functions::builtin {

std::unique_ptr<Function> MakeRsaSign();
std::unique_ptr<Function> MakeRsaVerify();

}  // namespace cloister::functions::builtin
