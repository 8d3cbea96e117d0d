// Sealed-blob format and Seal/Unseal over the platform's sealing keys; see
// sealing.h.
#include "attestation/sealing.h"

#include <algorithm>

#include "attestation/platform/protocol.h"
#include "common/crypto/aead.h"
#include "common/crypto/random.h"

namespace cloister::attestation {
namespace {

constexpr size_t kFixedHeader = 11;  // magic, version, policy, svn, L

struct ParsedBlob {
  SealPolicy policy = SEAL_POLICY_UNSPECIFIED;
  uint32_t svn = 0;
  ByteView key_id;
  ByteView nonce;
  ByteView header;      // everything before the ciphertext
  ByteView ciphertext;  // ciphertext ‖ tag
};

Bytes BuildHeader(SealPolicy policy, uint32_t svn, ByteView key_id, ByteView nonce) {
  Bytes h(kSealMagic, kSealMagic + 4);
  h.push_back(kSealVersion);
  h.push_back(static_cast<uint8_t>(policy));
  for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<uint8_t>(svn >> shift));
  h.push_back(static_cast<uint8_t>(key_id.size()));
  h.insert(h.end(), key_id.begin(), key_id.end());
  h.insert(h.end(), nonce.begin(), nonce.end());
  return h;
}

Result<ParsedBlob> ParseBlob(ByteView blob) {
  auto bad = [](const std::string& why) {
    return InvalidArgument("sealed blob: " + why, kSealBlobMalformed);
  };
  if (blob.size() < kFixedHeader) return bad("too short");
  if (!std::equal(kSealMagic, kSealMagic + 4, blob.begin())) return bad("bad magic");
  if (blob[4] != kSealVersion) return bad("unsupported version " + std::to_string(blob[4]));
  ParsedBlob p;
  if (blob[5] != SEAL_POLICY_MRENCLAVE && blob[5] != SEAL_POLICY_MRSIGNER)
    return bad("unknown policy " + std::to_string(blob[5]));
  p.policy = static_cast<SealPolicy>(blob[5]);
  p.svn = (uint32_t{blob[6]} << 24) | (uint32_t{blob[7]} << 16) | (uint32_t{blob[8]} << 8) |
          uint32_t{blob[9]};
  const size_t key_id_len = blob[10];
  if (key_id_len < kMinKeyIdSize || key_id_len > kMaxKeyIdSize) return bad("bad key id length");
  const size_t header_len = kFixedHeader + key_id_len + crypto::kAesGcmNonceSize;
  if (blob.size() < header_len + crypto::kAesGcmTagSize) return bad("truncated");
  p.key_id = blob.subspan(kFixedHeader, key_id_len);
  p.nonce = blob.subspan(kFixedHeader + key_id_len, crypto::kAesGcmNonceSize);
  p.header = blob.first(header_len);
  p.ciphertext = blob.subspan(header_len);
  return p;
}

Bytes Concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace

Result<Bytes> Seal(PlatformClient& client, SealPolicy policy, ByteView plaintext, ByteView aad) {
  if (policy != SEAL_POLICY_MRENCLAVE && policy != SEAL_POLICY_MRSIGNER)
    return InvalidArgument("seal policy must be MRENCLAVE or MRSIGNER");
  // The svn comes from the platform's measurement of us, never from us.
  CLOISTER_ASSIGN_OR_RETURN(IdentityResponse me, client.Identity());
  const uint32_t svn = me.svn();
  const Bytes key_id = crypto::RandomBytes(32);
  const Bytes nonce = crypto::RandomBytes(crypto::kAesGcmNonceSize);
  CLOISTER_ASSIGN_OR_RETURN(SecretBytes key, client.GetSealingKey(policy, key_id, svn));
  CLOISTER_ASSIGN_OR_RETURN(crypto::AesGcm gcm, crypto::AesGcm::Create(key.view()));
  key.Clear();  // the expanded key lives on only inside `gcm`
  Bytes blob = BuildHeader(policy, svn, key_id, nonce);
  CLOISTER_ASSIGN_OR_RETURN(Bytes ct, gcm.Seal(nonce, Concat(blob, aad), plaintext));
  blob.insert(blob.end(), ct.begin(), ct.end());
  return blob;
}

Result<Bytes> Unseal(PlatformClient& client, ByteView blob, ByteView aad) {
  CLOISTER_ASSIGN_OR_RETURN(ParsedBlob p, ParseBlob(blob));
  CLOISTER_ASSIGN_OR_RETURN(SecretBytes key, client.GetSealingKey(p.policy, p.key_id, p.svn));
  CLOISTER_ASSIGN_OR_RETURN(crypto::AesGcm gcm, crypto::AesGcm::Create(key.view()));
  key.Clear();
  auto pt = gcm.Open(p.nonce, Concat(p.header, aad), p.ciphertext);
  if (!pt.ok())
    return DataLoss("sealed blob does not open with this enclave's key (sealed by another "
                    "binary, signer or node, or tampered)",
                    kSealAuthFailed);
  return *std::move(pt);
}

}  // namespace cloister::attestation
