// GatewayCluster: real binaries for keyvault end-to-end tests; see gateway_cluster.h.
#include "services/keyvault/testing/gateway_cluster.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "common/crypto/random.h"
#include "common/fs.h"
#include "gateway/filters/authorize/policy.h"
#include "proto/method_table.h"
#include "services/topology/service_spec.h"

namespace cloister::testing {

Result<std::string> GatewayCluster::StartService(const std::string& name, const std::string& bin,
                                                 std::vector<std::string> extra) {
  std::string port_file = node_->dir() + "/" + name + ".port";
  std::vector<std::string> argv = {bin, "--trust", node_->trust_path(), "--data-dir",
                                   node_->dir() + "/" + name, "--port-file", port_file,
                                   "--log-level", "warn"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  CLOISTER_ASSIGN_OR_RETURN(auto p, Subprocess::Start(argv, {.log_prefix = node_->dir() + "/" + name}));
  procs_.push_back(std::move(p));
  if (!WaitForFile(port_file, std::chrono::seconds(20)))
    return Unavailable(name + " did not start: " + procs_.back().Stderr());
  CLOISTER_ASSIGN_OR_RETURN(std::string port, ReadFile(port_file));
  return "127.0.0.1:" + port;
}

Status GatewayCluster::Start(bool lift_rate_limit) {
  // Every enclave of the topology, from the gateway's build directory.
  const std::string bin_dir = std::filesystem::path(bins_.gateway).parent_path().string();
  std::vector<std::pair<std::string, std::string>> enclaves;
  for (const auto& spec : topology::Topology())
    if (!spec.is_platform()) enclaves.emplace_back(spec.name, bin_dir + "/" + spec.binary());
  node_ = std::make_unique<AttestedNode>(std::move(enclaves),
                                         AttestedNodeOptions{.platform_binary = bins_.platform});
  CLOISTER_RETURN_IF_ERROR(node_->Start());
  const std::string pw_file = node_->dir() + "/admin-password";
  password_ = "admin-" + crypto::RandomId();
  std::ofstream(pw_file) << password_;
  ::chmod(pw_file.c_str(), 0600);
  // Every backend of the topology, then the gateway wired to all of them.
  std::vector<std::string> gateway_flags;
  // Topology order starts every peer a service calls before it.
  std::map<std::string, std::string> addrs;
  for (const auto& spec : topology::Topology()) {
    if (!spec.is_gateway_backend()) continue;
    const std::string name(spec.name);
    std::vector<std::string> extra;
    if (name == "auth") extra = {"--bootstrap-admin-password-file", pw_file};
    for (const std::string& peer : rpc::MethodTable::Get().PeersOf(name))
      extra.insert(extra.end(), {"--" + peer + "-addr", addrs.at(peer)});
    CLOISTER_ASSIGN_OR_RETURN(std::string addr,
                              StartService(name, bin_dir + "/" + spec.binary(), extra));
    addrs[name] = addr;
    gateway_flags.insert(gateway_flags.end(), {"--" + name + "-addr", addr});
  }
  std::string policy = gateway::Policy::ToToml(gateway::Policy::Default());
  if (lift_rate_limit) {
    policy = std::regex_replace(policy, std::regex("per_principal_rps *= *[0-9]+"),
                                "per_principal_rps = 10000000");
    policy = std::regex_replace(policy, std::regex("per_principal_burst *= *[0-9]+"),
                                "per_principal_burst = 10000000");
  }
  const std::string policy_path = node_->dir() + "/policy.toml";
  std::ofstream(policy_path) << policy;
  gateway_flags.insert(gateway_flags.end(), {"--policy", policy_path});
  CLOISTER_ASSIGN_OR_RETURN(gateway_, StartService("gateway", bins_.gateway, gateway_flags));
  CLOISTER_ASSIGN_OR_RETURN(admin_, sdk::Client::Connect(client_options()));
  // The gateway loads token keys from auth shortly after it starts.
  Status login = Unavailable("not tried");
  for (int i = 0; i < 100; ++i) {
    login = admin_->Login("admin", password_).status();
    if (login.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CLOISTER_RETURN_IF_ERROR(login);
  CLOISTER_ASSIGN_OR_RETURN(admin_kv_, sdk::KeyVaultClient::Create(admin_.get(), client_options()));
  return OkStatus();
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
