// GatewayCluster: a CLI-started cluster with SDK clients for keyvault's
// end-to-end tests; see gateway_cluster.h.
#include "services/keyvault/testing/gateway_cluster.h"

#include <chrono>
#include <regex>
#include <thread>

#include "services/topology/service_spec.h"

namespace cloister::testing {

Status GatewayCluster::Start(bool lift_rate_limit) {
  std::function<std::string(std::string)> edit_policy;
  if (lift_rate_limit) {
    // The token bucket per principal lives in the gateway's policy.toml.
    edit_policy = [](std::string policy) {
      policy = std::regex_replace(policy, std::regex("per_principal_rps *= *[0-9]+"),
                                  "per_principal_rps = 10000000");
      return std::regex_replace(policy, std::regex("per_principal_burst *= *[0-9]+"),
                                "per_principal_burst = 10000000");
    };
  }
  CLOISTER_RETURN_IF_ERROR(fixture_.Start(nullptr, edit_policy));
  CLOISTER_ASSIGN_OR_RETURN(admin_, sdk::Client::Connect(client_options()));
  // The gateway loads token keys from auth shortly after it starts.
  Status login = Unavailable("not tried");
  for (int i = 0; i < 100; ++i) {
    login = admin_->Login("admin", admin_password()).status();
    if (login.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CLOISTER_RETURN_IF_ERROR(login);
  CLOISTER_ASSIGN_OR_RETURN(admin_kv_, sdk::KeyVaultClient::Create(admin_.get(), client_options()));
  return OkStatus();
}

std::vector<std::pair<std::string, int>> GatewayCluster::ServicePids() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& spec : topology::Topology()) {
    const std::string name(spec.name);
    if (int pid = fixture_.ServicePid(name); pid > 0) out.emplace_back(name, pid);
  }
  return out;
}

Result<GatewayCluster::User> GatewayCluster::AddUser(const std::string& name,
                                                     const std::string& password) {
  CLOISTER_ASSIGN_OR_RETURN(api::User u, admin_->CreateUser(name, password));
  User out;
  out.user_id = u.user_id();
  CLOISTER_ASSIGN_OR_RETURN(out.client, sdk::Client::Connect(client_options()));
  CLOISTER_RETURN_IF_ERROR(out.client->Login(name, password).status());
  CLOISTER_ASSIGN_OR_RETURN(out.kv, sdk::KeyVaultClient::Create(out.client.get(), client_options()));
  return out;
}

}  // namespace cloister::testing
