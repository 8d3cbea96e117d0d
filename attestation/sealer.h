// The one sealing interface of Cloister: what a service keeps secrets at
// rest with (auth's token key, the key vault's key material, the row-
// integrity key). PlatformSealer is the production one (the platform's
// MRSIGNER sealing, attestation/sealing.h); AeadSealer holds its own key
// (unit tests, fuzzers, in-process benchmarks).
//
//   attestation::PlatformSealer sealer(&enclave->platform());
//   CLOISTER_ASSIGN_OR_RETURN(Bytes blob, sealer.Seal(secret, AsBytes("token-key")));
#pragma once

#include "common/bytes.h"
#include "common/result.h"
#include "common/secret.h"

namespace cloister::attestation {

class PlatformClient;

class Sealer {
 public:
  virtual ~Sealer() = default;
  virtual Result<Bytes> Seal(ByteView plaintext, ByteView aad) = 0;
  // DataLoss [SEAL_AUTH_FAILED] when the blob was not sealed by this sealer
  // (another binary or node, tampering, another aad).
  virtual Result<SecretBytes> Unseal(ByteView blob, ByteView aad) = 0;
};

// MRSIGNER sealing at the caller's svn through the node's platform daemon:
// an upgraded binary of the same signer and product (svn equal or higher)
// still opens what an older one sealed; a lower svn never does.
class PlatformSealer final : public Sealer {
 public:
  // `client` must outlive the sealer.
  explicit PlatformSealer(PlatformClient* client) : client_(client) {}
  Result<Bytes> Seal(ByteView plaintext, ByteView aad) override;
  Result<SecretBytes> Unseal(ByteView blob, ByteView aad) override;

 private:
  PlatformClient* client_;  // not owned
};

// AES-256-GCM under a key the caller holds (random unless given).
class AeadSealer final : public Sealer {
 public:
  AeadSealer();
  explicit AeadSealer(SecretBytes key) : key_(std::move(key)) {}
  Result<Bytes> Seal(ByteView plaintext, ByteView aad) override;
  Result<SecretBytes> Unseal(ByteView blob, ByteView aad) override;

 private:
  SecretBytes key_;
};

}  // namespace cloister::attestation
