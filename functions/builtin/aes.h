// `aes_encrypt` / `aes_decrypt`: AES-256-GCM with optional associated data.
// Ciphertext layout: nonce(12, random) ‖ ciphertext ‖ tag(16).
// Reference: docs/functions.md.
#pragma once

#include <memory>

#include "functions/runtime.h"

namespace cloister::functions::builtin {

std::unique_ptr<Function> MakeAesEncrypt();
std::unique_ptr<Function> MakeAesDecrypt();

}  // namespace cloister::functions::builtin
