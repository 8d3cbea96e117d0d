// A real single-node cluster with cloister-keyvault behind the gateway, for
// keyvault's end-to-end tests and bench: platform daemon + signed manifest
// (tests/support/attested_node.h), cloister-auth (bootstrap admin),
// cloister-exec, cloister-keyvault and cloister-gateway --keyvault-addr,
// then an SDK client logged in as admin.
//
//   GatewayCluster c(binaries);
//   ASSERT_TRUE(c.Start().ok());
//   auto kv = c.keyvault();  // sdk::KeyVaultClient as admin
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sdk/cloister_client.h"
#include "sdk/keyvault_client.h"
#include "tests/support/attested_node.h"

namespace cloister::testing {

struct GatewayClusterBinaries {
  // The other backends are found next to `gateway` (build/bin), one per
  // entry of the topology (services/topology/topology.def).
  std::string platform, auth, exec, keyvault, gateway;
};

class GatewayCluster {
 public:
  explicit GatewayCluster(GatewayClusterBinaries bins) : bins_(std::move(bins)) {}
  // `lift_rate_limit`: raise the per-principal limit (benchmarks).
  Status Start(bool lift_rate_limit = false);

  const std::string& gateway_address() const { return gateway_; }
  std::string trust_path() const { return node_->trust_path(); }
  const std::string& dir() const { return node_->dir(); }
  const std::string& admin_password() const { return password_; }
  sdk::Client& admin() { return *admin_; }
  sdk::KeyVaultClient& keyvault() { return *admin_kv_; }
  sdk::ClientOptions client_options() const {
    return {.gateway_address = gateway_, .trust_path = node_->trust_path()};
  }
  // A new user (role user) and a logged-in client + key vault client for it.
  struct User {
    std::string user_id;
    std::unique_ptr<sdk::Client> client;
    std::unique_ptr<sdk::KeyVaultClient> kv;
  };
  Result<User> AddUser(const std::string& name, const std::string& password);

 private:
  Result<std::string> StartService(const std::string& name, const std::string& bin,
                                   std::vector<std::string> extra);

  GatewayClusterBinaries bins_;
  std::unique_ptr<AttestedNode> node_;
  std::vector<Subprocess> procs_;
  std::string gateway_, password_;
  std::unique_ptr<sdk::Client> admin_;
  std::unique_ptr<sdk::KeyVaultClient> admin_kv_;
};

}  // namespace cloister::testing
