// Password hashing for cloister-auth: scrypt (default N=2^15, r=8, p=1) or
// PBKDF2-SHA512 (≥ 210 000 iterations), random 16-byte salt per hash, and
// the parameters stored with the hash so they can be raised later
// (NeedsRehash → rehash on the next successful login).
//
// Stored format (PHC-like; salt and hash in padded standard base64):
//   $scrypt$ln=15,r=8,p=1$<salt>$<hash>
//   $pbkdf2-sha512$i=210000$<salt>$<hash>
//
//   PasswordHasher h(PasswordPolicy{});
//   CLOISTER_ASSIGN_OR_RETURN(std::string stored, h.Hash(password));
//   CLOISTER_ASSIGN_OR_RETURN(bool ok, h.Verify(password, stored));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cloister::auth {

inline constexpr size_t kMinPasswordLength = 12;
// Bounds the work an unauthenticated caller can make us do per attempt.
inline constexpr size_t kMaxPasswordLength = 1024;

struct PasswordPolicy {
  enum class Algorithm { kScrypt, kPbkdf2Sha512 };
  Algorithm algorithm = Algorithm::kScrypt;
  uint32_t scrypt_log2_n = 15;
  uint32_t scrypt_r = 8;
  uint32_t scrypt_p = 1;
  uint32_t pbkdf2_iterations = 210'000;

  std::string Describe() const;
};

// Thread-safe (immutable after construction).
class PasswordHasher {
 public:
  explicit PasswordHasher(PasswordPolicy policy);

  // A new hash under the current policy with a fresh random salt.
  Result<std::string> Hash(std::string_view password) const;
  // true/false for match/mismatch (compared in constant time);
  // DataLoss [PASSWORD_HASH_MALFORMED] if `stored` cannot be parsed or has
  // out-of-range parameters (a corrupted or tampered row).
  Result<bool> Verify(std::string_view password, std::string_view stored) const;
  // Spends the same work as Verify of a real hash under the current policy,
  // so a login for an unknown user takes as long as a wrong password.
  void BurnVerify(std::string_view password) const;
  // true if `stored` uses a weaker algorithm/parameters than the policy.
  bool NeedsRehash(std::string_view stored) const;

  const PasswordPolicy& policy() const { return policy_; }

 private:
  PasswordPolicy policy_;
  std::string dummy_;  // a hash of a random password under the policy
};

}  // namespace cloister::auth
