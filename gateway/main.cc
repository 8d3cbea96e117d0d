// cloister-gateway: the only public port of a Cloister cluster. Loads the
// role × API policy (built in from the method table; a --policy file
// overrides it, and a typo in it stops the gateway), then serves every
// public RPC of the method table, each authenticated, authorized, rate
// limited and audited before it is forwarded with a signed grant over
// mutual RA-TLS to the backend the table names. One --<backend>-addr flag
// per backend of the topology (services/topology/topology.def).
#include <iostream>
#include <map>
#include <vector>

#include "common/crypto/hash.h"
#include "common/logging.h"
#include "gateway/forwarder.h"
#include "gateway/gateway.h"
#include "services/common/service_runner.h"
#include "services/topology/service_spec.h"

int main(int argc, char** argv) {
  using namespace cloister;
  services::ServiceRunner runner("gateway");
  std::map<std::string, std::string> backend_addrs;
  for (const auto& spec : topology::Topology()) {
    if (!spec.is_gateway_backend()) continue;
    std::string name(spec.name);
    runner.app()
        .add_option("--" + name + "-addr", backend_addrs[name],
                    spec.binary() + " address (host:port)")
        ->required();
  }
  std::string policy_path;
  int64_t poll_ms = 1000;
  int workers = 64;
  runner.app().add_option("--policy", policy_path,
                          "role x API policy (TOML); default: the built-in policy "
                          "(`cloister cluster init` writes it out as policy.toml)");
  runner.app().add_option("--revocation-poll-ms", poll_ms, "how often to pull revocations")
      ->capture_default_str();
  int64_t key_refresh_ms = 10'000;
  runner.app()
      .add_option("--key-refresh-ms", key_refresh_ms,
                  "how often to fetch auth's token keys again (rotated-in keys are trusted, "
                  "dropped ones no longer)")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}))
      ->capture_default_str();
  runner.app().add_option("--workers", workers, "threads handling public calls")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  if (int rc = runner.ParseFlags(argc, argv); rc >= 0) return rc;

  // The policy is checked before anything else: a typo must stop the gateway.
  auto policy = policy_path.empty() ? Result<gateway::Policy>(gateway::Policy::Default())
                                    : gateway::Policy::Load(policy_path, gateway::PublicMethods());
  if (!policy.ok()) {
    std::cerr << "cloister-gateway: bad policy: " << policy.error().ToString() << std::endl;
    return 2;
  }
  // The policy in force is part of the gateway's configuration (not the
  // file's path): a gateway enforcing another policy is another enclave.
  if (auto st = runner.SetConfigValue(
          "policy", "sha256:" + HexEncode(crypto::Sha256(gateway::Policy::ToToml(*policy))));
      !st.ok()) {
    std::cerr << "cloister-gateway: " << st.ToString() << std::endl;
    return 2;
  }
  auto* enclave = runner.StartEnclave();
  if (enclave == nullptr) return 2;
  auto* audit = runner.OpenAudit();
  if (audit == nullptr) return 2;

  gateway::GatewayOptions opts;
  opts.policy = *std::move(policy);
  for (const auto& [name, addr] : backend_addrs) opts.backends[name] = runner.ChannelTo(addr, name);
  opts.revocation_poll_ms = poll_ms;
  opts.key_refresh_ms = key_refresh_ms;
  auto gw = gateway::Gateway::Create(enclave, audit, std::move(opts));
  if (!gw.ok()) {
    std::cerr << "cloister-gateway: " << gw.error().ToString() << std::endl;
    return 2;
  }
  gateway::Forwarder forwarder(gw->get(), workers);
  return runner.Serve({}, &forwarder);
}
