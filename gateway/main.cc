// cloister-gateway: the only public port of a Cloister cluster. Loads the
// role × API policy (a typo stops it), then serves the public API, with
// every request authenticated, authorized, rate limited and audited before
// it is forwarded with a signed grant over mutual RA-TLS.
#include <iostream>
#include <optional>
#include <vector>

#include "common/logging.h"
#include "gateway/gateway_service.h"
#include "gateway/keyvault_forwarding.h"
#include "services/common/service_runner.h"

int main(int argc, char** argv) {
  using namespace cloister;
  services::ServiceRunner runner("gateway", {});
  runner.set_public_port(true);
  std::string auth_addr, exec_addr, keyvault_addr, policy_path;
  int64_t poll_ms = 1000;
  runner.app().add_option("--auth-addr", auth_addr, "cloister-auth address (host:port)")->required();
  runner.app().add_option("--exec-addr", exec_addr, "cloister-exec address (host:port)")->required();
  runner.app().add_option("--keyvault-addr", keyvault_addr,
                          "cloister-keyvault address (host:port); KeyVault is served only with it");
  runner.app().add_option("--policy", policy_path, "role x API policy (TOML)")->required();
  runner.app().add_option("--revocation-poll-ms", poll_ms, "how often to pull revocations")
      ->capture_default_str();
  if (int rc = runner.ParseFlags(argc, argv); rc >= 0) return rc;

  // The policy is checked before anything else: a typo must stop the gateway.
  auto policy = gateway::Policy::Load(policy_path, gateway::PublicMethods());
  if (!policy.ok()) {
    std::cerr << "cloister-gateway: bad policy: " << policy.error().ToString() << std::endl;
    return 2;
  }
  auto* enclave = runner.StartEnclave();
  if (enclave == nullptr) return 2;
  auto* audit = runner.OpenAudit();
  if (audit == nullptr) return 2;

  gateway::GatewayOptions opts;
  opts.policy = *std::move(policy);
  opts.auth_channel = runner.ChannelTo(auth_addr, "auth");
  opts.exec_channel = runner.ChannelTo(exec_addr, "exec");
  opts.revocation_poll_ms = poll_ms;
  gateway::GatewayService service(enclave, audit, std::move(opts));
  std::optional<gateway::KeyVaultGateway> keyvault;
  std::vector<grpc::Service*> services = {&service};
  if (!keyvault_addr.empty()) {
    keyvault.emplace(&service, runner.ChannelTo(keyvault_addr, "keyvault"));
    services.push_back(&*keyvault);
  }
  return runner.Serve(services);
}
