// A real single-node cluster with cloister-keyvault behind the gateway, for
// keyvault's end-to-end tests and bench: a ClusterFixture (the `cloister`
// CLI's cluster init + up, tests/integration/cluster_fixture.h) with SDK
// clients logged in on top: admin, and users made with AddUser.
//
//   GatewayCluster c(binaries);
//   ASSERT_TRUE(c.Start().ok());
//   auto kv = c.keyvault();  // sdk::KeyVaultClient as admin
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sdk/cloister_client.h"
#include "sdk/keyvault_client.h"
#include "tests/integration/cluster_fixture.h"

namespace cloister::testing {

// Kept for the callers that name the build's binaries; not read: the
// cluster is started by `cloister cluster up`, which runs the binaries of
// the topology found next to the `cloister` binary (build/bin).
struct GatewayClusterBinaries {
  std::string platform, auth, exec, keyvault, gateway;
};

class GatewayCluster {
 public:
  explicit GatewayCluster(const GatewayClusterBinaries& /*unused, see above*/) {}
  // `lift_rate_limit`: raise the per-principal limit (benchmarks).
  Status Start(bool lift_rate_limit = false);

  const std::string& gateway_address() const { return fixture_.gateway(); }
  std::string trust_path() const { return fixture_.trust_path(); }
  // A scratch directory of the test's own (the cluster's home is below it).
  const std::string& dir() const { return fixture_.scratch(); }
  const std::string& admin_password() const { return fixture_.admin_password(); }
  sdk::Client& admin() { return *admin_; }
  sdk::KeyVaultClient& keyvault() { return *admin_kv_; }
  sdk::ClientOptions client_options() const {
    return {.gateway_address = gateway_address(), .trust_path = trust_path()};
  }
  // Each running service of the topology and its pid (benchmarks' CPU use).
  std::vector<std::pair<std::string, int>> ServicePids() const;
  // A new user (role user) and a logged-in client + key vault client for it.
  struct User {
    std::string user_id;
    std::unique_ptr<sdk::Client> client;
    std::unique_ptr<sdk::KeyVaultClient> kv;
  };
  Result<User> AddUser(const std::string& name, const std::string& password);

 private:
  // Declared before the clients: destroyed (cluster down) after them.
  ClusterFixture fixture_;
  std::unique_ptr<sdk::Client> admin_;
  std::unique_ptr<sdk::KeyVaultClient> admin_kv_;
};

}  // namespace cloister::testing
