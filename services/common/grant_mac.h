// The level-1 stand-in for the gateway's attested signature on a grant:
// HMAC-SHA256 under the per-cluster secret (Enclave::cluster_secret()),
// over a domain-separation label and the serialized AccessGrant bytes.
// Level 1 has no attestation, so this is what keeps the gateway
// non-bypassable on the machine: a local process that cannot read the
// secret file (mode 0600, the service account's) cannot make a grant that
// a service accepts. Verification compares in constant time.
//
//   sg.set_signature(ToString(Level1GrantMac(*enclave.cluster_secret(), AsBytes(sg.grant()))));
//   if (!Level1GrantMacValid(secret, AsBytes(sg.grant()), AsBytes(sg.signature()))) deny;
#pragma once

#include "common/bytes.h"
#include "common/secret.h"

namespace cloister::services {

Bytes Level1GrantMac(const SecretBytes& secret, ByteView grant);
bool Level1GrantMacValid(const SecretBytes& secret, ByteView grant, ByteView mac);

}  // namespace cloister::services
