// Level-1 grant MAC; see grant_mac.h.
#include "services/common/grant_mac.h"

#include <string_view>

#include "common/crypto/hash.h"

namespace cloister::services {
namespace {

constexpr std::string_view kLabel = "cloister level-1 access grant v1";

Bytes MacInput(ByteView grant) {
  Bytes in(kLabel.begin(), kLabel.end());
  in.push_back(0);
  in.insert(in.end(), grant.begin(), grant.end());
  return in;
}

}  // namespace

Bytes Level1GrantMac(const SecretBytes& secret, ByteView grant) {
  crypto::Digest d = crypto::HmacSha256(secret.view(), MacInput(grant));
  return Bytes(d.begin(), d.end());
}

bool Level1GrantMacValid(const SecretBytes& secret, ByteView grant, ByteView mac) {
  crypto::Digest d = crypto::HmacSha256(secret.view(), MacInput(grant));
  return ConstantTimeEqual(d, mac);
}

}  // namespace cloister::services
