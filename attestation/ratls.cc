// Issues RA-TLS certificates; see ratls.h.
#include "attestation/ratls.h"

#include <ctime>

#include "attestation/quote_verifier.h"

namespace cloister::attestation {

Result<crypto::Certificate> IssueRaTlsCertificate(QuoteProvider& provider,
                                                  const crypto::PrivateKey& key,
                                                  std::string_view common_name,
                                                  int64_t validity_s, ByteView extra,
                                                  ByteView nonce) {
  if (validity_s < 10 || validity_s > 7 * 86400)
    return InvalidArgument("RA-TLS certificate validity must be 10 s .. 7 days");
  Bytes report_data = MakeReportData(key.public_key().SpkiDer(), extra);
  CLOISTER_ASSIGN_OR_RETURN(Quote quote, provider.GetQuote(report_data, nonce));
  CLOISTER_ASSIGN_OR_RETURN(LaunchLog log, provider.ReadLaunchLog());

  std::string quote_bytes, log_bytes;
  if (!quote.SerializeToString(&quote_bytes) || !log.SerializeToString(&log_bytes))
    return Internal("serialize quote");
  crypto::CertOptions o;
  o.common_name = std::string(common_name);
  o.organization = "Cloister enclave";
  const int64_t now = static_cast<int64_t>(time(nullptr));
  o.not_before = now - 60;
  o.not_after = now + validity_s;
  o.dns_names = {std::string(common_name)};
  o.extensions.push_back({kQuoteExtensionOid, false, ToBytes(quote_bytes)});
  o.extensions.push_back({kLaunchLogExtensionOid, false, ToBytes(log_bytes)});
  if (std::string config = provider.ConfigText(); !config.empty())
    o.extensions.push_back({kConfigExtensionOid, false, ToBytes(config)});
  return crypto::Certificate::Create(o, key.public_key(), key, nullptr);
}

}  // namespace cloister::attestation
