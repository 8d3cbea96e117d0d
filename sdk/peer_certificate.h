// Fetches the TLS certificate a Cloister endpoint presents, without sending
// anything over the connection: for `cloister attest` (show and check the
// quote inside it) and for exporting the gateway's certificate so clients
// in other languages can pin it.
//
//   CLOISTER_ASSIGN_OR_RETURN(std::string pem, sdk::FetchPeerCertificatePem("127.0.0.1:7443"));
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace cloister::sdk {

// Runs a TLS handshake with `address` ("host:port") far enough to receive
// the server's certificate, then aborts it (no request is sent). Unavailable
// when no TLS server answers within `timeout`.
Result<std::string> FetchPeerCertificatePem(const std::string& address,
                                            std::chrono::milliseconds timeout =
                                                std::chrono::milliseconds(5000));

}  // namespace cloister::sdk
