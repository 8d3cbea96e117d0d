// The sealers of attestation/sealer.h.
#include "attestation/sealer.h"

#include "attestation/sealing.h"
#include "common/crypto/aead.h"

namespace cloister::attestation {

Result<Bytes> PlatformSealer::Seal(ByteView plaintext, ByteView aad) {
  return attestation::Seal(*client_, SEAL_POLICY_MRSIGNER, plaintext, aad);
}

Result<SecretBytes> PlatformSealer::Unseal(ByteView blob, ByteView aad) {
  CLOISTER_ASSIGN_OR_RETURN(Bytes plain, attestation::Unseal(*client_, blob, aad));
  return SecretBytes::Adopt(std::move(plain));
}

AeadSealer::AeadSealer() : key_(SecretBytes::Random(32)) {}

Result<Bytes> AeadSealer::Seal(ByteView plaintext, ByteView aad) {
  CLOISTER_ASSIGN_OR_RETURN(auto gcm, crypto::AesGcm::Create(key_.view()));
  return gcm.SealWithRandomNonce(aad, plaintext);
}

Result<SecretBytes> AeadSealer::Unseal(ByteView blob, ByteView aad) {
  CLOISTER_ASSIGN_OR_RETURN(auto gcm, crypto::AesGcm::Create(key_.view()));
  auto plain = gcm.OpenWithNonce(aad, blob);
  if (!plain.ok()) return DataLoss("sealed data does not open", kSealAuthFailed);
  return SecretBytes::Adopt(*std::move(plain));
}

}  // namespace cloister::attestation
