// QuoteProvider: where an enclave gets its quotes and launch log. The real
// implementation talks to cloister-platform (enclave.cc); unit tests of the
// verifier use an in-process fake signed by a test root.
#pragma once

#include <string>

#include "common/bytes.h"
#include "proto/attestation.pb.h"

namespace cloister::attestation {

class QuoteProvider {
 public:
  virtual ~QuoteProvider() = default;
  // report_data is exactly 64 bytes; nonce at most 64.
  virtual Result<Quote> GetQuote(ByteView report_data, ByteView nonce) = 0;
  virtual Result<LaunchLog> ReadLaunchLog() = 0;
  // The canonical configuration text whose id the quotes carry ("" if the
  // enclave declared none); embedded in RA-TLS certificates.
  virtual std::string ConfigText() { return {}; }
};

}  // namespace cloister::attestation
