// The SDK service clients' gateway channel (gateway_channel.h).
#include "sdk/gateway_channel.h"

#include <chrono>

#include "attestation/ratls_credentials.h"
#include "attestation/trust.h"

namespace cloister::sdk {

Result<std::shared_ptr<grpc::Channel>> OpenGatewayChannel(const ClientOptions& options) {
  CLOISTER_ASSIGN_OR_RETURN(attestation::TrustConfig trust,
                            attestation::TrustConfig::Load(options.trust_path));
  std::shared_ptr<grpc::ChannelCredentials> creds =
      trust.security_level <= 1
          ? grpc::InsecureChannelCredentials()
          : attestation::AttestingChannelCredentials(
                std::make_shared<const attestation::TrustConfig>(std::move(trust)), {"gateway"});
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGatewayMessageBytes);
  args.SetMaxSendMessageSize(kMaxGatewayMessageBytes);
  // A private subchannel pool: a channel to the same address made with
  // another trust file must not be reused.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(options.gateway_address, creds, args);
  // Handshake (and so the gateway's quote check) before any token is sent.
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + options.connect_timeout))
    return Unavailable("no attested gateway answered at " + options.gateway_address,
                       kGatewayUnreachable);
  return channel;
}

}  // namespace cloister::sdk
