// RA-TLS certificates: a self-signed X.509 certificate whose private
// extension carries a quote binding SHA-256(the certificate's SPKI), plus
// the measured-launch log at quote time.
//
//   auto key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcdsaP256);
//   CLOISTER_ASSIGN_OR_RETURN(auto cert, IssueRaTlsCertificate(provider, key, "gateway", 3600, {}));
#pragma once

#include <string_view>

#include "attestation/quote_provider.h"
#include "common/crypto/x509.h"

namespace cloister::attestation {

// `extra` fills report_data[32..64] (zeros or a verifier's nonce hash).
Result<crypto::Certificate> IssueRaTlsCertificate(QuoteProvider& provider,
                                                  const crypto::PrivateKey& key,
                                                  std::string_view common_name,
                                                  int64_t validity_s, ByteView extra,
                                                  ByteView nonce = {});

}  // namespace cloister::attestation
