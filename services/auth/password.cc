// Password hashing: PHC-like encoding, bounded parsing of stored hashes,
// constant-time comparison.
#include "services/auth/password.h"

#include <charconv>
#include <vector>

#include "common/bytes.h"
#include "common/crypto/hash.h"
#include "common/crypto/random.h"
#include "common/secret.h"

namespace cloister::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMaxStoredLength = 512;
constexpr const char* kMalformed = "PASSWORD_HASH_MALFORMED";

struct Parsed {
  PasswordPolicy params;
  Bytes salt;
  Bytes hash;
};

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// "key=value" with value a decimal uint32 in [lo, hi].
bool ParseParam(std::string_view kv, std::string_view key, uint32_t lo, uint32_t hi,
                uint32_t* out) {
  if (kv.size() <= key.size() + 1 || kv.substr(0, key.size()) != key || kv[key.size()] != '=')
    return false;
  std::string_view num = kv.substr(key.size() + 1);
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec != std::errc() || ptr != num.data() + num.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

Result<Parsed> Parse(std::string_view stored) {
  Error bad = DataLoss("stored password hash is malformed", kMalformed);
  if (stored.size() > kMaxStoredLength) return bad;
  auto parts = Split(stored, '$');
  if (parts.size() != 5 || !parts[0].empty()) return bad;
  Parsed p;
  auto params = Split(parts[2], ',');
  if (parts[1] == "scrypt") {
    p.params.algorithm = PasswordPolicy::Algorithm::kScrypt;
    // Upper bounds cap the memory/CPU a corrupted row could make us spend.
    if (params.size() != 3 || !ParseParam(params[0], "ln", 1, 22, &p.params.scrypt_log2_n) ||
        !ParseParam(params[1], "r", 1, 32, &p.params.scrypt_r) ||
        !ParseParam(params[2], "p", 1, 16, &p.params.scrypt_p))
      return bad;
  } else if (parts[1] == "pbkdf2-sha512") {
    p.params.algorithm = PasswordPolicy::Algorithm::kPbkdf2Sha512;
    if (params.size() != 1 ||
        !ParseParam(params[0], "i", 1, 10'000'000, &p.params.pbkdf2_iterations))
      return bad;
  } else {
    return bad;
  }
  auto salt = Base64Decode(parts[3]);
  auto hash = Base64Decode(parts[4]);
  if (!salt.ok() || !hash.ok() || salt->size() < 16 || salt->size() > 64 || hash->size() < 16 ||
      hash->size() > 64)
    return bad;
  p.salt = std::move(*salt);
  p.hash = std::move(*hash);
  return p;
}

Result<SecretBytes> Derive(const PasswordPolicy& params, std::string_view password, ByteView salt,
                           size_t length) {
  if (params.algorithm == PasswordPolicy::Algorithm::kScrypt)
    return crypto::Scrypt(password, salt, uint64_t{1} << params.scrypt_log2_n, params.scrypt_r,
                          params.scrypt_p, length);
  return crypto::Pbkdf2Sha512(password, salt, params.pbkdf2_iterations, length);
}

std::string Encode(const PasswordPolicy& params, ByteView salt, ByteView hash) {
  std::string out;
  if (params.algorithm == PasswordPolicy::Algorithm::kScrypt)
    out = "$scrypt$ln=" + std::to_string(params.scrypt_log2_n) +
          ",r=" + std::to_string(params.scrypt_r) + ",p=" + std::to_string(params.scrypt_p);
  else
    out = "$pbkdf2-sha512$i=" + std::to_string(params.pbkdf2_iterations);
  return out + "$" + Base64Encode(salt) + "$" + Base64Encode(hash);
}

}  // namespace

std::string PasswordPolicy::Describe() const {
  if (algorithm == Algorithm::kScrypt)
    return "scrypt N=2^" + std::to_string(scrypt_log2_n) + " r=" + std::to_string(scrypt_r) +
           " p=" + std::to_string(scrypt_p);
  return "PBKDF2-SHA512 i=" + std::to_string(pbkdf2_iterations);
}

PasswordHasher::PasswordHasher(PasswordPolicy policy) : policy_(policy) {
  SecretBytes random = SecretBytes::Random(24);
  auto dummy = Hash(Base64Encode(random.view()));
  dummy_ = dummy.ok() ? *dummy : std::string();
}

Result<std::string> PasswordHasher::Hash(std::string_view password) const {
  Bytes salt = crypto::RandomBytes(kSaltBytes);
  CLOISTER_ASSIGN_OR_RETURN(SecretBytes hash, Derive(policy_, password, salt, kHashBytes));
  return Encode(policy_, salt, hash.view());
}

Result<bool> PasswordHasher::Verify(std::string_view password, std::string_view stored) const {
  CLOISTER_ASSIGN_OR_RETURN(Parsed p, Parse(stored));
  CLOISTER_ASSIGN_OR_RETURN(SecretBytes got, Derive(p.params, password, p.salt, p.hash.size()));
  return ConstantTimeEqual(got.view(), p.hash);
}

void PasswordHasher::BurnVerify(std::string_view password) const {
  Verify(password, dummy_).status().IgnoreError();
}

bool PasswordHasher::NeedsRehash(std::string_view stored) const {
  auto p = Parse(stored);
  if (!p.ok()) return true;
  if (p->params.algorithm != policy_.algorithm) return true;
  if (policy_.algorithm == PasswordPolicy::Algorithm::kScrypt)
    return p->params.scrypt_log2_n < policy_.scrypt_log2_n ||
           p->params.scrypt_r < policy_.scrypt_r || p->params.scrypt_p < policy_.scrypt_p;
  return p->params.pbkdf2_iterations < policy_.pbkdf2_iterations;
}

}  // namespace cloister::auth
