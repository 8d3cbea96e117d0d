// One channel to the gateway's public port for the SDK's service clients
// (FilesClient, KeyVaultClient, Tasks): the same attestation check as
// Client::Connect (role "gateway" against the trust file; plaintext at
// level 1, where the gateway has no RA-TLS), 64 MiB messages, a private
// subchannel pool, and the handshake forced before any credential is sent.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "common/result.h"
#include "sdk/cloister_client.h"

namespace cloister::sdk {

inline constexpr int kMaxGatewayMessageBytes = 64 << 20;

// Unavailable [GATEWAY_UNREACHABLE] when no attested gateway answers within
// options.connect_timeout; TrustConfig::Load's errors for a bad trust file.
Result<std::shared_ptr<grpc::Channel>> OpenGatewayChannel(const ClientOptions& options);

}  // namespace cloister::sdk
