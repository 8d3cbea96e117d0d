// Secure randomness from OpenSSL's CSPRNG (RAND_bytes).
//
//   Bytes nonce = crypto::RandomBytes(12);
#pragma once

#include <cstdint>
#include <span>

#include "common/bytes.h"

namespace cloister::crypto {

// Aborts the process if the CSPRNG fails: continuing with weak randomness
// would be worse than stopping.
void FillRandom(std::span<uint8_t> out);
Bytes RandomBytes(size_t n);
uint64_t RandomU64();
// 32 hex characters of randomness, for ids.
std::string RandomId();

}  // namespace cloister::crypto
